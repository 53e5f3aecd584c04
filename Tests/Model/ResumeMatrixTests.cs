using System.CommandLine;
using System.IO.Pipes;
using System.Text.Json.Nodes;
using InfoVae.Model.Cli;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// Every flag of `infovae train` against --resume (issue #19): each is stored in the run and restored by a bare
/// `train --resume RUN`, or on the short, justified list of flags that may change on resume. For every flag a run
/// with a non-default value is killed after a seeded step (in this process: nothing more is written, as with
/// kill -9 between two steps) and resumed with --resume alone; its final checkpoint must equal, byte for byte
/// (tensors and metadata), the checkpoint of the same run left alone, and its config.json the other's. A stored
/// flag given again with another value is refused in one line. A flag added to TrainOptions without a case here
/// fails <see cref="Every_flag_is_stored_or_changeable_and_has_a_case"/>. KillResumeTests does the same with
/// SIGKILL from outside for a few flags.
/// </summary>
public class ResumeMatrixTests
{
    TempFolder root = null!;
    string small = null!, other = null!, square = null!;

    /// <summary>
    /// A flag's case: the value to run with (plus flags it needs); for a stored flag, another value that resume must
    /// refuse; for a changeable one, what the resume is given.
    /// </summary>
    public sealed record Case(string Flag, string[] Args, string[]? Refused, string[]? OnResume = null)
    {
        public override string ToString() => Flag;
    }

    // Small data (40 + 10 images of 6×5, 5 steps per epoch), other data of that size, and 28×28 data for the conv net.
    const string Small = "{small}", Other = "{other}", Square = "{square}";

    /// <summary>
    /// The run every case starts from (2 epochs of 5 steps, a checkpoint every 2 steps, a log line every step);
    /// a case's flags replace these.
    /// </summary>
    static readonly string[] Base = ["--data", Small, "--hidden", "8", "--latent", "2", "--batch", "8", "--epochs", "2",
        "--seed", "3", "--checkpoint-every", "2", "--log-every", "1", "--threads", "1", "--no-pictures"];

    static Case S(string flag, string value, string refused, params string[] needs) =>
        new(flag, [flag, value, .. needs], [flag, refused]);

    /// <summary>One case per flag of TrainOptions.All but --out and --resume.</summary>
    public static readonly Case[] Cases =
    [
        S("--data", Other, Small),
        S("--preset", "elbo", "infovae"),
        S("--alpha", "0.5", "0"),
        S("--lambda", "10", "1000"),
        S("--beta", "2", "1"),
        S("--recon", "gaussian", "bernoulli"),
        S("--kernel", "rbf", "imq"),
        S("--scales", "0.5,2", "0.1,0.2,0.5,1,2,5,10"),
        S("--bandwidth", "2", "1"),
        S("--mmd-estimator", "biased", "unbiased"),
        S("--prior-samples", "5", "0"),
        S("--arch", "conv", "mlp", "--channels", "2,3,4", "--data", Square),
        S("--channels", "2,3,5", "2,3,4", "--arch", "conv", "--data", Square),
        S("--hidden", "8,4", "8"),
        S("--latent", "3", "2"),
        S("--lr", "0.01", "0.001"),
        S("--beta1", "0.8", "0.9"),
        S("--beta2", "0.99", "0.999"),
        S("--adam-eps", "1e-6", "1e-8"),
        S("--batch", "5", "8"),
        S("--seed", "9", "3"),
        S("--limit", "24", "0"),
        S("--checkpoint-every", "3", "2"),
        S("--log-every", "2", "1"),
        S("--replicas", "3", "2"),
        S("--divergence", "adversarial", "mmd", "--lambda", "10"),
        S("--disc-hidden", "6,4", "8", "--divergence", "adversarial", "--lambda", "10"),
        S("--disc-lr", "0.01", "0.001", "--divergence", "adversarial", "--lambda", "10"),
        // Changeable on resume: the killed run is resumed with another value and must still end where the run left
        // alone does. Those also stored (--epochs, --no-pictures) start with the base value and get the case's on the
        // first resume: a 2-epoch run extended to 3; a run without pictures that draws them from the resume on.
        new("--epochs", ["--epochs", "3"], null, OnResume: ["--epochs", "3"]),
        new("--no-pictures", ["--data", Square, "--no-pictures", "false"], null, OnResume: ["--no-pictures", "false"]),
        new("--threads", ["--threads", "1"], null, OnResume: ["--threads", "2"]),
        new("--device", ["--device", "cpu"], null, OnResume: ["--device", "auto"]),
        new("--detect-anomaly", [], null, OnResume: ["--detect-anomaly"]),
        new("--stop-when-stdin-closes", [], null, OnResume: ["--stop-when-stdin-closes"]),
    ];

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        IdxFiles.WriteDataSet(small = root["small"], train: 40, test: 10, rows: 6, cols: 5);
        IdxFiles.WriteDataSet(other = root["other"], train: 40, test: 10, rows: 6, cols: 5, seed: 4);
        IdxFiles.WriteDataSet(square = root["square"], train: 24, test: 6, rows: 28, cols: 28);
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    string Resolve(string a) => a switch { Small => small, Other => other, Square => square, _ => a };

