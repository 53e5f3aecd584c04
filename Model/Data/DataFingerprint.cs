namespace InfoVae.Model.Data;

/// <summary>
/// What a run records about its data (config.json's "data"): the folder it was read from, the image size and
/// counts, and the SHA-256 of each of the four IDX files' contents. The digest is taken over the IDX bytes after
/// gunzip, so a gzipped and a plain copy of one file agree (`zcat f.gz | sha256sum` gives it); the reader computes
/// it while it reads, so it costs no second pass over the files.
/// </summary>
public sealed record DataFingerprint
{
    /// <summary>The folder as an absolute path, so that a run can be evaluated from any working directory.</summary>
    public required string Folder { get; init; }
    public int Rows { get; init; }
    public int Cols { get; init; }
    /// <summary>Images in the training file (before any --limit) and in the test file.</summary>
    public int TrainImages { get; init; }
    public int TestImages { get; init; }
    /// <summary>File name (without .gz) → lowercase hex SHA-256 of its IDX bytes.</summary>
    public required IReadOnlyDictionary<string, string> Sha256 { get; init; }

    /// <summary>The files whose digests differ between the two (or that one of them lacks), in a fixed order.</summary>
    public IReadOnlyList<string> FilesThatDiffer(DataFingerprint other) =>
        Sha256.Keys.Union(other.Sha256.Keys).Order(StringComparer.Ordinal)
            .Where(name => !Sha256.TryGetValue(name, out var a) || !other.Sha256.TryGetValue(name, out var b) || a != b)
            .ToList();

    /// <summary>
    /// For one-line messages: "t10k-images-idx3-ubyte differs (SHA-256)", or with the sizes when they differ too
    /// ("... (40 training and 10 test images of 7×5, not 40 training and 10 test images of 6×5)").
    /// </summary>
    public string DescribeDifference(DataFingerprint trained)
    {
        var names = FilesThatDiffer(trained);
        string files = names.Count switch
        {
            0 => "no file differs",
            1 => $"{names[0]} differs",
            _ => string.Join(", ", names.Take(names.Count - 1)) + $" and {names[^1]} differ",
        };
        static string Sizes(DataFingerprint d) =>
            $"{d.TrainImages} training and {d.TestImages} test images of {d.Rows}×{d.Cols}";
        return Sizes(this) == Sizes(trained) ? $"{files} (SHA-256)" : $"{files} ({Sizes(this)}, not {Sizes(trained)})";
    }
}
