using System.Numerics;

namespace InfoVae.Engine;

/// <summary>
/// The record of ops in execution order (a Wengert list), one per thread and element type. Every op's output
/// is a node here; <see cref="Backward"/> walks the nodes in reverse and calls each one's backward function.
/// <see cref="Reset"/> hands every node's buffers back to the pool and keeps the node objects, so a training
/// loop that runs the same ops step after step allocates nothing once warm.
/// </summary>
public sealed class Tape<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    [ThreadStatic] static Tape<T>? current;
    /// <summary>This thread's tape: ops record on it, and it owns their outputs until <see cref="Reset"/>.</summary>
    public static Tape<T> Current => current ??= new Tape<T>();

    readonly List<Tensor<T>> nodes = [];
    int count, noGrad;
    bool detectAnomaly;
    int checkedCount;   // anomaly mode: nodes [0, checkedCount) have been checked

    /// <summary>Nodes recorded since the last reset.</summary>
    public int Count => count;
    /// <summary>False inside a <see cref="NoGrad"/> scope: ops then record no backward functions.</summary>
    public bool GradEnabled => noGrad == 0;

    /// <summary>
    /// Anomaly mode (PyTorch's detect_anomaly): every op's output is checked for NaN and ±∞ as ops are recorded, and
    /// every gradient a backward function accumulates as <see cref="Backward"/> runs; the first bad one throws a
    /// <see cref="NonFiniteException"/> naming the op and its shape. Costs a pass over each output (and a device
    /// sync per op on a GPU): a switch for finding where a NaN comes from, not for normal training.
    /// </summary>
    public bool DetectAnomaly
    {
        get => detectAnomaly;
        set { detectAnomaly = value; checkedCount = count; }
    }

    /// <summary>
    /// In anomaly mode, checks the outputs of the ops recorded since the last check; otherwise does nothing. Called
    /// when a node is made: every op fills its output right after making its node and makes no other node in
    /// between, so all earlier nodes are complete. Call it once more after the last op (Backward does).
    /// </summary>
    public void CheckAnomalies()
    {
        if (!detectAnomaly) return;
        for (; checkedCount < count; checkedCount++)
        {
            var t = nodes[checkedCount];
            // Views share a checked node's storage; "input" nodes are filled by their caller, maybe after the next op.
            if (t.OwnsStorage && t.Op != "input") ThrowIfNotFinite(t, t.Op, inBackward: false);
        }
    }

    static void ThrowIfNotFinite(Tensor<T> t, string op, bool inBackward)
    {
        if (t.Backend.AllFinite(t)) return;
        var values = t.ToArray();
        int i = Math.Max(0, Array.FindIndex(values, v => !T.IsFinite(v)));
        throw new NonFiniteException(op, t.Shape, inBackward, i, double.CreateTruncating(values[i]));
    }

    /// <summary>Anomaly mode, after a backward function: the input gradients it added into or wrote.</summary>
    static void CheckGradients(Tensor<T> node)
    {
        foreach (var input in (ReadOnlySpan<Tensor<T>?>)[node.A, node.B, node.C])
            if (input is { RawGrad: { } g, GradDeferredZero: false }) ThrowIfNotFinite(g, node.Op, inBackward: true);
        if (node.State is Tensor<T>[] inputs)     // concat keeps its inputs here
            foreach (var input in inputs)
                if (input is { RawGrad: { } g, GradDeferredZero: false })
                    ThrowIfNotFinite(g, node.Op, inBackward: true);
    }

    /// <summary>
    /// Within the scope ops record no backward functions (evaluation); their outputs still live on the tape.
    /// </summary>
    public NoGradScope NoGrad() { noGrad++; return new NoGradScope(this); }

    /// <summary>The scope <see cref="NoGrad"/> opens; dispose it to close.</summary>
    public readonly struct NoGradScope(Tape<T> tape) : IDisposable
    {
        /// <summary>Ends the scope: ops record backward functions again (unless an outer scope is open).</summary>
        public void Dispose() => tape.noGrad--;
    }

    /// <summary>
    /// A new node of <paramref name="shape"/> with fresh (uninitialised) storage. Parents set requires-grad.
    /// </summary>
    internal Tensor<T> Node(string op, Shape shape, IBackend<T> backend, Tensor<T>? a = null, Tensor<T>? b = null,
        Tensor<T>? c = null)
    {
        if (detectAnomaly) CheckAnomalies();
        var t = NextObject();
        t.Shape = shape; t.Backend = backend; t.Storage = backend.Rent(shape.Length); t.Offset = 0;
        t.RowStride = shape.Last;
        t.OwnsStorage = true;
        Link(t, op, a, b, c);
        return t;
    }

    /// <summary>
    /// An input tensor that lives until the next <see cref="Reset"/> (a batch, a noise draw); contents undefined.
    /// </summary>
    public Tensor<T> Scratch(Shape shape, IBackend<T> backend) => Node("input", shape, backend);

    /// <summary>A new node that views <paramref name="source"/>'s storage (reshape, slice).</summary>
    internal Tensor<T> ViewNode(string op, Tensor<T> source, Shape shape, int offset, int rowStride)
    {
        if (detectAnomaly) CheckAnomalies();
        var t = NextObject();
        t.Shape = shape; t.Backend = source.Backend; t.Storage = source.Storage; t.Offset = offset;
        t.RowStride = rowStride;
        t.OwnsStorage = false;
        Link(t, op, source, null, null);
        return t;
    }

    Tensor<T> NextObject()
    {
        if (count == nodes.Count) nodes.Add(new Tensor<T> { OnTape = true });
        return nodes[count++];
    }

    void Link(Tensor<T> t, string op, Tensor<T>? a, Tensor<T>? b, Tensor<T>? c)
    {
        t.Op = op; t.A = a; t.B = b; t.C = c; t.BackwardFn = null; t.State = null; t.Grad = null;
        t.RequiresGrad = GradEnabled && ((a?.RequiresGrad ?? false) || (b?.RequiresGrad ?? false)
            || (c?.RequiresGrad ?? false));
    }

    internal void Backward(Tensor<T> loss, Tensor<T>? seed)
    {
        if (!loss.OnTape || !loss.RequiresGrad)
            throw new InvalidOperationException("Backward() needs a result of ops on inputs that require grad (is a "
                + "NoGrad scope open, or was the tape reset?)");
        if (seed == null && loss.Length != 1)
            throw new InvalidOperationException($"Backward() starts from a one-element loss, not {loss.Shape}; pass a "
                + "gradient");
        if (seed != null && seed.Shape != loss.Shape)
            throw new ArgumentException($"gradient {seed.Shape} does not match {loss.Shape}");
        CheckAnomalies();
        for (int i = 0; i < count; i++) nodes[i].ReleaseGrad();
        // The seed overwrites every element: a fresh gradient buffer needs no zero fill first (one launch on a GPU).
        if (seed == null) loss.Backend.Fill(loss.GradForWrite(out _), T.One);
        else loss.Backend.CopyRows(seed, loss.GradForWrite(out _), accumulate: false);
        for (int i = count - 1; i >= 0; i--)
        {
            var t = nodes[i];
            if (t.RawGrad != null && t.BackwardFn != null)
            {
                t.BackwardFn(t);
                if (detectAnomaly) CheckGradients(t);
            }
        }
    }

    /// <summary>
    /// Frees every node's buffers back to the pool; tensors from before the reset must not be used again.
    /// </summary>
    public void Reset()
    {
        for (int i = 0; i < count; i++)
        {
            var t = nodes[i];
            t.ReleaseGrad();
            if (t.OwnsStorage) t.Backend.Return(t.Storage);
            t.OwnsStorage = false; t.Storage = null!;
            t.A = t.B = t.C = null; t.BackwardFn = null; t.State = null;
        }
        count = 0;
        checkedCount = 0;
    }
}