    /// <summary>Base with the case's flags in place of the base's own (a new one, --detect-anomaly, added).</summary>
    string[] Flags(string[] caseArgs)
    {
        var options = new List<(string Flag, string? Value)>();
        void Put(string[] args)
        {
            for (int i = 0; i < args.Length; i++)
            {
                bool bare = i + 1 == args.Length || args[i + 1].StartsWith("--");
                (string, string?) item = (args[i], bare ? null : Resolve(args[i + 1]));
                int at = options.FindIndex(o => o.Flag == args[i]);
                if (at >= 0) options[at] = item; else options.Add(item);
                if (!bare) i++;
            }
        }
        Put(Base);
        Put(caseArgs);
        // The conv net takes --channels, the MLP --hidden: each refuses the other's flag.
        options.RemoveAll(o => o.Flag == (options.Contains(("--arch", "conv")) ? "--hidden" : "--channels"));
        return [.. options.SelectMany(o => o.Value == null ? new[] { o.Flag } : [o.Flag, o.Value])];
    }

    static string[] Without(string[] args, string flag)
    {
        int i = Array.IndexOf(args, flag);
        if (i < 0) return args;
        bool bare = i + 1 == args.Length || args[i + 1].StartsWith("--");
        return [.. args[..i], .. args[(i + (bare ? 1 : 2))..]];
    }

    sealed class SimulatedKill(long step) : Exception($"simulated kill -9 after step {step}");

    /// <summary>
    /// `train` in this process, ended without a word after step <paramref name="killAfter"/>. Its "standard input"
    /// (--stop-when-stdin-closes) is a pipe that stays open until it returns, as the sweep's is while a run trains.
    /// </summary>
    static Cli.Result Train(string[] args, long? killAfter = null)
    {
        TrainLoop.AfterStep = killAfter is long k ? step => { if (step == k) throw new SimulatedKill(step); } : null;
        using var stdin = new AnonymousPipeServerStream(PipeDirection.Out);
        StopSignal.OpenStdin = () => new AnonymousPipeClientStream(PipeDirection.In, stdin.ClientSafePipeHandle);
        try { return Cli.Run(["train", .. args]); }
        finally { TrainLoop.AfterStep = null; StopSignal.OpenStdin = null; }
    }

    static string Checkpoint(string run) => Path.Combine(run, "checkpoint.safetensors");
    static string Config(string run) => File.ReadAllText(Path.Combine(run, "config.json"));

    [Test]
    public void Every_flag_is_stored_or_changeable_and_has_a_case()
    {
        var o = new TrainOptions();
        var cased = Cases.Select(c => c.Flag).ToHashSet();
        foreach (var opt in o.All)
        {
            if (opt == o.Out || opt == o.Resume) continue;
            bool stored = o.Stored.ContainsKey(opt), changeable = o.ChangeableOnResume.ContainsKey(opt);
            Assert.That(stored || changeable, $"{opt.Name} is neither stored in the run (TrainOptions.Stored) nor on "
                + "the list of flags that may change on --resume (TrainOptions.ChangeableOnResume, with the reason): "
                + "a resume would silently forget it");
            Assert.That(cased, Does.Contain(opt.Name),
                $"{opt.Name} has no case in ResumeMatrixTests.Cases: add one with a value other than the default");
        }
        Assert.That(cased, Is.SubsetOf(o.All.Select(x => x.Name)), "a case for a flag that does not exist");
        Assert.That(Cases.Where(c => c.Refused == null).Select(c => c.Flag),
            Is.EquivalentTo(o.ChangeableOnResume.Keys.Select(x => x.Name)),
            "the stored flags have a value to refuse, the changeable ones none");
    }

