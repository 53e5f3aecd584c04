using InfoVae.Engine;
using InfoVae.Engine.Gpu;

namespace InfoVae.Model.Cli;

/// <summary>The backend a command runs on and what to say about it: the device's one-line description and, when
/// --device auto fell back to the CPU, why.</summary>
public sealed record SelectedDevice(IBackend<float> Backend, DeviceDescription Description)
{
    /// <summary>
    /// "device: cuda (NVIDIA H200, 132 SMs, …)" for an explicit choice or a CUDA that started; for auto on the CPU
    /// "device: cpu (…); --device auto fell back to the CPU: CUDA did not start: no NVIDIA driver (…)".
    /// </summary>
    public string Line => $"device: {Description.Summary()}"
        + (Description.Fallback is { } why ? $"; --device auto fell back to the CPU: CUDA did not start: {why}" : "");
}

/// <summary>--device: the engine's device choice, with its failures turned into one-line user errors.</summary>
public static class DeviceOption
{
    /// <summary>The backend for <paramref name="name"/> (see <see cref="Devices.Choose"/>; <paramref name="startCuda"/>
    /// is for tests).</summary>
    public static SelectedDevice Select(string name, Func<IlgpuBackend>? startCuda = null)
    {
        DeviceKind kind;
        try { kind = Devices.Parse(name); }
        catch (ArgumentException) { throw new UserError($"unknown --device '{name}': use {Devices.Names}"); }
        try
        {
            var choice = Devices.Choose(kind, startCuda);
            return new SelectedDevice(choice.Backend, DeviceDescription.Of(choice.Backend, choice.Fallback));
        }
        catch (DeviceUnavailableException e)
        {
            throw new UserError(
                $"--device {name}: CUDA did not start: {e.Detail}; use --device cpu (or auto, which falls back to it)");
        }
    }
}
