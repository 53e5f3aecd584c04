using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using InfoVae.Engine.Cpu;

namespace InfoVae.Model.Sweep;

/// <summary>
/// One finished run of a sweep and its test-set metrics: a line of sweep.jsonl (snake_case keys) and a row of
/// sweep.md. The sample-quality and latent-usefulness metrics are null when they were not computed (a data set
/// the feature classifier does not know).
/// </summary>
public sealed record RunResult
{
    public required string Run { get; init; }
    public required string Setting { get; init; }
    public string? Preset { get; init; }
    public required string Divergence { get; init; }
    public double Alpha { get; init; }
    public double Lambda { get; init; }
    public double Beta { get; init; }
    public ulong Seed { get; init; }
    public int Epochs { get; init; }
    public long Step { get; init; }
    public double Recon { get; init; }
    public double Kl { get; init; }
    public double Mmd { get; init; }
    public double Total { get; init; }
    public double Elbo { get; init; }
    public double IwNll { get; init; }
    public int IwSamples { get; init; }
    public int ActiveUnits { get; init; }
    public int Latent { get; init; }
    public double MutualInformation { get; init; }
    public double? Fid { get; init; }
    public double? Kid { get; init; }
    public double? KidStd { get; init; }
    public double? InceptionScore { get; init; }
    /// <summary>Test accuracy of a classifier on posterior means, keyed by the labels it was trained with.</summary>
    public Dictionary<string, double>? SemiSupervisedAccuracy { get; init; }
    /// <summary>Why the sample-quality metrics are missing, when they are.</summary>
    public string? QualityNote { get; init; }
    /// <summary>On the rate (KL) - distortion (recon) Pareto front of the sweep's runs.</summary>
    public bool Pareto { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// The run's metrics, read from &lt;run&gt;/eval.json when that was written for the same checkpoint step and
    /// importance-sample count with the same metrics, computed (and saved there) otherwise: a sweep run again
    /// re-evaluates nothing. <paramref name="quality"/> (null: <paramref name="qualitySkipped"/> says why) gives FID,
    /// KID and IS; the semi-supervised accuracy is logistic regression's mean over the draws (<see
    /// cref="LatentProbe"/>), keyed "100", "1000" and "all".
    /// </summary>
    public static RunResult Evaluate(SweepPoint point, string folder, DataSet data, int iwSamples,
        SampleQuality? quality, string? qualitySkipped, Action<string>? progress = null)
    {
        var run = RunFolder.Open(folder);
        var config = run.ReadConfig();
        var net = new InfoVaeNet<float>(config, CpuBackend<float>.Instance);
        var at = Checkpoint.Load(run.CheckpointPath, net);
        var cache = Path.Combine(folder, "eval.json");
        if (File.Exists(cache))
        {
            try
            {
                var saved = JsonSerializer.Deserialize<RunResult>(File.ReadAllText(cache), Json);
                if (saved != null && saved.Step == at.Step && saved.IwSamples == iwSamples && saved.Run == point.Name
                    && (quality == null || saved.Fid != null) && saved.SemiSupervisedAccuracy != null)
                    return saved;
            }
            catch (JsonException) { }     // damaged or from another version: computed again below
        }
        progress?.Invoke($"evaluating {point.Name} (test set, IW-NLL with K = {iwSamples})");
        var rep = Evaluation.Run(net, data.Test, iwSamples);
        progress?.Invoke($"evaluating {point.Name} (sample quality, semi-supervised accuracy)");
        var q = quality?.Measure(net);
        var semi = LatentProbe.Measure(net, data).Results.Where(p => p.Method == "logistic_regression")
            .ToDictionary(p => p.Labels >= data.Train.Count ? "all" : p.Labels.ToString(CultureInfo.InvariantCulture),
                p => p.Mean);
        var result = new RunResult
        {
            Run = point.Name, Setting = point.Setting, Preset = point.Preset,
            Divergence = config.Divergence == Model.Divergence.Adversarial ? "adversarial" : "mmd",
            Alpha = config.Alpha, Lambda = config.Lambda, Beta = config.Beta, Seed = config.Seed,
            Epochs = at.Epoch, Step = at.Step,
            Recon = rep.Recon, Kl = rep.Kl, Mmd = rep.Mmd, Total = rep.Total, Elbo = rep.Elbo,
            IwNll = rep.IwNll, IwSamples = iwSamples,
            ActiveUnits = rep.ActiveUnits, Latent = rep.Latent, MutualInformation = rep.MutualInformation,
            Fid = q?.Fid, Kid = q?.Kid, KidStd = q?.KidStd, InceptionScore = q?.InceptionScore,
            SemiSupervisedAccuracy = semi,
            QualityNote = q == null ? qualitySkipped : null,
        };
        AtomicFile.WriteAllText(cache, JsonSerializer.Serialize(result, Json));
        return result;
    }
}
