using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>An elementwise function of one input, as a scalar and as 512- and 256-bit vectors.</summary>
public interface IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>f(x, p) for one element.</summary>
    static abstract T Invoke(T x, T p);
    /// <summary>f(x, p) lane by lane; the same bits as the scalar form.</summary>
    static abstract Vector512<T> Invoke(Vector512<T> x, Vector512<T> p);
    /// <summary>f(x, p) lane by lane; the same bits as the scalar form.</summary>
    static abstract Vector256<T> Invoke(Vector256<T> x, Vector256<T> p);
}

/// <summary>An elementwise function of three inputs; backward passes use it as f(x, y, dy).</summary>
public interface ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>f(a, b, c, p) for one element.</summary>
    static abstract T Invoke(T a, T b, T c, T p);
    /// <summary>f(a, b, c, p) lane by lane; the same bits as the scalar form.</summary>
    static abstract Vector512<T> Invoke(Vector512<T> a, Vector512<T> b, Vector512<T> c, Vector512<T> p);
    /// <summary>f(a, b, c, p) lane by lane; the same bits as the scalar form.</summary>
    static abstract Vector256<T> Invoke(Vector256<T> a, Vector256<T> b, Vector256<T> c, Vector256<T> p);
}

/// <summary>
/// The one generic loop that every elementwise op goes through (TensorPrimitives' pattern): Vector512 when the
/// hardware has it, else Vector256, then a scalar tail that doubles as the reference. <c>p</c> is an op parameter
/// (the leaky-relu slope, a scalar operand) broadcast to every lane. Parameters follow the BCL: inputs first,
/// <c>destination</c> last; inputs have one length n, and a destination shorter than n throws.
/// In-place use (destination overlapping an input at the same offset) is allowed.
/// Correctness: Tests/Kernels/ElementwiseKernelTests.cs (every length 0..70, float and double).
/// </summary>
public static class Simd
{
    /// <summary>destination[i] = TOp(x[i], 0).</summary>
    public static void Map<T, TOp>(ReadOnlySpan<T> x, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IUnaryOp<T> => Map<T,
            TOp>(x, T.Zero, destination);

    /// <summary>destination[i] = TOp(x[i], p).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Map<T, TOp>(ReadOnlySpan<T> x, T p, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IUnaryOp<T>
    {
        if (destination.Length < x.Length) ThrowDestinationTooShort();
        int n = x.Length, i = 0;
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T dr = ref MemoryMarshal.GetReference(destination);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            var pv = Vector512.Create(p);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                TOp.Invoke(Vector512.LoadUnsafe(ref xr, (nuint)i), pv).StoreUnsafe(ref dr, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var pv = Vector256.Create(p);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                TOp.Invoke(Vector256.LoadUnsafe(ref xr, (nuint)i), pv).StoreUnsafe(ref dr, (nuint)i);
        }
        for (; i < n; i++) Unsafe.Add(ref dr, i) = TOp.Invoke(Unsafe.Add(ref xr, i), p);
    }

    /// <summary>destination[i] += TOp(a[i], b[i], c[i], 0).</summary>
    public static void Accumulate<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> c, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, ITernaryOp<T> => Accumulate<T,
            TOp>(a, b, c, T.Zero, destination);

    /// <summary>destination[i] += TOp(a[i], b[i], c[i], p): the shape of a backward pass into a gradient that holds
    /// values (see <see cref="Apply{T, TOp}"/> for one that is logically zero).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Accumulate<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> c, T p,
        Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, ITernaryOp<T>
    {
        int n = a.Length;
        if (b.Length != n || c.Length != n) ThrowInputLengthsDiffer();
        if (destination.Length < n) ThrowDestinationTooShort();
        int i = 0;
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T br = ref MemoryMarshal.GetReference(b);
        ref T cr = ref MemoryMarshal.GetReference(c);
        ref T dr = ref MemoryMarshal.GetReference(destination);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            var pv = Vector512.Create(p);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                (Vector512.LoadUnsafe(ref dr, (nuint)i) + TOp.Invoke(Vector512.LoadUnsafe(ref ar, (nuint)i),
                    Vector512.LoadUnsafe(ref br, (nuint)i), Vector512.LoadUnsafe(ref cr, (nuint)i),
                        pv)).StoreUnsafe(ref dr, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var pv = Vector256.Create(p);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                (Vector256.LoadUnsafe(ref dr, (nuint)i) + TOp.Invoke(Vector256.LoadUnsafe(ref ar, (nuint)i),
                    Vector256.LoadUnsafe(ref br, (nuint)i), Vector256.LoadUnsafe(ref cr, (nuint)i),
                        pv)).StoreUnsafe(ref dr, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref dr, i) += TOp.Invoke(Unsafe.Add(ref ar, i), Unsafe.Add(ref br, i), Unsafe.Add(ref cr, i), p);
    }

    /// <summary>destination[i] = TOp(a[i], b[i], c[i], p): a backward pass that writes a gradient nothing else adds
    /// to.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> c, T p, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, ITernaryOp<T>
    {
        int n = a.Length;
        if (b.Length != n || c.Length != n) ThrowInputLengthsDiffer();
        if (destination.Length < n) ThrowDestinationTooShort();
        int i = 0;
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T br = ref MemoryMarshal.GetReference(b);
        ref T cr = ref MemoryMarshal.GetReference(c);
        ref T dr = ref MemoryMarshal.GetReference(destination);
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
        {
            var pv = Vector512.Create(p);
            for (; i <= n - Vector512<T>.Count; i += Vector512<T>.Count)
                TOp.Invoke(Vector512.LoadUnsafe(ref ar, (nuint)i), Vector512.LoadUnsafe(ref br, (nuint)i),
                    Vector512.LoadUnsafe(ref cr, (nuint)i), pv)
                    .StoreUnsafe(ref dr, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            var pv = Vector256.Create(p);
            for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                TOp.Invoke(Vector256.LoadUnsafe(ref ar, (nuint)i), Vector256.LoadUnsafe(ref br, (nuint)i),
                    Vector256.LoadUnsafe(ref cr, (nuint)i), pv)
                    .StoreUnsafe(ref dr, (nuint)i);
        }
        for (; i < n; i++)
            Unsafe.Add(ref dr, i) = TOp.Invoke(Unsafe.Add(ref ar, i), Unsafe.Add(ref br, i), Unsafe.Add(ref cr, i), p);
    }

    // Throw helpers keep the throw sites out of the hot loops' code (the BCL's ThrowHelper pattern).
    [DoesNotReturn]
    internal static void ThrowDestinationTooShort() =>
        throw new ArgumentException("Destination is too short.", "destination");

    [DoesNotReturn]
    internal static void ThrowInputLengthsDiffer() =>
        throw new ArgumentException("Input spans must all have the same length.");
}
