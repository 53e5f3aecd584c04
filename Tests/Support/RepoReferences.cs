using System.Text.RegularExpressions;

namespace InfoVae.Tests.Support;

/// <summary>
/// Finds the files and paths a text names that the repository does not hold. Paths are '/'-separated and relative
/// to the repository's root. What counts as a reference (everything else is left alone, so that a command's
/// arguments, run folders and formulas like dy/dx are not mistaken for one):
/// <list type="bullet">
/// <item>a markdown link target, <c>[text](docs/conv.md#layouts)</c>, relative to the linking file's folder;</item>
/// <item>a path whose first segment is a top-level entry of the repository (<c>Kernels/Cpu/Gemm.cs</c>, <c>docs/</c>),
///   or an entry of the citing file's folder (<c>torchsharp/Program.cs</c> in <c>anchors/README.md</c>);</item>
/// <item>a path starting with <c>../</c>, relative to the citing file's folder: it must stay inside the
///   repository;</item>
/// <item>an absolute path outside the system's own folders (<c>/usr</c>, <c>/tmp</c>, ...): a build machine's
///   path;</item>
/// <item>a bare file name with a source or document extension (<c>CONV-SPEC.md</c>, <c>Gemm.cs</c>): some file in the
///   repository must have that name, unless the code itself writes or reads a file of that name (it appears as a
///   string literal <c>"sweep.md"</c> or <c>"$out/summary.md"</c> in a .cs, .py or shell file).</item>
/// </list>
/// URLs are removed before anything else. A path resolves when it is a file or folder of the repository, or names a
/// C# file without its extension (<c>Kernels/Cpu/Gemm</c>) or one of its members (<c>Engine/Cpu/CpuBackend.Unary</c>).
/// Paths through <c>bin/</c> or <c>obj/</c> are build outputs, and tokens with placeholders (<c>runs/&lt;run&gt;</c>,
/// <c>~/mnist</c>, <c>$out/x</c>) name no fixed file; neither is checked.
/// </summary>
public sealed partial class RepoReferences
{
    // Folders of the file-system hierarchy; "/nonexistent" is the conventional path that exists nowhere (Debian's
    // home of `nobody`), which tests use to mean "missing".
    static readonly HashSet<string> SystemRoots =
    [
        "usr", "lib", "lib64", "etc", "dev", "proc", "sys", "tmp", "bin", "sbin", "opt", "var", "home", "root", "run",
        "mnt", "srv", "nonexistent",
    ];

    readonly HashSet<string> files, folders, topLevel, names, runtimeNames;

    /// <param name="repoFiles">Every file of the repository, relative to its root.</param>
    /// <param name="read">Reads a file's text (only code files are read here, for the names the code uses).</param>
    public RepoReferences(IReadOnlyCollection<string> repoFiles, Func<string, string> read)
    {
        files = [.. repoFiles];
        folders = [];
        foreach (var f in files)
            for (int i = f.IndexOf('/'); i > 0; i = f.IndexOf('/', i + 1)) folders.Add(f[..i]);
        topLevel = [.. files.Select(f => f.Split('/')[0])];
        names = [.. files.Select(f => f[(f.LastIndexOf('/') + 1)..])];
        runtimeNames = [];
        foreach (var f in files.Where(IsCode))
            foreach (Match m in LiteralName().Matches(read(f))) runtimeNames.Add(m.Groups[1].Value);
    }

