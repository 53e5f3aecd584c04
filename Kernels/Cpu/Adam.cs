using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// One Adam step over flat buffers, in PyTorch's form (torch/optim/adam.py, _single_tensor_adam):
/// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + ε).
/// </summary>
public static unsafe class Adam
{
    // Memory-bound (28 bytes per parameter): above this many parameters both cores share the sweep, in fixed chunks,
    // so each element's arithmetic is the same whatever the thread count.
    const int ParallelFrom = 1 << 18, Chunk = 1 << 16;

    /// <summary>
    /// One step over equally long parameter, gradient and moment buffers; <paramref name="step"/> counts from 1.
    /// </summary>
    public static void Step<T>(Span<T> param, ReadOnlySpan<T> grad, Span<T> m, Span<T> v, double lr, double beta1,
        double beta2, double eps, long step)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = param.Length;
        if (grad.Length < n || m.Length < n || v.Length < n)
            throw new ArgumentException("grad, m and v must be as long as param");
        if (step < 1) throw new ArgumentOutOfRangeException(nameof(step), "Adam steps count from 1");
        if (n < ParallelFrom || Workers.MaxThreads == 1)
        {
            Range(param, grad, m, v, lr, beta1, beta2, eps, step);
            return;
        }
        fixed (T* pp = param) fixed (T* pg = grad) fixed (T* pm = m) fixed (T* pv = v)
        {
            var body = new Body<T>
            {
                P = pp, G = pg, M = pm, V = pv, N = n, Lr = lr, Beta1 = beta1, Beta2 = beta2,
                Eps = eps, Step = step
            };
            Workers.For((n + Chunk - 1) / Chunk, ref body);
        }
    }

    struct Body<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* P, G, M, V;
        public int N;
        public double Lr, Beta1, Beta2, Eps;
        public long Step;

        public readonly void Run(int index)
        {
            int start = index * Chunk, len = Math.Min(Chunk, N - start);
            Range(new Span<T>(P + start, len), new ReadOnlySpan<T>(G + start, len), new Span<T>(M + start, len),
                new Span<T>(V + start, len),
                Lr, Beta1, Beta2, Eps, Step);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Range<T>(Span<T> param, ReadOnlySpan<T> grad, Span<T> m, Span<T> v, double lr, double beta1,
        double beta2, double eps, long step)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = param.Length;
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        T b1 = T.CreateTruncating(beta1), b2 = T.CreateTruncating(beta2), ob1 = T.CreateTruncating(1 - beta1),
            ob2 = T.CreateTruncating(1 - beta2);
        T stepSize = T.CreateTruncating(lr / bc1), rsqBc2 = T.CreateTruncating(1 / Math.Sqrt(bc2)),
            e = T.CreateTruncating(eps);
        ref T pr = ref MemoryMarshal.GetReference(param);
        ref T gr = ref MemoryMarshal.GetReference(grad);
        ref T mr = ref MemoryMarshal.GetReference(m);
        ref T vr = ref MemoryMarshal.GetReference(v);
        int i = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                var g = Vector512.LoadUnsafe(ref gr, (nuint)i);
                var mi = Vector512.Create(b1) * Vector512.LoadUnsafe(ref mr, (nuint)i) + Vector512.Create(ob1) * g;
                var vi = Vector512.Create(b2) * Vector512.LoadUnsafe(ref vr, (nuint)i) + Vector512.Create(ob2) * g * g;
                mi.StoreUnsafe(ref mr, (nuint)i); vi.StoreUnsafe(ref vr, (nuint)i);
                var denom = Vector512.Sqrt(vi) * Vector512.Create(rsqBc2) + Vector512.Create(e);
                (Vector512.LoadUnsafe(ref pr, (nuint)i) - Vector512.Create(stepSize) * mi / denom).StoreUnsafe(ref pr,
                    (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            T g = Unsafe.Add(ref gr, i);
            T mi = b1 * Unsafe.Add(ref mr, i) + ob1 * g, vi = b2 * Unsafe.Add(ref vr, i) + ob2 * g * g;
            Unsafe.Add(ref mr, i) = mi; Unsafe.Add(ref vr, i) = vi;
            Unsafe.Add(ref pr, i) -= stepSize * mi / (T.Sqrt(vi) * rsqBc2 + e);
        }
    }
}
