using InfoVae.Engine;
using InfoVae.Engine.Cpu;

namespace InfoVae.Model.Cli;

/// <summary>--device: which backend the run's tensors live on.</summary>
public static class Devices
{
    public static IBackend<float> Select(string name) => name switch
    {
        "auto" or "cpu" => CpuBackend<float>.Instance,
        "cuda" or "ilgpu-cpu" => throw new UserError($"--device {name}: this build has no GPU backend yet; use --device cpu"),
        _ => throw new UserError($"unknown --device '{name}': use auto, cpu, cuda or ilgpu-cpu"),
    };
}
