using System.Text.Json;
using System.Text.Json.Nodes;

namespace InfoVae.Model;

/// <summary>
/// A run's folder: config.json, run.jsonl (one JSON object per line: step intervals, epochs, evaluations),
/// checkpoint.safetensors and the pictures.
/// </summary>
public sealed class RunFolder
{
    public string Path { get; }
    public string ConfigPath => System.IO.Path.Combine(Path, "config.json");
    public string LogPath => System.IO.Path.Combine(Path, "run.jsonl");
    public string CheckpointPath => System.IO.Path.Combine(Path, "checkpoint.safetensors");
    public string Picture(string name) => System.IO.Path.Combine(Path, name);

    RunFolder(string path) => Path = path;

    /// <summary>
    /// Rank 0's run folder as the other ranks of a data-parallel run know it: its path, for messages. They never read
    /// or write it (it may be on another machine).
    /// </summary>
    public static RunFolder Elsewhere(string path) => new(path);

    /// <summary>Creates (or reuses an empty) folder and proves it is writable before any work starts.</summary>
    public static RunFolder Create(string? path)
    {
        path ??= System.IO.Path.Combine("runs", DateTime.Now.ToString("yyyyMMdd-HHmmss"));
        try
        {
            if (File.Exists(path)) throw new UserError($"--out {path} is a file; give a folder for the run");
            for (var up = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)); !string.IsNullOrEmpty(up);
                up = System.IO.Path.GetDirectoryName(up))
                if (File.Exists(up))
                    throw new UserError($"cannot create the run folder {path}: {up} is a file, not a folder; choose "
                        + "an --out folder that you can write to");
            if (Directory.Exists(path) && File.Exists(System.IO.Path.Combine(path, "checkpoint.safetensors")))
                throw new UserError($"{path} already holds a run; continue it with --resume {path} or choose another "
                    + "--out");
            Directory.CreateDirectory(path);
            var probe = System.IO.Path.Combine(path, ".write-test");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot write to the run folder {path}: {e.Message.TrimEnd('.')}; choose an --out "
                + "folder that you can write to");
        }
        return new RunFolder(path);
    }

    public static RunFolder Open(string path)
    {
        if (!Directory.Exists(path))
            throw new UserError($"run folder {path} does not exist; give the folder that infovae train wrote (its "
                + "--out)");
        var f = new RunFolder(path);
        if (!File.Exists(f.ConfigPath))
            throw new UserError($"{path} is not a run folder (it has no config.json); give the folder that infovae "
                + "train wrote (its --out)");
        return f;
    }

    public void WriteConfig(TrainConfig config) =>
        AtomicFile.WriteAllText(ConfigPath, RunJson.Write(config, indented: true) + "\n");

    /// <summary>The run's config.json, in today's form or an older one (see <see cref="RunJson"/>).</summary>
    public TrainConfig ReadConfig()
    {
        const string fix =
            "restore the run's config.json (the checkpoint's metadata holds a copy under \"config\") or start a new "
            + "run";
        TrainConfig config;
        try { config = RunJson.ReadConfig(File.ReadAllText(ConfigPath)); }
        catch (JsonException e)
        {
            throw new UserError($"{ConfigPath} is not a valid run config ({e.Message.TrimEnd('.')}); {fix}");
        }
        if (config.Hidden is null || config.Scales is null || config.Channels is null)
            throw new UserError($"{ConfigPath} has no hidden, channels or scales list; {fix}");
        try { config.Validate(); }
        catch (UserError e)
        {
            throw new UserError($"{ConfigPath} holds settings that cannot train ({e.Message}); {fix}");
        }
        return config;
    }

    /// <summary>
    /// Before a resumed run logs again: drops the lines of steps after <paramref name="step"/> (the checkpoint's),
    /// which the run is about to compute and log anew, so run.jsonl holds each step once (TensorBoard's purge_step).
    /// Lines it cannot read are kept (and given the line end a kill may have cut off); the new file is written beside
    /// the old one and renamed over it, so a kill during the trim leaves one or the other whole.
    /// </summary>
    public void TrimLogAfter(long step)
    {
        if (!File.Exists(LogPath)) return;
        var kept = new System.Text.StringBuilder();
        bool dropped = false;
        foreach (var line in File.ReadLines(LogPath))
        {
            if (StepOf(line) > step) { dropped = true; continue; }
            kept.Append(line).Append('\n');
        }
        if (dropped || !EndsWithLineEnd()) AtomicFile.WriteAllText(LogPath, kept.ToString());
    }

    bool EndsWithLineEnd()
    {
        using var f = File.OpenRead(LogPath);
        if (f.Length == 0) return true;
        f.Seek(-1, SeekOrigin.End);
        return f.ReadByte() == '\n';
    }

    static long StepOf(string line)
    {
        try
        {
            return JsonNode.Parse(line)?["step"] is JsonValue v && v.TryGetValue(out long s) ? s : long.MinValue;
        }
        catch (JsonException) { return long.MinValue; }
    }

    /// <summary>Appends one JSON line and flushes, so a killed run keeps every line written before.</summary>
    public void Log(object record)
    {
        using var s = new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        using var w = new StreamWriter(s);
        w.WriteLine(JsonSerializer.Serialize(record, RunJson.Lines));
    }
}

/// <summary>
/// Writes go to a temporary file in the same folder that is renamed into place: a crash never leaves half a file.
/// </summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string text)
    {
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, text);
        File.Move(tmp, path, overwrite: true);
    }

    public static void WriteAllBytes(string path, byte[] bytes)
    {
        var tmp = path + ".tmp";
        File.WriteAllBytes(tmp, bytes);
        File.Move(tmp, path, overwrite: true);
    }
}