    [Test]
    public void Help_names_each_flag_that_may_change_on_resume()
    {
        var r = Cli.Run("train", "--help");
        Assert.That(r.Code, Is.Zero, r.Err);
        var help = string.Join(" ", r.Out.Split('\n').Select(l => l.Trim()));    // help text wraps
        int at = help.IndexOf("--resume <resume>", StringComparison.Ordinal);
        Assert.That(at, Is.GreaterThanOrEqualTo(0), r.Out);
        var resume = help[at..help.IndexOf("--preset", at, StringComparison.Ordinal)];
        foreach (var opt in new TrainOptions().ChangeableOnResume.Keys)
            Assert.That(resume, Does.Contain(opt.Name), "--resume's help");
    }

    [TestCaseSource(nameof(Cases))]
    public void Killed_and_resumed_it_ends_as_the_run_left_alone(Case c)
    {
        string name = c.Flag.TrimStart('-');
        string alone = root[name + "-alone"], killed = root[name + "-killed"], baseline = root[name + "-base"];
        var args = Flags(c.Args);
        var o = new TrainOptions();
        bool stored = o.Stored.Keys.Any(x => x.Name == c.Flag);
        bool changeable = o.ChangeableOnResume.Keys.Any(x => x.Name == c.Flag);
        // A stored flag that may change (--epochs 3 extends a 2-epoch run; --no-pictures false): the killed run starts
        // with the base value and is given the case's on resume; the one left alone has it from the start.
        bool switched = stored && changeable;
        var killedArgs = switched ? Flags(Without(c.Args, c.Flag)) : args;

        var r = Train([.. args, "--out", alone]);
        Assert.That(r.Code, Is.Zero, r.Err);
        var meta = SafeTensors.Read(Checkpoint(alone)).Metadata;
        long total = long.Parse(meta["step"]);
        var config = (JsonObject)JsonNode.Parse(Config(alone))!;
        Assert.That(int.Parse(meta["epoch"]), Is.EqualTo((int)config["epochs"]!), "the run left alone finished");

        // A stored flag is in config.json: with another value (the one resume refuses) the file differs. Any other
        // flag is not: the run as it is resumed (the changed value) writes the same file.
        string[] baselineArgs = c.Refused != null ? Flags([.. c.Args, .. c.Refused])
            : switched ? killedArgs
            : Flags([.. c.Args, .. c.OnResume!]);
        var b = Train([.. baselineArgs, "--out", baseline]);
        Assert.That(b.Code, Is.Zero, b.Err);
        if (stored)
            Assert.That(Config(alone), Is.Not.EqualTo(Config(baseline)), $"{c.Flag} is stored, not in config.json");
        else
            Assert.That(Config(alone), Is.EqualTo(Config(baseline)), $"{c.Flag} is per invocation, yet in config.json");

        // Killed after a seeded step (after the first checkpoint, in the first half); resumed, killed again; resumed
        // to the end. The checkpoint left by each kill is the last one due (every checkpoint_every steps and at each
        // epoch's end): the second shows that the resumed run checkpoints as the flags said.
        long perEpoch = total / (int)config["epochs"]!, every = (long?)config["checkpoint_every"] ?? perEpoch;
        long LastCheckpoint(long step) => Math.Max(step / every * every, step / perEpoch * perEpoch);
        var rnd = new Random(c.Flag.Aggregate(1706, (h, ch) => h * 31 + ch));
        long killedTotal = c.Flag == "--epochs" ? 2 * perEpoch : total;
        long first = Math.Min(every, perEpoch), kill = rnd.NextInt64(first, Math.Max(first, killedTotal / 2) + 1);
        var k = Train([.. killedArgs, "--out", killed], killAfter: kill);
        Assert.That(k.Code, Is.EqualTo(70), k.Err);
        Assert.That(k.Err, Does.Contain($"simulated kill -9 after step {kill}"));
        long saved = StepOf(killed);
        Assert.That(saved, Is.EqualTo(LastCheckpoint(kill)), $"the last checkpoint before the kill after step {kill}");

        if (c.Refused != null)
        {
            var before = Snapshot(killed);
            var refused = Cli.Run(["train", "--resume", killed, .. c.Refused.Select(Resolve)]);
            Assert.That(refused.Code, Is.EqualTo(1), refused.Err + refused.Out);
            Assert.That(refused.OneLine(), Does.Contain(c.Flag == "--data" ? "are not those the run"
                : $"{c.Flag} {c.Refused[1]} disagrees with the run being resumed"));
            AssertUnchanged(killed, before);
        }

        string[] onResume = [.. (c.OnResume ?? []).Select(Resolve)];
        long kill2 = saved + 1 < total ? rnd.NextInt64(saved + 1, total) : 0;
        if (kill2 > 0)
        {
            var again = Train(["--resume", killed, .. onResume], killAfter: kill2);
            Assert.That(again.Code, Is.EqualTo(70), again.Err);
            Assert.That(StepOf(killed), Is.EqualTo(LastCheckpoint(kill2)), $"checkpoint, kill after {kill2}");
            if (switched) onResume = [];     // config.json now has the case's value
        }
        TestContext.Out.WriteLine($"{c.Flag}: {total} steps, killed after step {kill} (checkpoint at {saved}), "
            + $"then after step {kill2} (checkpoint at {StepOf(killed)})");

        var resumed = Train(["--resume", killed, .. onResume]);
        Assert.That(resumed.Code, Is.Zero, resumed.Err);
        Assert.That(Config(killed), Is.EqualTo(Config(alone)), "config.json");
        Assert.That(LoggedSteps(killed), Is.EqualTo(LoggedSteps(alone)), "steps with a run.jsonl line (log_every)");
        if (c.Flag == "--device" && resumed.Err != "")
        {
            // auto found a GPU: another device, so the rest of the run is rounded differently, and a note says so.
            Assert.That(resumed.Err.TrimEnd().Split('\n'), Has.Length.EqualTo(1).And.Some.Contains("bit-identical"));
            Assert.That(StepOf(killed), Is.EqualTo(total));
            return;
        }
        Assert.That(resumed.Err, Is.Empty, "a resume on the same device and machine says nothing on stderr");
        AssertSameCheckpoint(alone, killed);
        if (c.Flag == "--no-pictures")
            Assert.That(File.Exists(Path.Combine(killed, "samples.png")), "pictures drawn after the resume");
    }

