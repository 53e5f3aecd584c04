using System.Text.Json;
using ILGPU;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Model.Cli;
using InfoVae.Model.Doctor;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// `infovae doctor`: its JSON lines (the device, then one object per check, with the documented keys), that it
/// catches a device whose GEMM is off in one element and exits non-zero, and its one-line refusals. The runs here
/// use the SIMD CPU backend (against a second run of itself, or under a fault-planting wrapper) at --quick sizes;
/// CI runs it on ILGPU's CPU accelerator through scripts/gpu-check.
/// </summary>
public class DoctorTests
{
    static readonly string[] DeviceKeys =
    [
        "kind", "device", "name", "multiprocessors", "memory_bytes", "warp_size", "max_group_size",
        "compute_capability", "driver", "ptx_isa", "ptx_target", "clock_mhz", "ilgpu", "math_mode", "cpu", "cpu_isa",
        "threads", "dotnet", "os", "fallback", "reference", "sizes",
    ];

    static readonly string[] OpKeys =
    [
        "kind", "op", "case", "device", "reference", "ok", "max_abs_err", "max_rel_err", "err_ratio", "atol", "rtol",
        "worst",
        "ms", "reps", "calls_per_rep", "gflops", "gbps", "error",
    ];

    static List<JsonElement> Lines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    static string[] Keys(JsonElement e) => e.EnumerateObject().Select(p => p.Name).ToArray();

