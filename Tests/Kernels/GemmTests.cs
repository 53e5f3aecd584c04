using System.Numerics;
using System.Runtime.InteropServices;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Gemm.Multiply against Reference.Gemm (double). M, N, K: op(A) is M×K, op(B) is K×N. The shapes reach the
/// plain small-product loop (M·N·K below 1024) and the packed path: partial 12-row and 32-column (16 for double)
/// edge tiles (a last micro-panel of at most 4 or 8 rows takes the 4- or 8-row kernel, a half-wide last column panel
/// the half-width one), M·N·K above the parallel cut (512 Ki multiply-adds), K across the 512-deep K slices, B packed
/// (transposed, or M above 288) and read in place.
/// </summary>
public class GemmTests
{
    static readonly (int M, int N, int K)[] Shapes =
    [
        (1, 1, 1), (7, 7, 7), (3, 5, 65), (1, 257, 65), (257, 1, 31), (31, 33, 65), (33, 31, 7), (65, 127, 257),
        (127, 65, 33), (257, 31, 127), (12, 32, 256), (24, 64, 513), (13, 37, 1100),
        // last micro-panels of exactly 4 and 8 rows over whole 32-column panels: the 4- and 8-row kernels write C
        // directly
        (4, 64, 70), (8, 32, 600), (20, 96, 33), (16, 64, 520),
        // last B̃ panels exactly half wide (16 float columns; 8 double): the half-width kernel
        (36, 16, 40), (50, 48, 600), (24, 8, 33),
    ];

    static IEnumerable<TestCaseData> Cases() =>
        from s in Shapes from ta in new[] { false, true } from tb in new[] { false, true }
        select new TestCaseData(s.M, s.N, s.K, ta, tb);

    [TestCaseSource(nameof(Cases))]
    public void Float_matches_reference(int m, int n, int k, bool transA, bool transB) =>
        Check<float>(m, n, k, transA, transB, alpha: 0.75, beta: -0.5);

    [TestCaseSource(nameof(Cases))]
    public void Double_matches_reference(int m, int n, int k, bool transA, bool transB) =>
        Check<double>(m, n, k, transA, transB, alpha: 0.75, beta: -0.5);

    [TestCase(1.0, 1.0)]     // backward passes accumulate: C += A·B
    [TestCase(-2.0, 0.0)]    // PairwiseDistance's −2·A·Bᵀ
    [TestCase(1.0, 0.0)]
    [TestCase(0.0, 2.0)]     // alpha = 0: C = beta·C
    [TestCase(1.5, 1.0)]
    public void Alpha_and_beta(double alpha, double beta)
    {
        foreach (var (m, n, k) in new[] { (5, 6, 7), (70, 45, 300) })
            foreach (bool ta in new[] { false, true })
            {
                Check<float>(m, n, k, ta, !ta, alpha, beta);
                Check<double>(m, n, k, ta, ta, alpha, beta);
            }
    }

    [TestCase(false, false)]
    [TestCase(false, true)]
    [TestCase(true, false)]
    [TestCase(true, true)]
    public void Leading_dimensions_larger_than_rows(bool transA, bool transB)
    {
        foreach (var (m, n, k) in new[] { (3, 4, 5), (37, 45, 70), (64, 70, 300) })
        {
            Check<float>(m, n, k, transA, transB, 0.75, -0.5, padA: 3, padB: 5, padC: 7);
            Check<double>(m, n, k, transA, transB, 0.75, -0.5, padA: 17, padB: 1, padC: 33);
        }
    }

