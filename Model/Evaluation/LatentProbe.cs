using InfoVae.Engine;

namespace InfoVae.Model;

/// <summary>
/// Test accuracy of one probe trained with <see cref="Labels"/> labels: mean and spread over the label draws.
/// </summary>
/// <param name="Method">"logistic_regression" or "knn".</param>
/// <param name="Std">sample standard deviation over the draws (÷ (draws − 1)); 0 for a single draw.</param>
/// <param name="Draws">each draw's accuracy, draw 0 first.</param>
public sealed record ProbeAccuracy(string Method, int Labels, double Mean, double Std, double[] Draws);

/// <summary>The semi-supervised experiment: one row per (label count, method).</summary>
public sealed record SemiSupervisedReport(int Draws, int KNeighbours, IReadOnlyList<ProbeAccuracy> Results);

/// <summary>
/// How useful the codes are (the InfoVAE paper's semi-supervised experiment, §5): classifiers on the posterior means
/// E[z|x] of the training images, trained with only some of their labels, scored on the test images' means.
/// For each label count (100, 1,000 and all by default) and each of <see cref="DefaultDraws"/> draws, the labelled
/// images are drawn class-balanced (⌊L/C⌋ per class, the remainder to the first classes) from a generator seeded
/// with (seed, draw); then
/// - multinomial logistic regression, trained by our engine: softmax cross-entropy plus scikit-learn's default L2
///   penalty (C = 1: ‖W‖²/(2L) on the mean loss), Adam with a cosine step size from 0.01, 1,000 steps on batches of
///   up to 1,000 (the whole labelled set below that), PyTorch's initialisation from the draw's seed;
/// - k-nearest neighbours (k = <see cref="K"/>, Euclidean, majority vote, ties to the nearest).
/// Both see the means standardised per dimension with the mean and deviation of all training means (which uses no
/// labels). With all labels the draws differ only in the regression's initialisation and batch order.
/// </summary>
public static class LatentProbe
{
    public const int DefaultDraws = 5, K = 5, Steps = 1000, MaxBatch = 1000;
    public const double LearningRate = 0.01;
    public const ulong DrawStream = RandomStreams.Eval + 600;
    public static readonly int[] DefaultLabelCounts = [100, 1000, int.MaxValue];

    public static SemiSupervisedReport Measure(InfoVaeNet<float> net, DataSet data, int draws = DefaultDraws,
        IReadOnlyList<int>? labelCounts = null)
    {
        int z = net.Config.Latent;
        var train = new float[data.Train.Count * z]; var test = new float[data.Test.Count * z];
        Evaluation.Encode(net, data.Train, train, new float[train.Length]);
        Evaluation.Encode(net, data.Test, test, new float[test.Length]);
        Standardise(train, test, z);
        int classes = Math.Max(data.Train.Labels.Max(), data.Test.Labels.Max()) + 1;
        var results = new List<ProbeAccuracy>();
        // Counts beyond the training set mean all of it (once).
        var counts = (labelCounts ?? DefaultLabelCounts).Select(c => Math.Min(c, data.Train.Count)).Distinct();
        foreach (int labels in counts)
        {
            var lr = new double[draws]; var knn = new double[draws];
            for (int r = 0; r < draws; r++)
            {
                ulong seed = RandomStreams.Key(net.Config.Seed, DrawStream + (ulong)r);
                var chosen = labels == data.Train.Count ? Enumerable.Range(0, labels).ToArray()
                    : Balanced(data.Train.Labels, labels, classes, seed);
                var x = new float[chosen.Length * z]; var y = new byte[chosen.Length];
                for (int i = 0; i < chosen.Length; i++)
                {
                    train.AsSpan(chosen[i] * z, z).CopyTo(x.AsSpan(i * z, z));
                    y[i] = data.Train.Labels[chosen[i]];
                }
                lr[r] = LogisticRegression.Accuracy(x, y, z, classes, test, data.Test.Labels, seed);
                // The whole training set is the same set in every draw: its k-NN accuracy once.
                knn[r] = r > 0 && labels == data.Train.Count ? knn[0]
                    : NearestNeighbours.Accuracy(x, y, z, classes, test, data.Test.Labels, K);
            }
            results.Add(Summary("logistic_regression", labels, lr));
            results.Add(Summary("knn", labels, knn));
        }
        return new SemiSupervisedReport(draws, K, results);
    }

    static ProbeAccuracy Summary(string method, int labels, double[] draws)
    {
        double mean = draws.Average();
        double std = draws.Length > 1 ? Math.Sqrt(draws.Sum(a => (a - mean) * (a - mean)) / (draws.Length - 1)) : 0;
        return new ProbeAccuracy(method, labels, mean, std, draws);
    }

    /// <summary>
    /// Each dimension of both sets minus the training mean, over the training deviation (1 where it is 0).
    /// </summary>
    static void Standardise(float[] train, float[] test, int z)
    {
        int n = train.Length / z;
        for (int j = 0; j < z; j++)
        {
            double m = 0, s = 0;
            for (int i = 0; i < n; i++) m += train[i * z + j];
            m /= n;
            for (int i = 0; i < n; i++) { double v = train[i * z + j] - m; s += v * v; }
            double sd = Math.Sqrt(s / Math.Max(1, n - 1));
            if (!(sd > 0)) sd = 1;
            foreach (var set in new[] { train, test })
                for (int i = 0; i < set.Length / z; i++) set[i * z + j] = (float)((set[i * z + j] - m) / sd);
        }
    }

