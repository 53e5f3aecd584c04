using BenchmarkDotNet.Running;
using InfoVae.Bench;
using InfoVae.Model;

// dotnet run -c Release --project Bench -- --filter '*Gemm*' [--job short]
// Runs in-process (--inProcess is added when absent): TorchSharp must load the libLibTorchSharp.so patched under this
// project's bin/ (see Bench.csproj), and the out-of-process toolchain cannot find this project anyway, because its
// assembly name (InfoVae.Bench) differs from its file name.
// --alloc [batch] [mmd|adversarial]: bytes allocated per training step (AllocProbe), no BenchmarkDotNet.
// --conv-profile [batch]: where ConvBench's step spends its time, call by call (ConvProfile), no BenchmarkDotNet.
if (args.Length > 0 && args[0] == "--conv-profile")
{
    ConvProfile.Run(args.Length > 1 ? int.Parse(args[1]) : 256);
    return;
}
if (args.Length > 0 && args[0] == "--alloc")
{
    var divergence = args.Length > 2 && args[2] == "adversarial" ? Divergence.Adversarial : Divergence.Mmd;
    AllocProbe.Run(args.Length > 1 ? int.Parse(args[1]) : 256, divergence);
    return;
}
string[] withDefaults = args.Any(a => a is "--inProcess" or "-i") ? args : [.. args, "--inProcess"];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(withDefaults);
