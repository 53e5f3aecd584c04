using InfoVae.Kernels.Cpu;
using InfoVae.Model;

namespace InfoVae.Bench;

/// <summary>
/// `dotnet run -c Release --project Bench -- --alloc [batch] [--arch conv] [mmd|adversarial]`: managed bytes
/// allocated per training step once the JIT has settled (<see cref="JitWarmUp"/>), over 100 steps, on the calling
/// thread and in the whole process (the workers' share). A quicker answer than the MemoryDiagnoser when hunting an
/// allocation.
/// </summary>
static class AllocProbe
{
    public static void Run(int batch, Architecture arch, Divergence divergence = Divergence.Mmd)
    {
        Workers.MaxThreads = 2;
        var config = BenchDevice.Config(new TrainConfig
        {
            Batch = batch, Epochs = int.MaxValue, Arch = arch, Divergence = divergence,
        });
        var t = new Trainer(config, ModelData.Data.Train.Take(20 * batch), BenchDevice.Backend);
        t.InitializeWeights();
        JitWarmUp.Run(() => t.TrainStep());
        long thread0 = GC.GetAllocatedBytesForCurrentThread(), total0 = GC.GetTotalAllocatedBytes(true);
        const int steps = 100;
        for (int i = 0; i < steps; i++) t.TrainStep();
        long thread = GC.GetAllocatedBytesForCurrentThread() - thread0,
            total = GC.GetTotalAllocatedBytes(true) - total0;
        string what = $"{arch}, batch {batch}, divergence {divergence.ToString().ToLowerInvariant()} "
                      + $"on {BenchDevice.Name}";
        Console.WriteLine($"{what}: "
            + $"{thread / (double)steps:F1} B/step on this thread, {total / (double)steps:F1} B/step in the process");
    }
}
