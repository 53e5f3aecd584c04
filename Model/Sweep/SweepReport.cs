using System.Globalization;
using System.Text;
using System.Text.Json;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Model.Pictures;

namespace InfoVae.Model.Sweep;

/// <summary>
/// What a sweep writes into its --out folder once its runs are trained and evaluated: sweep.jsonl (one JSON
/// object per run), sweep.md (one row per run, then the mean ± standard deviation over seeds of each setting),
/// pareto.png (rate against distortion, coloured by FID, the front marked) and grid.png (samples of every run
/// from the same latent codes).
/// </summary>
public static class SweepReport
{
    public const string Jsonl = "sweep.jsonl", Markdown = "sweep.md";
    public const string ParetoPicture = "pareto.png", GridPicture = "grid.png";

    /// <summary>Marks the Pareto front of the results and writes the four files; returns their paths.</summary>
    /// <param name="rows">image height of the sweep's data, for grid.png</param>
    /// <param name="cols">image width</param>
    public static IReadOnlyList<string> Write(string folder, IReadOnlyList<RunResult> results, string command,
        IReadOnlyList<string> notes, int rows, int cols)
    {
        var front = Pareto.Front(results.Select(r => (r.Kl, r.Recon)).ToList());
        var marked = results.Select((r, i) => r with { Pareto = front[i] }).ToList();
        string jsonl = Path.Combine(folder, Jsonl), md = Path.Combine(folder, Markdown);
        var lines = marked.Select(r => JsonSerializer.Serialize(r, RunResult.Json) + "\n");
        AtomicFile.WriteAllText(jsonl, string.Concat(lines));
        AtomicFile.WriteAllText(md, Table(marked, command, notes));
        var pareto = Path.Combine(folder, ParetoPicture);
        DrawPareto(marked, pareto);
        var grid = Path.Combine(folder, GridPicture);
        DrawGrid(folder, marked, grid, rows, cols);
        return [md, jsonl, pareto, grid];
    }

    static string F(double v, string format) =>
        v.ToString(double.IsFinite(v) ? format : null, CultureInfo.InvariantCulture);
    static string F(double? v, string format) => v is { } x ? F(x, format) : "–";

    /// <summary>The metrics of sweep.md: header, the value (null: not measured) and its format.</summary>
    static readonly (string Header, Func<RunResult, double?> Value, string Format)[] Columns =
    [
        ("recon", r => r.Recon, "F2"), ("KL", r => r.Kl, "F2"), ("MMD²", r => r.Mmd, "F5"),
        ("IW-NLL", r => r.IwNll, "F2"),
        ("FID", r => r.Fid, "F2"), ("KID", r => r.Kid, "F4"), ("IS", r => r.InceptionScore, "F2"),
        ("MI", r => r.MutualInformation, "F3"), ("active units", r => r.ActiveUnits, "F0"),
        ("semi-sup. acc. 100", r => Accuracy(r, "100"), "F1"), ("1000", r => Accuracy(r, "1000"), "F1"),
        ("all", r => Accuracy(r, "all"), "F1"),
    ];

    /// <summary>One run's cell: KID with its standard error, active units out of the latent size.</summary>
    static string Cell(RunResult r, (string Header, Func<RunResult, double?> Value, string Format) c) => c.Header switch
    {
        "active units" => $"{r.ActiveUnits}/{r.Latent}",
        "KID" when r.Kid is { } k => $"{F(k, c.Format)} ± {F(r.KidStd, c.Format)}",
        _ => F(c.Value(r), c.Format),
    };

    /// <summary>Accuracy in percent for a label count, null when not measured.</summary>
    static double? Accuracy(RunResult r, string labels) =>
        r.SemiSupervisedAccuracy is { } a && a.TryGetValue(labels, out var v) ? 100 * v : null;

