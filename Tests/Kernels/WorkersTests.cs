using InfoVae.Kernels.Cpu;

namespace InfoVae.Tests.Kernels;

/// <summary>The persistent pool behind Workers.For: every index once, nesting, failures, thread counts.</summary>
public class WorkersTests
{
    struct Count(int[] hits) : IParallelBody
    {
        public readonly void Run(int index) => Interlocked.Increment(ref hits[index]);
    }

    struct Nested(int[] hits, int inner) : IParallelBody
    {
        public readonly void Run(int index)
        {
            var body = new Count(hits);   // runs serially on this thread: the pool is busy with the outer loop
            for (int r = 0; r < inner; r++) Workers.For(hits.Length, ref body);
        }
    }

    struct Throws(int bad) : IParallelBody
    {
        public readonly void Run(int index) { if (index == bad) throw new InvalidOperationException($"index {index}"); }
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Every_index_runs_once(int threads)
    {
        int saved = Workers.MaxThreads;
        try
        {
            Workers.MaxThreads = threads;
            foreach (int count in new[] { 1, 2, 3, 17, 1000 })
                for (int rep = 0; rep < 20; rep++)
                {
                    var hits = new int[count];
                    var body = new Count(hits);
                    Workers.For(count, ref body);
                    Assert.That(hits, Is.All.EqualTo(1), $"count {count} rep {rep}");
                }
        }
        finally { Workers.MaxThreads = saved; }
    }

    [Test]
    public void Nested_loops_complete()
    {
        int saved = Workers.MaxThreads;
        try
        {
            Workers.MaxThreads = 2;
            var hits = new int[64];
            var body = new Nested(hits, 3);
            Workers.For(8, ref body);
            Assert.That(hits, Is.All.EqualTo(8 * 3));
        }
        finally { Workers.MaxThreads = saved; }
    }

    [Test]
    public void A_failing_body_throws_on_the_caller_and_the_pool_stays_usable()
    {
        int saved = Workers.MaxThreads;
        try
        {
            Workers.MaxThreads = 2;
            foreach (int bad in new[] { 0, 5, 99 })
            {
                var body = new Throws(bad);
                Assert.Throws<InvalidOperationException>(() => Workers.For(100, ref body));
            }
            var hits = new int[100];
            var ok = new Count(hits);
            Workers.For(100, ref ok);
            Assert.That(hits, Is.All.EqualTo(1));
        }
        finally { Workers.MaxThreads = saved; }
    }
}
