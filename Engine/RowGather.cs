using System.Numerics;

namespace InfoVae.Engine;

/// <summary>
/// A data set's rows kept where a backend computes, for batches gathered by row index: a training set uploaded to
/// a GPU once (Fashion-MNIST: 60,000 × 784 floats, 188 MB) so that a step sends the batch's row indices, not its
/// pixels. Made by <see cref="IBackend{T}.KeepRows"/> and owned by that backend (released when it is).
/// </summary>
public interface IRowGather<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    int Rows { get; }
    int RowLength { get; }

    /// <summary>destination (rows.Length, RowLength), contiguous, = the data set's rows in the order given.</summary>
    void Gather(ReadOnlySpan<int> rows, Tensor<T> destination);
}

/// <summary>
/// The host-side gather every backend gets by default: the rows are copied into one reused host array and
/// uploaded as one batch (on the CPU backend the upload is a copy, so this is the trainer's old loop, bit for bit).
/// </summary>
public sealed class HostRows<T>(T[] data, int rowLength) : IRowGather<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    T[] batch = [];

    public int Rows { get; } = rowLength > 0 ? data.Length / rowLength : 0;
    public int RowLength { get; } = rowLength;

    public void Gather(ReadOnlySpan<int> rows, Tensor<T> destination)
    {
        int p = RowLength, n = rows.Length * p;
        if (destination.Length != n)
            throw new ArgumentException($"{rows.Length} rows of {p} do not fill {destination}");
        if (batch.Length < n) batch = new T[n];
        var host = batch.AsSpan(0, n);
        for (int i = 0; i < rows.Length; i++) data.AsSpan(checked(rows[i] * p), p).CopyTo(host.Slice(i * p, p));
        destination.CopyFrom(host);
    }
}
