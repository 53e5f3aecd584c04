using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Engine.Gpu;

/// <summary>
/// Page-locked host memory that small uploads pass through, so that they are asynchronous and a step's uploads do
/// not drain the queue. ILGPU's CopyFromCPU from an ordinary (pageable) span waits for the whole stream before it
/// returns (ArrayViewExtensions.CopyFromCPU: CopyFromCPUUnsafeAsync, then stream.Synchronize()): that is how the
/// caller's span becomes free again, and why each of those uploads was a blocking sync. Here the span is copied into
/// this block on the host first (so the caller may reuse it at once) and the block's region is queued as an
/// asynchronous copy (cuMemcpyAsync from memory registered with cuMemHostRegister). A region is not written again
/// until the stream has been synchronised, which proves its copy done: <see cref="Reset"/> is called only then.
/// On ILGPU's CPU accelerator page locking is a no-op and copies run at once; the bookkeeping is the same.
/// </summary>
sealed class HostStaging<T>(Accelerator accelerator, int capacity) : IDisposable where T : unmanaged
{
    PageLockedArray1D<T> block = accelerator.AllocatePageLocked1D<T>(capacity, uninitialized: true);
    int used;

    /// <summary>
    /// Queues target = source on the stream; <paramref name="synchronize"/> is called first when the block is full.
    /// </summary>
    public void Upload(AcceleratorStream stream, ReadOnlySpan<T> source, ArrayView<T> target, Action synchronize)
    {
        int n = source.Length;
        if (n == 0) return;
        if (n > block.Length - used)
        {
            synchronize();   // every queued copy out of the block is done: all of it may be written again
            used = 0;
            if (n > block.Length)
            {
                long grown = Math.Max(2L * n, 2 * block.Length);   // room for the small uploads that follow a big one
                block.Dispose();
                block = accelerator.AllocatePageLocked1D<T>(grown, uninitialized: true);
            }
        }
        source.CopyTo(block.Span.Slice(used, n));
        target.CopyFrom(stream, block.ArrayView.SubView(used, n));
        used += n;
    }

    /// <summary>Called after the stream was synchronised: every region may be written again.</summary>
    public void Reset() => used = 0;

    public void Dispose() => block.Dispose();
}
