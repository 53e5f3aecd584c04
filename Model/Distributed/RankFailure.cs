namespace InfoVae.Model.Distributed;

/// <summary>
/// Another rank of the job is gone: it died (seen on this node by its process id), the launcher stopped the job, or
/// it stayed silent past the timeout. <see cref="Printer"/> is the rank that reports it: the lowest rank not known
/// to be gone, so that one line is printed however many ranks survive.
/// </summary>
public sealed class RankLostException(string message, int? lost, int printer) : Exception(message)
{
    /// <summary>The rank seen to be gone, or null when none could be named (it ran on another node).</summary>
    public int? Lost { get; } = lost;
    public int Printer { get; } = printer;
}

/// <summary>
/// Another rank failed and has printed why (it called <see cref="Engine.Distributed.ICommunicator.Abort"/>): this one
/// stops quietly.
/// </summary>
public sealed class RankFailedException(int rank) : Exception($"rank {rank} failed and said why")
{
    public int Rank { get; } = rank;
}
