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
    public Shape Shape { get; internal set; }
    public IBackend<T> Backend { get; internal set; } = null!;
    public Storage<T> Storage { get; internal set; } = null!;
    public int Offset { get; internal set; }
    /// <summary>Elements between consecutive rows of the last axis (= Shape.Last unless this is a slice).</summary>
    public int RowStride { get; internal set; }
    public bool RequiresGrad { get; set; }
    /// <summary>∂loss/∂this after <see cref="Backward"/>; leaves keep it (and accumulate into it) until zeroed.</summary>
    public Tensor<T>? Grad { get; set; }
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

    public int Length => Shape.Length;
    public int Rows => Shape.Length / Math.Max(1, Shape.Last);
    public bool IsContiguous => RowStride == Shape.Last || Rows <= 1;

    // ---- factories (caller-owned leaves) ----

    public static Tensor<T> Zeros(Shape shape, IBackend<T>? backend = null, bool requiresGrad = false)
    {
        var b = backend ?? Cpu.CpuBackend<T>.Instance;
        var t = new Tensor<T> { Shape = shape, Backend = b, Storage = b.Rent(shape.Length), RowStride = shape.Last, RequiresGrad = requiresGrad, OwnsStorage = true };
        b.Fill(t, T.Zero);
        return t;
    }

    public static Tensor<T> From(ReadOnlySpan<T> data, Shape shape, IBackend<T>? backend = null, bool requiresGrad = false)
    {
        if (data.Length != shape.Length) throw new ArgumentException($"{data.Length} values do not fill shape {shape}");
        var t = Zeros(shape, backend, requiresGrad);
        t.Backend.Upload(data, t);
        return t;
    }

    public static Tensor<T> Scalar(T value, IBackend<T>? backend = null, bool requiresGrad = false) => From([value], Shape.Scalar, backend, requiresGrad);

    /// <summary>A caller-owned view onto existing storage (named parameters in one flat buffer).</summary>
    public static Tensor<T> View(Storage<T> storage, int offset, Shape shape, Tensor<T>? grad = null, bool requiresGrad = false)
    {
        if (offset < 0 || offset + shape.Length > storage.Length) throw new ArgumentException($"view {shape} at {offset} runs past a storage of {storage.Length}");
        return new Tensor<T> { Shape = shape, Backend = storage.Backend, Storage = storage, Offset = offset, RowStride = shape.Last, Grad = grad, RequiresGrad = requiresGrad };
    }

    /// <summary>Returns a caller-owned tensor's storage to its backend's pool.</summary>
    public void Dispose()
    {
        if (OwnsStorage) { Backend.Return(Storage); OwnsStorage = false; Storage = null!; }
    }

    // ---- data ----

    public T[] ToArray() { var r = new T[Length]; CopyTo(r); return r; }
    public void CopyTo(Span<T> destination) => Backend.Download(this, destination);
    public void CopyFrom(ReadOnlySpan<T> source) => Backend.Upload(source, this);
    public T Item()
    {
        if (Length != 1) throw new InvalidOperationException($"Item() needs a one-element tensor, not {Shape}");
        Span<T> one = stackalloc T[1];
        CopyTo(one);
        return one[0];
    }

    public override string ToString() => $"Tensor{Shape} op={Op}";

    // ---- autodiff ----

    /// <summary>Runs the tape backwards from this scalar: every tensor it depends on that requires a gradient gets ∂this/∂it added to its Grad.</summary>
    public void Backward() => Tape<T>.Current.Backward(this, null);

    /// <summary>Backward from a non-scalar output, seeded with ∂loss/∂this = <paramref name="gradient"/> (PyTorch's backward(gradient)).</summary>
    public void Backward(Tensor<T> gradient) => Tape<T>.Current.Backward(this, gradient);

    /// <summary>The gradient buffer, created zeroed on first use.</summary>
    internal Tensor<T> GradOrZeros()
    {
        if (Grad == null) Backend.Fill(RentGrad(), T.Zero);
        else MaterializeGrad();
        return Grad!;
    }

    /// <summary>
    /// The gradient buffer for an op that can either add to it or overwrite it (a GEMM's beta, a sum's accumulate
    /// flag): <paramref name="overwrite"/> is true when the gradient is logically zero but its memory was never
    /// cleared (freshly rented, or after <see cref="ZeroGradDeferred"/>), and the caller must then write every element.
    /// Saves a fill of the buffer and the GEMM's read of it: 4.4 MB per step for the MLP's weights.
    /// </summary>
    internal Tensor<T> GradForWrite(out bool overwrite)
    {
        overwrite = Grad == null || gradDeferredZero;
        gradDeferredZero = false;
        return Grad ?? RentGrad();
    }

    Tensor<T> RentGrad()
    {
        var g = gradObject ??= new Tensor<T>();
        g.Shape = Shape; g.Backend = Backend; g.Storage = Backend.Rent(Shape.Length); g.Offset = 0; g.RowStride = Shape.Last;
        g.OwnsStorage = true;
        return Grad = g;
    }

    bool gradDeferredZero;
    /// <summary>True after <see cref="ZeroGradDeferred"/> until something writes the gradient: its contents are not meaningful.</summary>
    internal bool GradDeferredZero => gradDeferredZero;

    /// <summary>Returns a tape node's gradient storage to the pool (the grad object is kept for reuse).</summary>
    internal void ReleaseGrad()
    {
        gradDeferredZero = false;
        if (Grad == null) return;
        if (ReferenceEquals(Grad, gradObject)) Grad.Dispose();
        Grad = null;
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
    public void ZeroGrad() { if (Grad != null) Backend.Fill(Grad, T.Zero); gradDeferredZero = false; }

    /// <summary>
    /// Zeroes the gradient without touching its memory: the next op to write it overwrites instead of adding.
    /// Until then its contents are undefined; <see cref="MaterializeGrad"/> (or any op that only adds) clears them.
    /// </summary>
    public void ZeroGradDeferred() { if (Grad != null) gradDeferredZero = true; }

    /// <summary>Makes a deferred zero real, for readers of <see cref="Grad"/> that did not go through an op.</summary>
    public void MaterializeGrad()
    {
        if (!gradDeferredZero) return;
        Backend.Fill(Grad!, T.Zero);
        gradDeferredZero = false;
    }

    public static Tensor<T> operator +(Tensor<T> a, Tensor<T> b) => Ops.Add(a, b);
    public static Tensor<T> operator -(Tensor<T> a, Tensor<T> b) => Ops.Sub(a, b);
    public static Tensor<T> operator *(Tensor<T> a, Tensor<T> b) => Ops.Mul(a, b);
    public static Tensor<T> operator /(Tensor<T> a, Tensor<T> b) => Ops.Div(a, b);
    public static Tensor<T> operator -(Tensor<T> a) => Ops.Neg(a);
    public static Tensor<T> operator +(Tensor<T> a, T s) => Ops.AddScalar(a, s);
    public static Tensor<T> operator -(Tensor<T> a, T s) => Ops.AddScalar(a, -s);
    public static Tensor<T> operator *(Tensor<T> a, T s) => Ops.MulScalar(a, s);
    public static Tensor<T> operator *(T s, Tensor<T> a) => Ops.MulScalar(a, s);
    public static Tensor<T> operator /(Tensor<T> a, T s) => Ops.MulScalar(a, T.One / s);
}
