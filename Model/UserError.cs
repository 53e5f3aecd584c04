namespace InfoVae.Model;

/// <summary>
/// Bad input from the person running <c>infovae</c> (a missing file, a corrupt checkpoint, a wrong flag). The entry
/// point prints <see cref="Exception.Message"/> as one line on stderr and exits non-zero, with no stack trace, so the
/// message names the file, the problem and the fix.
/// </summary>
public sealed class UserError(string message) : Exception(message)
{
    /// <summary>
    /// In a run over several ranks (mpirun): set when every rank met this error at the same point (the same flags,
    /// the same global loss), so only this rank prints it and no rank needs telling; null when this rank alone met it.
    /// </summary>
    public int? PrintedBy { get; init; }
}
