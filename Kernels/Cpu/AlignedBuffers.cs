using System.Runtime.InteropServices;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// A few 64-byte-aligned native scratch buffers, kept for reuse: a fresh 4 KiB page costs 7-13 us on first touch
/// here, so kernels rent and return instead of allocating per call. Rent and Return are lock-free and allocate
/// nothing once the pool holds a large enough buffer; a buffer that finds no free slot on return is freed.
/// One pool per kind of buffer (GEMM's packed A and packed B), so a rent of a small one never takes a big one.
/// </summary>
internal sealed unsafe class AlignedBuffers
{
    const int Header = 64;            // the capacity lives in the first line, so a slot is one word to swap
    readonly nint[] slots = new nint[8];

    /// <summary>A buffer of at least <paramref name="bytes"/> bytes, 64-byte aligned, contents undefined.</summary>
    public byte* Rent(nuint bytes)
    {
        for (int i = 0; i < slots.Length; i++)
        {
            if (Volatile.Read(ref slots[i]) == 0) continue;
            nint block = Interlocked.Exchange(ref slots[i], 0);
            if (block == 0) continue;
            if (*(nuint*)block >= bytes) return (byte*)block + Header;
            NativeMemory.AlignedFree((void*)block);   // too small: replace it by one that fits
            break;
        }
        bytes = Math.Max(bytes, 64 * 1024);
        var fresh = (byte*)NativeMemory.AlignedAlloc(bytes + Header, 64);
        *(nuint*)fresh = bytes;
        return fresh + Header;
    }

    public void Return(byte* buffer)
    {
        nint block = (nint)(buffer - Header);
        for (int i = 0; i < slots.Length; i++)
            if (Interlocked.CompareExchange(ref slots[i], block, 0) == 0) return;
        NativeMemory.AlignedFree((void*)block);
    }
}
