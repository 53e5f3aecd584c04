using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace InfoVae.Model.IO;

/// <summary>
/// The safetensors file format (https://github.com/huggingface/safetensors, README "Format"):
/// 8 bytes: N, the header length, u64 little-endian;
/// N bytes: a UTF-8 JSON object {"__metadata__": {string: string}, "name": {"dtype": "F32", "shape": [..],
///   "data_offsets": [begin, end]}, ...}, padded with spaces so that the data start at a multiple of 8;
/// then the data section: each tensor's row-major little-endian bytes at [begin, end) relative to the section's
/// start, packed without gaps or overlaps.
/// </summary>
public static class SafeTensors
{
    public const string MetadataKey = "__metadata__";

    /// <summary>
    /// The reference implementation refuses larger headers too (it parses them before anything else).
    /// </summary>
    public const long MaxHeaderLength = 100_000_000;

    /// <summary>
    /// Writes <paramref name="tensors"/> (in this order) and <paramref name="metadata"/> to <paramref name="path"/>
    /// atomically: to path.tmp in the same folder, flushed to disk, then renamed over path, so that a crash or a
    /// full disk leaves either the previous file or the new one, never a broken one.
    /// </summary>
    /// <exception cref="UserError">the file could not be written (folder missing, disk full, no
    /// permission).</exception>
    public static void Write(string path, IReadOnlyList<SafeTensor> tensors,
        IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors, metadata, wrap: s => s);

