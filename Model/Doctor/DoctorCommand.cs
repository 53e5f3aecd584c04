using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Model.Cli;

namespace InfoVae.Model.Doctor;

/// <summary>
/// `infovae doctor`: names the device and checks every backend op on it against the SIMD CPU backend, at the
/// model's sizes (or small ones with --quick), one line per op with its error, tolerance, time and rate. Exits 1 when
/// any op is outside its tolerance or fails on the device. --json: one object per line, the device first
/// (<see cref="DeviceDescription"/>'s fields with "kind": "device"), then one per op (<see cref="OpResult"/>).
/// </summary>
public static class DoctorCommand
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static Command Build()
    {
        var device = new Option<string>("--device")
        {
            Description = "auto | cpu | cuda | ilgpu-cpu (cpu: checked against a second run of itself, bit for bit)",
            DefaultValueFactory = _ => "auto",
        };
        var quick = new Option<bool>("--quick")
        {
            Description = "Small sizes (for ILGPU's CPU accelerator) instead of the model's",
        };
        var json = new Option<bool>("--json") { Description = "One JSON object per line: the device, then one per op" };
        var only = new Option<string?>("--only")
        {
            Description = "Only these ops (comma-separated op names, e.g. gemm,mmd_fwd_bwd, or words of a line)",
        };
        var threads = new Option<int>("--threads")
        {
            Description = "CPU threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var cmd = new Command("doctor", "Name the device and check every backend op on it against the SIMD CPU "
            + "backend, with times") { device, quick, json, only, threads };
        cmd.SetAction(r =>
        {
            int t = r.GetValue(threads);
            Workers.MaxThreads = t >= 1 ? t : throw new UserError($"--threads must be at least 1, not {t}");
            var sizes = r.GetValue(quick) ? DoctorSizes.Small : DoctorSizes.Full;
            var checks = Filter(Checks(sizes), r.GetValue(only));
            var selected = DeviceOption.Select(r.GetValue(device)!);
            try
            {
                var cpu = CpuBackend<float>.Instance;
                return Run(selected, cpu, checks, sizes, r.GetValue(json), Console.Out, Console.Error);
            }
            finally
            {
                Tape<float>.Current.Reset();
                (selected.Backend as IDisposable)?.Dispose();
            }
        });
        return cmd;
    }

    public static IReadOnlyList<OpCheck> Checks(DoctorSizes sizes) =>
        [.. KernelChecks.All(sizes), .. ModelChecks.All(sizes)];

    /// <summary>The checks whose op name is one of the comma-separated terms, or whose line contains one.</summary>
    public static IReadOnlyList<OpCheck> Filter(IReadOnlyList<OpCheck> checks, string? only)
    {
        if (string.IsNullOrWhiteSpace(only)) return checks;
        var terms = only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        bool Kept(OpCheck c) =>
            terms.Any(t => c.Op == t || $"{c.Op} {c.Case}".Contains(t, StringComparison.OrdinalIgnoreCase));
        var kept = checks.Where(Kept).ToList();
        if (kept.Count == 0)
            throw new UserError($"--only {only} matches no check; the ops are "
                + string.Join(", ", checks.Select(c => c.Op).Distinct()));
        return kept;
    }

    /// <summary>Runs the checks on <paramref name="device"/> against <paramref name="reference"/> and reports; 0 when
    /// all pass.</summary>
    public static int Run(SelectedDevice device, IBackend<float> reference, IReadOnlyList<OpCheck> checks,
        DoctorSizes sizes, bool json, TextWriter output, TextWriter errors)
    {
        var clock = Stopwatch.StartNew();
        var plan = sizes.Quick ? TimingPlan.Quick : TimingPlan.Doctor;
        if (json) output.WriteLine(DeviceJson(device.Description, reference, sizes));
        else Header(device, reference, sizes, output);
        var failed = new List<OpResult>();
        int count = 0;
        foreach (var result in DoctorRun.Run(checks, device.Backend, reference, plan))
        {
            count++;
            if (!result.Ok) failed.Add(result);
            output.WriteLine(json ? JsonSerializer.Serialize(result, Json) : Line(result));
            output.Flush();
        }
        if (!json)
            output.WriteLine($"{count} checks in {clock.Elapsed.TotalSeconds:F1} s: {count - failed.Count} within "
                + $"tolerance, {failed.Count} not");
        if (failed.Count == 0) return 0;
        string which = string.Join("; ", failed.Take(5).Select(f => $"{f.Op} {f.Case}"))
            + (failed.Count > 5 ? $"; and {failed.Count - 5} more" : "");
        errors.WriteLine($"infovae: doctor: {failed.Count} of {count} checks on {device.Backend.Name} differ from "
            + $"{reference.Name} beyond their tolerance or failed ({which}); train with --device cpu until this is "
            + "fixed, and report this output");
        return 1;
    }

    static string DeviceJson(DeviceDescription d, IBackend<float> reference, DoctorSizes sizes)
    {
        var node = JsonSerializer.SerializeToNode(d, Json)!.AsObject();
        node.Insert(0, "kind", "device");
        node["reference"] = reference.Name;
        node["sizes"] = sizes.Quick ? "quick" : "full";
        return node.ToJsonString(Json);
    }

    static void Header(SelectedDevice device, IBackend<float> reference, DoctorSizes sizes, TextWriter o)
    {
        var d = device.Description;
        o.WriteLine($"infovae doctor: every backend op on {d.Device} against the SIMD CPU backend ({reference.Name}), "
            + (sizes.Quick ? "at small sizes (--quick)" : "at the model's sizes"));
        o.WriteLine(device.Line);
        if (d.MathMode != null)
            o.WriteLine($"  ILGPU {d.Ilgpu}, math mode {d.MathMode}; warp {d.WarpSize}, up to {d.MaxGroupSize} "
                + "threads per group" + (d.ClockMhz is { } mhz ? $", {mhz} MHz" : ""));
        o.WriteLine($"host: {d.Cpu}; SIMD {d.CpuIsa}, {d.Threads} thread(s); .NET {d.Dotnet}; {d.Os}");
        o.WriteLine("error: max abs, and max rel = max abs / the output's largest magnitude; err/tol ≤ 1 passes; "
            + "time: median per call");
        o.WriteLine($"{"op, case",-72} {"max abs",9} {"max rel",9} {"tolerance (atol, rtol)",22} {"err/tol",8} {"",4} "
            + $"{"ms/call",11}  rate");
    }

    static string G(double? v, string format = "0.0e+0") =>
        v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";

    static string Line(OpResult r)
    {
        string rate = r.Gflops is { } gf ? $"{gf:F1} GFLOP/s" : r.Gbps is { } gb ? $"{gb:F2} GB/s" : "";
        string tol = r.Rtol is { } rt && (rt > 0 || r.Atol > 0) ? $"{G(r.Atol)}, {G(rt, "0e+0")}"
            : r.Error == null ? "exact" : "-";
        string line = $"{r.Op + " " + r.Case,-72} {G(r.MaxAbsErr),9} {G(r.MaxRelErr),9} {tol,22} "
            + $"{G(r.ErrRatio, "0.00"),8} {(r.Ok ? "ok" : "FAIL"),-4} {G(r.Ms, "0.000"),11}  {rate}";
        if (r.Error != null) line += $"  error: {r.Error}";
        else if (!r.Ok) line += $"  worst: {r.Worst}";
        return line.TrimEnd();
    }
}
