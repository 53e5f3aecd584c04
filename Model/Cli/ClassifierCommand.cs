using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels.Cpu;
using Spectre.Console;

namespace InfoVae.Model.Cli;

/// <summary>`infovae classifier train|eval`: the feature classifier behind FID, KID and the Inception Score.</summary>
public static class ClassifierCommand
{
    public static Command Build()
    {
        var cmd = new Command("classifier", "The classifier whose features FID, KID and the Inception Score use "
            + "(LeNet-like, trained here)");
        cmd.Subcommands.Add(Train());
        cmd.Subcommands.Add(Eval());
        return cmd;
    }

    static Option<string> DataOption() => new("--data")
    {
        Description = "Folder with the four IDX files (gzipped or not)",
        DefaultValueFactory = _ => DataSet.DefaultFolder
    };
    static Option<int> ThreadsOption() => new("--threads")
    {
        Description = "CPU threads (default: all cores)",
        DefaultValueFactory = _ => Environment.ProcessorCount
    };

    static Command Train()
    {
        var d = new ClassifierConfig();
        var data = DataOption(); var threads = ThreadsOption();
        var outOpt = new Option<string>("--out") { Description = "The .safetensors file to write", Required = true };
        var epochs = new Option<int>("--epochs")
        {
            Description = "Passes over the training set",
            DefaultValueFactory = _ => d.Epochs
        };
        var batch = new Option<int>("--batch") { Description = "Images per step", DefaultValueFactory = _ => d.Batch };
        var lr = new Option<double>("--lr")
        {
            Description = "Adam's peak step size (cosine to 0 over the run)",
            DefaultValueFactory = _ => d.LearningRate
        };
        var channels = new Option<string>("--channels")
        {
            Description = "Channels of the three strided convolutions",
            DefaultValueFactory = _ => string.Join(",", d.Channels)
        };
        var hidden = new Option<int>("--hidden")
        {
            Description = "Width of the penultimate layer (the features of FID and KID)",
            DefaultValueFactory = _ => d.Hidden
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of the initialisation and the batch order",
            DefaultValueFactory = _ => 0UL
        };
        var name = new Option<string?>("--name")
        {
            Description = "The data set's name in the file and in the metrics' names, e.g. Fashion-MNIST "
                + "(default: the folder's name)"
        };
        var cmd = new Command("train", "Train the classifier on the CPU (deterministic from --seed) and write its "
            + "weights") { data, outOpt, name, epochs, batch, lr, channels, hidden, seed, threads };
        cmd.SetAction(r =>
        {
            Workers.MaxThreads = ThreadsFrom(r.GetValue(threads));
            string folder = r.GetValue(data)!, path = r.GetValue(outOpt)!;
            var config = new ClassifierConfig
            {
                Epochs = r.GetValue(epochs), Batch = r.GetValue(batch), LearningRate = r.GetValue(lr),
                Channels = TrainOptions.ParseList(r.GetValue(channels)!, "--channels", int.Parse),
                Hidden = r.GetValue(hidden), Seed = r.GetValue(seed),
            };
            config.Validate();
            var ds = DataSet.Load(folder);
            config = config with
            {
                Rows = ds.Train.Rows,
                Cols = ds.Train.Cols,
                Classes = Math.Max(ds.Train.Labels.Max(),
                ds.Test.Labels.Max()) + 1
            };
            config.Validate();
            CheckWritable(path);
            string dataName = r.GetValue(name)
                ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)));
            if (string.IsNullOrWhiteSpace(dataName) || dataName.Any(char.IsControl))
                throw new UserError($"--name '{dataName}' is empty or holds control characters; give a name such as "
                    + $"Fashion-MNIST");
            string command = string.Create(CultureInfo.InvariantCulture,
                $"infovae classifier train --data {folder} --out {path} --name {dataName} --epochs {config.Epochs} "
                + $"--batch {config.Batch} --lr {config.LearningRate:R} "
                + $"--channels {string.Join(",", config.Channels)} --hidden {config.Hidden} --seed {config.Seed}");

