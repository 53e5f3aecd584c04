using BenchmarkDotNet.Running;
using InfoVae.Bench;
using InfoVae.Model;

// dotnet run -c Release --project Bench -- --filter '*Gemm*' [--job short]
// Runs in-process (--inProcess is added when absent): TorchSharp must load the libLibTorchSharp.so patched under this
// project's bin/ (see Bench.csproj), and the out-of-process toolchain cannot find this project anyway, because its
// assembly name (InfoVae.Bench) differs from its file name.
// --alloc [batch] [--arch conv] [mmd|adversarial]: bytes allocated per training step (AllocProbe), no BenchmarkDotNet.
// --conv-profile | --train-profile [batch] [--threads N] [--clock wall|cpu] [--steps N] [--no-peer] [--arch mlp|conv]:
// where ConvBench's step (or a model's training step) spends its time, call by call (ConvProfile), no BenchmarkDotNet.
if (args.Length > 0 && args[0] is "--conv-profile" or "--train-profile")
{
    ConvProfile.Run(args);
    return;
}
if (args.Length > 0 && args[0] == "--alloc")
{
    var divergence = args.Contains("adversarial") ? Divergence.Adversarial : Divergence.Mmd;
    AllocProbe.Run(args.Length > 1 && int.TryParse(args[1], out int b) ? b : 256,
        args.Contains("conv") ? InfoVae.Model.Architecture.Conv : InfoVae.Model.Architecture.Mlp, divergence);
    return;
}
string[] withDefaults = args.Any(a => a is "--inProcess" or "-i") ? args : [.. args, "--inProcess"];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(withDefaults);
