using System.Reflection;

namespace InfoVae.Model;

/// <summary>
/// This build's version and the git commit it was built from. The SDK writes both into the assembly's
/// informational version at build time (<c>0.1.0+&lt;sha&gt;</c>; Source Link reads the commit from .git) and
/// writes the version alone when the sources are not a git checkout.
/// </summary>
public static class BuildInfo
{
    static readonly string Informational = typeof(BuildInfo).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    /// <summary>The package version, e.g. 0.1.0.</summary>
    public static string Version => Informational.Split('+')[0];

    /// <summary>The full commit hash, or null for a build outside a git checkout.</summary>
    public static string? Commit =>
        Informational.IndexOf('+') is >= 0 and var plus ? Informational[(plus + 1)..] : null;

    /// <summary>What <c>infovae --version</c> prints: "infovae 0.1.0 (commit 0123abcd…)".</summary>
    public static string Describe() =>
        $"infovae {Version} (commit {Commit ?? "unknown: built outside a git checkout"})";
}
