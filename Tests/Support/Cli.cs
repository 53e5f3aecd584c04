using System.Diagnostics;
using System.Text;
using InfoVae.Model;

namespace InfoVae.Tests.Support;

/// <summary>Runs the <c>infovae</c> entry point: in this process (fast) or as a child process (for signals).</summary>
public static class Cli
{
    public sealed record Result(int Code, string Out, string Err)
    {
        /// <summary>
        /// The one line a refused run prints, without the "infovae: " prefix; fails unless there is exactly one such
        /// line.
        /// </summary>
        public string OneLine()
        {
            var lines = Err.TrimEnd().Split('\n');
            Assert.That(lines, Has.Length.EqualTo(1), $"expected one line on stderr, got:\n{Err}");
            Assert.That(lines[0], Does.StartWith("infovae: "));
            Assert.That(Err, Does.Not.Contain("   at "), "a stack trace leaked");
            Assert.That(Err, Does.Not.Contain("internal error"), "bad input must not look like a bug");
            return lines[0]["infovae: ".Length..];
        }
    }

    static readonly Lock console = new();

    /// <summary><c>Program.Main(args)</c> with stdout and stderr captured.</summary>
    public static Result Run(params string[] args)
    {
        lock (console)
        {
            var (err, output) = (new StringWriter(), new StringWriter());
            var (oldErr, oldOut) = (Console.Error, Console.Out);
            Console.SetError(err); Console.SetOut(output);
            try { return new Result(Program.Main(args), output.ToString(), err.ToString()); }
            finally { Console.SetError(oldErr); Console.SetOut(oldOut); }
        }
    }

    /// <summary>The executable next to the tests (the Model project is referenced, so it is copied here).</summary>
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "infovae.dll");

    /// <summary>A child process `dotnet infovae.dll args` with its output collected (read it after it exits).</summary>
    public sealed class Child : IDisposable
    {
        public Process Process { get; }
        readonly StringBuilder output = new(), stdout = new();

        public Child(params string[] args) : this((IReadOnlyDictionary<string, string>?)null, args) { }

        /// <summary>With <paramref name="environment"/> added to this process's (DOTNET_EnableAVX512=0, ...).</summary>
        public Child(IReadOnlyDictionary<string, string>? environment, params string[] args)
            : this("dotnet", [Dll, .. args], environment) { }

        /// <summary>Any program (mpirun) with its arguments; <paramref name="env"/> adds to the environment.</summary>
        public Child(string program, IEnumerable<string> args, IReadOnlyDictionary<string, string>? env = null)
        {
            var psi = new ProcessStartInfo(program)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var a in args) psi.ArgumentList.Add(a);
            foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
            Process = new Process { StartInfo = psi };
            Process.OutputDataReceived += (_, e) =>
            {
                if (e.Data != null) lock (output) { output.AppendLine(e.Data); stdout.AppendLine(e.Data); }
            };
            Process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
            Process.Start();
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        /// <summary>stdout and stderr, interleaved as they came.</summary>
        public string Output { get { lock (output) return output.ToString(); } }

        /// <summary>stdout alone.</summary>
        public string StandardOutput { get { lock (output) return stdout.ToString(); } }

        /// <summary>Waits for the exit (failing after <paramref name="timeout"/>) and returns the exit code.</summary>
        public int Wait(TimeSpan timeout)
        {
            if (!Process.WaitForExit(timeout))
            {
                Process.Kill();
                Assert.Fail($"the child did not finish within {timeout.TotalSeconds} s; output:\n{Output}");
            }
            Process.WaitForExit();    // drains the output readers
            return Process.ExitCode;
        }

        public void Dispose()
        {
            if (!Process.HasExited) { Process.Kill(); Process.WaitForExit(); }
            Process.Dispose();
        }
    }
}
