using System.Numerics;

namespace InfoVae.Engine;

/// <summary>
/// A row-major tensor of rank 0-4 on a backend, with reverse-mode autodiff. A tensor is a window onto a
/// <see cref="Storage"/>: <see cref="Offset"/> plus a row stride for the last axis, so reshapes and slices
/// along the last axis are views. Results of ops live on the current <see cref="Tape{T}"/> and are valid
/// until it is reset; tensors made with the factory methods (parameters, inputs) are owned by the caller.
/// </summary>
public sealed class Tensor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The dimensions of this window.</summary>
    public Shape Shape { get; internal set; }
    /// <summary>Where the elements live and ops on them run.</summary>
    public IBackend<T> Backend { get; internal set; } = null!;
    /// <summary>The block this tensor is a window onto.</summary>
    public Storage<T> Storage { get; internal set; } = null!;
    /// <summary>The window's first element in <see cref="Storage"/>.</summary>
    public int Offset { get; internal set; }
    /// <summary>Elements between consecutive rows of the last axis (= Shape.Last unless this is a slice).</summary>
    public int RowStride { get; internal set; }
    /// <summary>
    /// Whether backward computes ∂loss/∂this; an op's output requires it when an input does (outside NoGrad).
    /// </summary>
    public bool RequiresGrad { get; set; }
    /// <summary>
    /// ∂loss/∂this after <see cref="Backward()"/>. Leaves keep it, and each later backward adds into it, until
    /// <see cref="ZeroGrad"/> or <see cref="ZeroGradDeferred"/>. Reading it after a deferred zero clears its memory
    /// first, so what it returns always holds the gradient's values. Setting it replaces the buffer.
    /// </summary>
    public Tensor<T>? Grad
    {
        get { MaterializeGrad(); return grad; }
        set { grad = value; gradDeferredZero = false; }
    }

    /// <summary>
    /// The gradient buffer as it is, for the engine: after <see cref="ZeroGradDeferred"/> its memory is stale (see
    /// <see cref="GradDeferredZero"/>) until an op writes it through <see cref="GradForWrite"/> or clears it.
    /// </summary>
    internal Tensor<T>? RawGrad => grad;

    Tensor<T>? grad;
    /// <summary>The op that made this tensor ("leaf" for inputs and parameters), for graph dumps and errors.</summary>
    public string Op { get; internal set; } = "leaf";

    // The node's record on the tape: parents, the backward function and what the op saved for it.
    internal Tensor<T>? A, B, C;
    internal Action<Tensor<T>>? BackwardFn;
    internal T P;
    internal int I0, I1, I2;
    internal double D0;
    internal bool F0, F1;
    internal object? State;
    internal bool OnTape;
    internal bool OwnsStorage;
    Tensor<T>? gradObject;   // reused grad tensor of a tape node, so steady-state steps allocate nothing

    internal Tensor() { }

    /// <summary>Elements in the tensor.</summary>
    public int Length => Shape.Length;
    /// <summary>Rows of the last axis: Length / Shape.Last.</summary>
    public int Rows => Shape.Length / Math.Max(1, Shape.Last);
    /// <summary>Whether the elements are dense in storage (no row gap), as backends need.</summary>
    public bool IsContiguous => RowStride == Shape.Last || Rows <= 1;

    // ---- factories (caller-owned leaves) ----

    /// <summary>A caller-owned tensor of zeros (on the CPU backend unless one is given).</summary>
    public static Tensor<T> Zeros(Shape shape, IBackend<T>? backend = null, bool requiresGrad = false)
    {
        var b = backend ?? Cpu.CpuBackend<T>.Instance;
        var t = new Tensor<T>
        {
            Shape = shape, Backend = b, Storage = b.Rent(shape.Length), RowStride = shape.Last,
            RequiresGrad = requiresGrad, OwnsStorage = true
        };
        b.Fill(t, T.Zero);
        return t;
    }

    /// <summary>A caller-owned tensor holding a copy of <paramref name="data"/>.</summary>
    public static Tensor<T> From(ReadOnlySpan<T> data, Shape shape, IBackend<T>? backend = null,
        bool requiresGrad = false)
    {
        if (data.Length != shape.Length) throw new ArgumentException($"{data.Length} values do not fill shape {shape}");
        var t = Zeros(shape, backend, requiresGrad);
        t.Backend.Upload(data, t);
        return t;
    }

    /// <summary>A caller-owned rank-0 tensor.</summary>
    public static Tensor<T> Scalar(T value, IBackend<T>? backend = null, bool requiresGrad = false)
        => From([value], Shape.Scalar, backend, requiresGrad);

    /// <summary>A caller-owned view onto existing storage (named parameters in one flat buffer).</summary>
    public static Tensor<T> View(Storage<T> storage, int offset, Shape shape, Tensor<T>? grad = null,
        bool requiresGrad = false)
    {
        if (offset < 0 || offset + shape.Length > storage.Length)
            throw new ArgumentException($"view {shape} at {offset} runs past a storage of {storage.Length}");
        return new Tensor<T>
        {
            Shape = shape, Backend = storage.Backend, Storage = storage, Offset = offset,
            RowStride = shape.Last, Grad = grad, RequiresGrad = requiresGrad
        };
    }

    /// <summary>Returns a caller-owned tensor's storage to its backend's pool.</summary>
    public void Dispose()
    {
        if (OwnsStorage) { Backend.Return(Storage); OwnsStorage = false; Storage = null!; }
    }

    // ---- data ----

    /// <summary>The elements, row-major, in a new array; waits for the device.</summary>
    public T[] ToArray() { var r = new T[Length]; CopyTo(r); return r; }
    /// <summary>destination = the elements, row-major; waits for the device.</summary>
    public void CopyTo(Span<T> destination) => Backend.Download(this, destination);
    /// <summary>The elements = source, row-major.</summary>
    public void CopyFrom(ReadOnlySpan<T> source) => Backend.Upload(source, this);
    /// <summary>The one element of a one-element tensor.</summary>
    public T Item()
    {
        if (Length != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, not {Shape}");
        Span<T> one = stackalloc T[1];
        CopyTo(one);
        return one[0];
    }

    /// <inheritdoc/>
    public override string ToString() => $"Tensor{Shape} op={Op}";

    // ---- autodiff ----

    /// <summary>
    /// Runs the tape backwards from this scalar: every tensor it depends on that requires a gradient gets ∂this/∂it
    /// added to its Grad.
    /// </summary>
    public void Backward() => Tape<T>.Current.Backward(this, null);

    /// <summary>
    /// Backward from a non-scalar output, seeded with ∂loss/∂this = <paramref name="gradient"/> (PyTorch's
    /// backward(gradient)).
    /// </summary>
    public void Backward(Tensor<T> gradient) => Tape<T>.Current.Backward(this, gradient);

    /// <summary>The gradient buffer, created zeroed on first use.</summary>
    internal Tensor<T> GradOrZeros()
    {
        if (grad == null) Backend.Fill(RentGrad(), T.Zero);
        else MaterializeGrad();
        return grad!;
    }

    /// <summary>
    /// The gradient buffer for an op that can either add to it or overwrite it (a GEMM's beta, a sum's accumulate
    /// flag): <paramref name="overwrite"/> is true when the gradient is logically zero but its memory was never
    /// cleared (freshly rented, or after <see cref="ZeroGradDeferred"/>), and the caller must then write every element.
    /// Saves a fill of the buffer and the GEMM's read of it: 4.4 MB per step for the MLP's weights.
    /// </summary>
    internal Tensor<T> GradForWrite(out bool overwrite)
    {
        overwrite = grad == null || gradDeferredZero;
        gradDeferredZero = false;
        return grad ?? RentGrad();
    }

    Tensor<T> RentGrad()
    {
        var g = gradObject ??= new Tensor<T>();
        g.Shape = Shape; g.Backend = Backend; g.Storage = Backend.Rent(Shape.Length); g.Offset = 0;
        g.RowStride = Shape.Last;
        g.OwnsStorage = true;
        return grad = g;
    }

    bool gradDeferredZero;
    /// <summary>
    /// True after <see cref="ZeroGradDeferred"/> until something writes the gradient: its contents are not meaningful.
    /// </summary>
    internal bool GradDeferredZero => gradDeferredZero;

    /// <summary>Returns a tape node's gradient storage to the pool (the grad object is kept for reuse).</summary>
    internal void ReleaseGrad()
    {
        gradDeferredZero = false;
        if (grad == null) return;
        if (ReferenceEquals(grad, gradObject)) grad.Dispose();
        grad = null;
    }

    /// <summary>
    /// A caller-owned copy of this tensor's values with no gradient history (dispose it to return its buffer). A copy,
    /// unlike PyTorch's detach: a tape node's storage goes back to the pool at <see cref="Tape{T}.Reset"/> and the
    /// next step writes into it, so a view that outlived the reset would silently change.
    /// </summary>
    public Tensor<T> Detach()
    {
        var copy = Zeros(Shape, Backend);
        copy.Op = "detach";
        if (Length > 0) Backend.CopyRows(this, copy, accumulate: false);
        return copy;
    }

    /// <summary>Zeroes a leaf's accumulated gradient.</summary>
    public void ZeroGrad() { if (grad != null) Backend.Fill(grad, T.Zero); gradDeferredZero = false; }

    /// <summary>
    /// Zeroes the gradient without touching its memory: the next op to write it overwrites instead of adding.
    /// Until then its memory is stale; reading <see cref="Grad"/>, <see cref="MaterializeGrad"/> or any op that only
    /// adds clears it.
    /// </summary>
    public void ZeroGradDeferred() { if (grad != null) gradDeferredZero = true; }

    /// <summary>
    /// Makes a deferred zero real. <see cref="Grad"/> does it on read; call it before reading the gradient's memory
    /// another way (a flat buffer it is a view of, as the model's parameters are).
    /// </summary>
    public void MaterializeGrad()
    {
        if (!gradDeferredZero) return;
        Backend.Fill(grad!, T.Zero);
        gradDeferredZero = false;
    }

    /// <see cref="Ops.Add{T}"/>.
    public static Tensor<T> operator +(Tensor<T> a, Tensor<T> b) => Ops.Add(a, b);
    /// <see cref="Ops.Sub{T}"/>.
    public static Tensor<T> operator -(Tensor<T> a, Tensor<T> b) => Ops.Sub(a, b);
    /// <see cref="Ops.Mul{T}"/>.
    public static Tensor<T> operator *(Tensor<T> a, Tensor<T> b) => Ops.Mul(a, b);
    /// <see cref="Ops.Div{T}"/>.
    public static Tensor<T> operator /(Tensor<T> a, Tensor<T> b) => Ops.Div(a, b);
    /// <see cref="Ops.Neg{T}"/>.
    public static Tensor<T> operator -(Tensor<T> a) => Ops.Neg(a);
    /// <see cref="Ops.AddScalar{T}"/>.
    public static Tensor<T> operator +(Tensor<T> a, T s) => Ops.AddScalar(a, s);
    /// <see cref="Ops.AddScalar{T}"/> of −s.
    public static Tensor<T> operator -(Tensor<T> a, T s) => Ops.AddScalar(a, -s);
    /// <see cref="Ops.MulScalar{T}"/>.
    public static Tensor<T> operator *(Tensor<T> a, T s) => Ops.MulScalar(a, s);
    /// <see cref="Ops.MulScalar{T}"/>.
    public static Tensor<T> operator *(T s, Tensor<T> a) => Ops.MulScalar(a, s);
    /// <see cref="Ops.MulScalar{T}"/> by 1/s.
    public static Tensor<T> operator /(Tensor<T> a, T s) => Ops.MulScalar(a, T.One / s);
}
