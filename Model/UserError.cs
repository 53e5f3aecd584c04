namespace InfoVae.Model;

/// <summary>
/// Bad input from the person running <c>infovae</c> (a missing file, a corrupt checkpoint, a wrong flag). The entry
/// point prints <see cref="Exception.Message"/> as one line on stderr and exits non-zero, with no stack trace, so the
/// message names the file, the problem and the fix.
/// </summary>
public sealed class UserError(string message) : Exception(message);
