using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// The widest vectors the CPU kernels take in this process, which fixes their rounding: "avx512" (the Vector512
/// paths), "avx2" (Vector256), "scalar" (neither: the scalar loops), or the architecture's name off x64. Set by
/// the hardware and by DOTNET_EnableAVX512=0 / DOTNET_EnableAVX2=0. Two machines that differ here sum in a
/// different order (the GEMM's micro-kernel and the reductions are as wide as the vectors), so their runs agree
/// to rounding, not bit for bit.
/// </summary>
public static class SimdWidth
{
    public static string Current { get; } =
        RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.X86)
            ? RuntimeInformation.ProcessArchitecture.ToString().ToLowerInvariant()
        : Vector512.IsHardwareAccelerated ? "avx512"
        : Vector256.IsHardwareAccelerated ? "avx2"
        : "scalar";
}