    /// <param name="wrap">lets tests put a failing stream between the writer and the temp file.</param>
    internal static void Write(string path, IReadOnlyList<SafeTensor> tensors,
        IReadOnlyDictionary<string, string>? metadata,
        Func<Stream, Stream> wrap)
    {
        var header = Header(tensors, metadata);
        string tmp = path + ".tmp";
        try
        {
            using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None,
                bufferSize: 1 << 16))
            {
                var s = wrap(file);
                Span<byte> n = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)header.Length);
                s.Write(n);
                s.Write(header);
                foreach (var t in tensors) s.Write(t.Data);
                s.Flush();
                // fsync before the rename, or a crash could rename an empty file into place
                file.Flush(flushToDisk: true);
            }
            // rename(2) replaces path in one step on one file system. (The folder itself is not fsynced: .NET cannot
            // open a directory, so after a power cut the rename may be lost, leaving the previous file, which is fine.)
            File.Move(tmp, path, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            if (e is IOException or UnauthorizedAccessException)
                throw new UserError($"could not write {path}: {e.Message}; any previous {Path.GetFileName(path)} is "
                    + "unchanged. "
                    + "Free some disk space, or choose a folder that exists and is writable.");
            throw;
        }
    }

    /// <summary>
    /// The JSON header with space padding to a multiple of 8 bytes; offsets follow the tensors' order.
    /// </summary>
    internal static byte[] Header(IReadOnlyList<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var names = new HashSet<string>();
        foreach (var t in tensors)
            if (!names.Add(t.Name)) throw new ArgumentException($"two tensors are named '{t.Name}'.", nameof(tensors));

        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer,
            new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(MetadataKey);
                foreach (var (k, v) in metadata) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.ToString());
                w.WriteStartArray("shape");
                foreach (int s in t.Shape) w.WriteNumberValue(s);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset += t.Data.Length);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }
        int pad = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < pad; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    /// <summary>Reads and checks a whole safetensors file.</summary>
    /// <exception cref="UserError">the file is missing, truncated or malformed, with what is wrong.</exception>
    public static SafeTensorsFile Read(string path) => Read(path, "use an intact copy of it");

    /// <param name="fix">what to do about a damaged file, ending every such message ("restore it from a
    /// backup").</param>
    public static SafeTensorsFile Read(string path, string fix)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: no such file; give the path of a .safetensors file.");
        using var f = File.OpenRead(path);
        long length = f.Length;
        string damaged = $"the file is damaged or not a safetensors file: {fix}";
        string truncated = $"the file is truncated or damaged: {fix}";

        Span<byte> n8 = stackalloc byte[8];
        if (length < 8 || f.ReadAtLeast(n8, 8, throwOnEndOfStream: false) < 8)
            throw new UserError($"{path}: {length} bytes, shorter than the 8-byte header length; {truncated}.");
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(n8);
        if (n > (ulong)(length - 8))
            throw new UserError($"{path}: the header length {n} runs past the end of the file ({length} bytes); "
                + $"{(n < MaxHeaderLength ? truncated : damaged)}.");
        if (n > MaxHeaderLength)
            throw new UserError($"{path}: header of {n} bytes, more than the {MaxHeaderLength} safetensors allows; "
                + $"{damaged}.");
        long dataStart = 8 + (long)n, dataLength = length - dataStart;

        var header = new byte[n];
        ReadExactly(f, header, path, damaged);
        List<Entry> entries; Dictionary<string, string> metadata;
        // A JSON string that is valid JSON but not valid UTF-16 ("\ud800") throws InvalidOperationException on reading.
        try { (entries, metadata) = ParseHeader(header, path, damaged); }
        catch (InvalidOperationException e)
        {
            throw new UserError($"{path}: the header holds a string that is not valid text ({e.Message}); {damaged}.");
        }
        CheckLayout(entries, dataLength, path, damaged, truncated);

        var tensors = new List<SafeTensor>(entries.Count);
        foreach (var e in entries)
        {
            var data = new byte[e.End - e.Begin];      // ≤ dataLength, checked in CheckLayout
            f.Position = dataStart + e.Begin;
            ReadExactly(f, data, path, damaged);
            tensors.Add(new SafeTensor(e.Name, e.DType, e.Shape, data));
        }
        return new SafeTensorsFile(path, tensors, metadata);
    }

    sealed record Entry(string Name, DType DType, int[] Shape, long Begin, long End);

    static (List<Entry>, Dictionary<string, string>) ParseHeader(byte[] header, string path, string damaged)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 8 }); }
        catch (JsonException e)
        {
            throw new UserError($"{path}: the header is not valid JSON ({e.Message}); {damaged}.");
        }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new UserError($"{path}: the header is JSON but not an object; {damaged}.");

        var entries = new List<Entry>();
        var metadata = new Dictionary<string, string>();
        var seen = new HashSet<string>();
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            if (p.Name.Length == 0) throw new UserError($"{path}: the header names a tensor \"\" (empty); {damaged}.");
            if (!seen.Add(p.Name)) throw new UserError($"{path}: the header names '{p.Name}' twice; {damaged}.");
            if (p.Name == MetadataKey)
            {
                if (p.Value.ValueKind != JsonValueKind.Object)
                    throw new UserError($"{path}: {MetadataKey} is not an object of strings; {damaged}.");
                foreach (var m in p.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String)
                        throw new UserError($"{path}: metadata '{m.Name}' is not a string; {damaged}.");
                    if (!metadata.TryAdd(m.Name, m.Value.GetString()!))
                        throw new UserError($"{path}: metadata '{m.Name}' appears twice; {damaged}.");
                }
                continue;
            }
            entries.Add(ParseEntry(p.Name, p.Value, path, damaged));
        }
        return (entries, metadata);
    }

    static Entry ParseEntry(string name, JsonElement e, string path, string damaged)
    {
        string where = $"{path}: tensor '{name}'";
        if (e.ValueKind != JsonValueKind.Object
            || !e.TryGetProperty("dtype", out var dtypeJson) || dtypeJson.ValueKind != JsonValueKind.String
            || !e.TryGetProperty("shape", out var shapeJson) || shapeJson.ValueKind != JsonValueKind.Array
            || !e.TryGetProperty("data_offsets", out var offsetsJson) || offsetsJson.ValueKind != JsonValueKind.Array)
            throw new UserError($"{where}: needs \"dtype\" (a string), \"shape\" and \"data_offsets\" (arrays); "
                + $"{damaged}.");

        string dtypeName = dtypeJson.GetString()!;
        if (!Enum.TryParse<DType>(dtypeName, ignoreCase: false, out var dtype) || !Enum.IsDefined(dtype)
            || dtypeName != dtype.ToString())
            throw new UserError($"{where}: dtype {dtypeName} is not one we read "
                + $"({string.Join(", ", Enum.GetNames<DType>())}); "
                + "convert the checkpoint to one of those.");

        var shape = new int[shapeJson.GetArrayLength()];
        int i = 0;
        foreach (var s in shapeJson.EnumerateArray())
        {
            if (s.ValueKind != JsonValueKind.Number || !s.TryGetInt32(out shape[i]) || shape[i] < 0)
                throw new UserError($"{where}: shape {shapeJson.GetRawText()} is not a list of sizes (0 to "
                    + $"{int.MaxValue}); {damaged}.");
            i++;
        }

        if (offsetsJson.GetArrayLength() != 2)
            throw new UserError($"{where}: data_offsets {offsetsJson.GetRawText()} is not [begin, end]; {damaged}.");
        var offsets = new long[2];
        i = 0;
        foreach (var o in offsetsJson.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out offsets[i]) || offsets[i] < 0)
                throw new UserError($"{where}: data_offsets {offsetsJson.GetRawText()} are not byte offsets; "
                    + $"{damaged}.");
            i++;
        }
        if (offsets[1] < offsets[0])
            throw new UserError($"{where}: data_offsets {offsetsJson.GetRawText()} end before they begin; {damaged}.");

        // Element count with overflow checks: a hostile shape must not wrap around to match the byte length.
        long bytes = offsets[1] - offsets[0], expected = SafeTensor.SizeOf(dtype);
        foreach (int s in shape)
            if (s != 0 && expected > long.MaxValue / s) { expected = -1; break; }
            else expected *= s;
        if (shape.Contains(0)) expected = 0;
        if (expected != bytes)
            throw new UserError($"{where}: shape [{string.Join(", ", shape)}] of {dtype} needs "
                + $"{(expected < 0 ? "more than 2^63" : expected.ToString())} bytes but data_offsets "
                    + $"{offsetsJson.GetRawText()} "
                + $"hold {bytes}; {damaged}.");
        return new Entry(name, dtype, shape, offsets[0], offsets[1]);
    }

    /// <summary>
    /// Sorted by offset, the tensors must tile [0, data length) exactly: no gap, no overlap, nothing past the end.
    /// </summary>
    static void CheckLayout(List<Entry> entries, long dataLength, string path, string damaged, string truncated)
    {
        long expectedBegin = 0;
        string previous = "the start of the data";
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.End > dataLength)
                throw new UserError($"{path}: tensor '{e.Name}' at bytes [{e.Begin}, {e.End}) runs past the end of "
                    + "the data "
                    + $"({dataLength} bytes); {truncated}.");
            if (e.Begin < expectedBegin)
                throw new UserError($"{path}: tensor '{e.Name}' at [{e.Begin}, {e.End}) overlaps {previous}, which "
                    + "ends at "
                    + $"{expectedBegin}; {damaged}.");
            if (e.Begin > expectedBegin)
                throw new UserError($"{path}: a gap of {e.Begin - expectedBegin} bytes between {previous} and tensor "
                    + $"'{e.Name}'; "
                    + $"{damaged}.");
            expectedBegin = e.End;
            previous = $"tensor '{e.Name}'";
        }
        if (expectedBegin != dataLength)
            throw new UserError($"{path}: {dataLength - expectedBegin} bytes after the last tensor that no tensor "
                + $"owns; {damaged}.");
    }

    static void ReadExactly(Stream f, Span<byte> destination, string path, string damaged)
    {
        if (f.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false) < destination.Length)
            throw new UserError($"{path}: the file ended while reading it (did it change meanwhile?); {damaged}.");
    }
}

