using System.CommandLine;
using InfoVae.Engine.Distributed;
using InfoVae.Model.Distributed;
using Spectre.Console;

namespace InfoVae.Model.Cli;

/// <summary>
/// `infovae train` as one rank of an MPI job (mpirun or srun): joins the job, silences every rank but rank 0, and
/// turns each way a run can end into one line and an exit code on every rank:
/// - an error every rank met together (agreed setup, a non-finite loss): rank 0 prints it, all leave MPI cleanly;
/// - an error one rank met alone (a full disk on rank 0, an anomaly on rank 1): that rank prints it and tells the
///   others (<see cref="ICommunicator.Abort"/>), which stop without a word;
/// - a lost rank: the lowest surviving rank prints which one, the others stop without a word.
/// The last checkpoint stays whole in every case (checkpoints are written to a temporary file and renamed).
/// </summary>
public static class ParallelTrain
{
    public static int Run(TrainOptions o, ParseResult r)
    {
        MpiCommunicator mpi;
        try { mpi = MpiCommunicator.Start(); }
        catch (UserError) when (Launch.Rank() != 0) { return 1; }       // every rank failed alike; rank 0 says why
        if (mpi.Rank != 0)
        {
            Console.SetOut(TextWriter.Null);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(TextWriter.Null),
                Interactive = InteractionSupport.No,
                Ansi = AnsiSupport.No,
            });
        }
        ICommunicator comm = mpi.Size > 1 ? mpi : SingleProcess.Instance;
        int code;
        try { code = TrainCommand.Train(o, r, comm, mpi.Size > 1 ? mpi : null); }
        catch (UserError e) when (e.PrintedBy != null)
        {
            mpi.Dispose();
            if (mpi.Rank == e.PrintedBy) throw;
            return 1;
        }
        catch (RankLostException e)
        {
            mpi.Abandon();
            if (mpi.Rank == e.Printer) throw new UserError(e.Message);
            return 1;
        }
        catch (RankFailedException)
        {
            mpi.Abandon();
            return 1;
        }
        catch (UserError e) when (mpi.Rank != 0)
        {
            mpi.Abort();
            throw new UserError($"rank {mpi.Rank}: {e.Message}");
        }
        catch
        {
            mpi.Abort();
            throw;
        }
        mpi.Dispose();
        return code;
    }
}
