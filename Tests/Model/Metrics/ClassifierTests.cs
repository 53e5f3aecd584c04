using System.Security.Cryptography;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model.Metrics;

/// <summary>
/// The feature classifier: shapes, its whole gradient in float64, determinism, that it learns, and its file.
/// </summary>
public class ClassifierTests
{
    static readonly ClassifierConfig Small = new()
    {
        Rows = 12, Cols = 16, Channels = [4, 8, 8], Hidden = 16,
        Epochs = 6, Batch = 16, LearningRate = 5e-3, Seed = 3
    };

    [TestCase(28, 28, 4, 4)]
    [TestCase(12, 16, 2, 2)]
    [TestCase(20, 12, 3, 2)]
    public void Forward_gives_logits_and_features_and_the_flattened_side_follows_the_strides(int rows, int cols,
        int lastRows, int lastCols)
    {
        var c = new ClassifierConfig { Rows = rows, Cols = cols, Channels = [2, 3, 5], Hidden = 7, Classes = 4 };
        Assert.That(c.Sides()[^1], Is.EqualTo((lastRows, lastCols)));
        Assert.That(c.Flat, Is.EqualTo(lastRows * lastCols * 5));
        var net = new Classifier<float>(c, CpuBackend<float>.Instance);
        net.Params.Initialize(1);
        var tape = Tape<float>.Current;
        var x = Tensor<float>.From(Rand.UniformF(3 * rows * cols, 2, 0, 1), new Shape(3, rows * cols));
        using (tape.NoGrad())
        {
            var o = net.Forward(x);
            Assert.That(o.Logits.Shape, Is.EqualTo(new Shape(3, 4)));
            Assert.That(o.Features.Shape, Is.EqualTo(new Shape(3, 7)));
            Assert.That(o.Features.ToArray(), Is.All.GreaterThanOrEqualTo(0f), "features come after a ReLU");
        }
        tape.Reset();
        x.Dispose();
    }

    [Test]
    public void The_default_classifier_is_the_documented_one()
    {
        var c = new ClassifierConfig();
        Assert.That(c.Sides(), Is.EqualTo(new[] { (28, 28), (14, 14), (7, 7), (4, 4) }));
        var net = new Classifier<float>(c, CpuBackend<float>.Instance);
        // 1·25·32 + 32·16·64 + 64·9·32 + 512·128 + 128·10 + 10 weights and biases, + 2·(32 + 64 + 32 + 128) batch-norm
        // scales and shifts.
        Assert.That(net.Params.Count, Is.EqualTo(800 + 32768 + 18432 + 65536 + 1290 + 512));
    }

    [Test]
    public void Whole_classifier_gradient_in_float64()
    {
        // Training mode (batch statistics), 8 × 8 images, every parameter against central differences of the mean loss.
        var c = new ClassifierConfig { Rows = 8, Cols = 8, Channels = [2, 3, 2], Hidden = 4, Classes = 3 };
        var net = new Classifier<double>(c, CpuBackend<double>.Instance);
        net.Params.Initialize(5);
        var tape = Tape<double>.Current;
        tape.Reset();
        var x = Tensor<double>.From(Rand.Uniform(4 * 64, 6, 0, 1), new Shape(4, 64));
        double[] oneHot = [1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0];
        var t = Tensor<double>.From(oneHot, new Shape(4, 3));
        net.Training = true;
        Tensor<double> Loss() => Ops.SoftmaxCrossEntropy(net.Forward(x).Logits, t).Mean();
        net.Params.ZeroGrad();
        Loss().Backward();
        tape.Reset();
        net.Params.MaterializeGrads();
        var analytic = net.Params.AllGrad.ToArray();
        var p = net.Params.All.ToArray();
        var numeric = new double[p.Length];
        double L()
        {
            using var _ = tape.NoGrad();
            double v = Loss().Item();
            tape.Reset();
            return v;
        }
        for (int i = 0; i < p.Length; i++)
        {
            double o = p[i];
            p[i] = o + GradCheck.Eps; net.Params.All.CopyFrom(p); double up = L();
            p[i] = o - GradCheck.Eps; net.Params.All.CopyFrom(p); double down = L();
            p[i] = o; net.Params.All.CopyFrom(p);
            numeric[i] = (up - down) / (2 * GradCheck.Eps);
        }
        Assert.That(analytic.Count(g => g != 0), Is.GreaterThan(p.Length / 2),
            "most gradients are non-zero (the check proves something)");
        Close.Assert<double, double>(numeric, analytic, GradCheck.Atol, GradCheck.Rtol, "dLoss/dParams");
        x.Dispose(); t.Dispose();
    }

    static float[] Train(ClassifierConfig config, LabeledImages data)
    {
        var t = new ClassifierTrainer(config, data, CpuBackend<float>.Instance);
        for (int e = 0; e < config.Epochs; e++)
        {
            t.StartEpoch(e);
            for (int b = 0; b < t.BatchesPerEpoch; b++) t.TrainStep(b);
        }
        return [.. t.Net.Params.All.ToArray(), .. t.Net.Params.AllBuffers!.ToArray()];
    }

    [Test]
    public void Training_learns_a_learnable_set()
    {
        var train = ToyImages.Make(400, 1); var test = ToyImages.Make(200, 2);
        var t = new ClassifierTrainer(Small, train, CpuBackend<float>.Instance);
        double before = ClassifierPredictions.Accuracy(t.Net, test);
        for (int e = 0; e < Small.Epochs; e++)
        {
            t.StartEpoch(e);
            for (int b = 0; b < t.BatchesPerEpoch; b++) t.TrainStep(b);
        }
        double after = ClassifierPredictions.Accuracy(t.Net, test);
        Assert.That(before, Is.LessThan(0.3), "an untrained net guesses");
        Assert.That(after, Is.GreaterThan(0.95), $"after {Small.Epochs} epochs (from {before:P0})");
        Assert.That(t.Step, Is.EqualTo(Small.Epochs * 25));
    }

