using System.Reflection;
using InfoVae.Engine;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;
using static InfoVae.Model.Doctor.Arena;

namespace InfoVae.Model.Doctor;

/// <summary>
/// Every primitive of <see cref="IBackend{T}"/> at the model's sizes, one <see cref="OpCheck"/> per op and size.
/// E = elementwise length, R × C = a 2-D operand (a batch of images), B = batch, Z = latent, n × d = point sets.
/// Each check builds its own inputs on the backend it is given (see <see cref="Arena"/>). This file: the list, and
/// memory and elementwise ops; the other parts of this class hold the GEMM and reductions, the pairwise ops and
/// MMD, and the conv primitives, batch norm, random draws and Adam.
/// </summary>
public static partial class KernelChecks
{
    const int F = sizeof(float);

    public static IEnumerable<OpCheck> All(DoctorSizes s)
    {
        int e = s.Elements, r = s.Rows, c = s.Cols;
        yield return Fill(1);
        yield return Fill(e);
        yield return Upload(e);
        yield return Download(e);
        yield return CopyRows(r, s.Mlp.Latent);
        yield return AllFinite(e);
        var unary = typeof(UnaryOps).GetNestedTypes();
        for (int i = 0; i < unary.Length; i++) yield return Generic(nameof(Unary), unary[i], e, 10 + i);
        for (int i = 0; i < unary.Length; i++) yield return Generic(nameof(UnaryBackward), unary[i], e, 10 + i);
        var binary = typeof(BinaryOps).GetNestedTypes();
        foreach (int[] b in new[] { new[] { r, c }, [c] })
            foreach (var op in binary) yield return Generic(nameof(Binary), op, new[] { r, c }, b);
        foreach (int[] b in new[] { new[] { r, c }, [c] })
            foreach (var op in binary) yield return Generic(nameof(BinaryBackward), op, new[] { r, c }, b);
        foreach (var check in LinearAlgebra(s)) yield return check;
        foreach (var check in Pairwise(s)) yield return check;
        foreach (var check in ConvAndOptimiser(s)) yield return check;
    }

    /// <summary>A prepared op from its call and its outputs, read after the first call.</summary>
    static PreparedOp Op(Arena a, Action call, params Func<CheckOutput>[] outputs) =>
        new(call, () => outputs.Select(o => o()).ToList(), a.Dispose);

