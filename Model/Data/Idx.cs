using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;

namespace InfoVae.Model.Data;

/// <summary>
/// Reader of IDX files of unsigned bytes, plain or gzipped, as MNIST and Fashion-MNIST ship them.
/// Format (http://yann.lecun.com/exdb/mnist/, bottom of the page): bytes 0, 0, element type (0x08 = unsigned
/// byte), number of dimensions R; then R big-endian int32 sizes; then the elements, last dimension fastest.
/// N = images, rows × cols = pixels of one image.
/// </summary>
/// <remarks>
/// Every size is checked against the length of the data before anything is allocated from it: for a plain file
/// the header must account for the file's length exactly; a gzipped file can hold at most
/// <see cref="MaxDeflateRatio"/> bytes per compressed byte, and the decompression stops at the header's length.
/// Within that bound a gzipped file's buffer starts at what the file plausibly holds and grows (doubling) only as
/// data arrive, so a header that claims more than the data behind it costs no more memory than the data.
/// </remarks>
public static class Idx
{
    public const byte UnsignedByte = 0x08;

    // Deflate's best case is a 258-byte match in about 2 bits, so no stream expands more than 1032:1
    // (https://zlib.net/zlib_tech.html, "Maximum Compression Factor").
    const long MaxDeflateRatio = 1032;

    /// <summary>Reads an image file (3 dimensions: N, rows, cols) as floats byte/255 in [0, 1].</summary>
    /// <returns>pixels (N, rows·cols) row-major in one array.</returns>
    public static (float[] Pixels, int Count, int Rows, int Cols) ReadImages(string path) => ReadImages(path, null);

    /// <summary>
    /// As <see cref="ReadImages(string)"/>, hashing the IDX bytes (gunzipped) into <paramref name="sha256"/>.
    /// </summary>
    public static (float[] Pixels, int Count, int Rows, int Cols) ReadImages(string path, IncrementalHash? sha256)
    {
        using var idx = Open(path, rank: 3, "an image file (3 dimensions: count, rows, cols)", sha256);
        int n = idx.Dims[0], rows = idx.Dims[1], cols = idx.Dims[2];
        var pixels = idx.ReadUnitFloats();
        idx.ExpectEnd();
        return (pixels, n, rows, cols);
    }

    /// <summary>Reads a label file (1 dimension: N).</summary>
    public static byte[] ReadLabels(string path) => ReadLabels(path, null);

    /// <summary>
    /// As <see cref="ReadLabels(string)"/>, hashing the IDX bytes (gunzipped) into <paramref name="sha256"/>.
    /// </summary>
    public static byte[] ReadLabels(string path, IncrementalHash? sha256)
    {
        using var idx = Open(path, rank: 1, "a label file (1 dimension: count)", sha256);
        var labels = idx.ReadBytes();
        idx.ExpectEnd();
        return labels;
    }

