using System.Buffers.Binary;
using System.Text;
using InfoVae.Engine.Cpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// The IDX and safetensors readers on thousands of random mutations of valid files (bit flips, byte changes,
/// truncations, insertions, deletions, and changes to the length fields: IDX sizes and rank, the safetensors
/// header length, the numbers in its JSON, gzip members rebuilt around a changed IDX header). Every outcome must
/// be a valid result or a UserError: never another exception, never a hang (a time limit per case), never an
/// allocation that an unchecked size field asked for (bytes allocated per case stay below a bound linear in the
/// file's length). Seeds are fixed, so a failure names a case that can be replayed.
/// </summary>
public class ReaderFuzzTests
{
    const int CasesPerFile = 600;
    // generous: a hang, not a slow machine, should trip it
    static readonly TimeSpan PerCase = TimeSpan.FromSeconds(10);

    TempFolder dir = null!;

    [OneTimeSetUp] public void Up() => dir = new TempFolder();
    [OneTimeTearDown] public void Down() => dir.Dispose();

    // ---- mutations ----

    static readonly int[] InterestingInts = [0, 1, -1, 2, 255, 256, 65535, 1 << 20, 1 << 30, int.MaxValue, int.MinValue,
        int.MaxValue / 2];
    static readonly string[] InterestingNumbers = ["0", "-1", "1", "7", "4294967296", "9223372036854775807",
        "18446744073709551616", "1e3", "1.5", "99999999", "-9223372036854775808"];

    /// <summary>
    /// One random mutation of <paramref name="file"/>; <paramref name="lengthFields"/> rewrites a length field its own
    /// way.
    /// </summary>
    static byte[] Mutate(byte[] file, Random r, Func<byte[], Random, byte[]> lengthFields)
    {
        var b = (byte[])file.Clone();
        switch (r.Next(7))
        {
            case 0:    // bit flips
                for (int k = r.Next(1, 5); k > 0 && b.Length > 0; k--) b[r.Next(b.Length)] ^= (byte)(1 << r.Next(8));
                return b;
            case 1:    // byte changes, to edge values or random ones
                for (int k = r.Next(1, 5); k > 0 && b.Length > 0; k--)
                    b[r.Next(b.Length)] = r.Next(3) == 0 ? (byte)r.Next(256)
                        : new byte[] { 0, 1, 0x7f, 0x80, 0xff, (byte)'"', (byte)'{', (byte)'9' }[r.Next(8)];
                return b;
            case 2:    // truncation
                return b[..r.Next(b.Length)];
            case 3:    // insertion
                {
                    int at = r.Next(b.Length + 1);
                    var ins = new byte[r.Next(1, 17)];
                    r.NextBytes(ins);
                    return [.. b[..at], .. ins, .. b[at..]];
                }
            case 4:    // deletion
                {
                    if (b.Length == 0) return b;
                    int at = r.Next(b.Length), n = r.Next(1, Math.Min(16, b.Length - at) + 1);
                    return [.. b[..at], .. b[(at + n)..]];
                }
            default:   // the format's length fields (two chances in seven)
                return lengthFields(b, r);
        }
    }

