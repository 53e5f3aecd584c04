using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Softplus and the fused loss terms: the Bernoulli negative log-likelihood from logits, the Gaussian KL against N(0,
/// I), and softmax cross-entropy (the classifiers of the metrics). The elementwise ones work through a stack chunk of
/// <see cref="Chunk"/> elements, so they need no scratch from the caller, allocate nothing, and work in place
/// (destination = an input). Correctness: Tests/Kernels/LossKernelTests.cs against Kernels/Reference/LossReference.cs.
/// </summary>
public static class Losses
{
    const int Chunk = 256;   // elements per stack chunk: 1 KiB of float, 2 KiB of double
    const int ChunkBytes = Chunk * sizeof(double) + 64;   // a chunk of either type, and room to align it

    /// <summary>
    /// The first <paramref name="length"/> elements of <paramref name="raw"/> from its first 64-byte boundary.
    /// TensorPrimitives lines its vectors up with the destination's address, and its double Sigmoid and Exp round a
    /// lane next to a NaN or an argument beyond ±709 1 ulp differently when the two share a 16-byte pair: with the
    /// chunk on the stack as it fell (8 or 16 bytes aligned, varying from run to run), the double BCE backward's bits
    /// varied too (LossKernelTests' Bce_with_logits_sum(16385), about one run in three).
    /// </summary>
    static unsafe Span<T> Aligned<T>(Span<byte> raw, int length) where T : unmanaged
    {
        nint address = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(raw));
        int skip = (int)(-address & 63);
        return MemoryMarshal.Cast<byte, T>(raw[skip..])[..length];
    }

    /// <summary>
    /// destination[i] = softplus(x[i]) = log(1 + exp(x)) = max(x, 0) + log(1 + exp(−|x|)), finite for finite x.
    /// </summary>
    public static void Softplus<T>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length;
        if (destination.Length < n) Simd.ThrowDestinationTooShort();
        var s = Aligned<T>(stackalloc byte[ChunkBytes], Math.Min(n, Chunk));
        for (int i = 0; i < n; i += Chunk)
        {
            int m = Math.Min(Chunk, n - i);
            var xc = x.Slice(i, m); var sc = s[..m]; var dc = destination.Slice(i, m);
            Log1pExpNegAbs(xc, sc);
            Simd.Map<T, ReluOp<T>>(xc, dc);                        // x is read for the last time here
            TensorPrimitives.Add(dc, sc, dc);
        }
    }

    /// <summary>
    /// destination[i] = softplus(z) − t·z = −[t·log σ(z) + (1 − t)·log(1 − σ(z))], the BCE of target t under logit z.
    /// Computed as (z > 0 ? (1 − t)·z : −t·z) + log(1 + exp(−|z|)) (see <see cref="BceLinearOp{T}"/>): never
    /// exponentiates a positive number, so it is finite for finite z; z = ±∞ gives +∞, or 0 when t puts all its
    /// weight on that side. PyTorch's BCEWithLogits uses the same max(z, 0) form.
    /// </summary>
    public static void BceWithLogits<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> t, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = z.Length;
        if (t.Length != n) Simd.ThrowInputLengthsDiffer();
        if (destination.Length < n) Simd.ThrowDestinationTooShort();
        var s = Aligned<T>(stackalloc byte[ChunkBytes], Math.Min(n, Chunk));
        for (int i = 0; i < n; i += Chunk)
        {
            int m = Math.Min(Chunk, n - i);
            var zc = z.Slice(i, m); var tc = t.Slice(i, m); var sc = s[..m];
            Log1pExpNegAbs(zc, sc);
            Simd.Accumulate<T, BceLinearOp<T>>(zc, tc, zc, sc);
            sc.CopyTo(destination.Slice(i, m));                     // z and t are read in full before this write
        }
    }

    /// <summary>dz += dl · (σ(z) − t); dt += dl · (−z). Either gradient may be empty (not wanted).</summary>
    public static void BceWithLogitsBackward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> t, ReadOnlySpan<T> dl, Span<T> dz,
        Span<T> dt)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = z.Length;
        if (t.Length != n || dl.Length != n) Simd.ThrowInputLengthsDiffer();
        if (!dz.IsEmpty && dz.Length < n) throw new ArgumentException("Destination is too short.", nameof(dz));
        if (!dt.IsEmpty && dt.Length < n) throw new ArgumentException("Destination is too short.", nameof(dt));
        if (!dz.IsEmpty)
        {
            var s = Aligned<T>(stackalloc byte[ChunkBytes], Math.Min(n, Chunk));
            for (int i = 0; i < n; i += Chunk)
            {
                int m = Math.Min(Chunk, n - i);
                var sc = s[..m]; var dzc = dz.Slice(i, m);
                TensorPrimitives.Sigmoid(z.Slice(i, m), sc);
                TensorPrimitives.Subtract(sc, t.Slice(i, m), sc);
                TensorPrimitives.MultiplyAdd(sc, dl.Slice(i, m), dzc, dzc);
            }
        }
        if (!dt.IsEmpty) Simd.Accumulate<T, MulAccOp<T>>(z, z, dl, -T.One, dt);
    }

    /// <summary>Elements per task of the summed BCE; the tasks' partial sums are added in task order (thread-count
    /// independent).</summary>
    const int SumChunk = 1 << 14;

    /// <summary>
    /// Σ_i BCE(z[i], t[i]) (<see cref="BceWithLogits{T}"/>'s terms): each 256 terms summed by TensorPrimitives.Sum,
    /// those sums added in double within each fixed chunk of <see cref="SumChunk"/> elements, the chunks added in
    /// order: the reconstruction loss without its (B, D) tensor, on both cores for large inputs, and the same bits on
    /// one thread or two.
    /// </summary>
    public static unsafe T BceWithLogitsSum<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> t) where T : unmanaged,
        IFloatingPointIeee754<T>
    {
        int n = z.Length;
        if (t.Length != n) Simd.ThrowInputLengthsDiffer();
        int chunks = (n + SumChunk - 1) / SumChunk;
        double* partial = stackalloc double[Math.Min(chunks, 256)];
        double[]? big = chunks > 256 ? new double[chunks] : null;   // inputs above 4 M elements only
        fixed (T* pz = z) fixed (T* pt = t) fixed (double* pb = big)
        {
            var body = new BceSumBody<T> { Z = pz, T_ = pt, N = n, Partial = big == null ? partial : pb };
            if (chunks < 2 || Workers.MaxThreads == 1) for (int i = 0; i < chunks; i++) body.Run(i);
            else Workers.For(chunks, ref body);
            double sum = 0;
            for (int i = 0; i < chunks; i++) sum += body.Partial[i];
            return T.CreateTruncating(sum);
        }
    }

    unsafe struct BceSumBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Z, T_;
        public int N;
        public double* Partial;

        public readonly void Run(int index)
        {
            int start = index * SumChunk, end = Math.Min(N, start + SumChunk);
            var s = Aligned<T>(stackalloc byte[ChunkBytes], Chunk);
            double sum = 0;
            for (int i = start; i < end; i += Chunk)
            {
                int m = Math.Min(Chunk, end - i);
                var sc = s[..m];
                BceWithLogits<T>(new ReadOnlySpan<T>(Z + i, m), new ReadOnlySpan<T>(T_ + i, m), sc);
                sum += double.CreateTruncating(TensorPrimitives.Sum<T>(sc));
            }
            Partial[index] = sum;
        }
    }

    /// <summary>
    /// The backward of <see cref="BceWithLogitsSum{T}"/> with upstream gradient g: dz (+)= g·(σ(z) − t) (accumulate
    /// false writes dz), dt += −g·z; either gradient may be empty. Elementwise, split over both cores in fixed chunks.
    /// </summary>
    public static unsafe void BceWithLogitsSumBackward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> t, T g, Span<T> dz,
        bool accumulate, Span<T> dt)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = z.Length;
        if (t.Length != n) Simd.ThrowInputLengthsDiffer();
        if (!dz.IsEmpty && dz.Length < n) throw new ArgumentException("Destination is too short.", nameof(dz));
        if (!dt.IsEmpty && dt.Length < n) throw new ArgumentException("Destination is too short.", nameof(dt));
        int chunks = (n + SumChunk - 1) / SumChunk;
        fixed (T* pz = z) fixed (T* pt = t) fixed (T* pdz = dz) fixed (T* pdt = dt)
        {
            var body = new BceGradBody<T>
            {
                Z = pz, T_ = pt, Dz = dz.IsEmpty ? null : pdz, Dt = dt.IsEmpty ? null : pdt, G = g, N = n,
                Accumulate = accumulate
            };
            if (chunks < 2 || Workers.MaxThreads == 1) for (int i = 0; i < chunks; i++) body.Run(i);
            else Workers.For(chunks, ref body);
        }
    }

    unsafe struct BceGradBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Z, T_, Dz, Dt;
        public T G;
        public int N;
        public bool Accumulate;

        public readonly void Run(int index)
        {
            int start = index * SumChunk, end = Math.Min(N, start + SumChunk);
            var s = Aligned<T>(stackalloc byte[ChunkBytes], Chunk);
            for (int i = start; i < end; i += Chunk)
            {
                int m = Math.Min(Chunk, end - i);
                var sc = s[..m];
                var zc = new ReadOnlySpan<T>(Z + i, m);
                if (Dz != null)
                {
                    var dzc = new Span<T>(Dz + i, m);
                    TensorPrimitives.Sigmoid(zc, sc);
                    TensorPrimitives.Subtract(sc, new ReadOnlySpan<T>(T_ + i, m), sc);
                    if (Accumulate) TensorPrimitives.MultiplyAdd(sc, G, dzc, dzc);
                    else TensorPrimitives.Multiply(sc, G, dzc);
                }
                if (Dt != null) TensorPrimitives.MultiplyAdd(zc, -G, new Span<T>(Dt + i, m), new Span<T>(Dt + i, m));
            }
        }
    }

    /// <summary>
    /// destination[r] = ½ Σ_j (exp(lv) + mu² − 1 − lv) = KL(N(mu, exp(lv)) ‖ N(0, 1)) summed over a row of z.
    /// mu, logvar: (rows, z); destination: rows. Each term is ≥ 0, and infinite inputs give +∞ (lv = +∞ would
    /// otherwise be exp(lv) − lv = ∞ − ∞).
    /// </summary>
    public static void GaussianKl<T>(ReadOnlySpan<T> mu, ReadOnlySpan<T> logvar, int rows, int z, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckKlShapes(mu.Length, logvar.Length, rows, z);
        if (destination.Length < rows) Simd.ThrowDestinationTooShort();
        T half = T.CreateTruncating(0.5);
        for (int r = 0; r < rows; r++)
        {
            T s = T.Zero;
            for (int j = r * z; j < (r + 1) * z; j++)
            {
                T lv = logvar[j];
                T e = T.IsPositiveInfinity(lv) ? lv : T.Exp(lv) - T.One - lv;
                s += e + mu[j] * mu[j];
            }
            destination[r] = half * s;
        }
    }

    /// <summary>
    /// dmu += dkl[r] · mu; dlogvar += dkl[r] · ½ (exp(lv) − 1). dkl: rows; the others (rows, z); either gradient may be
    /// empty.
    /// </summary>
    public static void GaussianKlBackward<T>(ReadOnlySpan<T> mu, ReadOnlySpan<T> logvar, ReadOnlySpan<T> dkl, int rows,
        int z, Span<T> dmu, Span<T> dlogvar)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckKlShapes(mu.Length, logvar.Length, rows, z);
        if (dkl.Length < rows) throw new ArgumentException("dkl is shorter than rows", nameof(dkl));
        if (!dmu.IsEmpty && dmu.Length < rows * z)
            throw new ArgumentException("Destination is too short.", nameof(dmu));
        if (!dlogvar.IsEmpty && dlogvar.Length < rows * z)
            throw new ArgumentException("Destination is too short.", nameof(dlogvar));
        T half = T.CreateTruncating(0.5);
        for (int r = 0; r < rows; r++)
        {
            T g = dkl[r];
            for (int j = r * z; j < (r + 1) * z; j++)
            {
                if (!dmu.IsEmpty) dmu[j] += g * mu[j];
                if (!dlogvar.IsEmpty) dlogvar[j] += g * half * (T.Exp(logvar[j]) - T.One);
            }
        }
    }

    /// <summary>
    /// destination[r] = Σ_c t[r,c]·(lse_r − z[r,c]), lse_r = log Σ_c exp(z[r,c]): the cross-entropy of the target
    /// distribution t under softmax(z) (with one-hot t, −log softmax(z)[label]). z, t: (rows, classes); destination:
    /// rows. lse is max + log Σ exp(z − max), so it never exponentiates a positive number; a zero weight contributes 0.
    /// </summary>
    public static void SoftmaxCrossEntropy<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> t, int rows, int classes,
        Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSoftmaxShapes(z.Length, t.Length, rows, classes);
        if (destination.Length < rows) Simd.ThrowDestinationTooShort();
        for (int r = 0; r < rows; r++)
        {
            var zr = z.Slice(r * classes, classes); var tr = t.Slice(r * classes, classes);
            T lse = LogSumExp(zr), s = T.Zero;
            for (int c = 0; c < classes; c++)
                if (tr[c] != T.Zero) s += tr[c] * (lse - zr[c]);
            destination[r] = s;
        }
    }

    /// <summary>
    /// dz[r,c] += dl[r]·(softmax(z)[r,c]·Σ_k t[r,k] − t[r,c]); dt[r,c] += dl[r]·(lse_r − z[r,c]). Either gradient
    /// may be empty (not wanted).
    /// </summary>
    public static void SoftmaxCrossEntropyBackward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> t, ReadOnlySpan<T> dl,
        int rows, int classes, Span<T> dz, Span<T> dt) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSoftmaxShapes(z.Length, t.Length, rows, classes);
        if (dl.Length < rows) throw new ArgumentException("dl is shorter than rows", nameof(dl));
        if (!dz.IsEmpty && dz.Length < rows * classes) throw new ArgumentException("Destination is too short.",
            nameof(dz));
        if (!dt.IsEmpty && dt.Length < rows * classes) throw new ArgumentException("Destination is too short.",
            nameof(dt));
        for (int r = 0; r < rows; r++)
        {
            var zr = z.Slice(r * classes, classes); var tr = t.Slice(r * classes, classes);
            T lse = LogSumExp(zr), g = dl[r], mass = T.Zero;
            for (int c = 0; c < classes; c++) mass += tr[c];
            for (int c = 0; c < classes; c++)
            {
                int i = r * classes + c;
                if (!dz.IsEmpty) dz[i] += g * (T.Exp(zr[c] - lse) * mass - tr[c]);
                if (!dt.IsEmpty) dt[i] += g * (lse - zr[c]);
            }
        }
    }

    /// <summary>log Σ exp(x), shifted by the maximum; −∞ for an empty row.</summary>
    static T LogSumExp<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = T.NegativeInfinity;
        foreach (var v in x) max = T.MaxNumber(max, v);
        if (!T.IsFinite(max)) return max;
        T s = T.Zero;
        foreach (var v in x) s += T.Exp(v - max);
        return max + T.Log(s);
    }

    static void CheckSoftmaxShapes(int zLength, int tLength, int rows, int classes)
    {
        if (rows < 0 || classes < 1) throw new ArgumentException($"softmax cross-entropy shape ({rows}, {classes}) "
            + $"needs rows ≥ 0 and classes ≥ 1");
        if (zLength != rows * classes || tLength != rows * classes)
            throw new ArgumentException($"logits ({zLength}) and targets ({tLength}) must hold rows·classes = "
                + $"{rows * classes} elements");
    }

    static void CheckKlShapes(int muLength, int logvarLength, int rows, int z)
    {
        if (rows < 0 || z < 0) throw new ArgumentException($"negative KL shape ({rows}, {z})");
        if (muLength != rows * z || logvarLength != rows * z)
            throw new ArgumentException($"mu ({muLength}) and logvar ({logvarLength}) must hold rows·z = {rows * z} "
                + "elements");
    }

    // destination = log(1 + exp(−|x|)) ∈ [0, log 2], NaN for NaN. Through TensorPrimitives, which vectorises exp
    // and log for float and double. Its LogP1 is log(1 + e), so the term is accurate to a few units of 1, not of
    // itself: a loss as small as softplus(−20) ≈ 2e-9 comes out as 0 in float. Losses are summed over pixels at
    // the scale of 1, and the gradient σ(z) − t does not go through this term.
    static void Log1pExpNegAbs<T>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        TensorPrimitives.Abs(x, destination);
        TensorPrimitives.Negate(destination, destination);
        TensorPrimitives.Exp(destination, destination);
        TensorPrimitives.LogP1(destination, destination);
    }
}
