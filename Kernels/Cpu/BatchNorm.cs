using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Batch norm over an (R, C) matrix x, statistics per column over the R rows (NHWC activations: R = N·H·W).
/// Column sums are accumulated in double (a float sum over 50k rows loses digits): each row's C values are widened
/// and added to C double accumulators, Vector512 across C, then Vector256, then scalar. The rows are cut into fixed
/// chunks (their size depends on R and C only); each chunk sums its rows in order, and the chunks' partial sums are
/// added in chunk order, so the result is the same with one thread or two. The elementwise passes (apply, dx) use
/// the same chunks. Large calls share the chunks between both cores with <see cref="Workers"/>.
/// Correctness: Tests/Kernels/BatchNormKernelTests.cs against Kernels/Reference/BatchNormReference.cs.
/// </summary>
public static unsafe class BatchNorm
{
    // A chunk holds about ChunkElements of x, and there are at most MaxChunks (bounds the partial-sum scratch).
    const int ChunkElements = 1 << 14, MaxChunks = 64, ParallelFrom = 1 << 16;
    static readonly AlignedBuffers scratch = new();

    /// <summary>
    /// mean[c] = Σ_r x[r, c] / R, variance[c] = Σ_r (x[r, c] − mean[c])² / R (biased), two passes in double.
    /// </summary>
    public static void Stats<T>(ReadOnlySpan<T> x, int rows, int c, Span<T> mean, Span<T> variance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, rows, c);
        if (mean.Length < c || variance.Length < c) Simd.ThrowDestinationTooShort();
        var plan = Plan(rows, c);
        double* buf = (double*)scratch.Rent((nuint)((plan.Chunks + 1) * c) * sizeof(double));
        try
        {
            double* partial = buf, m = buf + plan.Chunks * c;   // partial: (chunks, C); m: (C)
            fixed (T* px = x)
            {
                var body = new StatsBody<T>
                {
                    X = px, Rows = rows, C = c, ChunkRows = plan.ChunkRows, Partial = partial,
                    Mean = m
                };
                Run(plan, rows * c, ref body);
                Combine(partial, plan.Chunks, c, m);
                for (int j = 0; j < c; j++) { m[j] /= rows; mean[j] = T.CreateTruncating(m[j]); }
                body.Squares = true;
                Run(plan, rows * c, ref body);
                Combine(partial, plan.Chunks, c, partial);
                for (int j = 0; j < c; j++) variance[j] = T.CreateTruncating(partial[j] / rows);
            }
        }
        finally { scratch.Return((byte*)buf); }
    }

    /// <summary>
    /// y[r, c] = (x[r, c] − mean[c]) · gamma[c] / √(var[c] + eps) + beta[c]. In place (y = x) is allowed.
    /// </summary>
    public static void Apply<T>(ReadOnlySpan<T> x, int rows, int c, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance,
        double eps,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T> =>
        Apply(x, rows, c, mean, variance, eps, gamma, beta, false, T.Zero, y);

    /// <summary>
    /// <see cref="Apply{T}(ReadOnlySpan{T}, int, int, ReadOnlySpan{T}, ReadOnlySpan{T}, double, ReadOnlySpan{T},
    /// ReadOnlySpan{T}, Span{T})"/> followed by a leaky ReLU in the same pass: y = z > 0 ? z : slope·z (slope ≥ 0) with
    /// z the batch norm's output, the bits <see cref="LeakyReluOp{T}"/> gives. One read of x and one write of y instead
    /// of two of each.
    /// </summary>
    public static void ApplyLeakyRelu<T>(ReadOnlySpan<T> x, int rows, int c, ReadOnlySpan<T> mean,
        ReadOnlySpan<T> variance, double eps,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, T slope, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSlope(slope);
        Apply(x, rows, c, mean, variance, eps, gamma, beta, true, slope, y);
    }

    static void Apply<T>(ReadOnlySpan<T> x, int rows, int c, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, double eps,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, bool leaky, T slope, Span<T> y) where T : unmanaged,
            IFloatingPointIeee754<T>
    {
        Check(x.Length, rows, c);
        CheckParams(c, mean, variance, gamma, beta);
        if (y.Length < x.Length) Simd.ThrowDestinationTooShort();
        T* coef = (T*)scratch.Rent((nuint)(3 * c) * (nuint)sizeof(T));      // [mean; scale; beta], (3, C)
        try
        {
            for (int j = 0; j < c; j++)
            {
                coef[j] = mean[j];
                coef[c + j] =
                    T.CreateTruncating(double.CreateTruncating(gamma[j])
                    / Math.Sqrt(double.CreateTruncating(variance[j]) + eps));
                coef[2 * c + j] = beta[j];
            }
            fixed (T* px = x) fixed (T* py = y)
            {
                var body = new AffineBody<T>
                {
                    X = px, Y = py, Rows = rows, C = c, ChunkRows = Plan(rows, c).ChunkRows, Coef = coef, Leaky = leaky,
                    Slope = slope
                };
                Run(Plan(rows, c), rows * c, ref body);
            }
        }
        finally { scratch.Return((byte*)coef); }
    }

    /// <summary>
    /// Training-mode backward (accumulates; an empty span skips that output), xhat = (x − mean)/√(var + eps):
    /// dBeta += Σ_r dy; dGamma += Σ_r dy·xhat; dx += gamma/√(var + eps) · (dy − mean_r(dy) − xhat · mean_r(dy·xhat)),
    /// computed as dx += a·dy + (b·(x − mean) + k) with per-column a = gamma/σ, b = −a·mean_r(dy·xhat)/σ, k =
    /// −a·mean_r(dy). accumulateDx false writes dx instead of adding to it.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> x, int rows, int c, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance,
        double eps,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> dy, Span<T> dx, Span<T> dGamma, Span<T> dBeta, bool accumulateDx = true)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Backward(x, default, rows, c, mean, variance, eps, gamma, false, T.Zero, dy, dx, dGamma, dBeta, accumulateDx);

    /// <summary>
    /// The backward of <see cref="ApplyLeakyRelu{T}"/>: dy is the gradient of its output y (saved, same shape as x),
    /// and the batch norm's gradient g = y > 0 ? dy : slope·dy (what <see cref="LeakyReluGradOp{T}"/> gives from z,
    /// as z and y have the same sign) is formed in both passes, never stored.
    /// </summary>
    public static void BackwardLeakyRelu<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, int rows, int c, ReadOnlySpan<T> mean,
        ReadOnlySpan<T> variance,
        double eps, ReadOnlySpan<T> gamma, T slope, ReadOnlySpan<T> dy, Span<T> dx, Span<T> dGamma, Span<T> dBeta,
            bool accumulateDx = true)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSlope(slope);
        if (y.Length != x.Length) throw new ArgumentException($"y holds {y.Length} elements, x {x.Length}", nameof(y));
        Backward(x, y, rows, c, mean, variance, eps, gamma, true, slope, dy, dx, dGamma, dBeta, accumulateDx);
    }

    static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, int rows, int c, ReadOnlySpan<T> mean,
        ReadOnlySpan<T> variance, double eps,
        ReadOnlySpan<T> gamma, bool leaky, T slope, ReadOnlySpan<T> dy, Span<T> dx, Span<T> dGamma, Span<T> dBeta,
            bool accumulateDx)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, rows, c);
        CheckParams(c, mean, variance, gamma, gamma);
        if (dy.Length != x.Length)
            throw new ArgumentException($"dy holds {dy.Length} elements, x {x.Length}", nameof(dy));
        if ((!dx.IsEmpty && dx.Length < x.Length) || (!dGamma.IsEmpty && dGamma.Length < c)
            || (!dBeta.IsEmpty && dBeta.Length < c))
            Simd.ThrowDestinationTooShort();
        var plan = Plan(rows, c);
        // partial: (chunks, 2C) of [Σ g | Σ g·(x − mean)]; m: mean in double (C); coef: [mean; a; b; k] in T (4, C).
        nuint bytes = (nuint)((plan.Chunks * 2 + 1) * c) * sizeof(double) + (nuint)(4 * c) * (nuint)sizeof(T);
        double* buf = (double*)scratch.Rent(bytes);
        try
        {
            double* partial = buf, m = buf + plan.Chunks * 2 * c;
            T* coef = (T*)(m + c);
            for (int j = 0; j < c; j++) m[j] = double.CreateTruncating(mean[j]);
            fixed (T* px = x) fixed (T* py = y) fixed (T* pdy = dy) fixed (T* pdx = dx)
            {
                var g = new Grad<T> { Dy = pdy, Y = py, Leaky = leaky, Slope = slope };
                var sums = new GradSumsBody<T>
                {
                    X = px, G = g, Rows = rows, C = c, ChunkRows = plan.ChunkRows, Partial = partial, Mean = m
                };
                Run(plan, rows * c, ref sums);
                Combine(partial, plan.Chunks, 2 * c, partial);
                for (int j = 0; j < c; j++)
                {
                    double inv = 1 / Math.Sqrt(double.CreateTruncating(variance[j]) + eps), sdy = partial[j],
                        sdyx = partial[c + j] * inv;
                    if (!dBeta.IsEmpty) dBeta[j] += T.CreateTruncating(sdy);
                    if (!dGamma.IsEmpty) dGamma[j] += T.CreateTruncating(sdyx);
                    double a = double.CreateTruncating(gamma[j]) * inv;
                    coef[j] = mean[j];
                    coef[c + j] = T.CreateTruncating(a);
                    coef[2 * c + j] = T.CreateTruncating(-a * inv * sdyx / rows);
                    coef[3 * c + j] = T.CreateTruncating(-a * sdy / rows);
                }
                if (dx.IsEmpty) return;
                var body = new DxBody<T>
                {
                    X = px, G = g, Dx = pdx, Rows = rows, C = c, ChunkRows = plan.ChunkRows, Coef = coef,
                    Accumulate = accumulateDx
                };
                Run(plan, rows * c, ref body);
            }
        }
        finally { scratch.Return((byte*)buf); }
    }

    static void CheckSlope<T>(T slope) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // y and the pre-activation z share their sign only for slope ≥ 0, and the backward reads the sign from y.
        if (!(slope >= T.Zero) || !T.IsFinite(slope))
            throw new ArgumentException($"leaky ReLU slope {slope} must be finite and ≥ 0", nameof(slope));
    }

    /// <summary>
    /// The batch norm's output gradient, read from dy or, with a fused leaky ReLU, formed from dy and the saved
    /// output y: g = y > 0 ? dy : slope·dy, in T (as the unfused leaky ReLU backward rounds it).
    /// </summary>
    struct Grad<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Dy, Y;
        public bool Leaky;
        public T Slope;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector512<T> Load512(long at) => Leaky
            ? LeakyReluGradOp<T>.Invoke(Vector512.Load(Y + at), default, Vector512.Load(Dy + at),
                Vector512.Create(Slope))
            : Vector512.Load(Dy + at);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector256<T> Load256(long at) => Leaky
            ? LeakyReluGradOp<T>.Invoke(Vector256.Load(Y + at), default, Vector256.Load(Dy + at),
                Vector256.Create(Slope))
            : Vector256.Load(Dy + at);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly T Load(long at) => Leaky ? LeakyReluGradOp<T>.Invoke(Y[at], default, Dy[at], Slope) : Dy[at];

        /// <summary>Four consecutive gradients widened to double.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public readonly Vector256<double> Widen4(long at)
        {
            if (typeof(T) == typeof(float))
            {
                var g = Vector128.Load((float*)Dy + at);
                if (Leaky) g = Vector128.ConditionalSelect(Vector128.GreaterThan(Vector128.Load((float*)Y + at),
                    Vector128<float>.Zero), g,
                    Vector128.Create(float.CreateTruncating(Slope)) * g);
                return Vector256.WidenLower(g.ToVector256Unsafe());
            }
            return Load256(at).AsDouble();
        }
    }

    /// <summary>PyTorch's update: rm = (1 − m)·rm + m·mean; rv = (1 − m)·rv + m·var·R/(R − 1). R must be ≥ 2.</summary>
    public static void UpdateRunning<T>(ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, int rows, double momentum,
        Span<T> runningMean, Span<T> runningVar) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows < 2)
            throw new ArgumentException($"the unbiased running variance needs at least 2 rows, not {rows}",
                nameof(rows));
        int c = mean.Length;
        if (variance.Length != c || runningMean.Length != c || runningVar.Length != c)
            throw new ArgumentException($"mean ({c}), variance ({variance.Length}), running mean "
                + $"({runningMean.Length}) and running variance ({runningVar.Length}) differ in length");
        double unbias = (double)rows / (rows - 1);
        for (int j = 0; j < c; j++)
        {
            runningMean[j] = T.CreateTruncating((1 - momentum) * double.CreateTruncating(runningMean[j])
                + momentum * double.CreateTruncating(mean[j]));
            runningVar[j] = T.CreateTruncating((1 - momentum) * double.CreateTruncating(runningVar[j])
                + momentum * double.CreateTruncating(variance[j]) * unbias);
        }
    }

    readonly record struct Chunking(int ChunkRows, int Chunks);

    /// <summary>Fixed row chunks: depend on R and C only, never on the thread count.</summary>
    static Chunking Plan(int rows, int c)
    {
        int chunkRows = Math.Max(Math.Max(1, ChunkElements / c), (rows + MaxChunks - 1) / MaxChunks);
        return new Chunking(chunkRows, (rows + chunkRows - 1) / chunkRows);
    }

    static void Run<TBody>(Chunking plan, int elements, ref TBody body) where TBody : struct, IParallelBody
    {
        if (elements < ParallelFrom || Workers.MaxThreads == 1)
        {
            for (int i = 0; i < plan.Chunks; i++) body.Run(i);
            return;
        }
        Workers.For(plan.Chunks, ref body);
    }

    /// <summary>destination[j] = Σ_k partial[k, j] in chunk order (destination may be partial's first row).</summary>
    static void Combine(double* partial, int chunks, int width, double* destination)
    {
        for (int j = 0; j < width; j++)
        {
            double s = partial[j];
            for (int k = 1; k < chunks; k++) s += partial[k * width + j];
            destination[j] = s;
        }
    }

    /// <summary>
    /// Per chunk: Σ_r x (Squares false) or Σ_r (x − mean)² (Squares true) per column, in double, into Partial[chunk].
    /// </summary>
    struct StatsBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X;
        public int Rows, C, ChunkRows;
        public double* Partial, Mean;
        public bool Squares;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int index)
        {
            int r0 = index * ChunkRows, r1 = Math.Min(r0 + ChunkRows, Rows), c = C;
            double* acc = Partial + (long)index * c;
            new Span<double>(acc, c).Clear();
            // Blocks of 32 columns with the accumulators in registers (no store-to-load chain through memory); the
            // rest per row below. Either way each column adds its rows in order, so the bits are the same.
            int jb = 0;
            if (Vector512.IsHardwareAccelerated && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
                for (; jb <= c - 32; jb += 32)
                {
                    Vector512<double> a0 = default, a1 = default, a2 = default, a3 = default, m0 = default,
                        m1 = default, m2 = default, m3 = default;
                    if (Squares)
                    {
                        m0 = Vector512.Load(Mean + jb);
                        m1 = Vector512.Load(Mean + jb + 8);
                        m2 = Vector512.Load(Mean + jb + 16);
                        m3 = Vector512.Load(Mean + jb + 24);
                    }
                    for (int r = r0; r < r1; r++)
                    {
                        Vector512<double> v0, v1, v2, v3;
                        if (typeof(T) == typeof(float))
                        {
                            float* p = (float*)X + (long)r * c + jb;
                            (v0, v1) = Vector512.Widen(Vector512.Load(p));
                            (v2, v3) = Vector512.Widen(Vector512.Load(p + 16));
                        }
                        else
                        {
                            double* p = (double*)X + (long)r * c + jb;
                            v0 = Vector512.Load(p); v1 = Vector512.Load(p + 8); v2 = Vector512.Load(p + 16);
                            v3 = Vector512.Load(p + 24);
                        }
                        if (Squares) { v0 -= m0; v1 -= m1; v2 -= m2; v3 -= m3; v0 *= v0; v1 *= v1; v2 *= v2; v3 *= v3; }
                        a0 += v0; a1 += v1; a2 += v2; a3 += v3;
                    }
                    a0.Store(acc + jb); a1.Store(acc + jb + 8); a2.Store(acc + jb + 16); a3.Store(acc + jb + 24);
                }
            if (jb == c) return;
            for (int r = r0; r < r1; r++)
            {
                T* row = X + (long)r * c;
                int j = jb;
                if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
                    for (; j <= c - 16; j += 16)
                    {
                        var (lo, hi) = Vector512.Widen(Vector512.Load((float*)row + j));
                        if (Squares)
                        {
                            lo -= Vector512.Load(Mean + j);
                            hi -= Vector512.Load(Mean + j + 8);
                            lo *= lo;
                            hi *= hi;
                        }
                        (Vector512.Load(acc + j) + lo).Store(acc + j);
                        (Vector512.Load(acc + j + 8) + hi).Store(acc + j + 8);
                    }
                if (typeof(T) == typeof(double) && Vector512.IsHardwareAccelerated)
                    for (; j <= c - 8; j += 8)
                    {
                        var v = Vector512.Load((double*)row + j);
                        if (Squares) { v -= Vector512.Load(Mean + j); v *= v; }
                        (Vector512.Load(acc + j) + v).Store(acc + j);
                    }
                if (Vector256.IsHardwareAccelerated)
                    for (; j <= c - 4; j += 4)
                    {
                        var v = Widen4(row + j);
                        if (Squares) { v -= Vector256.Load(Mean + j); v *= v; }
                        (Vector256.Load(acc + j) + v).Store(acc + j);
                    }
                for (; j < c; j++)
                {
                    double v = double.CreateTruncating(row[j]);
                    if (Squares) { v -= Mean[j]; v *= v; }
                    acc[j] += v;
                }
            }
        }
    }

    /// <summary>Per chunk: [Σ_r g | Σ_r g·(x − mean)] per column (g: the batch norm's output gradient), in double, into
    /// Partial[chunk] (2C wide).</summary>
    struct GradSumsBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X;
        public Grad<T> G;
        public int Rows, C, ChunkRows;
        public double* Partial, Mean;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int index)
        {
            int r0 = index * ChunkRows, r1 = Math.Min(r0 + ChunkRows, Rows), c = C;
            double* sdy = Partial + (long)index * 2 * c, sdyx = sdy + c;
            new Span<double>(sdy, 2 * c).Clear();
            var grad = G;
            // Blocks of 16 columns with the accumulators in registers, the rest per row (same order per column).
            int jb = 0;
            if (Vector512.IsHardwareAccelerated && (typeof(T) == typeof(float) || typeof(T) == typeof(double)))
                for (; jb <= c - 16; jb += 16)
                {
                    Vector512<double> s0 = default, s1 = default, q0 = default, q1 = default;
                    Vector512<double> m0 = Vector512.Load(Mean + jb), m1 = Vector512.Load(Mean + jb + 8);
                    for (int r = r0; r < r1; r++)
                    {
                        Vector512<double> x0, x1, g0, g1;
                        long at = (long)r * c + jb;
                        if (typeof(T) == typeof(float))
                        {
                            (x0, x1) = Vector512.Widen(Vector512.Load((float*)X + at));
                            (g0, g1) = Vector512.Widen(grad.Load512(at).AsSingle());
                        }
                        else
                        {
                            x0 = Vector512.Load((double*)X + at); x1 = Vector512.Load((double*)X + at + 8);
                            g0 = grad.Load512(at).AsDouble(); g1 = grad.Load512(at + 8).AsDouble();
                        }
                        s0 += g0; s1 += g1;
                        q0 += g0 * (x0 - m0); q1 += g1 * (x1 - m1);
                    }
                    s0.Store(sdy + jb); s1.Store(sdy + jb + 8); q0.Store(sdyx + jb); q1.Store(sdyx + jb + 8);
                }
            if (jb == c) return;
            for (int r = r0; r < r1; r++)
            {
                T* xr = X + (long)r * c;
                long row = (long)r * c;
                int j = jb;
                if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
                    for (; j <= c - 16; j += 16)
                    {
                        var (xl, xh) = Vector512.Widen(Vector512.Load((float*)xr + j));
                        var (gl, gh) = Vector512.Widen(grad.Load512(row + j).AsSingle());
                        (Vector512.Load(sdy + j) + gl).Store(sdy + j);
                        (Vector512.Load(sdy + j + 8) + gh).Store(sdy + j + 8);
                        (Vector512.Load(sdyx + j) + gl * (xl - Vector512.Load(Mean + j))).Store(sdyx + j);
                        (Vector512.Load(sdyx + j + 8) + gh * (xh - Vector512.Load(Mean + j + 8))).Store(sdyx + j + 8);
                    }
                if (typeof(T) == typeof(double) && Vector512.IsHardwareAccelerated)
                    for (; j <= c - 8; j += 8)
                    {
                        var xv = Vector512.Load((double*)xr + j); var gv = grad.Load512(row + j).AsDouble();
                        (Vector512.Load(sdy + j) + gv).Store(sdy + j);
                        (Vector512.Load(sdyx + j) + gv * (xv - Vector512.Load(Mean + j))).Store(sdyx + j);
                    }
                if (Vector256.IsHardwareAccelerated)
                    for (; j <= c - 4; j += 4)
                    {
                        var xv = Widen4(xr + j); var gv = grad.Widen4(row + j);
                        (Vector256.Load(sdy + j) + gv).Store(sdy + j);
                        (Vector256.Load(sdyx + j) + gv * (xv - Vector256.Load(Mean + j))).Store(sdyx + j);
                    }
                for (; j < c; j++)
                {
                    double g = double.CreateTruncating(grad.Load(row + j));
                    sdy[j] += g;
                    sdyx[j] += g * (double.CreateTruncating(xr[j]) - Mean[j]);
                }
            }
        }
    }

    /// <summary>Per chunk of rows: y = (x − mean)·scale + beta with Coef = [mean; scale; beta] (3, C), then the leaky
    /// ReLU if Leaky.</summary>
    struct AffineBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Y, Coef;
        public int Rows, C, ChunkRows;
        public bool Leaky;
        public T Slope;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int index)
        {
            int r0 = index * ChunkRows, r1 = Math.Min(r0 + ChunkRows, Rows), c = C;
            T* m = Coef, s = Coef + c, b = Coef + 2 * c;
            bool leaky = Leaky;
            T p = Slope;
            for (int r = r0; r < r1; r++)
            {
                T* xr = X + (long)r * c, yr = Y + (long)r * c;
                int j = 0;
                if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
                    for (; j <= c - Vector512<T>.Count; j += Vector512<T>.Count)
                    {
                        var z = (Vector512.Load(xr + j) - Vector512.Load(m + j)) * Vector512.Load(s + j)
                            + Vector512.Load(b + j);
                        (leaky ? LeakyReluOp<T>.Invoke(z, Vector512.Create(p)) : z).Store(yr + j);
                    }
                if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
                    for (; j <= c - Vector256<T>.Count; j += Vector256<T>.Count)
                    {
                        var z = (Vector256.Load(xr + j) - Vector256.Load(m + j)) * Vector256.Load(s + j)
                            + Vector256.Load(b + j);
                        (leaky ? LeakyReluOp<T>.Invoke(z, Vector256.Create(p)) : z).Store(yr + j);
                    }
                for (; j < c; j++)
                {
                    T z = (xr[j] - m[j]) * s[j] + b[j];
                    yr[j] = leaky ? LeakyReluOp<T>.Invoke(z, p) : z;
                }
            }
        }
    }

    /// <summary>Per chunk of rows: dx (+)= a·g + (b·(x − mean) + k) with Coef = [mean; a; b; k] (4, C), g the output
    /// gradient.</summary>
    struct DxBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* X, Dx, Coef;
        public Grad<T> G;
        public int Rows, C, ChunkRows;
        public bool Accumulate;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int index)
        {
            int r0 = index * ChunkRows, r1 = Math.Min(r0 + ChunkRows, Rows), c = C;
            T* m = Coef, a = Coef + c, b = Coef + 2 * c, k = Coef + 3 * c;
            var grad = G;
            bool add = Accumulate;
            for (int r = r0; r < r1; r++)
            {
                long row = (long)r * c;
                T* xr = X + row, dr = Dx + row;
                int j = 0;
                if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
                    for (; j <= c - Vector512<T>.Count; j += Vector512<T>.Count)
                    {
                        var v = Vector512.Load(a + j) * grad.Load512(row + j)
                            + ((Vector512.Load(xr + j) - Vector512.Load(m + j)) * Vector512.Load(b + j)
                            + Vector512.Load(k + j));
                        (add ? Vector512.Load(dr + j) + v : v).Store(dr + j);
                    }
                if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
                    for (; j <= c - Vector256<T>.Count; j += Vector256<T>.Count)
                    {
                        var v = Vector256.Load(a + j) * grad.Load256(row + j)
                            + ((Vector256.Load(xr + j) - Vector256.Load(m + j)) * Vector256.Load(b + j)
                            + Vector256.Load(k + j));
                        (add ? Vector256.Load(dr + j) + v : v).Store(dr + j);
                    }
                for (; j < c; j++)
                {
                    T v = a[j] * grad.Load(row + j) + ((xr[j] - m[j]) * b[j] + k[j]);
                    dr[j] = add ? dr[j] + v : v;
                }
            }
        }
    }

    /// <summary>Four consecutive values widened to double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<double> Widen4<T>(T* p) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(float)) return Vector256.WidenLower(Vector128.Load((float*)p).ToVector256Unsafe());
        return Vector256.Load((double*)p);
    }

    static void Check(int length, int rows, int c)
    {
        if (rows < 1 || c < 1) throw new ArgumentException($"batch norm needs rows ≥ 1 and C ≥ 1, not ({rows}, {c})");
        if ((long)rows * c != length)
            throw new ArgumentException($"x holds {length} elements, not R·C = {rows}·{c}", "x");
    }

    static void CheckParams<T>(int c, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, ReadOnlySpan<T> gamma,
        ReadOnlySpan<T> beta)
    {
        if (mean.Length != c || variance.Length != c || gamma.Length != c || beta.Length != c)
            throw new ArgumentException($"mean ({mean.Length}), variance ({variance.Length}), gamma ({gamma.Length}) "
                + $"and beta ({beta.Length}) must each hold C = {c}");
    }
}