    /// <summary>
    /// The references in <paramref name="text"/> (the text of <paramref name="file"/>) that do not resolve, with
    /// their line numbers.
    /// </summary>
    public IEnumerable<(int Line, string Reference)> Broken(string file, string text)
    {
        string folder = file.Contains('/') ? file[..file.LastIndexOf('/')] : "";
        var lines = Url().Replace(text, " ").Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            var found = new HashSet<string>();                 // a link target is also a token: report it once
            if (file.EndsWith(".md", StringComparison.Ordinal))
                foreach (Match m in MarkdownLink().Matches(lines[i]))
                {
                    string target = m.Groups[1].Value.Split('#')[0];
                    if (target.Length > 0 && !Scheme().IsMatch(target) && !Exists(Join(folder, target)))
                        found.Add(target);
                }
            foreach (Match m in Token().Matches(lines[i]))
            {
                string t = m.Value.TrimEnd('.', ',', ';', ':');
                if (!IsResolved(t, folder)) found.Add(t);
            }
            foreach (var f in found) yield return (i + 1, f);
        }
    }

    bool IsResolved(string t, string folder)
    {
        if (t.IndexOfAny(['~', '<', '>', '{', '}', '$']) >= 0) return true;                 // a placeholder
        if (t.StartsWith('/'))
            return !AbsolutePath().IsMatch(t) || SystemRoots.Contains(t.Split('/')[1]);
        if (t.StartsWith("../", StringComparison.Ordinal)) return Exists(Join(folder, t));
        if (t.Contains('/'))
        {
            var segments = t.TrimEnd('/').Split('/');
            if (segments.Contains("bin") || segments.Contains("obj")) return true;            // build output
            if (topLevel.Contains(segments[0])) return Exists(t.TrimEnd('/'));
            string? local = Join(folder, segments[0]);
            if (folder.Length > 0 && local != null && (files.Contains(local) || folders.Contains(local)))
                return Exists(Join(folder, t.TrimEnd('/')));
            return true;                                                                       // not a repository path
        }
        return !BareFileName().IsMatch(t) || names.Contains(t) || runtimeNames.Contains(t);
    }

    bool Exists(string? path)
    {
        if (path == null) return false;                                                        // leaves the repository
        if (path.Contains('*'))
        {
            var glob = new Regex("^" + Regex.Escape(path).Replace(@"\*", "[^/]*") + "$");
            return files.Any(glob.IsMatch) || folders.Any(glob.IsMatch);
        }
        if (files.Contains(path) || folders.Contains(path) || files.Contains(path + ".cs")) return true;
        int dot = path.LastIndexOf('.');
        return dot > path.LastIndexOf('/') && files.Contains(path[..dot] + ".cs");             // Foo/Bar.Member
    }

    /// <summary>folder/relative with "." and ".." folded; null when it climbs out of the repository.</summary>
    static string? Join(string folder, string relative)
    {
        var parts = new List<string>(folder.Length > 0 ? folder.Split('/') : []);
        foreach (var s in relative.Split('/'))
        {
            if (s is "" or ".") continue;
            if (s != "..") { parts.Add(s); continue; }
            if (parts.Count == 0) return null;
            parts.RemoveAt(parts.Count - 1);
        }
        return string.Join('/', parts);
    }

    static bool IsCode(string f) =>
        f.EndsWith(".cs", StringComparison.Ordinal) || f.EndsWith(".py", StringComparison.Ordinal)
        || f.EndsWith(".sh", StringComparison.Ordinal) || f.StartsWith("scripts/", StringComparison.Ordinal)
        || f.StartsWith(".ci/", StringComparison.Ordinal);

    [GeneratedRegex(@"\b[a-z][a-z0-9+.-]*://[^\s)>\]`""']*")] private static partial Regex Url();
    [GeneratedRegex(@"\]\(([^)\s]+)\)")] private static partial Regex MarkdownLink();
    [GeneratedRegex(@"^[a-z]+:")] private static partial Regex Scheme();
    [GeneratedRegex(@"[A-Za-z0-9_./*~<>{}$-]+")] private static partial Regex Token();
    [GeneratedRegex(@"^(/[A-Za-z0-9_][A-Za-z0-9._*-]*){2,}/?$")] private static partial Regex AbsolutePath();
    [GeneratedRegex(@"^[A-Za-z0-9_-][A-Za-z0-9_.-]*\.(md|cs|py|csproj|sln|props)$")]
    private static partial Regex BareFileName();
    [GeneratedRegex(@"""(?:[^""\s]*/)?([A-Za-z0-9_-][A-Za-z0-9_.-]*\.[A-Za-z0-9]+)""")]
    private static partial Regex LiteralName();
}
