namespace InfoVae.Tests.Model;

/// <summary>A fresh folder under the system temp folder, deleted with everything in it on Dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("infovae-test-").FullName;

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

static class UserErrors
{
    /// <summary>
    /// Runs <paramref name="action"/>, which must throw a UserError whose message holds every fragment.
    /// </summary>
    public static string Expect(TestDelegate action, params string[] fragments)
    {
        var e = Assert.Throws<InfoVae.Model.UserError>(action)!;
        foreach (var f in fragments) Assert.That(e.Message, Does.Contain(f), "the message should say it");
        Assert.That(e.Message, Does.Not.Contain('\n'), "a UserError prints as one line");
        return e.Message;
    }
}
