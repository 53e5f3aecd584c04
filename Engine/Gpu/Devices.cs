using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using InfoVae.Engine.Cpu;

namespace InfoVae.Engine.Gpu;

/// <summary>
/// Where the float32 training runs: auto (CUDA if it starts, else the SIMD CPU), cpu, cuda, or ilgpu-cpu (ILGPU's CPU
/// accelerator, for tests).
/// </summary>
public enum DeviceKind
{
    /// <summary>CUDA if it starts, else the SIMD CPU.</summary>
    Auto,
    /// <summary>The SIMD CPU backend.</summary>
    Cpu,
    /// <summary>CUDA device 0 through ILGPU; an error when it cannot start.</summary>
    Cuda,
    /// <summary>The GPU kernels on ILGPU's CPU accelerator (slow; for tests).</summary>
    IlgpuCpu,
}

/// <summary>Why CUDA did not start: the three cases `--device auto` names when it falls back to the CPU.</summary>
public enum CudaFailure
{
    /// <summary>libcuda is not installed.</summary>
    NoDriver,
    /// <summary>The driver sees no CUDA device.</summary>
    NoDevice,
    /// <summary>A device is there but ILGPU could not create a context or accelerator on it.</summary>
    ContextFailure,
}

/// <summary>
/// A device that was asked for and cannot start. <see cref="Detail"/> says why in a few words ("no NVIDIA driver
/// (libcuda.so.1 not found)"); the message is "cuda: " + that, one line, meant to be shown as it is.
/// </summary>
public sealed class DeviceUnavailableException(CudaFailure reason, string detail, Exception? inner = null)
    : Exception("cuda: " + detail, inner)
{
    /// <summary>Which of the three ways CUDA failed to start.</summary>
    public CudaFailure Reason { get; } = reason;
    /// <summary>Why, in a few words.</summary>
    public string Detail { get; } = detail;
}

/// <summary>The backend a device choice gave, and for `auto` that fell back to the CPU, why CUDA did not start.
/// </summary>
public sealed record DeviceChoice(IBackend<float> Backend, DeviceUnavailableException? Fallback);

/// <summary>
/// The one place that picks and starts a device. CUDA is always chosen explicitly (a context built with only
/// the CUDA backend), never through ILGPU's preferred-device heuristic.
/// </summary>
public static class Devices
{
    /// <summary>The accepted --device names, for usage lines and error messages.</summary>
    public const string Names = "auto|cpu|cuda|ilgpu-cpu";

