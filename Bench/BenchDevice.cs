using InfoVae.Engine;
using InfoVae.Engine.Gpu;

namespace InfoVae.Bench;

/// <summary>
/// Our side's backend for the model benchmarks (M4, M5): INFOVAE_BENCH_DEVICE = cpu (default), ilgpu-cpu or cuda,
/// through <see cref="Devices.Create(string)"/>. An environment variable because BenchmarkDotNet owns the command line.
/// </summary>
static class BenchDevice
{
    public const string Variable = "INFOVAE_BENCH_DEVICE";

    public static string Name => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } v ? v : "cpu";

    static IBackend<float>? backend;

    /// <summary>One backend per process: a GPU context is started once and shared by every case.</summary>
    public static IBackend<float> Backend => backend ??= Devices.Create(Name);

    /// <summary>A case's config as `infovae train` would complete it on this backend: its default replicas.</summary>
    public static Model.TrainConfig Config(Model.TrainConfig c) => c with
    {
        Replicas = Model.TrainConfig.DefaultReplicas(c.Arch, c.Divergence, c.Batch,
            onCpu: Backend is Engine.Cpu.CpuBackend<float>, mpi: false),
    };
}
