using InfoVae.Engine;

namespace InfoVae.Model.Doctor;

/// <summary>One result of a check, downloaded, with the tolerance it is held to.</summary>
public sealed record CheckOutput(string Name, float[] Values, Tolerance Tolerance);

/// <summary>
/// One op set up on one backend. <see cref="Call"/> runs it once (what is timed; calls may accumulate into their
/// gradient outputs); <see cref="Outputs"/> reads what the first call produced.
/// </summary>
public interface IPreparedOp : IDisposable
{
    void Call();
    IReadOnlyList<CheckOutput> Outputs();
}

/// <summary>
/// One op at one size, as the doctor checks and times it: <see cref="Prepare"/> builds the same inputs on any
/// backend (from fixed seeds), so the device's outputs can be held against the reference backend's.
/// <see cref="Flop"/> and <see cref="Bytes"/> per call give the GFLOP/s or GB/s column (0: not reported).
/// </summary>
public sealed record OpCheck(string Op, string Case, Func<IBackend<float>, IPreparedOp> Prepare, double Flop = 0,
    double Bytes = 0);

/// <summary>An <see cref="IPreparedOp"/> made of three functions.</summary>
public sealed class PreparedOp(Action call, Func<IReadOnlyList<CheckOutput>> outputs, Action? dispose = null)
    : IPreparedOp
{
    public void Call() => call();
    public IReadOnlyList<CheckOutput> Outputs() => outputs();
    public void Dispose() => dispose?.Invoke();
}
