using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Which SIMD widths this test process takes, written to the test log (and so to the TRX file, where .ci/run reads
/// it to say which kernel paths each of its runs exercised), and checked against the switches that CI sets: a run
/// with DOTNET_EnableAVX512=0 or DOTNET_EnableAVX2=0 must really be on the narrower path it claims to test.
/// </summary>
public class SimdWidthTests
{
    static bool Off(string name) => Environment.GetEnvironmentVariable(name) is "0";

    [Test]
    public void Reports_the_simd_widths_of_this_process()
    {
        // One line, "simd-widths: ..." , which .ci/run greps out of the TRX; "recorded" is what checkpoints store.
        TestContext.Out.WriteLine($"simd-widths: vector512={Vector512.IsHardwareAccelerated} "
            + $"vector256={Vector256.IsHardwareAccelerated} vector128={Vector128.IsHardwareAccelerated} "
            + $"avx512f={Avx512F.IsSupported} avx2={Avx2.IsSupported} recorded={SimdWidth.Current}");
        bool noAvx2 = Off("DOTNET_EnableAVX2") || Off("DOTNET_EnableHWIntrinsic");
        if (noAvx2 || Off("DOTNET_EnableAVX512") || Off("DOTNET_EnableAVX512F"))
            Assert.That(Vector512.IsHardwareAccelerated, Is.False, "AVX-512 is off, but Vector512 is accelerated");
        if (noAvx2)
            Assert.That(Vector256.IsHardwareAccelerated, Is.False, "AVX2 is off, but Vector256 is accelerated");
    }
}
