namespace InfoVae.Model.Cli;

/// <summary>
/// The data a command on an existing run works on. Without --data: the folder the run was trained on (config.json
/// records it, with each file's SHA-256). With --data, or when the files in that folder have changed since: the
/// digests are compared once the files are read, and a difference is one line: a note for eval and the picture
/// commands (they go on), a refusal for --resume (it would silently become another run).
/// </summary>
public static class RunData
{
    /// <summary>
    /// For eval, reconstruct, interpolate: the run's data, or <paramref name="given"/> (a note if they differ).
    /// </summary>
    public static DataSet ForCommand(TrainConfig config, string? given, string runPath)
    {
        if (config.Data == null)
        {
            if (given == null)
                Note($"{runPath} does not record its data (an older infovae made it), so this uses "
                    + $"{DataSet.DefaultFolder}; give --data if the run was trained on other data");
            return DataSet.Load(given ?? DataSet.DefaultFolder);
        }
        var data = Load(config.Data, given, runPath);
        var now = data.Fingerprint!;
        if (now.FilesThatDiffer(config.Data).Count > 0)
            Note($"the data in {data.Folder} are not those the run was trained on ({config.Data.Folder}): "
                + $"{now.DescribeDifference(config.Data)}; going on with them");
        return data;
    }

    /// <summary>
    /// For --resume: the run's data (<paramref name="given"/> if it holds the same files), or a refusal.
    /// </summary>
    public static DataSet ForResume(TrainConfig config, string? given, string runPath)
    {
        if (config.Data == null) return DataSet.Load(given ?? DataSet.DefaultFolder);   // recorded from now on
        var data = Load(config.Data, given, runPath);
        var now = data.Fingerprint!;
        if (now.FilesThatDiffer(config.Data).Count > 0)
            throw new UserError($"the data in {data.Folder} are not those the run in {runPath} was trained on "
                + $"({config.Data.Folder}): {now.DescribeDifference(config.Data)}; "
                + "resume with the same files (--data a folder that holds them) or start a new run");
        return data;
    }

    static DataSet Load(DataFingerprint trained, string? given, string runPath)
    {
        if (given == null && !Directory.Exists(trained.Folder))
            throw new UserError($"the run in {runPath} was trained on the data in {trained.Folder}, which is not there "
                + "any more; give --data with a folder that holds the same four files (their SHA-256 are in the run's "
                + "config.json)");
        return DataSet.Load(given ?? trained.Folder);
    }

    /// <summary>One line on stderr (stdout may be `eval --json`'s JSON).</summary>
    static void Note(string message) => Console.Error.WriteLine("infovae: note: " + message.ReplaceLineEndings(" "));
}
