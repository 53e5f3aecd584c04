using System.Diagnostics;

namespace InfoVae.Model.Sweep;

/// <summary>A training for the runner: its name, the `infovae` arguments and the log file its output goes to.</summary>
public sealed record SweepJob(string Name, IReadOnlyList<string> Args, string Log, string What);

/// <summary>
/// Runs `infovae train` child processes, <c>jobs</c> at a time, each writing its output to its own log. A stop
/// (Ctrl+C or SIGTERM to the sweep) closes every child's standard input, which the child takes as its own Ctrl+C
/// (<c>--stop-when-stdin-closes</c>): it saves a checkpoint and exits; the sweep then waits for all of them. A
/// sweep that dies outright closes the pipes as well, so no training runs on without it.
/// </summary>
public sealed class SweepRunner(int jobs, Func<bool> stopRequested, Action<string> say)
{
    public sealed record Outcome(SweepJob Job, int ExitCode, string LastLine, TimeSpan Time);

    /// <summary>Runs the jobs in order; returns each finished one's outcome and whether a stop cut them off.</summary>
    public (List<Outcome> Done, bool Stopped) Run(IReadOnlyList<SweepJob> queue)
    {
        var done = new List<Outcome>();
        var running = new List<Child>();
        int next = 0;
        while (next < queue.Count || running.Count > 0)
        {
            if (stopRequested())
            {
                foreach (var c in running) c.Stop();
                foreach (var c in running) done.Add(c.Finish());
                return (done, true);
            }
            while (running.Count < jobs && next < queue.Count)
            {
                var job = queue[next++];
                say($"[{next}/{queue.Count}] {job.Name}: {job.What} (log: {job.Log})");
                running.Add(new Child(job));
            }
            Thread.Sleep(50);
            foreach (var c in running.Where(c => c.Exited).ToList())
            {
                running.Remove(c);
                var outcome = c.Finish();
                done.Add(outcome);
                say(outcome.ExitCode == 0
                    ? $"{c.Job.Name}: done in {outcome.Time:hh\\:mm\\:ss}"
                    : $"{c.Job.Name}: exit code {outcome.ExitCode}: {outcome.LastLine}");
            }
        }
        return (done, false);
    }

    /// <summary>
    /// How to start `infovae` again: this executable when it is the infovae app host (or a single-file publish),
    /// else `dotnet infovae.dll` (`dotnet run`, the tests).
    /// </summary>
    static (string File, string[] Prefix) Self()
    {
        var exe = Environment.ProcessPath;
        if (exe != null && Path.GetFileNameWithoutExtension(exe) == "infovae") return (exe, []);
        // Not Assembly.Location: it is empty in a single-file publish (gpu-bundle's), and IL3000 fails that build.
        string dll = Path.Combine(AppContext.BaseDirectory, typeof(Program).Assembly.GetName().Name + ".dll");
        string host = exe != null && Path.GetFileNameWithoutExtension(exe) == "dotnet" ? exe
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        return (host, [dll]);
    }

    sealed class Child
    {
        public SweepJob Job { get; }
        readonly Process process;
        readonly StreamWriter log;
        readonly Stopwatch clock = Stopwatch.StartNew();
        string lastLine = "";

        public Child(SweepJob job)
        {
            Job = job;
            var (file, prefix) = Self();
            var psi = new ProcessStartInfo(file)
            {
                UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var a in prefix.Concat(job.Args)) psi.ArgumentList.Add(a);
            psi.Environment["NO_COLOR"] = "1";       // plain text in the logs: no colours,
            psi.Environment["TERM"] = "dumb";        // and no bold either
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(job.Log))!);
            var stream = new FileStream(job.Log, FileMode.Append, FileAccess.Write, FileShare.Read);
            log = new StreamWriter(stream) { AutoFlush = true };
            process = new Process { StartInfo = psi };
            process.OutputDataReceived += (_, e) => Write(e.Data, error: false);
            process.ErrorDataReceived += (_, e) => Write(e.Data, error: true);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        void Write(string? line, bool error)
        {
            if (line == null) return;
            lock (log)
            {
                log.WriteLine(line);
                if (error && line.Length > 0) lastLine = line;
            }
        }

        public bool Exited => process.HasExited;

        /// <summary>Closes the child's stdin: it saves and stops as on Ctrl+C.</summary>
        public void Stop()
        {
            try { process.StandardInput.Close(); }
            catch (IOException) { }      // it has exited already
        }

        public Outcome Finish()
        {
            process.WaitForExit();       // also drains the output readers
            string last = lastLine.StartsWith("infovae: ") ? lastLine["infovae: ".Length..] : lastLine;
            var outcome = new Outcome(Job, process.ExitCode, last, clock.Elapsed);
            process.Dispose();
            lock (log) log.Dispose();
            return outcome;
        }
    }
}
