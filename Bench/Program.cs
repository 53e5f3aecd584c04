using BenchmarkDotNet.Running;

// dotnet run -c Release --project Bench -- --filter '*Gemm*' [--job short]
// Runs in-process (--inProcess is added when absent): TorchSharp must load the libLibTorchSharp.so patched under this
// project's bin/ (see Bench.csproj), and the out-of-process toolchain cannot find this project anyway, because its
// assembly name (InfoVae.Bench) differs from its file name.
string[] withDefaults = args.Any(a => a is "--inProcess" or "-i") ? args : [.. args, "--inProcess"];
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(withDefaults);
