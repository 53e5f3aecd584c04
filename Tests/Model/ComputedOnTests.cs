using InfoVae.Kernels.Cpu;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// A checkpoint records what its numbers were computed on (metadata "device" and "simd": avx512, avx2 or scalar).
/// Resume holds bit for bit on the same instruction set; on another one it goes on, after one line saying that the
/// continuation will not be bit-identical.
/// </summary>
public class ComputedOnTests
{
    TempFolder root = null!;
    string data = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 40, test: 10, rows: 6, cols: 5);
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    static string[] Train(string data, string run) =>
        ["train", "--data", data, "--out", run, "--hidden", "8", "--latent", "2", "--batch", "8", "--epochs", "1",
         "--threads", "1", "--no-pictures"];

    static string Ckpt(string run) => Path.Combine(run, "checkpoint.safetensors");

    /// <summary>A width other than this process's, and the environment that makes a child process use it.</summary>
    static (string Simd, Dictionary<string, string> Environment) Narrower() => SimdWidth.Current switch
    {
        "avx512" => ("avx2", new() { ["DOTNET_EnableAVX512"] = "0" }),
        "avx2" => ("scalar", new() { ["DOTNET_EnableAVX2"] = "0", ["DOTNET_EnableAVX512"] = "0" }),
        _ => ("", new()),
    };

    [Test]
    public void The_checkpoint_records_the_device_and_the_simd_width()
    {
        var run = root["this"];
        var r = Cli.Run(Train(data, run));
        Assert.That(r.Code, Is.Zero, r.Err);
        var meta = SafeTensors.Read(Ckpt(run)).Metadata;
        Assert.That((meta["device"], meta["simd"]), Is.EqualTo(("cpu", SimdWidth.Current)));
        Assert.That(SimdWidth.Current, Is.AnyOf("avx512", "avx2", "scalar", "arm64"));
    }

    [Test]
    public void A_process_with_narrower_vectors_records_them_and_a_resume_here_says_it_will_not_be_bit_identical()
    {
        var (simd, environment) = Narrower();
        if (simd == "") Assert.Ignore($"this machine's vectors ({SimdWidth.Current}) have no narrower x64 path");
        var run = root["narrower"];
        using (var child = new Cli.Child(environment, Train(data, run)))
            Assert.That(child.Wait(TimeSpan.FromSeconds(120)), Is.Zero, child.Output);
        Assert.That(SafeTensors.Read(Ckpt(run)).Metadata["simd"], Is.EqualTo(simd), string.Join(" ", environment));

        var r = Cli.Run("train", "--resume", run, "--epochs", "2", "--threads", "1", "--no-pictures");
        Assert.That(r.Code, Is.Zero, r.Err);
        var line = r.Err.TrimEnd();
        Assert.That(line.Split('\n'), Has.Length.EqualTo(1), r.Err);
        string Named(string s) => s switch { "avx512" => "AVX-512", "avx2" => "AVX2", _ => s };
        Assert.That(line, Is.EqualTo($"infovae: note: the checkpoint was computed on cpu ({Named(simd)}) and this "
            + $"continues on cpu ({Named(SimdWidth.Current)}), so the rest of the run will not be bit-identical to one "
            + "that never stopped (the rounding differs; see the README)"));
        var last = SafeTensors.Read(Ckpt(run)).Metadata["simd"];
        Assert.That(last, Is.EqualTo(SimdWidth.Current), "what the last steps ran on");
    }

    [Test]
    public void A_checkpoint_from_another_device_gets_the_note_too()
    {
        var run = root["device"];
        Assert.That(Cli.Run(Train(data, run)).Code, Is.Zero);
        var file = SafeTensors.Read(Ckpt(run));
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta["device"] = "cuda";
        SafeTensors.Write(Ckpt(run), file.Tensors, meta);
        var r = Cli.Run("train", "--resume", run, "--epochs", "2", "--threads", "1", "--no-pictures");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Err.TrimEnd().Split('\n').Single(),
            Does.StartWith("infovae: note: the checkpoint was computed on cuda (")
                .And.Contain("will not be bit-identical"));
    }
}
