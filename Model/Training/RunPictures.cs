using System.Text.Json;
using InfoVae.Engine;
using InfoVae.Kernels.Cpu;
using InfoVae.Model.Pictures;

namespace InfoVae.Model;

/// <summary>
/// The six pictures of a run: samples, reconstructions, interpolations, traversal, latent scatter, loss curves.
/// </summary>
public static class RunPictures
{
    public static void DrawAll(Trainer t, DataSet data, RunFolder run)
    {
        Samples(t.Net, run.Picture("samples.png"));
        Reconstructions(t.Net, data.Test, run.Picture("reconstructions.png"));
        Interpolations(t.Net, data.Test, run.Picture("interpolations.png"));
        Traversal(t.Net, data.Test, run.Picture("traversal.png"));
        Latent(t.Net, data, run.Picture("latent.png"));
        Loss(run, run.Picture("loss.png"));
    }

    /// <summary>Decoder means σ(logits) of latent codes (N, Z).</summary>
    static float[] Decode(InfoVaeNet<float> net, float[] z, int n)
    {
        var tape = Tape<float>.Current;
        using var _ = tape.NoGrad();
        var zt = tape.Scratch(new Shape(n, net.Config.Latent), net.Backend);
        zt.CopyFrom(z);
        var img = net.Decode(zt).Sigmoid().ToArray();
        tape.Reset();
        return img;
    }

    static float[] Means(InfoVaeNet<float> net, LabeledImages data, int count)
    {
        var sub = data.Take(count);
        var mu = new float[sub.Count * net.Config.Latent]; var lv = new float[mu.Length];
        Evaluation.Encode(net, sub, mu, lv);
        return mu;
    }

    static (int Rows, int Cols) Side(InfoVaeNet<float> net) =>
        net.Config.InputSize == 784 ? (28, 28) : ((int)Math.Sqrt(net.Config.InputSize), net.Config.InputSize
            / (int)Math.Sqrt(net.Config.InputSize));

    /// <summary>
    /// 64 draws z ~ N(0, I) decoded (fixed by the run's seed, so pictures of different epochs compare).
    /// </summary>
    public static string Samples(InfoVaeNet<float> net, string path)
    {
        const int n = 64;
        var z = new float[n * net.Config.Latent];
        Philox.Normal<float>(RandomStreams.Key(net.Config.Seed, RandomStreams.Pictures), 0, z);
        var (r, c) = Side(net);
        ImageGrid.Write(path, Decode(net, z, n), n, r, c, columns: 8, title: "decoded samples z ~ N(0, I)");
        return path;
    }

    /// <summary>The first 12 test images above their reconstructions from the posterior mean.</summary>
    public static string Reconstructions(InfoVaeNet<float> net, LabeledImages test, string path)
    {
        int n = Math.Min(12, test.Count), p = test.PixelsPerImage;
        var rec = Decode(net, Means(net, test, n), n);
        var both = new float[2 * n * p];
        test.Pixels.AsSpan(0, n * p).CopyTo(both);
        rec.CopyTo(both.AsSpan(n * p));
        ImageGrid.Write(path, both, 2 * n, test.Rows, test.Cols, columns: n, rowLabels: ["input", "recon"],
            title: "test images and their reconstructions");
        return path;
    }

    /// <summary>
    /// Eight straight walks in latent space (posterior means) between pairs of test images, 10 steps each.
    /// </summary>
    public static string Interpolations(InfoVaeNet<float> net, LabeledImages test, string path)
    {
        int pairs = Math.Min(8, test.Count / 2), steps = 10, z = net.Config.Latent;
        var mu = Means(net, test, 2 * pairs);
        var codes = new float[pairs * steps * z];
        for (int i = 0; i < pairs; i++)
            for (int s = 0; s < steps; s++)
            {
                float w = s / (steps - 1f);
                for (int q = 0; q < z; q++)
                    codes[(i * steps + s) * z + q] = (1 - w) * mu[2 * i * z + q] + w * mu[(2 * i + 1) * z + q];
            }
        ImageGrid.Write(path, Decode(net, codes, pairs * steps), pairs * steps, test.Rows, test.Cols, columns: steps,
            title: "interpolations between test images (posterior means)");
        return path;
    }

    /// <summary>
    /// One latent dimension at a time (the ten whose means vary most over the test set), from −3 to 3 around a test
    /// image's code.
    /// </summary>
    public static string Traversal(InfoVaeNet<float> net, LabeledImages test, string path)
    {
        int z = net.Config.Latent, n = Math.Min(1000, test.Count), steps = 11;
        var mu = Means(net, test, n);
        var variance = new double[z];
        for (int q = 0; q < z; q++)
        {
            double m = 0; for (int i = 0; i < n; i++) m += mu[i * z + q]; m /= n;
            for (int i = 0; i < n; i++) variance[q] += (mu[i * z + q] - m) * (mu[i * z + q] - m);
        }
        var dims = Enumerable.Range(0, z).OrderByDescending(q => variance[q]).Take(Math.Min(10, z)).ToArray();
        var codes = new float[dims.Length * steps * z];
        for (int r = 0; r < dims.Length; r++)
            for (int s = 0; s < steps; s++)
            {
                var code = codes.AsSpan((r * steps + s) * z, z);
                mu.AsSpan(0, z).CopyTo(code);
                code[dims[r]] = -3 + 6f * s / (steps - 1);
            }
        ImageGrid.Write(path, Decode(net, codes, dims.Length * steps), dims.Length * steps, test.Rows, test.Cols,
            columns: steps,
            rowLabels: dims.Select(d => $"z[{d}]").ToArray(), title: "latent traversal: one dimension from −3 to 3");
        return path;
    }

