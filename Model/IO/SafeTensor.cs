using System.Runtime.InteropServices;

namespace InfoVae.Model.IO;

/// <summary>Element types of the safetensors format that we read and write (names as in the file's header).</summary>
public enum DType { F64, F32, I64, I32, U8 }

/// <summary>One named tensor: element type, shape (row-major, outermost first) and its little-endian bytes.</summary>
public sealed class SafeTensor
{
    public string Name { get; }
    public DType DType { get; }
    public int[] Shape { get; }
    public byte[] Data { get; }
    public long ElementCount => Data.Length / SizeOf(DType);

    public SafeTensor(string name, DType dtype, int[] shape, byte[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name == SafeTensors.MetadataKey)
            throw new ArgumentException($"'{name}' is reserved for metadata.", nameof(name));
        if (shape.Any(s => s < 0))
            throw new ArgumentException($"negative size in shape [{string.Join(", ", shape)}].", nameof(shape));
        long count = shape.Aggregate(1L, (a, s) => checked(a * s));
        if (count * SizeOf(dtype) != data.Length)
            throw new ArgumentException($"{name}: shape [{string.Join(", ", shape)}] of {dtype} needs "
                + $"{count * SizeOf(dtype)} bytes, got {data.Length}.", nameof(data));
        (Name, DType, Shape, Data) = (name, dtype, shape, data);
    }

    /// <summary>A tensor holding a copy of <paramref name="values"/>; T is float, double, long, int or byte.</summary>
    public static SafeTensor From<T>(string name, ReadOnlySpan<T> values, params int[] shape) where T : unmanaged =>
        new(name, DTypeOf<T>(), shape, MemoryMarshal.AsBytes(values).ToArray());

    /// <summary>A copy of the elements; T must match the stored dtype (no silent conversion).</summary>
    public T[] As<T>() where T : unmanaged
    {
        var want = DTypeOf<T>();
        if (want != DType) throw new InvalidOperationException($"{Name} holds {DType}, not {want}.");
        return MemoryMarshal.Cast<byte, T>(Data).ToArray();
    }

    /// <summary>
    /// Copies the elements into <paramref name="destination"/>, whose length must be the element count.
    /// </summary>
    public void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        var want = DTypeOf<T>();
        if (want != DType) throw new InvalidOperationException($"{Name} holds {DType}, not {want}.");
        var source = MemoryMarshal.Cast<byte, T>(Data);
        if (source.Length != destination.Length)
            throw new ArgumentException($"{Name} has {source.Length} elements, the destination {destination.Length}.",
                nameof(destination));
        source.CopyTo(destination);
    }

    public static int SizeOf(DType dtype) => dtype switch
    {
        DType.F64 or DType.I64 => 8,
        DType.F32 or DType.I32 => 4,
        DType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    public static DType DTypeOf<T>() where T : unmanaged
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors data are little-endian.");
        if (typeof(T) == typeof(float)) return DType.F32;
        if (typeof(T) == typeof(double)) return DType.F64;
        if (typeof(T) == typeof(long)) return DType.I64;
        if (typeof(T) == typeof(int)) return DType.I32;
        if (typeof(T) == typeof(byte)) return DType.U8;
        throw new NotSupportedException($"no safetensors dtype for {typeof(T).Name}.");
    }
}
