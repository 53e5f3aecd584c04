using System.CommandLine;
using System.CommandLine.Invocation;
using InfoVae.Kernels;
using InfoVae.Model.Cli;
using InfoVae.Model.Distributed;

namespace InfoVae.Model;

public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("infovae: train and inspect InfoVAEs (Zhao, Song & Ermon, arXiv 1706.02262) on a "
            + "from-scratch C# engine");
        root.Subcommands.Add(TrainCommand.Build());
        root.Subcommands.Add(SweepCommand.Build());
        foreach (var c in RunCommands.Build()) root.Subcommands.Add(c);
        root.Subcommands.Add(ClassifierCommand.Build());
        root.Subcommands.Add(Doctor.DoctorCommand.Build());
        root.Subcommands.Add(Doctor.BenchCommand.Build());
        root.Options.OfType<VersionOption>().Single().Action = new PrintVersion();
        return Run(root, args);
    }

    /// <summary>--version: the version and the commit (System.CommandLine's own prints the raw "0.1.0+sha").</summary>
    sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            Console.WriteLine(BuildInfo.Describe());
            return 0;
        }
    }

    /// <summary>
    /// Runs a parsed command; bad input becomes one line on stderr and a non-zero exit, never a stack trace.
    /// </summary>
    public static int Run(RootCommand root, string[] args)
    {
        bool trace = Environment.GetEnvironmentVariable("INFOVAE_TRACE") == "1";
        // Under mpirun or srun a rank's stdout is a pseudo-terminal of the launcher's, whatever the launcher's own
        // output is (a log file, as often as not): plain lines, as when redirected.
        Spectre.Console.AnsiConsole.Console = Terminal.Create(plain: Launch.IsParallel());
        try
        {
            var parsed = root.Parse(args);
            if (parsed.Errors.Count > 0)
            {
                // Under mpirun every rank parses the same command line: rank 0 says what is wrong with it.
                if (Launch.IsParallel() && Launch.Rank() != 0) return 1;
                // System.CommandLine would print every error and then the whole help; one line says as much.
                var command = parsed.CommandResult.Command;
                string name = command is RootCommand ? "infovae" : $"infovae {command.Name}";
                return Fail(string.Join(" ", parsed.Errors.Select(e => e.Message.TrimEnd('.') + "."))
                    + $" Run '{name} --help' for the options.", 1);
            }
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (UserError e)
        {
            return Fail(e.Message, 1);
        }
        catch (TensorTooLargeException e) when (!trace)
        {
            // Sizes from flags whose product no buffer can hold (2³¹ elements or more): bad input, not a bug.
            return Fail($"{e.Message}; use smaller sizes "
                + "(--batch, --hidden, --channels, --latent, --prior-samples, --iw-samples)", 1);
        }
        catch (Exception e) when (!trace && e is IOException or UnauthorizedAccessException)
        {
            // The disk or the file system, not a bug: a full disk, a folder that went away, no permission.
            return Fail($"{e.Message.TrimEnd('.')}; check that the disk has free space and the folder is writable, "
                + "then run it again "
                + "(a stopped train continues with --resume)", 74);
        }
        catch (Exception e) when (!trace)
        {
            return Fail($"internal error: {e.GetType().Name}: {e.Message} (set INFOVAE_TRACE=1 for the stack trace, "
                + "and please report it)", 70);
        }
    }

    /// <summary>One line on stderr, whatever the message holds.</summary>
    static int Fail(string message, int code)
    {
        Console.Error.WriteLine("infovae: " + message.ReplaceLineEndings(" "));
        return code;
    }
}