    /// <summary>IDX: the rank byte, or one size (big-endian int32) set to an edge value or off by one.</summary>
    static byte[] IdxLengths(byte[] b, Random r)
    {
        if (b.Length < 8) return b;
        int rank = Math.Min(b[3], (b.Length - 4) / 4);
        if (r.Next(5) == 0 || rank == 0) { b[3] = (byte)r.Next(6); return b; }
        int at = 4 + 4 * r.Next(rank), old = BinaryPrimitives.ReadInt32BigEndian(b.AsSpan(at));
        int value = r.Next(3) switch
        {
            0 => old + (r.Next(2) == 0 ? 1 : -1),
            1 => old * 2,
            _ => InterestingInts[r.Next(InterestingInts.Length)]
        };
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(at), value);
        return b;
    }

    /// <summary>
    /// Safetensors: the u64 header length, or a number inside the JSON header replaced by an edge value.
    /// </summary>
    static byte[] SafeTensorsLengths(byte[] b, Random r)
    {
        if (b.Length < 8) return b;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(b);
        if (r.Next(3) == 0)
        {
            ulong[] values = [0, 1, 2, n - 1, n + 1, n + 8, n - 8, (ulong)b.Length, (ulong)b.Length - 8, ulong.MaxValue,
                1UL << 40, (ulong)r.NextInt64()];
            BinaryPrimitives.WriteUInt64LittleEndian(b, values[r.Next(values.Length)]);
            return b;
        }
        int headerEnd = (int)Math.Min((ulong)b.Length, 8 + Math.Min(n, (ulong)b.Length));
        var digits = Enumerable.Range(8, Math.Max(0, headerEnd - 8)).Where(i => char.IsAsciiDigit((char)b[i])
            && !char.IsAsciiDigit((char)b[i - 1])).ToArray();
        if (digits.Length == 0) return b;
        int start = digits[r.Next(digits.Length)], end = start;
        while (end < headerEnd && char.IsAsciiDigit((char)b[end])) end++;
        var number = Encoding.ASCII.GetBytes(InterestingNumbers[r.Next(InterestingNumbers.Length)]);
        byte[] result = [.. b[..start], .. number, .. b[end..]];
        // Keep the header length honest about the edit half of the time, so the JSON parser sees the change.
        if (r.Next(2) == 0)
            BinaryPrimitives.WriteUInt64LittleEndian(result, n + (ulong)(number.Length - (end - start)));
        return result;
    }

    // ---- running one case ----

    /// <summary>
    /// Runs <paramref name="read"/> on the file on a worker thread within the time limit; returns whether it was
    /// read (true) or refused with a UserError (false) and the bytes it allocated on its thread.
    /// </summary>
    static (bool Read, long Allocated) Attempt(string what, Action read)
    {
        var task = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { read(); return (true, GC.GetAllocatedBytesForCurrentThread() - before, (Exception?)null); }
            catch (UserError) { return (false, GC.GetAllocatedBytesForCurrentThread() - before, null); }
            catch (Exception e) { return (false, 0L, e); }
        });
        if (!task.Wait(PerCase)) Assert.Fail($"{what}: still reading after {PerCase.TotalSeconds} s");
        var (ok, allocated, error) = task.Result;
        if (error != null)
            Assert.Fail($"{what}: {error.GetType().Name} instead of a UserError: {error.Message}\n{error.StackTrace}");
        return (ok, allocated);
    }

    sealed record Tally(string Name)
    {
        public int Read, Refused;
        public double WorstRatio;     // allocated / (bound at this length), for the report
        public override string ToString()
            => $"{Name}: {Read} read, {Refused} refused, worst allocation {WorstRatio:P0} of the bound";
    }

    void Fuzz(string name, byte[] valid, int seed, Func<byte[], Random, byte[]> mutate, Action<string> read,
        long fixedBytes, long perFileByte)
    {
        var path = dir[name];
        var tally = new Tally(name);
        var r = new Random(seed);
        File.WriteAllBytes(path, valid);
        Assert.That(Attempt($"{name} unmutated", () => read(path)).Read, Is.True, "the valid file reads");
        for (int i = 0; i < CasesPerFile; i++)
        {
            var file = mutate(valid, r);
            File.WriteAllBytes(path, file);
            var (ok, allocated) = Attempt($"{name} case {i} (seed {seed})", () => read(path));
            long bound = fixedBytes + perFileByte * file.Length;
            Assert.That(allocated, Is.LessThanOrEqualTo(bound),
                $"{name} case {i} (seed {seed}): {allocated} bytes allocated for a file of {file.Length}");
            tally.WorstRatio = Math.Max(tally.WorstRatio, (double)allocated / bound);
            if (ok) tally.Read++; else tally.Refused++;
        }
        TestContext.Out.WriteLine(tally);
        Assert.That(tally.Refused, Is.GreaterThan(CasesPerFile / 4), "the mutations should break most files");
    }

    // ---- IDX ----

    static byte[] ImageFile => IdxFiles.Bytes([7, 5, 6], IdxFiles.Pixels(7, 5, 6, 3));
    static byte[] LabelFile => IdxFiles.Bytes([7], IdxFiles.Labels(7, 3));

    static void ReadImages(string path)
    {
        var (pixels, n, rows, cols) = Idx.ReadImages(path);
        Assert.That(pixels, Has.Length.EqualTo((long)n * rows * cols), "one float per pixel");
        Assert.That(pixels.All(p => p >= 0 && p <= 1), "pixels in [0, 1]");
    }

    static void ReadLabels(string path) => Assert.That(Idx.ReadLabels(path), Is.Not.Empty);

    // Plain: 4 bytes (a float) per file byte. Gzipped: the first buffer is at least 4 Ki elements (16 KiB of floats)
    // and at most 16 per file byte, doubled as data arrive; the gzip stream's own buffers come on top. A reader that
    // trusted the header up to deflate's 1032:1 would allocate 4128 bytes per file byte and fail this bound.
    const long IdxFixed = 256 << 10, IdxPerByte = 160;

    [Test]
    public void Idx_images_plain() => Fuzz("images", ImageFile, 101, (b, r) => Mutate(b, r, IdxLengths),
        ReadImages, IdxFixed, IdxPerByte);
    [Test]
    public void Idx_labels_plain() => Fuzz("labels", LabelFile, 102, (b, r) => Mutate(b, r, IdxLengths),
        ReadLabels, IdxFixed, IdxPerByte);

    [Test]
    public void Idx_images_gzipped() => Fuzz("images.gz", IdxFiles.Gzip(ImageFile), 103, (b, r) =>
        // Half the cases damage the compressed bytes, half rebuild a sound gzip member around a damaged IDX file.
        r.Next(2) == 0
            ? Mutate(b, r, (c, rr) =>
            {
                BinaryPrimitives.WriteInt32LittleEndian(c.AsSpan(c.Length - 4), rr.Next());
                return c;
            })
                       : IdxFiles.Gzip(Mutate(ImageFile, r, IdxLengths)), ReadImages, IdxFixed, IdxPerByte);

    [Test]
    public void Idx_labels_gzipped() => Fuzz("labels.gz", IdxFiles.Gzip(LabelFile), 104, (b, r) =>
        r.Next(2) == 0 ? Mutate(b, r, IdxLengths) : IdxFiles.Gzip(Mutate(LabelFile, r, IdxLengths)), ReadLabels,
            IdxFixed, IdxPerByte);

    [Test]
    public void A_gzip_header_that_claims_the_most_the_file_could_hold_allocates_only_for_the_data_behind_it()
    {
        // 1032:1 is deflate's limit, so a gzip file of about 200 bytes may claim about 200 000; only 7 images (210
        // bytes) follow.
        var path = dir["liar.gz"];
        var raw = IdxFiles.Bytes([7, 5, 6], IdxFiles.Pixels(7, 5, 6, 3));
        // 6000 × 5 × 6 = 180 000 pixels claimed: 720 KB of floats
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4), 6000);
        var gz = IdxFiles.Gzip(raw);
        File.WriteAllBytes(path, gz);
        var (ok, allocated) = Attempt("liar.gz", () => Idx.ReadImages(path));
        Assert.That(ok, Is.False, "truncated");
        Assert.That(allocated, Is.LessThan(IdxFixed), $"{allocated} bytes");
    }

    // ---- safetensors ----

    static byte[] SafeTensorsFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"fuzz-{Guid.NewGuid():N}.safetensors");
        try
        {
            SafeTensors.Write(path,
            [
                SafeTensor.From<float>("w", [1f, -2f, 3.5f, 0f, 1e-3f, 7f], 2, 3),
                SafeTensor.From<double>("d", [Math.PI], 1),
                SafeTensor.From<long>("n", [42L, -1L], 2),
                SafeTensor.From<byte>("u", [1, 2, 3], 3),
            ], new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "3" });
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }

    static void ReadSafeTensors(string path)
    {
        var f = SafeTensors.Read(path);
        foreach (var t in f.Tensors)
            Assert.That(t.Data, Has.Length.EqualTo(t.Shape.Aggregate(1L, (a, s) => a * s) * SafeTensor.SizeOf(t.DType)),
                t.Name);
    }

    // The header and every tensor are at most the file's length; JSON parsing and names take a few times the header.
    const long StFixed = 256 << 10, StPerByte = 64;

    [Test]
    public void Safetensors() => Fuzz("t.safetensors", SafeTensorsFile(), 201, (b, r)
        => Mutate(b, r, SafeTensorsLengths), ReadSafeTensors, StFixed, StPerByte);

    [Test]
    public void Safetensors_checkpoint_through_Checkpoint_Load()
    {
        // A real (tiny) checkpoint: metadata with position and config, three tensors per parameter.
        var config = new TrainConfig { InputSize = 4, Hidden = [3], Latent = 2, Batch = 4 };
        var net = new InfoVaeNet<float>(config, CpuBackend<float>.Instance);
        net.Params.Initialize(1);
        var path = dir["ckpt-src.safetensors"];
        Checkpoint.Save(path, net, new Checkpoint.Position(12, 3, 1));
        Fuzz("ckpt.safetensors", File.ReadAllBytes(path), 202, (b, r) => Mutate(b, r, SafeTensorsLengths), p =>
        {
            var at = Checkpoint.Load(p, net);
            Assert.That(at.Step >= 0 && at.Epoch >= 0 && at.NextBatch >= 0, $"position {at}");
        }, StFixed, StPerByte);
    }

    // a lone surrogate
    [TestCase("{\"\\ud800\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "not valid text")]
    [TestCase("{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", "empty")]
    [TestCase("{\"__metadata__\":{\"a\":\"\\udfff\"}}", "not valid text")]
    [TestCase("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},\"a\":{\"dtype\":\"U8\",\"shape\":[1],"
        + "\"data_offsets\":[0,1]}}", "twice")]
    [TestCase("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        + "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]", "not valid JSON")]
    public void Hostile_headers_found_by_hand(string json, string says)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var file = new byte[8 + header.Length + 1];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        var path = dir["hostile.safetensors"];
        File.WriteAllBytes(path, file);
        UserErrors.Expect(() => SafeTensors.Read(path), path, says);
    }
}
