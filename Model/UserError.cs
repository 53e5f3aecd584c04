namespace InfoVae.Model;

/// <summary>Bad input from the user: printed as one line on stderr with a non-zero exit, never a stack trace.</summary>
public sealed class UserError(string message) : Exception(message);