    /// <summary>The check <paramref name="method"/>&lt;<paramref name="op"/>&gt;(args): one per op struct of
    /// Kernels/UnaryOps.cs and BinaryOps.cs, found by reflection so that a new op is checked without a new line here.
    /// </summary>
    static OpCheck Generic(string method, Type op, params object[] args) =>
        (OpCheck)typeof(KernelChecks).GetMethod(method, BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(op).Invoke(null, BindingFlags.DoNotWrapExceptions, null, args, null)!;

    static string ShapeText(int[] shape) => "(" + string.Join(", ", shape) + ")";

    // ---- memory ----

    static OpCheck Fill(int n) => new("fill", n == 1 ? "n=1 (launch latency)" : $"n={n}", be =>
    {
        var a = new Arena(be);
        var t = a.Poisoned(n);
        return Op(a, () => be.Fill(t, 0.5f), () => Out("t", t, Tolerances.Copy));
    }, Bytes: (double)n * F);

    static OpCheck Upload(int n) => new("upload", $"n={n} (host to device)", be =>
    {
        var a = new Arena(be);
        var host = Uniform(n, 1, -1, 1);
        var t = a.Poisoned(n);
        return Op(a, () => be.Upload(host, t), () => Out("t", t, Tolerances.Copy));
    }, Bytes: (double)n * F);

    static OpCheck Download(int n) => new("download", $"n={n} (device to host)", be =>
    {
        var a = new Arena(be);
        var t = a.Random(2, -1, 1, n);
        var host = new float[n];
        return Op(a, () => be.Download(t, host), () => new CheckOutput("host", (float[])host.Clone(), Tolerances.Copy));
    }, Bytes: (double)n * F);

    /// <summary>The mu/logvar split: a (B, Z) window with row stride 2Z copied out, then added back.</summary>
    static OpCheck CopyRows(int b, int z) => new("copy_rows", $"({b}, {z}) of ({b}, {2 * z})", be =>
    {
        var a = new Arena(be);
        var h = a.Random(3, -1, 1, b, 2 * z);
        var mu = a.Poisoned(b, z);
        var acc = a.Random(4, -1, 1, b, 2 * z);
        var (logvar, window) = (h.Slice(z, z), acc.Slice(0, z));    // strided views (tape nodes until the reset below)
        return new PreparedOp(() =>
            {
                be.CopyRows(logvar, mu, accumulate: false);
                be.CopyRows(mu, window, accumulate: true);
            },
            () => [Out("copy", mu, Tolerances.Copy), Out("accumulate", acc, Tolerances.Arithmetic)],
            () => { Tape<float>.Current.Reset(); a.Dispose(); });
    }, Bytes: 5.0 * b * z * F);

    static OpCheck AllFinite(int n) => new("all_finite", $"n={n}, one NaN", be =>
    {
        var a = new Arena(be);
        var host = Uniform(n, 5, -1, 1);
        var finite = a.From(host, n);
        host[n / 2] = float.NaN;
        var bad = a.From(host, n);
        var flags = new float[2];
        return Op(a, () => { flags[0] = be.AllFinite(finite) ? 1 : 0; flags[1] = be.AllFinite(bad) ? 1 : 0; },
            () => new CheckOutput("finite, with NaN", (float[])flags.Clone(), Tolerances.Copy));
    }, Bytes: 2.0 * n * F);

    // ---- elementwise ----

    /// <summary>
    /// Input range, op scalar and tolerance per unary op (by name); an op not listed gets the last line.
    /// </summary>
    static (double Lo, double Hi, float P, Tolerance Tol) UnaryCase(string op) => op switch
    {
        "neg" or "relu" => (-4, 4, 0, Tolerances.Copy),
        "leaky_relu" => (-4, 4, 0.2f, Tolerances.Arithmetic),
        "add_scalar" => (-4, 4, 0.5f, Tolerances.Arithmetic),
        "mul_scalar" => (-4, 4, 1.5f, Tolerances.Arithmetic),
        "sqrt" => (0.05, 4, 0, Tolerances.Arithmetic),
        "log" => (0.05, 4, 0, Tolerances.Transcendental),
        _ => (-5, 5, 0, Tolerances.Transcendental),
    };

    static OpCheck Unary<TOp>(int n, int seed) where TOp : struct, IUnaryFunction =>
        new("unary", $"{TOp.Name}, n={n}", be =>
    {
        var (lo, hi, p, tol) = UnaryCase(TOp.Name);
        var a = new Arena(be);
        var x = a.Random(seed, lo, hi, n);
        var y = a.Poisoned(n);
        return Op(a, () => be.Unary<TOp>(x, y, p), () => Out("y", y, tol));
    }, Bytes: 2.0 * n * F);

    static OpCheck UnaryBackward<TOp>(int n, int seed) where TOp : struct, IUnaryFunction =>
        new("unary_backward", $"{TOp.Name}, n={n}", be =>
    {
        var (lo, hi, p, tol) = UnaryCase(TOp.Name);
        var a = new Arena(be);
        var x = a.Random(seed, lo, hi, n);
        var y = a.Poisoned(n);
        be.Unary<TOp>(x, y, p);
        var dy = a.Random(30, -1, 1, n);
        var dx = a.Random(31, -1, 1, n);
        var t = tol == Tolerances.Copy ? Tolerances.Arithmetic : tol;   // dx += …: at least one rounding
        return Op(a, () => be.UnaryBackward<TOp>(x, y, dy, dx, p), () => Out("dx", dx, t));
    }, Bytes: 5.0 * n * F);

    static (double Lo, double Hi) BinaryRange(string op) => op == "div" ? (0.5, 2) : (-2, 2);

    static string BinaryCase(string op, int[] sa, int[] sb) => $"{op}, {ShapeText(sa)} ∘ {ShapeText(sb)}";

    static OpCheck Binary<TOp>(int[] sa, int[] sb) where TOp : struct, IBinaryFunction =>
        new("binary", BinaryCase(TOp.Name, sa, sb), be =>
    {
        var a = new Arena(be);
        var (lo, hi) = BinaryRange(TOp.Name);
        var x = a.Random(40, -2, 2, sa);
        var y = a.Random(41, lo, hi, sb);
        var z = a.Poisoned(sa);
        return Op(a, () => be.Binary<TOp>(x, y, z), () => Out("c", z, Tolerances.Arithmetic));
    }, Bytes: 3.0 * new Shape(sa).Length * F);

    /// <summary>With b broadcast along the rows its gradient is a column sum: a reduction over R terms.</summary>
    static OpCheck BinaryBackward<TOp>(int[] sa, int[] sb) where TOp : struct, IBinaryFunction =>
        new("binary_backward", BinaryCase(TOp.Name, sa, sb), be =>
    {
        var a = new Arena(be);
        var (lo, hi) = BinaryRange(TOp.Name);
        var x = a.Random(40, -2, 2, sa);
        var y = a.Random(41, lo, hi, sb);
        var dy = a.Random(42, -1, 1, sa);
        var dx = a.Random(43, -1, 1, sa);
        var db = a.Random(44, -1, 1, sb);
        int reduced = new Shape(sa).Length / new Shape(sb).Length;
        return Op(a, () => be.BinaryBackward<TOp>(x, y, dy, dx, db),
            () => Out("da", dx, Tolerances.Arithmetic), () => Out("db", db, Tolerances.Reduction(reduced)));
    }, Bytes: 6.0 * new Shape(sa).Length * F);
}
