using Spectre.Console;

namespace InfoVae.Model.Cli;

/// <summary>
/// Where the commands print. In a terminal: Spectre.Console as it sets itself up (colours, the live progress bar,
/// lines wrapped at the window's width). With stdout redirected to a file or a pipe: plain text without colour
/// codes, never wrapped (Spectre would otherwise wrap at 80 columns, cutting every epoch line in two), and the
/// progress as plain lines (see TrainLoop).
/// </summary>
public static class Terminal
{
    /// <summary>Wide enough that no line we print wraps; Spectre needs some width.</summary>
    const int PlainWidth = 1 << 16;

    /// <summary>
    /// A console over the current <see cref="Console.Out"/>: plain when it is not a terminal, or when
    /// <paramref name="plain"/> says so. Call it before anything prints.
    /// </summary>
    public static IAnsiConsole Create(bool plain = false)
    {
        if (plain && !Console.IsOutputRedirected)
        {
            // .NET's console would still send a terminal's control codes (keypad mode when it starts, a colour reset
            // wherever Spectre changes style): a dumb terminal without colours has none.
            Environment.SetEnvironmentVariable("TERM", "dumb");
            Environment.SetEnvironmentVariable("NO_COLOR", "1");
        }
        var output = new AnsiConsoleOutput(Console.Out);
        if (!plain && !Console.IsOutputRedirected) return AnsiConsole.Create(new AnsiConsoleSettings { Out = output });
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = output,
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = PlainWidth;
        return console;
    }
}