    /// <summary>
    /// Posterior means of 5000 test images, coloured by label; projected on their two principal axes when Z > 2.
    /// </summary>
    public static string Latent(InfoVaeNet<float> net, DataSet data, string path)
    {
        var test = data.Test;
        int z = net.Config.Latent, n = Math.Min(5000, test.Count);
        var mu = Means(net, test, n);
        var pts = new float[2 * n];
        string xl = "z[0]", yl = "z[1]";
        if (z == 1) for (int i = 0; i < n; i++) pts[2 * i] = mu[i];
        else if (z == 2) mu.CopyTo(pts, 0);
        else { Pca.Project2(mu, n, z, pts); xl = "PC 1"; yl = "PC 2"; }
        ScatterPlot.Write(path, pts, test.Labels.AsSpan(0, n), data.ClassNames,
            title: z > 2 ? $"test codes (posterior means), PCA of {z} dims" : "test codes (posterior means)",
            xLabel: xl, yLabel: yl);
        return path;
    }

    /// <summary>
    /// Training loss per logged step interval and per epoch, and the test loss per epoch, from run.jsonl.
    /// </summary>
    public static string Loss(RunFolder run, string path)
    {
        var stepX = new List<double>(); var stepY = new List<double>();
        var epX = new List<double>(); var midX = new List<double>(); var trainY = new List<double>();
        var testY = new List<double>();
        long stepsPerEpoch = 0;
        foreach (var line in File.Exists(run.LogPath) ? File.ReadLines(run.LogPath) : [])
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            switch (e.GetProperty("kind").GetString())
            {
                case "epoch":
                    int ep = e.GetProperty("epoch").GetInt32();
                    stepsPerEpoch = e.GetProperty("step").GetInt64() / Math.Max(1, ep);
                    epX.Add(ep); midX.Add(ep - 0.5); trainY.Add(e.GetProperty("train_loss").GetDouble());
                    testY.Add(e.GetProperty("test_loss").GetDouble());
                    break;
                case "step":
                    stepX.Add(e.GetProperty("step").GetInt64()); stepY.Add(e.GetProperty("loss").GetDouble());
                    break;
            }
        }
        if (stepsPerEpoch > 0) for (int i = 0; i < stepX.Count; i++) stepX[i] /= stepsPerEpoch;
        var series = new List<Series>();
        if (stepX.Count > 0 && stepsPerEpoch > 0) series.Add(new Series("train (logged steps)", stepX, stepY));
        if (epX.Count > 0)
        {
            series.Add(new Series("train (epoch mean)", midX, trainY));
            series.Add(new Series("test", epX, testY));
        }
        if (series.Count == 0) return path;
        LinePlot.Write(path, series, title: "loss per image (nats)", xLabel: "epoch", yLabel: "loss");
        return path;
    }
}

/// <summary>The top two principal axes by power iteration with deflation (Z is small: a 32 × 32 covariance).</summary>
public static class Pca
{
    public static void Project2(float[] x, int n, int d, float[] destination)
    {
        var mean = new double[d];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) mean[j] += x[i * d + j] / n;
        var cov = new double[d, d];
        for (int i = 0; i < n; i++)
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++) cov[a, b] += (x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b]) / n;
        var axes = new double[2][];
        for (int k = 0; k < 2; k++)
        {
            var v = new double[d];
            // deterministic start, not orthogonal to typical axes
            for (int j = 0; j < d; j++) v[j] = 1.0 / (j + 1 + k);
            double lambda = 0;
            for (int it = 0; it < 500; it++)
            {
                var w = new double[d];
                for (int a = 0; a < d; a++) for (int b = 0; b < d; b++) w[a] += cov[a, b] * v[b];
                double norm = Math.Sqrt(w.Sum(t => t * t));
                if (norm == 0) break;
                for (int a = 0; a < d; a++) v[a] = w[a] / norm;
                lambda = norm;
            }
            axes[k] = v;
            for (int a = 0; a < d; a++) for (int b = 0; b < d; b++) cov[a, b] -= lambda * v[a] * v[b];
        }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 2; k++)
            {
                double s = 0;
                for (int j = 0; j < d; j++) s += (x[i * d + j] - mean[j]) * axes[k][j];
                destination[2 * i + k] = (float)s;
            }
    }
}