    /// <summary>True when the file starts with gzip's magic bytes 1f 8b (RFC 1952), whatever its name.</summary>
    public static bool IsGzip(string path)
    {
        using var f = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        return f.ReadAtLeast(magic, 2, throwOnEndOfStream: false) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    static Reader Open(string path, int rank, string expected, IncrementalHash? sha256)
    {
        if (!File.Exists(path)) throw new UserError($"{path}: no such file; expected {expected} in IDX format.");
        bool gzip = IsGzip(path);
        if (!gzip && path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
            throw new UserError($"{path}: named .gz but is not gzip (it does not start with 1f 8b); "
                + "gunzip it by hand or give it the name without .gz if it is a plain IDX file.");
        var file = File.OpenRead(path);
        long fileLength = file.Length;
        Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
        var r = new Reader(path, stream, gzip, fileLength, sha256);
        try
        {
            Span<byte> head = stackalloc byte[4];
            r.ReadHeader(head, "its 4-byte magic number");
            if (head[0] != 0 || head[1] != 0)
                throw new UserError($"{path}: not an IDX file (starts with {Convert.ToHexString(head)}, an IDX magic "
                    + "number "
                    + $"starts with 0000); give the MNIST/Fashion-MNIST file here, {expected}.");
            if (head[2] != UnsignedByte)
                throw new UserError($"{path}: IDX element type 0x{head[2]:x2}, expected 0x08 (unsigned byte) as in "
                    + "MNIST/Fashion-MNIST; convert the file to unsigned bytes.");
            if (head[3] != rank)
                throw new UserError($"{path}: IDX file with {head[3]} dimensions, expected {expected}; "
                    + "check that image and label files are not swapped.");

            Span<byte> dimBytes = stackalloc byte[4 * rank];
            r.ReadHeader(dimBytes, $"its {rank} dimension sizes");
            r.Dims = new int[rank];
            long payload = 1;
            for (int d = 0; d < rank; d++)
            {
                int size = BinaryPrimitives.ReadInt32BigEndian(dimBytes.Slice(4 * d));
                if (d == 0 && size == 0)
                    throw new UserError($"{path}: the data set is empty (its IDX header counts 0 items); "
                        + "use a file with at least one image and label.");
                if (size <= 0)
                    throw new UserError($"{path}: dimension {d} has size {size}; an IDX data set needs at least one "
                        + "element along every dimension. The file is damaged or empty: install it again.");
                r.Dims[d] = size;
                // Saturates just above one array's worth: then every factor is below 2^31 and no product overflows
                // (three sizes near 2^31 multiply to 2^93, far past a long).
                payload = Math.Min(payload * size, (long)Array.MaxLength + 1);
            }
            long headerLength = 4 + 4L * rank;
            string dims = string.Join(" × ", r.Dims);
            string count = payload > Array.MaxLength ? $"more than {Array.MaxLength}" : payload.ToString();
            if (!gzip && headerLength + payload != fileLength)
                throw new UserError($"{path}: the header says {dims} = {count} bytes of data after a "
                    + $"{headerLength}-byte "
                    + $"header, but the file has {fileLength} bytes "
                        + $"({(headerLength + payload > fileLength ? "truncated" : "trailing data")}); "
                    + "the file is damaged: install or download it again.");
            if (gzip && headerLength + payload > fileLength * MaxDeflateRatio)
                throw new UserError($"{path}: the header says {dims} = {count} bytes of data, more than a gzip file of "
                    + $"{fileLength} bytes can hold; the file is damaged: install or download it again.");
            if (payload > Array.MaxLength)
                throw new UserError($"{path}: {dims} = {count} elements is more than one array holds "
                    + $"({Array.MaxLength}); "
                    + "split the data set.");
            r.PayloadLength = (int)payload;
            return r;
        }
        catch
        {
            r.Dispose();
            throw;
        }
    }

    /// <summary>
    /// One IDX file's bytes after decompression, with the header's sizes; each byte read goes to the hash.
    /// </summary>
    sealed class Reader(string path, Stream stream, bool gzip, long fileLength, IncrementalHash? sha256) : IDisposable
    {
        public int[] Dims = [];
        public int PayloadLength;
        long consumed;

        static readonly float[] UnitFloats = Enumerable.Range(0, 256).Select(b => b / 255f).ToArray();

        public void Dispose() => stream.Dispose();

        string Kind => gzip ? "gzipped IDX file" : "IDX file";

        public void ReadHeader(Span<byte> destination, string what)
        {
            if (Fill(destination) < destination.Length)
                throw new UserError($"{path}: the {Kind} ends after {consumed} bytes, before {what}; "
                    + "the file is empty or truncated: install or download it again.");
        }

        // A gzipped file's first buffer: what 16:1 compression would give (MNIST's files are about 2:1 to 5:1), at
        // least 4 Ki.
        int FirstLength() => gzip ? (int)Math.Min(PayloadLength, Math.Max(1 << 12, 16 * fileLength)) : PayloadLength;

        /// <summary>
        /// The next length of a buffer of <paramref name="length"/> elements that is full: double, up to the payload.
        /// </summary>
        int Grown(int length) => (int)Math.Min(PayloadLength, 2L * length);

        public byte[] ReadBytes()
        {
            var destination = new byte[FirstLength()];
            for (int done = 0; done < PayloadLength;)
            {
                if (done == destination.Length) Array.Resize(ref destination, Grown(done));
                int got = Fill(destination.AsSpan(done));
                done += got;
                if (done < destination.Length) Truncated();
            }
            return destination;
        }

        public float[] ReadUnitFloats()
        {
            var lut = UnitFloats;
            var destination = new float[FirstLength()];
            Span<byte> chunk = stackalloc byte[16384];
            for (int done = 0; done < PayloadLength;)
            {
                if (done == destination.Length) Array.Resize(ref destination, Grown(done));
                var part = chunk[..Math.Min(chunk.Length, destination.Length - done)];
                int got = Fill(part);
                for (int i = 0; i < got; i++) destination[done + i] = lut[part[i]];
                done += got;
                if (got < part.Length) Truncated();
            }
            return destination;
        }

        /// <summary>
        /// A gzipped file must end where its header says (plain files were checked against their length).
        /// </summary>
        public void ExpectEnd()
        {
            Span<byte> one = stackalloc byte[1];
            if (gzip && Fill(one) > 0)
                throw new UserError($"{path}: the gzipped data go on past the {string.Join(" × ", Dims)} elements its "
                    + "IDX "
                    + "header announces; the file is damaged or not what it says: install or download it again.");
        }

        [System.Diagnostics.CodeAnalysis.DoesNotReturn]
        void Truncated() =>
            throw new UserError($"{path}: the {Kind} is truncated: its header says {string.Join(" × ", Dims)} "
                + "elements, "
                + $"but the data end after {consumed} bytes; install or download it again.");

        /// <summary>
        /// Reads until full or at the end; a corrupt deflate stream is the user's problem, not a crash.
        /// </summary>
        int Fill(Span<byte> destination)
        {
            int got;
            try { got = stream.ReadAtLeast(destination, destination.Length, throwOnEndOfStream: false); }
            catch (InvalidDataException e)
            {
                throw new UserError($"{path}: the gzip data are corrupt or truncated after {consumed} bytes "
                    + $"({e.Message}); "
                    + "install or download the file again.");
            }
            consumed += got;
            sha256?.AppendData(destination[..got]);
            return got;
        }
    }
}