/// <summary>The tensors and metadata of one safetensors file, in header order.</summary>
public sealed class SafeTensorsFile(string path, IReadOnlyList<SafeTensor> tensors,
    IReadOnlyDictionary<string, string> metadata)
{
    public string Path { get; } = path;
    public IReadOnlyList<SafeTensor> Tensors { get; } = tensors;
    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata;

    public bool TryGet(string name, out SafeTensor tensor)
    {
        tensor = Tensors.FirstOrDefault(t => t.Name == name)!;
        return tensor is not null;
    }

    /// <summary>The tensor <paramref name="name"/>, which must exist with this dtype and shape.</summary>
    /// <exception cref="UserError">it is missing or has another dtype or shape (a checkpoint of another
    /// model).</exception>
    public SafeTensor Get(string name, DType dtype, params int[] shape)
    {
        if (!TryGet(name, out var t))
        {
            string holds = string.Join(", ", Tensors.Take(4).Select(t => t.Name))
                + (Tensors.Count > 4 ? $" and {Tensors.Count - 4} more" : "");
            throw new UserError($"{Path}: no tensor '{name}' (it holds {holds}); "
                + "it is not a file of this model: use one written by this version of infovae.");
        }
        if (t.DType != dtype)
            throw new UserError($"{Path}: tensor '{name}' is {t.DType} [{string.Join(", ", t.Shape)}], expected "
                + $"{dtype} [{string.Join(", ", shape)}]; "
                + $"the file holds {t.DType} where {dtype} belongs: convert it to {dtype}, or use one written by "
                    + "infovae.");
        if (!t.Shape.SequenceEqual(shape))
            throw new UserError($"{Path}: tensor '{name}' is {t.DType} [{string.Join(", ", t.Shape)}], expected "
                + $"{dtype} [{string.Join(", ", shape)}]; "
                + "the file holds a model of another size: load it with the options it was trained with, or use a "
                    + "file of this model.");
        return t;
    }

    /// <summary>The metadata value for <paramref name="key"/>, which must exist.</summary>
    public string GetMetadata(string key) => Metadata.TryGetValue(key, out var v) ? v
        : throw new UserError($"{Path}: no metadata '{key}', so it was not written by infovae: use a checkpoint that "
            + "infovae train wrote.");
}
