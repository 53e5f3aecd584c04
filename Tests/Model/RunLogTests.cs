using System.Text;
using InfoVae.Model;

namespace InfoVae.Tests.Model;

/// <summary>
/// A resumed run drops run.jsonl's lines past its checkpoint before it logs those steps again (the whole-run check is
/// ResumeMatrixTests' LoggedSteps: each step once, in order); lines it cannot read stay, and a line cut off by a kill
/// gets its line end back, so the next line does not run into it.
/// </summary>
public class RunLogTests
{
    const string Torn = "{\"kind\":\"step\",\"st";
    static readonly string[] Lines =
    [
        "{\"kind\":\"step\",\"step\":50,\"loss\":1.5}",
        "{\"kind\":\"step\",\"step\":100,\"loss\":1.25}",
        "not json",
        "{\"kind\":\"epoch\",\"epoch\":1,\"step\":141}",
        "{\"kind\":\"step\",\"step\":150,\"loss\":1}",
    ];

    static (TempFolder Root, RunFolder Run) Folder(string log)
    {
        var root = new TempFolder();
        File.WriteAllText(root["config.json"], "{}");
        File.WriteAllText(root["run.jsonl"], log);
        return (root, RunFolder.Open(root.Path));
    }

    [Test]
    public void Lines_past_the_checkpoint_go_and_the_rest_stay_as_they_were()
    {
        var (root, run) = Folder(string.Join("\n", Lines) + "\n" + Torn);
        using (root)
        {
            run.TrimLogAfter(100);
            Assert.That(File.ReadAllText(run.LogPath),
                Is.EqualTo(string.Join("\n", Lines[..3]) + "\n" + Torn + "\n"));
            run.Log(new { kind = "step", step = 150 });
            Assert.That(File.ReadAllLines(run.LogPath)[^1], Is.EqualTo("{\"kind\":\"step\",\"step\":150}"));
        }
    }

    [Test]
    public void A_log_with_nothing_past_the_checkpoint_keeps_its_bytes()
    {
        string log = string.Join("\n", Lines) + "\n";
        var (root, run) = Folder(log);
        using (root)
        {
            run.TrimLogAfter(150);
            Assert.That(File.ReadAllBytes(run.LogPath), Is.EqualTo(Encoding.UTF8.GetBytes(log)));
            run.TrimLogAfter(141);
            Assert.That(File.ReadAllText(run.LogPath), Is.EqualTo(string.Join("\n", Lines[..4]) + "\n"));
        }
    }
}