    /// <summary>
    /// <paramref name="count"/> indices drawn class-balanced: ⌊count/C⌋ of each class (one more for the first count mod
    /// C classes), each class's picks the first of a torch.randperm of its images; a class with fewer images gives all.
    /// </summary>
    public static int[] Balanced(ReadOnlySpan<byte> labels, int count, int classes, ulong seed)
    {
        var rng = new TorchGenerator(seed);
        var chosen = new List<int>(count);
        for (int c = 0; c < classes; c++)
        {
            var members = new List<int>();
            for (int i = 0; i < labels.Length; i++) if (labels[i] == c) members.Add(i);
            var perm = new int[members.Count];
            rng.Randperm(perm);
            int want = Math.Min(members.Count, count / classes + (c < count % classes ? 1 : 0));
            for (int i = 0; i < want; i++) chosen.Add(members[perm[i]]);
        }
        chosen.Sort();
        return [.. chosen];
    }
}

/// <summary>
/// Multinomial logistic regression trained by our engine (the probe of <see cref="LatentProbe"/>): logits = x·Wᵀ + b,
/// loss = mean softmax cross-entropy + ‖W‖²/(2n). L = labelled images, Z = features, C = classes.
/// </summary>
public static class LogisticRegression
{
    /// <summary>Trains on (x (L × Z), y) and returns the accuracy on (test (N × Z), testLabels).</summary>
    public static double Accuracy(float[] x, byte[] y, int z, int classes, float[] test, byte[] testLabels, ulong seed)
    {
        int n = y.Length, batch = Math.Min(n, LatentProbe.MaxBatch);
        var be = Engine.Cpu.CpuBackend<float>.Instance;
        var layout = new ParameterLayout();
        layout.Linear("linear", z, classes);
        var p = new Parameters<float>(layout, be);
        var rng = new TorchGenerator(seed);
        p.Initialize(rng);
        Tensor<float> w = p.Tensors[0], bias = p.Tensors[1];
        var xb = Tensor<float>.Zeros(new Shape(batch, z), be);
        var tb = Tensor<float>.Zeros(new Shape(batch, classes), be);
        var hostX = new float[batch * z]; var hostT = new float[batch * classes];
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var tape = Tape<float>.Current;
        float penalty = 0.5f / n;
        int position = n;                         // a new order is drawn when an epoch of the labelled set is used up
        for (int step = 0; step < LatentProbe.Steps; step++)
        {
            if (batch < n && position + batch > n) { rng.Randperm(order); position = 0; }
            else if (batch == n) position = 0;
            Array.Clear(hostT);
            for (int i = 0; i < batch; i++)
            {
                int r = order[position + i];
                x.AsSpan(r * z, z).CopyTo(hostX.AsSpan(i * z, z));
                hostT[i * classes + y[r]] = 1;
            }
            position += batch;
            xb.CopyFrom(hostX); tb.CopyFrom(hostT);
            try
            {
                p.ZeroGrad();
                var loss = Ops.SoftmaxCrossEntropy(Ops.Linear(xb, w, bias), tb).Mean() + (w * w).Sum() * penalty;
                loss.Backward();
                p.MaterializeGrads();
                double lr = LatentProbe.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / LatentProbe.Steps));
                be.Adam(p.All, p.AllGrad, p.AllM, p.AllV, lr, 0.9, 0.999, 1e-8, step + 1);
            }
            finally { tape.Reset(); }
        }
        xb.Dispose(); tb.Dispose();
        // Accuracy on the host: argmax of x·Wᵀ + b.
        var wv = w.ToArray(); var bv = bias.ToArray();
        int right = 0, m = testLabels.Length;
        var logits = new double[classes];
        for (int i = 0; i < m; i++)
        {
            for (int c = 0; c < classes; c++)
            {
                double s = bv[c];
                for (int j = 0; j < z; j++) s += wv[c * z + j] * test[i * z + j];
                logits[c] = s;
            }
            if (ClassifierPredictions.ArgMax(logits) == testLabels[i]) right++;
        }
        return (double)right / m;
    }
}

/// <summary>k-nearest-neighbour classification by squared Euclidean distance, in blocks of test rows.</summary>
public static class NearestNeighbours
{
    const int Block = 128;

    /// <summary>
    /// Accuracy on (test (N × Z), testLabels) of a majority vote among the k nearest of (x (L × Z), y); ties go to the
    /// class of the nearest tied neighbour.
    /// </summary>
    public static double Accuracy(float[] x, byte[] y, int z, int classes, float[] test, byte[] testLabels, int k)
    {
        int n = y.Length, m = testLabels.Length;
        k = Math.Min(k, n);
        var dist = new float[Block * n];
        var bestD = new float[k]; var bestI = new int[k]; var votes = new int[classes];
        int right = 0;
        for (int s = 0; s < m; s += Block)
        {
            int b = Math.Min(Block, m - s);
            Kernels.Cpu.PairwiseDistance.Forward<float>(test.AsSpan(s * z, b * z), b, x, n, z, dist);
            for (int i = 0; i < b; i++)
            {
                var row = dist.AsSpan(i * n, n);
                int filled = 0;
                for (int j = 0; j < n; j++)
                {
                    float d = row[j];
                    if (filled == k && !(d < bestD[k - 1])) continue;
                    int at = filled < k ? filled++ : k - 1;          // insertion into the sorted best list
                    while (at > 0 && bestD[at - 1] > d) { bestD[at] = bestD[at - 1]; bestI[at] = bestI[at - 1]; at--; }
                    bestD[at] = d; bestI[at] = j;
                }
                Array.Clear(votes);
                int most = 0;
                for (int t = 0; t < filled; t++) most = Math.Max(most, ++votes[y[bestI[t]]]);
                int winner = 0;
                // in order of distance: the nearest of the tied classes
                for (int t = 0; t < filled; t++)
                    if (votes[y[bestI[t]]] == most) { winner = y[bestI[t]]; break; }
                if (winner == testLabels[s + i]) right++;
            }
        }
        return (double)right / m;
    }
}
