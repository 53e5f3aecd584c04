using InfoVae.Engine;

namespace InfoVae.Model.Doctor;

/// <summary>
/// One op's line of the report (also its JSON object, keys in snake_case). Errors: <see cref="MaxAbsErr"/> and
/// <see cref="MaxRelErr"/> (normwise, see <see cref="Comparison"/>), <see cref="ErrRatio"/> = the worst error over
/// what the tolerance allows (≤ 1 passes), <see cref="Atol"/> and <see cref="Rtol"/> the tolerance of the worst output,
/// <see cref="Worst"/> the element. Time: the median <see cref="Ms"/> per call over <see cref="Reps"/> repetitions of
/// <see cref="CallsPerRep"/> calls and one wait for the device. Null where it does not apply or is not finite (a NaN
/// where the reference has a number makes the errors infinite: null, with ok false). <see cref="Error"/>: what
/// the op threw on the device.
/// </summary>
public sealed record OpResult(string Kind, string Op, string Case, string Device, string Reference, bool Ok,
    double? MaxAbsErr, double? MaxRelErr, double? ErrRatio, double? Atol, double? Rtol, string? Worst,
    double? Ms, int Reps, int CallsPerRep, double? Gflops, double? Gbps, string? Error);

/// <summary>
/// Runs checks: each op on the reference backend (the SIMD CPU) for its expected outputs, then on the device, compared
/// and timed. With the CPU as its own device the reference is a second, separate run and the outputs must agree bit
/// for bit (the determinism the CPU backend promises); the times are the CPU's.
/// </summary>
public static class DoctorRun
{
    public static IEnumerable<OpResult> Run(IEnumerable<OpCheck> checks, IBackend<float> device,
        IBackend<float> reference, TimingPlan plan)
    {
        bool exact = ReferenceEquals(device, reference);
        string refName = exact ? $"{reference.Name} (second run, same bits)" : reference.Name;
        foreach (var check in checks)
        {
            OpResult result;
            try { result = RunOne(check, device, reference, plan, exact, refName); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                result = new OpResult("op", check.Op, check.Case, device.Name, refName, false, null, null, null, null,
                    null, null, null, 0, 0, null, null, $"{e.GetType().Name}: {FirstLine(e.Message)}");
                Tape<float>.Current.Reset();
            }
            yield return result;
        }
    }

    static OpResult RunOne(OpCheck check, IBackend<float> device, IBackend<float> reference, TimingPlan plan,
        bool exact, string refName)
    {
        IReadOnlyList<CheckOutput> expected;
        using (var r = check.Prepare(reference))
        {
            r.Call();
            expected = r.Outputs();
        }
        using var d = check.Prepare(device);
        d.Call();
        var cmp = Comparison.Of(expected, d.Outputs(), exact);
        var t = plan.Measure(d.Call, device);
        double? Rate(double amount, double unit) => amount > 0 && t.Ms > 0 ? amount / (t.Ms * 1e-3) / unit : null;
        return new OpResult("op", check.Op, check.Case, device.Name, refName, cmp.Ok, Finite(cmp.MaxAbs),
            Finite(cmp.MaxRel), Finite(cmp.Ratio), cmp.Atol, cmp.Rtol, cmp.Worst, Finite(t.Ms), t.Reps, t.CallsPerRep,
            Rate(check.Flop, 1e9), Rate(check.Bytes, 1e9), null);
    }

    static double? Finite(double v) => double.IsFinite(v) ? v : null;

    static string FirstLine(string s) { int i = s.IndexOfAny(['\r', '\n']); return i < 0 ? s : s[..i]; }
}
