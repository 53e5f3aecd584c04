using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Kernels;

/// <summary>The CPU Adam step against the double reference, on the serial and the two-thread chunked path.</summary>
public class AdamKernelTests
{
    [TestCase(1)]
    [TestCase(37)]
    [TestCase(300_001)]    // 300 001 > 2^18 takes the chunked path, with a ragged last chunk
    public void Three_steps_match_the_reference_and_do_not_depend_on_threads(int n)
    {
        var g = Rand.Uniform(n, 1); var p0 = Rand.Uniform(n, 2);
        float[] Run(int threads)
        {
            int old = Workers.MaxThreads;
            Workers.MaxThreads = threads;
            try
            {
                var p = Array.ConvertAll(p0, x => (float)x); var m = new float[n]; var v = new float[n];
                var gf = Array.ConvertAll(g, x => (float)x);
                for (int s = 1; s <= 3; s++) Adam.Step<float>(p, gf, m, v, 1e-3, 0.9, 0.999, 1e-8, s);
                return p;
            }
            finally { Workers.MaxThreads = old; }
        }
        var one = Run(1); var two = Run(2);
        Assert.That(two, Is.EqualTo(one), "one thread vs two");
        var pr = (double[])p0.Clone(); var mr = new double[n]; var vr = new double[n];
        for (int s = 1; s <= 3; s++) Reference.Adam(pr, g, mr, vr, 1e-3, 0.9, 0.999, 1e-8, 0, s);
        Close.Assert<double, float>(pr, one, atol: 1e-6, rtol: 1e-5, "params after 3 steps");
    }
}
