using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Copies and zero fills of short runs of bytes (the C- and KW·C-runs of im2col), with overlapping vector moves
/// instead of a call to memmove: a run of 16 bytes (4 floats, the first conv layer's KW·C) is one 16-byte load and
/// store. Source and destination must not overlap.
/// </summary>
internal static unsafe class Runs
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Copy(byte* s, byte* d, nuint n)
    {
        if (n >= 64)
        {
            nuint i = 0;
            for (; i + 256 <= n; i += 256)
            {
                Vector512.Store(Vector512.Load(s + i), d + i);
                Vector512.Store(Vector512.Load(s + i + 64), d + i + 64);
                Vector512.Store(Vector512.Load(s + i + 128), d + i + 128);
                Vector512.Store(Vector512.Load(s + i + 192), d + i + 192);
            }
            for (; i + 64 <= n; i += 64) Vector512.Store(Vector512.Load(s + i), d + i);
            if (i < n) Vector512.Store(Vector512.Load(s + n - 64), d + n - 64);
        }
        else if (n >= 32)
        {
            var a = Vector256.Load(s);
            var b = Vector256.Load(s + n - 32);
            a.Store(d);
            b.Store(d + n - 32);
        }
        else if (n >= 16)
        {
            var a = Vector128.Load(s);
            var b = Vector128.Load(s + n - 16);
            a.Store(d);
            b.Store(d + n - 16);
        }
        else if (n >= 8) { ulong a = *(ulong*)s, b = *(ulong*)(s + n - 8); *(ulong*)d = a; *(ulong*)(d + n - 8) = b; }
        else if (n >= 4) { uint a = *(uint*)s, b = *(uint*)(s + n - 4); *(uint*)d = a; *(uint*)(d + n - 4) = b; }
        else for (nuint i = 0; i < n; i++) d[i] = s[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Zero(byte* d, nuint n)
    {
        if (n >= 64)
        {
            nuint i = 0;
            for (; i + 64 <= n; i += 64) Vector512<byte>.Zero.Store(d + i);
            if (i < n) Vector512<byte>.Zero.Store(d + n - 64);
        }
        else if (n >= 32) { Vector256<byte>.Zero.Store(d); Vector256<byte>.Zero.Store(d + n - 32); }
        else if (n >= 16) { Vector128<byte>.Zero.Store(d); Vector128<byte>.Zero.Store(d + n - 16); }
        else if (n >= 8) { *(ulong*)d = 0; *(ulong*)(d + n - 8) = 0; }
        else if (n >= 4) { *(uint*)d = 0; *(uint*)(d + n - 4) = 0; }
        else for (nuint i = 0; i < n; i++) d[i] = 0;
    }
}
