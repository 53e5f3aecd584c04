using System.Security.Cryptography;
using System.Text.Json.Nodes;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// A run folder remembers its data (issue #14): config.json records the folder, the image size and counts and each
/// IDX file's SHA-256; eval, reconstruct, interpolate and --resume take that folder when --data is not given, and a
/// --data (or a folder) whose files differ gets one line: a note for eval and the pictures, a refusal for resume.
/// </summary>
public class RunDataTests
{
    TempFolder root = null!;
    string data = null!, run = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 24, test: 6);
        run = root["run"];
        var r = Train(data, run);
        Assert.That(r.Code, Is.Zero, r.Err);
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    static Cli.Result Train(string data, string run, params string[] more) =>
        Cli.Run(["train", "--data", data, "--out", run, "--hidden", "8", "--latent", "2", "--batch", "8",
            "--epochs", "1", "--seed", "2", "--no-pictures", "--threads", "1", .. more]);

    static Cli.Result Eval(string run, params string[] more) =>
        Cli.Run(["eval", "--run", run, "--iw-samples", "2", "--json", .. more]);

    static JsonNode Json(string text) => JsonNode.Parse(text)!;

    string CopyOf(string folder, string name)
    {
        var copy = root[name];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        return copy;
    }

    [Test]
    public void Config_json_records_the_folder_sizes_and_each_files_sha256()
    {
        var d = Json(File.ReadAllText(Path.Combine(run, "config.json")))["data"]!;
        Assert.That((string?)d["folder"], Is.EqualTo(Path.GetFullPath(data)));
        Assert.That(((int)d["rows"]!, (int)d["cols"]!, (int)d["train_images"]!, (int)d["test_images"]!),
            Is.EqualTo((28, 28, 24, 6)));
        var sha = d["sha256"]!.AsObject();
        Assert.That(sha.Select(kv => kv.Key),
            Is.EquivalentTo(new[] { IdxFiles.TrainImages, IdxFiles.TrainLabels, IdxFiles.TestImages,
                IdxFiles.TestLabels }));
        foreach (var (name, digest) in sha)
        {
            var bytes = File.ReadAllBytes(Path.Combine(data, name));
            Assert.That((string?)digest, Is.EqualTo(Convert.ToHexStringLower(SHA256.HashData(bytes))), name);
        }
    }

    [Test]
    public void A_gzipped_copy_of_the_same_files_has_the_same_digests()
    {
        var gz = root["gz"];
        IdxFiles.WriteDataSet(gz, train: 24, test: 6, gzip: true);
        var plain = DataSet.Load(data).Fingerprint!;
        var zipped = DataSet.Load(gz).Fingerprint!;
        Assert.That(zipped.FilesThatDiffer(plain), Is.Empty, "the digest is of the IDX bytes after gunzip");
        Assert.That(zipped.Folder, Is.EqualTo(Path.GetFullPath(gz)));
        // and a run on the plain files resumes on the gzipped ones
        var copy = CopyOf(run, "resume-on-gz");
        var r = Cli.Run("train", "--resume", copy, "--data", gz, "--epochs", "2");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Err, Is.Empty);
    }

    [Test]
    public void Eval_without_data_scores_the_data_the_run_was_trained_on()
    {
        // The run's data are not the default folder (Fashion-MNIST): without the record, eval would read that instead.
        var implicitly = Eval(run);
        Assert.That(implicitly.Code, Is.Zero, implicitly.Err);
        Assert.That(implicitly.Err, Is.Empty, "nothing to note");
        var told = Eval(run, "--data", data);
        Assert.That(told.Code, Is.Zero, told.Err);
        Assert.That(told.Err, Is.Empty);
        Assert.That(implicitly.Out, Is.EqualTo(told.Out), "the same scores as with --data given");
        Assert.That((int)Json(implicitly.Out)["images"]!, Is.EqualTo(6));
    }

    [Test]
    public void Eval_on_other_data_says_so_in_one_line_and_goes_on()
    {
        var other = root["other"];
        IdxFiles.WriteDataSet(other, train: 24, test: 9, seed: 7);
        var r = Eval(run, "--data", other);
        Assert.That(r.Code, Is.Zero, r.Err);
        var lines = r.Err.TrimEnd().Split('\n');
        Assert.That(lines, Has.Length.EqualTo(1), r.Err);
        Assert.That(lines[0],
            Does.StartWith($"infovae: note: the data in {other} are not those the run was trained on "
                + $"({Path.GetFullPath(data)}): "));
        Assert.That(lines[0],
            Does.Contain("24 training and 9 test images of 28×28, not 24 training and 6 test images of 28×28")
            .And.EndWith("going on with them"));
        Assert.That((int)Json(r.Out)["images"]!, Is.EqualTo(9), "stdout is the JSON of the data given");
    }

    [Test]
    public void Files_changed_since_training_are_noted_by_eval_and_refused_by_resume()
    {
        var moved = CopyOf(data, "changed-data");
        var r = Train(moved, root["changed-run"]);
        Assert.That(r.Code, Is.Zero, r.Err);
        var changedRun = root["changed-run"];
        // Same sizes, other pixels: only the digest tells.
        var otherPixels = IdxFiles.Bytes([6, 28, 28], IdxFiles.Pixels(6, 28, 28, 9));
        File.WriteAllBytes(Path.Combine(moved, IdxFiles.TestImages), otherPixels);
        var e = Eval(changedRun);
        Assert.That(e.Code, Is.Zero, e.Err);
        Assert.That(e.Err.TrimEnd().Split('\n').Single(),
            Does.Contain($"{IdxFiles.TestImages} differs (SHA-256); going on with them"));

        var before = Directory.GetFiles(changedRun).ToDictionary(f => f, File.ReadAllBytes);
        var resumed = Cli.Run("train", "--resume", changedRun, "--epochs", "2");
        Assert.That(resumed.Code, Is.EqualTo(1), resumed.Err);
        Assert.That(resumed.OneLine(),
            Does.Contain($"the data in {Path.GetFullPath(moved)} are not those the run in {changedRun} was trained on")
            .And.Contain($"{IdxFiles.TestImages} differs (SHA-256); resume with the same files"));
        foreach (var (f, bytes) in before) Assert.That(File.ReadAllBytes(f), Is.EqualTo(bytes), $"{f} changed");
    }

    [Test]
    public void A_data_folder_that_moved_is_named_and_found_again_by_its_digests()
    {
        var moving = CopyOf(data, "moving-data");
        var movingRun = root["moving-run"];
        Assert.That(Train(moving, movingRun).Code, Is.Zero);
        var elsewhere = root["moved-data"];
        Directory.Move(moving, elsewhere);

        var lost = Eval(movingRun);
        Assert.That(lost.Code, Is.EqualTo(1));
        Assert.That(lost.OneLine(),
            Does.Contain($"was trained on the data in {Path.GetFullPath(moving)}, which is not there any more")
            .And.Contain("give --data with a folder that holds the same four files"));
        var found = Eval(movingRun, "--data", elsewhere);
        Assert.That(found.Code, Is.Zero, found.Err);
        Assert.That(found.Err, Is.Empty, "the same files, by their digests: nothing to note");
        var resumed = Cli.Run("train", "--resume", movingRun, "--data", elsewhere, "--epochs", "2");
        Assert.That(resumed.Code, Is.Zero, resumed.Err);
        var recorded = (string?)Json(File.ReadAllText(Path.Combine(movingRun, "config.json")))["data"]!["folder"];
        Assert.That(recorded, Is.EqualTo(Path.GetFullPath(moving)),
            "the record keeps the folder the run was started on");
    }

    [TestCase("reconstruct", "reconstructions.png")]
    [TestCase("interpolate", "interpolations.png")]
    public void The_picture_commands_take_the_runs_data(string command, string picture)
    {
        var copy = CopyOf(run, "pictures-" + command);
        var r = Cli.Run(command, "--run", copy);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Err, Is.Empty);
        Assert.That(File.Exists(Path.Combine(copy, picture)), picture);
    }

    [Test]
    public void Resume_takes_the_runs_data_and_refuses_others()
    {
        var copy = CopyOf(run, "resume-data");
        var other = root["resume-other"];
        IdxFiles.WriteDataSet(other, train: 24, test: 6, seed: 5);
        var before = Directory.GetFiles(copy).ToDictionary(f => f, File.ReadAllBytes);
        var refused = Cli.Run("train", "--resume", copy, "--data", other, "--epochs", "2");
        Assert.That(refused.Code, Is.EqualTo(1));
        Assert.That(refused.OneLine(),
            Does.Contain($"the data in {other} are not those the run in {copy} was trained on "
                + $"({Path.GetFullPath(data)})")
            .And.Contain($"{IdxFiles.TestImages}, {IdxFiles.TestLabels}, {IdxFiles.TrainImages} and "
                + $"{IdxFiles.TrainLabels} differ (SHA-256)"));
        foreach (var (f, bytes) in before) Assert.That(File.ReadAllBytes(f), Is.EqualTo(bytes), $"{f} changed");

        var resumed = Cli.Run("train", "--resume", copy, "--epochs", "2");
        Assert.That(resumed.Code, Is.Zero, resumed.Err);
        Assert.That(resumed.Err, Is.Empty);
    }
}
