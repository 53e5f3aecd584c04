using System.CommandLine;
using InfoVae.Model.Cli;

namespace InfoVae.Model;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("infovae: train and inspect InfoVAEs (Zhao, Song & Ermon, arXiv 1706.02262) on a from-scratch C# engine");
        root.Subcommands.Add(TrainCommand.Build());
        foreach (var c in RunCommands.Build()) root.Subcommands.Add(c);
        return Run(root, args);
    }

    /// <summary>Runs a parsed command; bad input becomes one line on stderr and a non-zero exit, never a stack trace.</summary>
    public static int Run(RootCommand root, string[] args)
    {
        try
        {
            var parsed = root.Parse(args);
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (UserError e)
        {
            Console.Error.WriteLine($"infovae: {e.Message}");
            return 1;
        }
        catch (Exception e) when (Environment.GetEnvironmentVariable("INFOVAE_TRACE") != "1")
        {
            Console.Error.WriteLine($"infovae: internal error: {e.GetType().Name}: {e.Message} (set INFOVAE_TRACE=1 for the stack trace, and please report it)");
            return 70;
        }
    }
}
