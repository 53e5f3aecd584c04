using System.Diagnostics;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Repository;

/// <summary>
/// A fresh clone can follow its own references: every file or path a .cs, .md or .py file names exists in it.
/// </summary>
public class ReferenceTests
{
    [Test]
    public void Every_file_and_path_named_in_cs_md_and_py_files_exists_in_the_repository()
    {
        string root = RepositoryRoot();
        var files = RepositoryFiles(root);
        var refs = new RepoReferences(files, f => File.ReadAllText(Path.Combine(root, f)));
        var broken = files.Where(f => f.EndsWith(".cs") || f.EndsWith(".md") || f.EndsWith(".py"))
            .SelectMany(f => refs.Broken(f, File.ReadAllText(Path.Combine(root, f)))
                .Select(b => $"{f}:{b.Line}: {b.Reference}"))
            .ToList();
        Assert.That(files, Has.Count.GreaterThan(100), "the repository's file list looks incomplete");
        Assert.That(broken, Is.Empty,
            "references to files that are not in the repository:\n" + string.Join('\n', broken));
    }

    // A small made-up repository for the detector's own cases.
    static readonly string[] Files =
    [
        "README.md", "docs/conv.md", "docs/engine.md", "Kernels/Cpu/Gemm.cs", "Engine/Cpu/CpuBackend.cs",
        "anchors/README.md", "anchors/torchsharp/Program.cs", "Model/Sweep/SweepReport.cs", "scripts/gpu-check",
    ];

    static readonly Dictionary<string, string> Code = new()
    {
        ["Model/Sweep/SweepReport.cs"] = "const string Markdown = \"sweep.md\";",
        ["scripts/gpu-check"] = "mv \"$out/summary.md.tmp\" \"$out/summary.md\"",
    };

    // The cases write each broken reference with an empty "{}" inside, which makes it a placeholder the detector
    // skips, so that this file's own text passes the repository test; the "{}" is removed before the detector runs.
    static string[] Broken(string file, string text) =>
        [.. new RepoReferences(Files, f => Code.GetValueOrDefault(f, ""))
            .Broken(file, text.Replace("{}", "")).Select(b => b.Reference)];

    [TestCase("Kernels/Cpu/Gemm.cs", "/// Spec: /work/wt/CONV-SPEC{}.md (issue #8).", "/work/wt/CONV-SPEC{}.md")]
    [TestCase("Kernels/Cpu/Gemm.cs", "/// blocking (ilgpu-and-simd{}.md section 4)", "ilgpu-and-simd{}.md")]
    [TestCase("Kernels/Cpu/Gemm.cs", "// layouts (CONV-SPEC{}.md; the semantics", "CONV-SPEC{}.md")]
    [TestCase("Kernels/Cpu/Gemm.cs", "// the twins (../shared{}/anchors) agree", "../shared{}/anchors")]
    [TestCase("Kernels/Cpu/Gemm.cs", "// see Kernels/Cpu/Gemv{}.cs, the tall case", "Kernels/Cpu/Gemv{}.cs")]
    [TestCase("Kernels/Cpu/Gemm.cs", "// as in Engine/Gpu/IlgpuBackend{}.Unary", "Engine/Gpu/IlgpuBackend{}.Unary")]
    [TestCase("README.md", "the workloads in `BENCHMARKS{}.md` (M1 GEMM", "BENCHMARKS{}.md")]
    [TestCase("README.md", "see [the spec](docs/cnov{}.md#layouts).", "docs/cnov{}.md")]
    [TestCase("README.md", "![samples](docs/samples{}.png)", "docs/samples{}.png")]
    [TestCase("docs/conv.md", "as [the README](README{}.md) says", "README{}.md")]
    [TestCase("docs/conv.md", "see [engine](../../engine{}.md)", "../../engine{}.md")]
    [TestCase("anchors/README.md", "`torchsharp/Workload{}.cs` mirrors it", "torchsharp/Workload{}.cs")]
    [TestCase("Kernels/Cpu/Gemm.cs", "// in docs/*{}.txt", "docs/*{}.txt")]
    public void A_missing_file_is_reported(string file, string text, string expected) =>
        Assert.That(Broken(file, text), Is.EqualTo(new[] { expected.Replace("{}", "") }));

    [TestCase("README.md", "see [the spec](docs/conv.md#layouts) and [engine](docs/engine.md)")]
    [TestCase("docs/conv.md", "see [engine](engine.md), [the README](../README{}.md), [up](#layouts)")]
    [TestCase("README.md", "PyTorch's docs: https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html")]
    [TestCase("README.md", "`apt-get install dataset-fashion-mnist` puts it in /usr/share/datasets/fashion-mnist")]
    [TestCase("Kernels/Cpu/Gemm.cs", "Assert.That(Run(\"--data\", \"/nonexistent/fmnist\"))")]
    [TestCase("README.md", "`infovae eval --run runs/vae`, `runs/<date>-<time>/`, `~/mnist`, `$out/x.md`")]
    [TestCase("README.md", "`dotnet Model/bin/Release/net10.0/infovae.dll`, `Kernels/obj/x.cs`")]
    [TestCase("README.md", "`sweep.md` and `summary.md` are written by the programs")]
    [TestCase("Kernels/Cpu/Gemm.cs", "// (Kernels/Cpu/Gemm, Engine/Cpu/CpuBackend.Binary, Engine/Cpu/*.cs, docs/)")]
    [TestCase("Kernels/Cpu/Gemm.cs", "// dy/dx = y(1 − y); 1/√fan_in; PyTorch's torch/optim/adam.py; a/b")]
    [TestCase("anchors/README.md", "`torchsharp/Program.cs`, and Gemm.cs, conv.md by name")]
    public void What_resolves_or_is_no_repository_path_is_not_reported(string file, string text) =>
        Assert.That(Broken(file, text), Is.Empty);

    [Test]
    public void Line_numbers_count_from_one() =>
        Assert.That(new RepoReferences(Files, _ => "")
                .Broken("README.md", "a\nb\nsee `docs/nothing{}.md`\n".Replace("{}", "")).Single(),
            Is.EqualTo((3, "docs/nothing{}.md".Replace("{}", ""))));

    /// <summary>The folder above the test binary that holds InfoVae.sln.</summary>
    static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "InfoVae.sln"))) return d.FullName;
        Assert.Ignore("the tests do not run inside a checkout (no InfoVae.sln above them)");
        return "";
    }

    /// <summary>Tracked files and new ones git does not ignore, that exist on disk (ignored build outputs left
    /// out).</summary>
    static List<string> RepositoryFiles(string root)
    {
        string[] args = ["-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"];
        var psi = new ProcessStartInfo("git", args)
        { RedirectStandardOutput = true, RedirectStandardError = true };
        string output;
        try
        {
            using var git = Process.Start(psi)!;
            output = git.StandardOutput.ReadToEnd();
            git.WaitForExit();
            if (git.ExitCode != 0) Assert.Ignore($"not a git checkout: {git.StandardError.ReadToEnd().Trim()}");
        }
        catch (System.ComponentModel.Win32Exception) { Assert.Ignore("git is not installed"); return []; }
        return [.. output.Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Where(f => File.Exists(Path.Combine(root, f)))];
    }
}