    static long StepOf(string run) => long.Parse(SafeTensors.Read(Checkpoint(run)).Metadata["step"]);

    /// <summary>
    /// The steps of run.jsonl's step lines in file order: a resume drops the lines after its checkpoint before it
    /// logs them again, so each step appears once and in order.
    /// </summary>
    static long[] LoggedSteps(string run) =>
        [.. File.ReadLines(Path.Combine(run, "run.jsonl")).Select(l => JsonNode.Parse(l)!)
            .Where(n => (string?)n["kind"] == "step").Select(n => (long)n["step"]!)];

    /// <summary>The final checkpoints of two runs: tensor by tensor, the metadata, then every byte.</summary>
    internal static void AssertSameCheckpoint(string expected, string actual)
    {
        var a = SafeTensors.Read(Checkpoint(expected));
        var b = SafeTensors.Read(Checkpoint(actual));
        Assert.That(b.Tensors.Select(t => t.Name), Is.EqualTo(a.Tensors.Select(t => t.Name)), "tensor names");
        foreach (var t in a.Tensors)
            Assert.That(b.Tensors.Single(u => u.Name == t.Name).Data, Is.EqualTo(t.Data), $"tensor {t.Name}");
        Assert.That(b.Metadata, Is.EquivalentTo(a.Metadata), "position, config, device");
        Assert.That(File.ReadAllBytes(Checkpoint(actual)), Is.EqualTo(File.ReadAllBytes(Checkpoint(expected))),
            "the whole file, byte for byte");
    }

    static Dictionary<string, byte[]> Snapshot(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    static void AssertUnchanged(string folder, Dictionary<string, byte[]> before)
    {
        var after = Snapshot(folder);
        Assert.That(after.Keys, Is.EquivalentTo(before.Keys), $"files in {folder}");
        foreach (var (name, bytes) in before)
            Assert.That(after[name], Is.EqualTo(bytes), $"{name} was changed by a refused resume");
    }
}
