namespace InfoVae.Model.Distributed;

/// <summary>
/// Whether this process is one rank of a job started by mpirun or srun, read from the launcher's environment before
/// any MPI call, so that a process started on its own never loads an MPI library. Open MPI's mpirun sets
/// OMPI_COMM_WORLD_SIZE and _RANK, MPICH's hydra and Slurm's PMI-2 PMI_SIZE and PMI_RANK, PMIx launchers PMIX_RANK,
/// and srun SLURM_STEP_NUM_TASKS and SLURM_PROCID (an sbatch script also has SLURM_PROCID, but no step of its own
/// with more than one task, so it stays a single process).
/// </summary>
public static class Launch
{
    /// <summary>The job's size as the launcher announced it: 1 alone, 0 when a launcher did not say (PMIx).</summary>
    public static int Size(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        foreach (var name in new[] { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS" })
            if (int.TryParse(env(name), out int n) && n >= 1) return n;
        return env("PMIX_RANK") != null ? 0 : 1;
    }

    /// <summary>This process's rank as the launcher announced it (0 alone): who prints when MPI cannot start.</summary>
    public static int Rank(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        foreach (var name in new[] { "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID" })
            if (int.TryParse(env(name), out int r) && r >= 0) return r;
        return 0;
    }

    /// <summary>True when started by mpirun or srun as one of several ranks (or of an unannounced number).</summary>
    public static bool IsParallel(Func<string, string?>? env = null) => Size(env) != 1;
}