    /// <summary>
    /// The device kind of a --device name; throws <see cref="ArgumentException"/> for an unknown one.
    /// </summary>
    public static DeviceKind Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "auto" => DeviceKind.Auto,
        "cpu" => DeviceKind.Cpu,
        "cuda" or "gpu" => DeviceKind.Cuda,
        "ilgpu-cpu" => DeviceKind.IlgpuCpu,
        _ => throw new ArgumentException($"unknown device '{name}' (expected {Names})"),
    };

    /// <summary>The backend for a --device name (see <see cref="Create(DeviceKind)"/>).</summary>
    public static IBackend<float> Create(string name) => Create(Parse(name));

    /// <summary>
    /// The backend for <paramref name="kind"/>; cuda throws <see cref="DeviceUnavailableException"/> when CUDA cannot
    /// start, auto falls back to cpu.
    /// </summary>
    public static IBackend<float> Create(DeviceKind kind) => Choose(kind).Backend;

    /// <summary>
    /// The backend for <paramref name="kind"/>, and when auto fell back to the CPU, the reason (kept so that the
    /// caller can say it: a silent fallback looks like a slow GPU). cuda throws
    /// <see cref="DeviceUnavailableException"/>.
    /// <paramref name="startCuda"/> replaces <see cref="StartCuda"/> (tests simulate each failure with it).
    /// </summary>
    public static DeviceChoice Choose(DeviceKind kind, Func<IlgpuBackend>? startCuda = null)
    {
        startCuda ??= StartCuda;
        switch (kind)
        {
            case DeviceKind.Cpu: return new(CpuBackend<float>.Instance, null);
            case DeviceKind.Cuda: return new(startCuda(), null);
            case DeviceKind.IlgpuCpu: return new(StartIlgpuCpu(), null);
            case DeviceKind.Auto:
                try { return new(startCuda(), null); }
                catch (DeviceUnavailableException e) { return new(CpuBackend<float>.Instance, e); }
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    /// <summary>
    /// ILGPU's CPU accelerator: 16 threads per group (warp 4 × 4 warps) for the 4×4 tiles, one multiprocessor per core.
    /// </summary>
    public static IlgpuBackend StartIlgpuCpu()
    {
        var context = Context.Create(b => b.CPU(new CPUDevice(4, 4, Environment.ProcessorCount)).EnableAlgorithms());
        var accelerator = context.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel);
        return new IlgpuBackend(context, accelerator, "ilgpu-cpu");
    }

    /// <summary>
    /// A backend on CUDA device 0; throws <see cref="DeviceUnavailableException"/> when CUDA cannot start.
    /// </summary>
    public static IlgpuBackend StartCuda()
    {
        InstallCudaResolver();
        Context? context = null;
        try
        {
            context = Context.Create(b => b.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
            if (context.GetCudaDevices().Count == 0)
                throw NativeLibrary.TryLoad("libcuda.so.1", out _) || NativeLibrary.TryLoad("libcuda.so", out _)
                    ? new DeviceUnavailableException(CudaFailure.NoDevice, "no CUDA device: the NVIDIA driver library "
                        + $"loads but ILGPU {IlgpuVersion} finds no GPU it supports (none present, or a driver newer "
                        + "than its version table)")
                    : new DeviceUnavailableException(CudaFailure.NoDriver, "no NVIDIA driver (libcuda.so.1 not found)");
            var accelerator = context.GetCudaDevice(0).CreateCudaAccelerator(context);
            return new IlgpuBackend(context, accelerator, "cuda");
        }
        catch (DeviceUnavailableException) { context?.Dispose(); throw; }
        catch (Exception e)
        {
            context?.Dispose();
            throw ContextFailure(e);
        }
    }

    /// <summary>Any other failure while starting: a missing driver symbol, an out-of-memory context, a driver error.
    /// </summary>
    public static DeviceUnavailableException ContextFailure(Exception e) => new(CudaFailure.ContextFailure,
        $"the CUDA context could not be created ({e.GetType().Name}: {FirstLine(e.Message)})", e);

    /// <summary>ILGPU's version, as the doctor and the failure messages name it ("1.5.3").</summary>
    public static string IlgpuVersion =>
        typeof(Context).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "?";

    static string FirstLine(string s) { int i = s.IndexOfAny(['\r', '\n']); return i < 0 ? s : s[..i]; }

    static readonly Lock resolverGate = new();
    static bool resolverInstalled;

    /// <summary>
    /// ILGPU imports the driver as "cuda", which .NET looks up as an unversioned libcuda.so; driver packages only
    /// ship libcuda.so.1 (the .so link comes with the toolkit). Map the name once per process. On WSL ILGPU installs
    /// its own resolver for /usr/lib/wsl/lib (a second one would throw), so leave that case to it.
    /// </summary>
    static void InstallCudaResolver()
    {
        lock (resolverGate)
        {
            if (resolverInstalled || IsWsl()) return;
            resolverInstalled = true;
            try
            {
                NativeLibrary.SetDllImportResolver(typeof(Context).Assembly, static (name, _, _) =>
                    name == "cuda" && OperatingSystem.IsLinux() && (NativeLibrary.TryLoad("libcuda.so.1", out var h)
                        || NativeLibrary.TryLoad("libcuda.so", out h)) ? h : IntPtr.Zero);
            }
            catch (InvalidOperationException) { /* someone else (the host application) already set one: keep it */ }
        }
    }

    static bool IsWsl()
    {
        try
        {
            return OperatingSystem.IsLinux() && File.ReadAllText("/proc/version").Contains("Microsoft",
            StringComparison.OrdinalIgnoreCase);
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }
}
