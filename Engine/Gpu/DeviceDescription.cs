using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Engine.Gpu;

/// <summary>
/// What a backend runs on, as `infovae doctor` and train's banner report it: the accelerator (name, multiprocessors,
/// memory, compute capability, driver, the PTX ISA and target ILGPU emits), ILGPU's version and math mode, and the
/// host (CPU, the SIMD instruction set our CPU kernels take, threads). Fields that do not apply are null.
/// </summary>
public sealed record DeviceDescription
{
    /// <summary>The --device name of the backend: cpu, cuda or ilgpu-cpu.</summary>
    public required string Device { get; init; }
    /// <summary>"NVIDIA H200", "ILGPU CPU accelerator", or for cpu the processor's model name.</summary>
    public required string Name { get; init; }
    /// <summary>Streaming multiprocessors (CUDA) or worker threads (ILGPU's CPU accelerator).</summary>
    public int? Multiprocessors { get; init; }
    /// <summary>The device's memory in bytes.</summary>
    public long? MemoryBytes { get; init; }
    /// <summary>Threads per warp.</summary>
    public int? WarpSize { get; init; }
    /// <summary>The most threads a group may have.</summary>
    public int? MaxGroupSize { get; init; }
    /// <summary>"9.0" (CUDA only).</summary>
    public string? ComputeCapability { get; init; }
    /// <summary>The CUDA version the driver supports, "13.0" (CUDA only).</summary>
    public string? Driver { get; init; }
    /// <summary>The PTX ISA version and target of the code ILGPU emits for this device, read off a compiled probe
    /// kernel.</summary>
    public string? PtxIsa { get; init; }
    /// <summary>The .target line of that code: sm_80.</summary>
    public string? PtxTarget { get; init; }
    /// <summary>The device's clock rate.</summary>
    public int? ClockMhz { get; init; }
    /// <summary>ILGPU's version.</summary>
    public required string Ilgpu { get; init; }
    /// <summary>ILGPU's math mode for the kernels ("default" or "fast"; null for the SIMD CPU backend).</summary>
    public string? MathMode { get; init; }
    /// <summary>The host processor's model name.</summary>
    public required string Cpu { get; init; }
    /// <summary>The widest vectors our CPU kernels use here: AVX-512, AVX2 or scalar.</summary>
    public required string CpuIsa { get; init; }
    /// <summary>Threads our CPU kernels use.</summary>
    public required int Threads { get; init; }
    /// <summary>The .NET runtime's version.</summary>
    public required string Dotnet { get; init; }
    /// <summary>The operating system's description.</summary>
    public required string Os { get; init; }
    /// <summary>For --device auto on the CPU: why CUDA did not start.</summary>
    public string? Fallback { get; init; }

    /// <summary>One line: "cuda: NVIDIA H200, 132 SMs, 140.4 GiB, compute 9.0, driver 13.0, PTX 8.8 sm_80".</summary>
    public string Summary()
    {
        var parts = new List<string> { Name };
        if (Multiprocessors is { } sm) parts.Add(Device == "cuda" ? $"{sm} SMs" : $"{sm} multiprocessors");
        if (MemoryBytes is { } mem && Device == "cuda") parts.Add($"{mem / (1024.0 * 1024 * 1024):F1} GiB");
        if (ComputeCapability != null) parts.Add($"compute {ComputeCapability}");
        if (Driver != null) parts.Add($"driver {Driver}");
        if (PtxIsa != null) parts.Add($"PTX {PtxIsa} {PtxTarget}");
        if (Device != "cuda") parts.Add($"SIMD {CpuIsa}, {Threads} thread{(Threads == 1 ? "" : "s")}");
        return $"{Device} ({string.Join(", ", parts)})";
    }

    /// <summary>The description of <paramref name="backend"/>'s device and of this host.</summary>
    public static DeviceDescription Of(IBackend<float> backend, DeviceUnavailableException? fallback = null)
    {
        var host = new DeviceDescription
        {
            Device = "cpu", Name = CpuName(), Ilgpu = Devices.IlgpuVersion, Cpu = CpuName(), CpuIsa = SimdIsa(),
            Threads = Workers.MaxThreads, Dotnet = Environment.Version.ToString(),
            Os = RuntimeInformation.OSDescription,
            Fallback = fallback?.Detail,
        };
        if (backend is not IlgpuBackend g) return host;
        var a = g.Accelerator;
        var d = host with
        {
            Device = g.Name,
            Name = a.AcceleratorType == AcceleratorType.CPU ? "ILGPU CPU accelerator" : a.Name,
            Multiprocessors = a.NumMultiprocessors,
            MemoryBytes = a is CudaAccelerator ? a.MemorySize : null,
            WarpSize = a.WarpSize,
            MaxGroupSize = a.MaxNumThreadsPerGroup,
            MathMode = a.Context.Properties.MathMode.ToString().ToLowerInvariant(),
        };
        if (a is not CudaAccelerator cuda) return d;
        var (isa, target) = PtxHeader(ProbePtx((PTXBackend)cuda.Backend));
        return d with
        {
            ComputeCapability = cuda.Architecture is { } arch ? $"{arch.Major}.{arch.Minor}" : null,
            Driver = $"{cuda.DriverVersion.Major}.{cuda.DriverVersion.Minor}",
            PtxIsa = isa,
            PtxTarget = target,
            ClockMhz = cuda.ClockRate / 1000,
        };
    }

    /// <summary>The ".version" and ".target" of a PTX module (null where absent).</summary>
    public static (string? Isa, string? Target) PtxHeader(string ptx)
    {
        var v = Regex.Match(ptx, @"^\s*\.version\s+(\S+)", RegexOptions.Multiline);
        var t = Regex.Match(ptx, @"^\s*\.target\s+([^\s,]+)", RegexOptions.Multiline);
        return (v.Success ? v.Groups[1].Value : null, t.Success ? t.Groups[1].Value : null);
    }

    /// <summary>A one-line kernel compiled by a PTX backend (the accelerator's own: what its driver is given); "" if
    /// that fails.</summary>
    public static string ProbePtx(PTXBackend backend)
    {
        try
        {
            var probe = typeof(DeviceDescription).GetMethod(nameof(ProbeKernel),
                System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)!;
            var entry = EntryPointDescription.FromImplicitlyGroupedKernel(probe);
            return ((PTXCompiledKernel)backend.Compile(entry, default)).PTXAssembly;
        }
        catch (Exception e) when (e is not OutOfMemoryException) { return ""; }   // a description never fails
    }

    static void ProbeKernel(Index1D i, ArrayView<float> x) => x[i] = 0;

    /// <summary>The SIMD path our CPU kernels take (they branch on Vector512, then Vector256, else a scalar loop).
    /// </summary>
    public static string SimdIsa() =>
        Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : "scalar";

    static string CpuName()
    {
        try
        {
            if (OperatingSystem.IsLinux())
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int c and > 0)
                        return $"{line[(c + 1)..].Trim()}, {Environment.ProcessorCount} logical cores";
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return $"{RuntimeInformation.ProcessArchitecture}, {Environment.ProcessorCount} logical cores";
    }
}
