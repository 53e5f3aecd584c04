using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Model;
using InfoVae.Model.Cli;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// --device auto says when it falls back to the CPU, and why (no driver, no CUDA device, a context that would not
/// start): each failure simulated by a CUDA starter that throws it; and train's banner names the device in use,
/// for an explicit choice too.
/// </summary>
public class DeviceChoiceTests
{
    static readonly (CudaFailure Reason, string Detail)[] Failures =
    [
        (CudaFailure.NoDriver, "no NVIDIA driver (libcuda.so.1 not found)"),
        (CudaFailure.NoDevice, "no CUDA device: the NVIDIA driver library loads but ILGPU finds no GPU it supports"),
        (CudaFailure.ContextFailure,
            Devices.ContextFailure(new EntryPointNotFoundException("no entry point named 'cuCtxCreate_v2'")).Detail),
    ];

    static IEnumerable<TestCaseData> Cases() =>
        Failures.Select(f => new TestCaseData(f.Reason, f.Detail).SetArgDisplayNames(f.Reason.ToString()));

    [TestCaseSource(nameof(Cases))]
    public void Auto_falls_back_to_the_cpu_and_says_why(CudaFailure reason, string detail)
    {
        var selected = DeviceOption.Select("auto", () => throw new DeviceUnavailableException(reason, detail));
        Assert.That(selected.Backend, Is.SameAs(CpuBackend<float>.Instance));
        Assert.That(selected.Description.Fallback, Is.EqualTo(detail));
        Assert.That(selected.Line, Does.StartWith("device: cpu (")
            .And.EndWith($"; --device auto fell back to the CPU: CUDA did not start: {detail}"));
        Assert.That(selected.Line, Does.Not.Contain("\n"));
    }

    [TestCaseSource(nameof(Cases))]
    public void Cuda_asked_for_explicitly_is_refused_in_one_line_with_the_reason(CudaFailure reason, string detail)
    {
        var e = Assert.Throws<UserError>(() =>
            DeviceOption.Select("cuda", () => throw new DeviceUnavailableException(reason, detail)))!;
        Assert.That(e.Message,
            Is.EqualTo($"--device cuda: CUDA did not start: {detail}; use --device cpu (or auto, which falls back to "
                + "it)"));
    }

    [Test]
    public void A_context_failure_names_the_exception_in_one_line()
    {
        var e = Devices.ContextFailure(new InvalidOperationException("first line\nsecond line"));
        Assert.That(e.Reason, Is.EqualTo(CudaFailure.ContextFailure));
        Assert.That(e.Message,
            Is.EqualTo("cuda: the CUDA context could not be created (InvalidOperationException: first line)"));
    }

    [Test]
    public void Explicit_choices_report_the_device_without_a_fallback()
    {
        var cpu = DeviceOption.Select("cpu", () => throw new AssertionException("cpu must not start CUDA"));
        Assert.That(cpu.Line, Does.StartWith("device: cpu (").And.Not.Contain("fell back"));
        var ilgpu = DeviceOption.Select("ilgpu-cpu");
        try { Assert.That(ilgpu.Line, Does.StartWith("device: ilgpu-cpu (ILGPU CPU accelerator, ")); }
        finally { ((IDisposable)ilgpu.Backend).Dispose(); }
    }

    [Test]
    public void Train_prints_the_device_in_use_in_its_banner()
    {
        using var root = new TempFolder();
        IdxFiles.WriteDataSet(root["data"], train: 6, test: 4, rows: 4, cols: 4);
        string[] small =
            ["--data", root["data"], "--epochs", "1", "--batch", "3", "--hidden", "5", "--latent", "2",
             "--no-pictures"];
        var r = Cli.Run(["train", "--device", "cpu", "--out", root["run"], .. small]);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.Contain("\n  device: cpu (").And.Contain("SIMD "));
        // auto on this machine: CUDA either starts (then the banner names it) or the fallback line says why not.
        var auto = Cli.Run(["train", "--device", "auto", "--out", root["auto"], .. small]);
        Assert.That(auto.Code, Is.Zero, auto.Err);
        Assert.That(auto.Out,
            Does.Match(@"\n  device: (cuda \(|cpu \(.*; --device auto fell back to the CPU: CUDA did not start: )"));
    }
}