    [Test]
    public void Same_seed_same_bits_on_one_and_two_threads_and_another_seed_differs()
    {
        var train = ToyImages.Make(96, 4);
        var config = Small with { Epochs = 2 };
        int saved = Workers.MaxThreads;
        try
        {
            Workers.MaxThreads = 1;
            var one = Train(config, train);
            Workers.MaxThreads = 2;
            var two = Train(config, train);
            Assert.That(two, Is.EqualTo(one), "1 vs 2 threads");
            Assert.That(Train(config with { Seed = 4 }, train), Is.Not.EqualTo(one), "another seed");
        }
        finally { Workers.MaxThreads = saved; }
    }

    [Test]
    public void A_warm_training_step_allocates_nothing()
    {
        var t = new ClassifierTrainer(Small with { Epochs = 2 }, ToyImages.Make(96, 8), CpuBackend<float>.Instance);
        t.StartEpoch(0);
        for (int b = 0; b < 3; b++) t.TrainStep(b);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int b = 3; b < t.BatchesPerEpoch; b++) t.TrainStep(b);
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero, "bytes allocated by 3 warm steps");
    }

    [Test]
    public void Learning_rate_follows_a_cosine_to_zero()
    {
        var t = new ClassifierTrainer(Small, ToyImages.Make(64, 1), CpuBackend<float>.Instance);
        Assert.That(t.LearningRate(0), Is.EqualTo(Small.LearningRate));
        Assert.That(t.LearningRate(t.TotalSteps / 2), Is.EqualTo(Small.LearningRate / 2).Within(1e-12));
        Assert.That(t.LearningRate(t.TotalSteps), Is.EqualTo(0).Within(1e-15));
    }

    [Test]
    public void A_saved_classifier_loads_with_the_same_predictions_and_its_hash_is_checked()
    {
        using var tmp = new TempFolder();
        var data = ToyImages.Make(64, 7);
        var t = new ClassifierTrainer(Small with { Epochs = 1 }, data, CpuBackend<float>.Instance);
        t.StartEpoch(0);
        for (int b = 0; b < t.BatchesPerEpoch; b++) t.TrainStep(b);
        var info = new ClassifierInfo(t.Config, "toy", data.Sha256(), data.Sha256(), 0.5,
            "infovae classifier train --data toy");
        string path = tmp["c.safetensors"];
        ClassifierFile.Save(path, t.Net, info);
        var (net, read) = ClassifierFile.Load(path);
        Assert.That(read with { Config = t.Config }, Is.EqualTo(info));
        Assert.That(read.Config.Describe(), Is.EqualTo(t.Config.Describe()));
        int k = Small.Classes, f = Small.Hidden;
        double[] p1 = new double[data.Count * k], p2 = new double[data.Count * k];
        double[] f1 = new double[data.Count * f], f2 = new double[data.Count * f];
        ClassifierPredictions.Predict(t.Net, data.Pixels, data.Count, f1, p1);
        ClassifierPredictions.Predict(net, data.Pixels, data.Count, f2, p2);
        Assert.That(p2, Is.EqualTo(p1)); Assert.That(f2, Is.EqualTo(f1));

        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        Assert.That(ClassifierFile.LoadChecked(path, sha).Info.TestSha256, Is.EqualTo(data.Sha256()));
        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 1;                                         // one bit of one weight
        File.WriteAllBytes(path, bytes);
        UserErrors.Expect(() => ClassifierFile.LoadChecked(path, sha), "SHA-256", "restore");
    }

    [Test]
    public void Files_that_are_not_classifiers_are_refused_in_one_line()
    {
        using var tmp = new TempFolder();
        string path = tmp["x.safetensors"];
        InfoVae.Model.IO.SafeTensors.Write(path, [InfoVae.Model.IO.SafeTensor.From<float>("a", [1f], 1)],
            new Dictionary<string, string> { ["format"] = "infovae-checkpoint" });
        UserErrors.Expect(() => ClassifierFile.Load(path), "not an infovae classifier");
        UserErrors.Expect(() => ClassifierFile.Load(tmp["missing.safetensors"]), "no such file");
    }

    [Test]
    public void The_data_fingerprint_is_that_of_the_idx_bytes_and_sees_one_changed_pixel_or_label()
    {
        var a = ToyImages.Make(10, 1);
        var bytes = new List<byte>();
        foreach (var p in a.Pixels) bytes.Add((byte)MathF.Round(p * 255));
        bytes.AddRange(a.Labels);
        // Quantise the pixels as IDX holds them, then the hash of the bytes is the documented one.
        var q = new InfoVae.Model.Data.LabeledImages(bytes.Take(a.Pixels.Length).Select(b => b / 255f).ToArray(),
            a.Labels, a.Rows, a.Cols);
        Assert.That(q.Sha256(), Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(bytes.ToArray()))));
        var pixel = (float[])q.Pixels.Clone(); pixel[17] = pixel[17] > 0.5f ? 0 : 1;
        Assert.That(new InfoVae.Model.Data.LabeledImages(pixel, q.Labels, q.Rows, q.Cols).Sha256(),
            Is.Not.EqualTo(q.Sha256()));
        var label = (byte[])q.Labels.Clone(); label[3] ^= 1;
        Assert.That(new InfoVae.Model.Data.LabeledImages(q.Pixels, label, q.Rows, q.Cols).Sha256(),
            Is.Not.EqualTo(q.Sha256()));
    }
}
