using InfoVae.Engine;
using InfoVae.Engine.Gpu;

namespace InfoVae.Model.Cli;

/// <summary>--device: the engine's device choice, with its failures turned into one-line user errors.</summary>
public static class DeviceOption
{
    public static IBackend<float> Select(string name)
    {
        DeviceKind kind;
        try { kind = Devices.Parse(name); }
        catch (ArgumentException) { throw new UserError($"unknown --device '{name}': use {Devices.Names}"); }
        try { return Devices.Create(kind); }
        catch (DeviceUnavailableException e) { throw new UserError($"{e.Message}; use --device cpu"); }
    }
}