    [TestCase(3, 4, 5)]
    [TestCase(40, 70, 300)]
    public void Beta_zero_overwrites_NaN_in_C(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                Check<float>(m, n, k, ta, tb, alpha: 1.5, beta: 0, cFill: double.NaN);
                Check<double>(m, n, k, ta, tb, alpha: 1.5, beta: 0, cFill: double.NaN);
            }
    }

    [TestCase(5, 6, 7)]
    [TestCase(40, 70, 300)]
    [TestCase(30, 50, 600)]
    public void NaN_and_Inf_in_A_or_B_propagate(int m, int n, int k)
    {
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
            {
                var (nanRow, infColumn) = (m / 2, n - 1);
                Action<double[], int, double[], int> plant = (a, lda, b, ldb) =>
                {
                    a[ta ? (k / 3) * lda + nanRow : nanRow * lda + k / 3] = double.NaN;        // A(m/2, k/3)
                    // B(k−1, n−1)
                    b[tb ? infColumn * ldb + k - 1 : (k - 1) * ldb + infColumn] = double.PositiveInfinity;
                };
                var cf = Check<float>(m, n, k, ta, tb, 0.75, 0.5, plant: plant);
                var cd = Check<double>(m, n, k, ta, tb, 0.75, 0.5, plant: plant);
                for (int j = 0; j < n; j++)
                    Assert.That(float.IsNaN(cf[nanRow * n + j]) && double.IsNaN(cd[nanRow * n + j]),
                        $"C({nanRow}, {j}) is not NaN");
                for (int i = 0; i < m; i++)
                    if (i != nanRow)
                        Assert.That(float.IsInfinity(cf[i * n + infColumn]) && double.IsInfinity(cd[i * n + infColumn]),
                            $"C({i}, {infColumn}) is not ±Inf");
            }
    }

    [Test]
    public void Too_short_operands_throw()
    {
        foreach (var (m, n, k) in new[] { (3, 4, 5), (40, 50, 60) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    int lda = ta ? m : k, ldb = tb ? k : n;
                    float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
                    Assert.Throws<ArgumentException>(() => Gemm.Multiply(ta, tb, m, n, k, 1f, a.AsSpan(1), lda, b, ldb,
                        0f, c, n), "A");
                    Assert.Throws<ArgumentException>(() => Gemm.Multiply(ta, tb, m, n, k, 1f, a, lda, b.AsSpan(1), ldb,
                        0f, c, n), "B");
                    Assert.Throws<ArgumentException>(() => Gemm.Multiply(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f,
                        c.AsSpan(1), n), "C");
                    Assert.Throws<ArgumentException>(() => Gemm.Multiply(ta, tb, m, n, k, 1f, a, lda - 1, b, ldb, 0f, c,
                        n), "lda");
                    Assert.DoesNotThrow(() => Gemm.Multiply(ta, tb, m, n, k, 1f, a, lda, b, ldb, 0f, c, n));
                }
    }

    /// <summary>
    /// The linear layer's epilogue: with beta = 0, a bias and a ReLU give the bits of the bias copied into C, beta = 1
    /// and a ReLU pass (through the small loop, 4- and 8-row and half-width edges, padded bias columns, several K
    /// slices, 1 and 2 threads); with beta ≠ 0, alpha·A·B + (beta·C + bias) against the reference.
    /// </summary>
    [Test]
    public void Bias_and_relu_epilogue()
    {
        int saved = Workers.MaxThreads;
        try
        {
            foreach (int threads in new[] { 1, 2 })
                foreach (var (m, n, k) in Shapes.Concat([(256, 512, 784), (256, 784, 512), (30, 50, 600)]))
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                        {
                            Workers.MaxThreads = threads;
                            Epilogue<float>(m, n, k, ta, tb);
                            if (threads == 1) Epilogue<double>(m, n, k, ta, tb);
                        }
        }
        finally { Workers.MaxThreads = saved; }
    }

    static void Epilogue<T>(int m, int n, int k, bool ta, bool tb) where T : unmanaged, IFloatingPointIeee754<T>
    {
        string label = $"{typeof(T).Name} {m}x{n}x{k} tA={ta} tB={tb}";
        int lda = ta ? m : k, ldb = tb ? k : n;
        T[] a = Convert<T>(Rand.Uniform(m * k, seed: 5 + m)), b = Convert<T>(Rand.Uniform(k * n, seed: 6 + n));
        T[] bias = Convert<T>(Rand.Uniform(n, seed: 7 + k));
        T alpha = T.CreateTruncating(0.75);
        var expected = new T[m * n];
        for (int i = 0; i < m; i++) bias.CopyTo(expected.AsSpan(i * n));
        Gemm.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, T.One, expected, n);
        var withBias = Enumerable.Repeat(T.NaN, m * n).ToArray();
        Gemm.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, T.Zero, withBias, n, bias);
        KernelCheck.Identical<T>(expected, withBias, label + " bias");
        Simd.Map<T, ReluOp<T>>(expected, expected);
        var withRelu = Enumerable.Repeat(T.NaN, m * n).ToArray();
        Gemm.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, T.Zero, withRelu, n, bias, relu: true);
        KernelCheck.Identical<T>(expected, withRelu, label + " bias + relu");

        double[] c = Rand.Uniform(m * n, seed: 8);
        var ct = Convert<T>(c);
        Gemm.Multiply(ta, tb, m, n, k, alpha, a, lda, b, ldb, T.CreateTruncating(0.5), ct, n, bias, relu: true);
        double[] ad = Array.ConvertAll(a, v => double.CreateTruncating(v)),
            bd = Array.ConvertAll(b, v => double.CreateTruncating(v));
        double[] cd = Array.ConvertAll(Convert<T>(c), v => double.CreateTruncating(v));
        for (int i = 0; i < m * n; i++) cd[i] = 0.5 * cd[i] + double.CreateTruncating(bias[i % n]);
        Reference.Gemm(ta, tb, m, n, k, 0.75, ad, lda, bd, ldb, 1, cd, n);
        for (int i = 0; i < cd.Length; i++) cd[i] = Math.Max(cd[i], 0);
        double atol = typeof(T) == typeof(float) ? 1e-5 * Math.Sqrt(k) : 1e-13 * Math.Sqrt(k),
            rtol = typeof(T) == typeof(float) ? 1e-5 : 1e-13;
        Close.Assert(cd, ct, atol, rtol, label + " beta 0.5");
    }

    /// <summary>
    /// Both shapes are far above the parallel cut; 5×3000 has one row panel, so its tasks split the columns.
    /// </summary>
    [TestCase(100, 150, 600)]
    [TestCase(5, 1500, 200)]
    [TestCase(301, 29, 700)]
    public void Same_bits_with_one_thread_or_two(int m, int n, int k)
    {
        int saved = Workers.MaxThreads;
        try
        {
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    Workers.MaxThreads = 1;
                    var one = Check<float>(m, n, k, ta, tb, 0.75, 0.5);
                    var oneD = Check<double>(m, n, k, ta, tb, 0.75, 0.5, referenceCheck: false);
                    Workers.MaxThreads = 2;
                    var two = Check<float>(m, n, k, ta, tb, 0.75, 0.5, referenceCheck: false);
                    var twoD = Check<double>(m, n, k, ta, tb, 0.75, 0.5, referenceCheck: false);
                    Assert.That(MemoryMarshal.AsBytes(two.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(one.AsSpan())),
                        $"float {ta} {tb}");
                    Assert.That(
                        MemoryMarshal.AsBytes(twoD.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(oneD.AsSpan())),
                        $"double {ta} {tb}");
                }
        }
        finally { Workers.MaxThreads = saved; }
    }

    /// <summary>
    /// Runs Gemm.Multiply on seeded uniform inputs (stored with leading dimensions row length + pad) and compares
    /// C, padding included, with Reference.Gemm on the same T-rounded inputs. Returns C (M×N, padding dropped).
    /// </summary>
    static T[] Check<T>(int m, int n, int k, bool transA, bool transB, double alpha, double beta,
        int padA = 0, int padB = 0, int padC = 0, double? cFill = null, Action<double[], int, double[],
            int>? plant = null,
        bool referenceCheck = true) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + padA, ldb = bCols + padB, ldc = n + padC;
        double[] a = Rounded<T>(Rand.Uniform((aRows - 1) * lda + aCols, seed: 1 + m));
        double[] b = Rounded<T>(Rand.Uniform((bRows - 1) * ldb + bCols, seed: 2 + n));
        double[] c = Rounded<T>(cFill is double f ? Enumerable.Repeat(f, (m - 1) * ldc + n).ToArray()
            : Rand.Uniform((m - 1) * ldc + n, seed: 3 + k));
        plant?.Invoke(a, lda, b, ldb);
        T[] at = Convert<T>(a), bt = Convert<T>(b), ct = Convert<T>(c);

        Gemm.Multiply(transA, transB, m, n, k, T.CreateTruncating(alpha), at, lda, bt, ldb, T.CreateTruncating(beta),
            ct, ldc);

        if (referenceCheck)
        {
            Reference.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            // float: FMA chains of K products of terms ≤ 1 in size; observed errors are ~30× below these
            double atol = typeof(T) == typeof(float) ? 1e-5 * Math.Sqrt(k) : 1e-13 * Math.Sqrt(k);
            double rtol = typeof(T) == typeof(float) ? 1e-5 : 1e-13;
            Close.Assert(c, ct, atol, rtol,
                $"{typeof(T).Name} {m}x{n}x{k} tA={transA} tB={transB} α={alpha} β={beta} ld+({padA},{padB},{padC})");
        }
        var result = new T[m * n];
        for (int i = 0; i < m; i++) ct.AsSpan(i * ldc, n).CopyTo(result.AsSpan(i * n));
        return result;
    }

    static double[] Rounded<T>(double[] x) where T : unmanaged, IFloatingPointIeee754<T> =>
        Array.ConvertAll(x, v => double.CreateTruncating(T.CreateTruncating(v)));

    static T[] Convert<T>(double[] x) where T : unmanaged, IFloatingPointIeee754<T> => Array.ConvertAll(x,
        T.CreateTruncating);
}