            var trainer = new ClassifierTrainer(config, ds.Train, CpuBackend<float>.Instance);
            var (train, test) = (ds.Train, ds.Test);
            string size = $"{train.Rows}×{train.Cols}";
            AnsiConsole.MarkupLineInterpolated(
                $"[bold]classifier[/] on {folder}: {train.Count:N0} train / {test.Count:N0} test images of {size}");
            AnsiConsole.MarkupLineInterpolated(
                $"  {config.Describe()}, {trainer.Net.Params.Count:N0} parameters, {Workers.MaxThreads} thread(s)");
            var lr0 = config.LearningRate;
            AnsiConsole.MarkupLineInterpolated(
                $"  Adam lr {lr0:G3} (cosine), batch {config.Batch}, {config.Epochs} epochs, seed {config.Seed}");
            var clock = Stopwatch.StartNew();
            double accuracy = 0;
            for (int e = 0; e < config.Epochs; e++)
            {
                trainer.StartEpoch(e);
                double loss = 0;
                for (int b = 0; b < trainer.BatchesPerEpoch; b++) loss += trainer.TrainStep(b);
                accuracy = ClassifierPredictions.Accuracy(trainer.Net, ds.Test);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"epoch {e + 1,3}: train loss {loss / trainer.BatchesPerEpoch:F4}, test accuracy "
                        + $"{100 * accuracy:F2} %, {clock.Elapsed.TotalSeconds:F0} s"));
            }
            var info = new ClassifierInfo(config, dataName, ds.Train.Sha256(), ds.Test.Sha256(), accuracy, command);
            ClassifierFile.Save(path, trainer.Net, info);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"wrote {path}: test accuracy {100 * accuracy:F2} %, SHA-256 {FileSha256(path)}"));
            return 0;
        });
        return cmd;
    }

    static Command Eval()
    {
        var data = DataOption(); var threads = ThreadsOption();
        var file = new Option<string?>("--classifier")
        {
            Description = "A file written by classifier train (default: the shipped Fashion-MNIST classifier)"
        };
        var cmd = new Command("eval", "Test accuracy (overall and per class) of a classifier on a data set") { file,
            data, threads };
        cmd.SetAction(r =>
        {
            Workers.MaxThreads = ThreadsFrom(r.GetValue(threads));
            var (net, info) = Load(r.GetValue(file));
            var ds = DataSet.Load(r.GetValue(data)!);
            if (ds.Test.Rows != info.Config.Rows || ds.Test.Cols != info.Config.Cols)
                throw new UserError($"the classifier takes {info.Config.Rows}×{info.Config.Cols} images but "
                    + $"{ds.Folder} holds {ds.Test.Rows}×{ds.Test.Cols}; give --data with images of its size");
            int k = info.Config.Classes, n = ds.Test.Count;
            var probs = new double[n * k];
            ClassifierPredictions.Predict(net, ds.Test.Pixels, n, [], probs);
            int[] right = new int[k], total = new int[k];
            for (int i = 0; i < n; i++)
            {
                int label = ds.Test.Labels[i];
                if (label >= k) throw new UserError($"{ds.Folder}: test label {label} is outside the classifier's {k} "
                    + $"classes; give the data set it was trained on");
                total[label]++;
                if (ClassifierPredictions.ArgMax(probs.AsSpan(i * k, k)) == label) right[label]++;
            }
            bool known = ds.Test.Sha256() == info.TestSha256;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{info.Config.Describe()}, trained on {info.DataName} (recorded test accuracy "
                + $"{100 * info.TestAccuracy:F2} %)"));
            Console.WriteLine(known ? $"the test set of {ds.Folder} is the one it was scored on (SHA-256 "
                + $"{info.TestSha256[..12]}…)"
                : $"the test set of {ds.Folder} is not the one it was scored on: FID, KID and IS with this classifier "
                    + $"are left out for it");
            var names = ds.ClassNames;
            for (int c = 0; c < k; c++)
            {
                if (total[c] == 0) continue;
                string label = c < names.Count ? names[c] : c.ToString(CultureInfo.InvariantCulture);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {label,-12} {100.0 * right[c] / total[c],6:F2} %  ({total[c]} images)"));
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"test accuracy {100.0 * right.Sum() / n:F2} % ({right.Sum()} of {n})"));
            return 0;
        });
        return cmd;
    }

    /// <summary>The classifier of --classifier, or the shipped one (hash-checked).</summary>
    public static (Classifier<float> Net, ClassifierInfo Info) Load(string? path) => path == null
        ? ClassifierFile.LoadShipped() : ClassifierFile.Load(path);

    static int ThreadsFrom(int n) => n >= 1 ? n : throw new UserError($"--threads must be at least 1, not {n}");

    static string FileSha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    /// <summary>Before hours of training: the output's folder exists and is writable.</summary>
    static void CheckWritable(string path)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder)) throw new UserError($"cannot write {path}: the folder {folder} does not exist; "
            + $"create it or choose another --out");
        if (Directory.Exists(path)) throw new UserError($"--out {path} is a folder; give a file name such as "
            + $"{Path.Combine(path, "classifier.safetensors")}");
        try
        {
            var probe = path + ".write-test";
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot write {path}: {e.Message.TrimEnd('.')}; choose an --out you can write to");
        }
    }
}