    [Test]
    public void Json_is_the_device_then_one_object_per_check_with_the_documented_keys()
    {
        var r = Cli.Run("doctor", "--device", "cpu", "--quick", "--json", "--threads", "2");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Err, Is.Empty);
        var lines = Lines(r.Out);
        Assert.That(Keys(lines[0]), Is.EqualTo(DeviceKeys));
        Assert.That(lines[0].GetProperty("kind").GetString(), Is.EqualTo("device"));
        Assert.That(lines[0].GetProperty("cpu_isa").GetString(), Is.AnyOf("AVX-512", "AVX2", "scalar"));
        Assert.That(lines[0].GetProperty("threads").GetInt32(), Is.EqualTo(2));
        var ops = lines.Skip(1).ToList();
        Assert.That(ops, Has.Count.EqualTo(DoctorCommand.Checks(DoctorSizes.Small).Count));
        foreach (var op in ops)
        {
            Assert.That(Keys(op), Is.EqualTo(OpKeys), op.ToString());
            Assert.That(op.GetProperty("ok").GetBoolean(), op.ToString());
            Assert.That(op.GetProperty("max_abs_err").GetDouble(), Is.Zero, "the CPU against itself: same bits; " + op);
            Assert.That(op.GetProperty("ms").GetDouble(), Is.GreaterThanOrEqualTo(0));
        }
        var names = ops.Select(o => o.GetProperty("op").GetString()).ToHashSet();
        string[] expected = ["gemm", "sqdist", "mmd_fwd_bwd", "conv2d", "conv_transpose2d", "batchnorm_backward",
            "adam", "mlp_train_step", "conv_train_step"];
        Assert.That(names, Is.SupersetOf(expected));
    }

    /// <summary>A device whose GEMM adds 1e-3 relative to one element of each product.</summary>
    sealed class OffByOneElementGemm() : ForwardingBackend(CpuBackend<float>.Instance, "planted")
    {
        public override void Matmul(Tensor<float> a, bool transA, Tensor<float> b, bool transB, Tensor<float> c,
            float alpha, float beta, Tensor<float>? bias = null, bool relu = false)
        {
            base.Matmul(a, transA, b, transB, c, alpha, beta, bias, relu);
            var first = new float[c.Length];
            c.CopyTo(first);
            first[0] += 1e-3f * (1 + Math.Abs(first[0]));
            c.CopyFrom(first);
        }
    }

    [Test]
    public void A_device_whose_gemm_is_off_in_one_element_fails_those_checks_and_exits_non_zero()
    {
        var device = new OffByOneElementGemm();
        var selected = new SelectedDevice(device, DeviceDescription.Of(device));
        var (output, errors) = (new StringWriter(), new StringWriter());
        var checks = DoctorCommand.Checks(DoctorSizes.Small);
        var cpu = CpuBackend<float>.Instance;
        int code = DoctorCommand.Run(selected, cpu, checks, DoctorSizes.Small, json: true, output, errors);
        Assert.That(code, Is.EqualTo(1));
        var ops = Lines(output.ToString()).Skip(1).ToList();
        bool Ok(string op) =>
            ops.Where(o => o.GetProperty("op").GetString() == op).All(o => o.GetProperty("ok").GetBoolean());
        foreach (var gemm in ops.Where(o => o.GetProperty("op").GetString() == "gemm"))
        {
            Assert.That(gemm.GetProperty("ok").GetBoolean(), Is.False, gemm.ToString());
            Assert.That(gemm.GetProperty("err_ratio").GetDouble(), Is.GreaterThan(1));
            Assert.That(gemm.GetProperty("worst").GetString(), Does.StartWith("c[0]: "));
        }
        Assert.That(Ok("mlp_train_step"), Is.False, "the step runs its layers through the GEMM");
        Assert.That(Ok("unary") && Ok("mmd_fwd_bwd") && Ok("adam"), "ops that use no GEMM still pass");
        var line = errors.ToString().TrimEnd();
        Assert.That(line.Split('\n'), Has.Length.EqualTo(1));
        Assert.That(line, Does.StartWith("infovae: doctor: ").And.Contain($"gemm n={DoctorSizes.Small.Gemm[0]};")
            .And.Contain("--device cpu"));
    }

    [Test]
    public void The_text_report_names_the_device_and_gives_one_line_per_check()
    {
        var r = Cli.Run("doctor", "--device", "cpu", "--quick", "--only", "gemm,adam");
        Assert.That(r.Code, Is.Zero, r.Err);
        var lines = r.Out.TrimEnd().Split('\n');
        Assert.That(lines[1], Does.StartWith("device: cpu ("));
        int checks = DoctorCommand.Filter(DoctorCommand.Checks(DoctorSizes.Small), "gemm,adam").Count;
        Assert.That(lines.Count(l => l.StartsWith("gemm ") || l.StartsWith("adam ")), Is.EqualTo(checks));
        Assert.That(lines[^1], Does.StartWith($"{checks} checks in ").And.EndWith($"{checks} within tolerance, 0 not"));
    }

    [TestCase("--only", "nosuchop", "--only nosuchop matches no check; the ops are fill, upload")]
    [TestCase("--device", "tpu", "unknown --device 'tpu': use auto|cpu|cuda|ilgpu-cpu")]
    [TestCase("--threads", "0", "--threads must be at least 1, not 0")]
    public void Bad_input_gets_one_line(string flag, string value, string message)
    {
        var r = Cli.Run("doctor", "--quick", flag, value);
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.OneLine(), Does.StartWith(message));
        Assert.That(r.Out, Is.Empty, "nothing is checked before the input is accepted");
    }

    /// <summary>
    /// ILGPU 1.5.3 emits ".target sm_80" for an sm_90 device at ISA 8.0 (its own table), which is why the doctor reads
    /// the header off compiled code instead of repeating the device's compute capability.
    /// </summary>
    [Test]
    public void The_ptx_isa_and_target_are_read_off_the_code_a_ptx_backend_emits()
    {
        using var context = Context.Create(b => b.Default().EnableAlgorithms());
        var arch = CudaArchitecture.SM_90;
        using var backend = new PTXBackend(context, new CudaCapabilityContext(arch), arch, CudaInstructionSet.ISA_80,
            null);
        var ptx = DeviceDescription.ProbePtx(backend);
        Assert.That(ptx, Does.Contain(".entry"));
        Assert.That(DeviceDescription.PtxHeader(ptx), Is.EqualTo(((string?)"8.0", (string?)"sm_80")));
        Assert.That(DeviceDescription.PtxHeader(""), Is.EqualTo(((string?)null, (string?)null)));
    }
}
