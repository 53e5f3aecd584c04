using InfoVae.Engine;
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
        foreach (var op in Enum.GetValues<UnaryOp>()) yield return Unary(op, e);
        foreach (var op in Enum.GetValues<UnaryOp>()) yield return UnaryBackward(op, e);
        foreach (int[] b in new[] { new[] { r, c }, [c] })
            foreach (var op in Enum.GetValues<BinaryOp>()) yield return Binary(op, [r, c], b);
        foreach (int[] b in new[] { new[] { r, c }, [c] })
            foreach (var op in Enum.GetValues<BinaryOp>()) yield return BinaryBackward(op, [r, c], b);
        foreach (var check in LinearAlgebra(s)) yield return check;
        foreach (var check in Pairwise(s)) yield return check;
        foreach (var check in ConvAndOptimiser(s)) yield return check;
    }

    /// <summary>A prepared op from its call and its outputs, read after the first call.</summary>
    static PreparedOp Op(Arena a, Action call, params Func<CheckOutput>[] outputs) =>
        new(call, () => outputs.Select(o => o()).ToList(), a.Dispose);

    static string Snake(Enum op) => string.Concat(op.ToString().Select((ch, i) =>
        char.IsUpper(ch) && i > 0 ? "_" + char.ToLowerInvariant(ch) : char.ToLowerInvariant(ch).ToString()));

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

    static (double Lo, double Hi, float P, Tolerance Tol) UnaryCase(UnaryOp op) => op switch
    {
        UnaryOp.Neg or UnaryOp.Relu => (-4, 4, 0, Tolerances.Copy),
        UnaryOp.LeakyRelu => (-4, 4, 0.2f, Tolerances.Arithmetic),
        UnaryOp.AddScalar => (-4, 4, 0.5f, Tolerances.Arithmetic),
        UnaryOp.MulScalar => (-4, 4, 1.5f, Tolerances.Arithmetic),
        UnaryOp.Sqrt => (0.05, 4, 0, Tolerances.Arithmetic),
        UnaryOp.Log => (0.05, 4, 0, Tolerances.Transcendental),
        _ => (-5, 5, 0, Tolerances.Transcendental),
    };

    static OpCheck Unary(UnaryOp op, int n) => new("unary", $"{Snake(op)}, n={n}", be =>
    {
        var (lo, hi, p, tol) = UnaryCase(op);
        var a = new Arena(be);
        var x = a.Random(10 + (int)op, lo, hi, n);
        var y = a.Poisoned(n);
        return Op(a, () => be.Unary(op, x, y, p), () => Out("y", y, tol));
    }, Bytes: 2.0 * n * F);

    static OpCheck UnaryBackward(UnaryOp op, int n) => new("unary_backward", $"{Snake(op)}, n={n}", be =>
    {
        var (lo, hi, p, tol) = UnaryCase(op);
        var a = new Arena(be);
        var x = a.Random(10 + (int)op, lo, hi, n);
        var y = a.Poisoned(n);
        be.Unary(op, x, y, p);
        var dy = a.Random(30, -1, 1, n);
        var dx = a.Random(31, -1, 1, n);
        var t = tol == Tolerances.Copy ? Tolerances.Arithmetic : tol;   // dx += …: at least one rounding
        return Op(a, () => be.UnaryBackward(op, x, y, dy, dx, p), () => Out("dx", dx, t));
    }, Bytes: 5.0 * n * F);

    static (double Lo, double Hi) BinaryRange(BinaryOp op) => op == BinaryOp.Div ? (0.5, 2) : (-2, 2);

    static string BinaryCase(BinaryOp op, int[] sa, int[] sb) => $"{Snake(op)}, {ShapeText(sa)} ∘ {ShapeText(sb)}";

    static OpCheck Binary(BinaryOp op, int[] sa, int[] sb) => new("binary", BinaryCase(op, sa, sb), be =>
    {
        var a = new Arena(be);
        var (lo, hi) = BinaryRange(op);
        var x = a.Random(40, -2, 2, sa);
        var y = a.Random(41, lo, hi, sb);
        var z = a.Poisoned(sa);
        return Op(a, () => be.Binary(op, x, y, z), () => Out("c", z, Tolerances.Arithmetic));
    }, Bytes: 3.0 * new Shape(sa).Length * F);

    /// <summary>With b broadcast along the rows its gradient is a column sum: a reduction over R terms.</summary>
    static OpCheck BinaryBackward(BinaryOp op, int[] sa, int[] sb) =>
        new("binary_backward", BinaryCase(op, sa, sb), be =>
    {
        var a = new Arena(be);
        var (lo, hi) = BinaryRange(op);
        var x = a.Random(40, -2, 2, sa);
        var y = a.Random(41, lo, hi, sb);
        var dy = a.Random(42, -1, 1, sa);
        var dx = a.Random(43, -1, 1, sa);
        var db = a.Random(44, -1, 1, sb);
        int reduced = new Shape(sa).Length / new Shape(sb).Length;
        return Op(a, () => be.BinaryBackward(op, x, y, dy, dx, db),
            () => Out("da", dx, Tolerances.Arithmetic), () => Out("db", db, Tolerances.Reduction(reduced)));
    }, Bytes: 6.0 * new Shape(sa).Length * F);
}
