// Anomaly scores from a trained InfoVAE, through the library rather than the CLI: loads a run folder, scores every
// test image by the importance-weighted bound on −log p(x) (or, with --recon, by the reconstruction error of the
// posterior mean), both in nats, and prints the 10 most anomalous images with their labels.
//
//   dotnet run -c Release --project examples/AnomalyScore -- RUN [DATA] [--recon] [--iw-samples K]
//
// RUN is a folder written by `infovae train`; DATA a folder of the four IDX files (default: the one the run was
// trained on, as its config.json records it; Fashion-MNIST for runs that do not record it).
using InfoVae.Model;
using InfoVae.Model.Data;

bool recon = false, bad = false;
int k = 100;
var paths = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--recon") recon = true;
    else if (args[i] == "--iw-samples") bad |= ++i == args.Length || !int.TryParse(args[i], out k);
    else if (args[i].StartsWith("--")) bad = true;
    else paths.Add(args[i]);
}
if (bad || paths.Count is < 1 or > 2)
{
    Console.Error.WriteLine("usage: AnomalyScore RUN [DATA] [--recon] [--iw-samples K]");
    return 2;
}

try
{
    var model = TrainedModel.Load(paths[0]);
    var data = DataSet.Load(paths.Count > 1 ? paths[1] : model.Config.Data?.Folder ?? DataSet.DefaultFolder);
    var test = data.Test;
    Console.WriteLine($"{model.Config.Describe()} from {paths[0]}; {test.Count:N0} test images from {data.Folder}");

    double[] score = recon ? model.ReconstructionError(test) : model.ImportanceWeightedNll(test, k);
    string what = recon ? "reconstruction error −log p(x|z = mu)" : $"IW-NLL −log p(x), K = {k}";
    var sorted = score.Order().ToArray();
    Console.WriteLine($"{what}, nats: median {sorted[sorted.Length / 2]:F1}, max {sorted[^1]:F1}");

    Console.WriteLine($"{"rank",4}  {"image",6}  {"label",-12} {"score",9}");
    var top = Enumerable.Range(0, test.Count).OrderByDescending(i => score[i]).ThenBy(i => i).Take(10);
    int rank = 0;
    foreach (int i in top)
    {
        int label = test.Labels[i];
        string name = label < data.ClassNames.Count ? data.ClassNames[label] : label.ToString();
        Console.WriteLine($"{++rank,4}  {i,6}  {name,-12} {score[i],9:F1}");
    }
    return 0;
}
catch (UserError e)
{
    Console.Error.WriteLine($"AnomalyScore: {e.Message}");
    return 1;
}