    static string Table(IReadOnlyList<RunResult> results, string command, IReadOnlyList<string> notes)
    {
        var s = new StringBuilder();
        s.Append("# Sweep\n\n").Append("`").Append(command).Append("`\n\n");
        s.Append("Test-set metrics of each run's last checkpoint (nats per image; MI in nats; accuracies in %). ");
        s.Append("Pareto: on the rate (KL) - distortion (recon) front of these runs.\n\n");
        foreach (var n in notes) s.Append("- ").Append(n).Append('\n');
        if (notes.Count > 0) s.Append('\n');

        s.Append("| run | divergence | α | λ | β | seed | epochs | ")
            .Append(string.Join(" | ", Columns.Select(c => c.Header))).Append(" | Pareto |\n");
        s.Append("|---|---|---:|---:|---:|---:|---:|")
            .Append(string.Concat(Columns.Select(_ => "---:|"))).Append("---|\n");
        foreach (var r in results)
        {
            s.Append($"| {r.Run} | {r.Divergence} | {SweepPoint.Num(r.Alpha)} | {SweepPoint.Num(r.Lambda)} | ")
                .Append($"{SweepPoint.Num(r.Beta)} | {r.Seed} | {r.Epochs} | ");
            foreach (var c in Columns) s.Append(Cell(r, c)).Append(" | ");
            s.Append(r.Pareto ? "●" : "").Append(" |\n");
        }

        var groups = results.GroupBy(r => r.Setting).Where(g => g.Count() > 1).ToList();
        if (groups.Count > 0)
        {
            s.Append("\n## Mean ± standard deviation over seeds\n\n");
            s.Append("| setting | runs | ").Append(string.Join(" | ", Columns.Select(c => c.Header))).Append(" |\n");
            s.Append("|---|---:|").Append(string.Concat(Columns.Select(_ => "---:|"))).Append('\n');
            foreach (var g in groups)
            {
                s.Append($"| {g.Key} | {g.Count()} | ");
                foreach (var c in Columns) s.Append(MeanSd(g.Select(c.Value), c.Format)).Append(" | ");
                s.Length -= 1;
                s.Append('\n');
            }
        }
        return s.ToString();
    }

    /// <summary>"241.50 ± 1.65": mean and sample standard deviation (n − 1) of the values given; "–" if none.</summary>
    public static string MeanSd(IEnumerable<double?> values, string format)
    {
        var v = values.Where(x => x.HasValue).Select(x => x!.Value).ToList();
        if (v.Count == 0) return "–";
        double mean = v.Average();
        if (v.Count == 1) return F(mean, format);
        double sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Count - 1));
        string sdFormat = format == "F0" ? "F1" : format;
        return $"{F(mean, format)} ± {F(sd, sdFormat)}";
    }

    static void DrawPareto(IReadOnlyList<RunResult> results, string path)
    {
        // One marker shape per setting: its seeds share it.
        var settings = results.Select(r => r.Setting).Distinct().ToList();
        var points = results
            .Select(r => new ParetoPoint(r.Kl, r.Recon, r.Fid ?? double.NaN, settings.IndexOf(r.Setting), r.Pareto))
            .ToList();
        bool anyFid = results.Any(r => r.Fid.HasValue);
        ParetoPlot.Write(path, points, settings, anyFid ? "FID" : "colour:",
            noValues: anyFid ? null : "FID not computed",
            title: "rate against distortion of the sweep's runs (test set)");
    }

    /// <summary>Ten decoded samples of every run, in rows, from the same z ~ N(0, I) (per latent size).</summary>
    static void DrawGrid(string folder, IReadOnlyList<RunResult> results, string path, int rows, int cols)
    {
        const int perRun = 10;
        var images = new List<float>();
        int count = 0;
        var labels = new List<string>();
        foreach (var r in results)
        {
            var run = RunFolder.Open(Path.Combine(folder, r.Run));
            var config = run.ReadConfig();
            var net = new InfoVaeNet<float>(config, CpuBackend<float>.Instance);
            Checkpoint.Load(run.CheckpointPath, net);
            var z = new float[perRun * config.Latent];
            Philox.Normal<float>(RandomStreams.Key(0, RandomStreams.Pictures), 0, z);
            var tape = Tape<float>.Current;
            using (tape.NoGrad())
            {
                var zt = tape.Scratch(new Shape(perRun, config.Latent), net.Backend);
                zt.CopyFrom(z);
                images.AddRange(net.Decode(zt).Sigmoid().ToArray());
                tape.Reset();
            }
            labels.Add(r.Run);
            count += perRun;
        }
        ImageGrid.Write(path, images.ToArray(), count, rows, cols, columns: perRun, rowLabels: labels,
            title: "decoded samples: the same z ~ N(0, I) in every row");
    }
}
