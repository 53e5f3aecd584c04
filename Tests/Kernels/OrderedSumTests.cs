using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// The replicas' gradient sum: each element is the sources added in order in double and rounded once (the bits of
/// an MPI rank-order sum), at awkward lengths around the vector width and the parallel chunk, into one of the sources,
/// on one thread and on two.
/// </summary>
public unsafe class OrderedSumTests
{
    [TestCase(1, 1)]
    [TestCase(2, 0)]
    [TestCase(2, 15)]
    [TestCase(2, 16)]
    [TestCase(2, 17)]
    [TestCase(3, 65_536 + 19)]    // a ragged second chunk
    [TestCase(8, 1_000)]
    public void Each_element_is_the_sources_added_in_order_in_double_and_rounded_once(int count, int length)
    {
        // mixed magnitudes, so that float arithmetic or another order would round differently
        var sources = Enumerable.Range(0, count).Select(r => Array.ConvertAll(Rand.Uniform(length, 40 + r, -1, 1),
            v => (float)(v * Math.Pow(2, 12 * (r % 3))))).ToArray();
        var expected = new float[length];
        for (int i = 0; i < length; i++)
        {
            double s = 0;
            for (int r = 0; r < count; r++) s += sources[r][i];
            expected[i] = (float)s;
        }
        foreach (int threads in new[] { 1, 2 })
        {
            var copies = sources.Select(s => (float[])s.Clone()).ToArray();
            int old = Workers.MaxThreads;
            Workers.MaxThreads = threads;
            var handles = copies.Select(c => System.Runtime.InteropServices.GCHandle.Alloc(c,
                System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
            try
            {
                var pointers = handles.Select(h => h.AddrOfPinnedObject()).ToArray();
                OrderedSum.Sum<float>(pointers, length, (float*)pointers[0]);   // into the first source
            }
            finally
            {
                Workers.MaxThreads = old;
                foreach (var h in handles) h.Free();
            }
            Assert.That(copies[0], Is.EqualTo(expected), $"{threads} thread(s)");
            for (int r = 1; r < count; r++) Assert.That(copies[r], Is.EqualTo(sources[r]), $"source {r} untouched");
        }
    }

    [Test]
    public void The_sources_are_added_in_their_order()
    {
        // (1 + 1e20) − 1e20 is 0 in double; any other order keeps the 1. 19 elements: a vector and a scalar tail.
        float[] a = Enumerable.Repeat(1f, 19).ToArray(), b = Enumerable.Repeat(1e20f, 19).ToArray(),
            c = Enumerable.Repeat(-1e20f, 19).ToArray();
        var d = new float[19];
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c) fixed (float* pd = d)
            OrderedSum.Sum<float>([(nint)pa, (nint)pb, (nint)pc], 19, pd);
        Assert.That(d, Is.All.EqualTo(0f));
    }

    [Test]
    public void Doubles_take_the_scalar_path_with_the_same_rule()
    {
        double[] a = [1, 1e16, -3], b = [Math.Pow(2, -60), 1, 0.5];
        var d = new double[3];
        fixed (double* pa = a) fixed (double* pb = b) fixed (double* pd = d)
            OrderedSum.Sum<double>([(nint)pa, (nint)pb], 3, pd);
        Assert.That(d, Is.EqualTo(new[] { 1 + Math.Pow(2, -60), 1e16 + 1, -2.5 }));
    }

    [Test]
    public void No_source_or_too_many_is_refused()
    {
        Assert.Throws<ArgumentException>(() => OrderedSum.Sum<float>([], 1, null));
        Assert.Throws<ArgumentException>(() => OrderedSum.Sum<float>(new nint[9], 1, null));
    }
}
