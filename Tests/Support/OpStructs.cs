using System.Reflection;
using InfoVae.Kernels;

namespace InfoVae.Tests.Support;

/// <summary>
/// The elementwise op structs (Kernels/UnaryOps.cs, BinaryOps.cs) as test case arguments: a test takes the op as a
/// Type and runs its generic body with <see cref="Call"/>, so a new op struct is tested without a new case line.
/// </summary>
static class OpStructs
{
    public static Type[] Unary => typeof(UnaryOps).GetNestedTypes();
    public static Type[] Binary => typeof(BinaryOps).GetNestedTypes();

    /// <summary>The static generic method <paramref name="method"/>&lt;<paramref name="op"/>&gt; of
    /// <paramref name="owner"/>, called with <paramref name="args"/>; an assertion inside fails as itself.</summary>
    public static object? Call(Type owner, string method, Type op, params object?[] args) =>
        owner.GetMethod(method, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)!
            .MakeGenericMethod(op).Invoke(null, BindingFlags.DoNotWrapExceptions, null, args, null);
}
