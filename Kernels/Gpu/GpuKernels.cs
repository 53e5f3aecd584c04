using System.Reflection;
using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// Every kernel of Kernels/Gpu on one accelerator, compiled on first use and kept, with the host-side launch
/// arithmetic (grid and group sizes) next to each family's kernels (the other parts of this partial class).
/// All launches go to <see cref="Stream"/> and none waits: the caller synchronises when it reads back.
/// Views passed in are windows already (offset applied); lengths come from the views unless a shape is given.
/// </summary>
public sealed partial class GpuKernels
{
    /// <summary>The accelerator the kernels are compiled for.</summary>
    public Accelerator Accelerator { get; }
    /// <summary>The stream every launch goes to, in order.</summary>
    public AcceleratorStream Stream { get; }
    /// <summary>
    /// Edge of the square thread groups of the tiled kernels (matmul, MMD): 16 on a GPU, 4 on the CPU accelerator.
    /// </summary>
    public int Tile { get; }
    /// <summary>
    /// Threads per group of the tree reductions (a power of two, at most <see cref="ReduceKernels.MaxGroup"/>).
    /// </summary>
    public int ReduceGroup { get; }

    readonly Dictionary<MethodInfo, Delegate> loaded = [];
    readonly Lock gate = new();

    /// <summary>Kernels for <paramref name="accelerator"/>, launched on <paramref name="stream"/>.</summary>
    /// <param name="accelerator">Where the kernels are compiled and run.</param>
    /// <param name="stream">The stream every launch goes to.</param>
    /// <param name="tile">Overrides the tile edge (a power of two with tile² threads allowed per group); tests use
    /// it.</param>
    public GpuKernels(Accelerator accelerator, AcceleratorStream stream, int? tile = null)
    {
        Accelerator = accelerator;
        Stream = stream;
        int maxGroup = accelerator.MaxNumThreadsPerGroup;
        Tile = tile ?? (accelerator.AcceleratorType == AcceleratorType.CPU ? 4 : 16);
        if (Tile < 1 || (Tile & (Tile - 1)) != 0 || Tile * Tile > maxGroup)
            throw new ArgumentException($"tile {Tile} must be a power of two with tile² ≤ {maxGroup} threads per "
                + "group");
        int g = 1;
        while (g * 2 <= Math.Min(maxGroup, ReduceKernels.MaxGroup)) g *= 2;
        ReduceGroup = g;
    }

    /// <summary>Compiles a kernel once per accelerator; later calls return the same launcher.</summary>
    TLauncher Get<TLauncher>(MethodInfo kernel, Func<TLauncher> load) where TLauncher : Delegate
    {
        lock (gate)
        {
            if (loaded.TryGetValue(kernel, out var d)) return (TLauncher)d;
            var launcher = load();
            loaded[kernel] = launcher;
            return launcher;
        }
    }

    /// <summary>
    /// Threads of a 1-D launch over (a × b × ...) elements: ILGPU's Index1D and the kernels' flat indices are ints,
    /// so a product of 2³¹ or more is refused (<see cref="TensorTooLargeException"/>) rather than launched wrapped.
    /// </summary>
    static int Threads(params ReadOnlySpan<int> dims) => Sizes.Product("a kernel launch over", dims);

    /// <summary>Threads of a 1-D launch over all of <paramref name="v"/> (a view's length is a long).</summary>
    static int Threads(ArrayView<float> v) => Sizes.Checked(v.Length, "a kernel launch over a view");

    /// <summary>Number of kernels compiled so far (each is compiled once).</summary>
    public int LoadedCount { get { lock (gate) return loaded.Count; } }

    /// <summary>Kernels launched through this instance so far (every family, every stage).</summary>
    public long Launches { get; private set; }

    /// <summary>
    /// Sees every launch as it is queued (tests and the doctor: which kernels, how many threads and groups). Null
    /// (the default) costs one null check per launch; the observer must not allocate if it runs per training step.
    /// </summary>
    public Action<KernelLaunch>? LaunchObserver { get; set; }

    void Launched(string kernel, long threads, int groupSize)
    {
        Launches++;
        LaunchObserver?.Invoke(new KernelLaunch(kernel, threads, groupSize));
    }

    // Implicitly grouped kernels (one thread per index, group size chosen by ILGPU). Each launcher is wrapped once,
    // at load, in a closure that counts the launch (no allocation per launch).
    Action<AcceleratorStream, Index1D, T1, T2> Auto<T1, T2>(Action<Index1D, T1, T2> k)
        where T1 : struct where T2 : struct =>
        Get<Action<AcceleratorStream, Index1D, T1, T2>>(k.Method, () =>
        {
            var l = Accelerator.LoadAutoGroupedKernel(k); string name = k.Method.Name;
            return (s, i, a1, a2) => { Launched(name, i.Size, 0); l(s, i, a1, a2); };
        });
    Action<AcceleratorStream, Index1D, T1, T2, T3> Auto<T1, T2, T3>(Action<Index1D, T1, T2, T3> k)
        where T1 : struct where T2 : struct where T3 : struct =>
        Get<Action<AcceleratorStream, Index1D, T1, T2, T3>>(k.Method, () =>
        {
            var l = Accelerator.LoadAutoGroupedKernel(k); string name = k.Method.Name;
            return (s, i, a1, a2, a3) => { Launched(name, i.Size, 0); l(s, i, a1, a2, a3); };
        });
    Action<AcceleratorStream, Index1D, T1, T2, T3, T4> Auto<T1, T2, T3, T4>(Action<Index1D, T1, T2, T3, T4> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct =>
        Get<Action<AcceleratorStream, Index1D, T1, T2, T3, T4>>(k.Method, () =>
        {
            var l = Accelerator.LoadAutoGroupedKernel(k); string name = k.Method.Name;
            return (s, i, a1, a2, a3, a4) => { Launched(name, i.Size, 0); l(s, i, a1, a2, a3, a4); };
        });
    Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5> Auto<T1, T2, T3, T4,
        T5>(Action<Index1D, T1, T2, T3, T4, T5> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct =>
        Get<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5>>(k.Method, () =>
        {
            var l = Accelerator.LoadAutoGroupedKernel(k); string name = k.Method.Name;
            return (s, i, a1, a2, a3, a4, a5) => { Launched(name, i.Size, 0); l(s, i, a1, a2, a3, a4, a5); };
        });
    Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6> Auto<T1, T2, T3, T4, T5, T6>(
        Action<Index1D, T1, T2, T3, T4, T5, T6> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct =>
        Get<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6>>(k.Method, () =>
        {
            var l = Accelerator.LoadAutoGroupedKernel(k); string name = k.Method.Name;
            return (s, i, a1, a2, a3, a4, a5, a6) => { Launched(name, i.Size, 0); l(s, i, a1, a2, a3, a4, a5, a6); };
        });
    Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7> Auto<T1, T2, T3, T4, T5, T6, T7>(
        Action<Index1D, T1, T2, T3, T4, T5, T6, T7> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct =>
        Get<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7>>(k.Method, () =>
        {
            var l = Accelerator.LoadAutoGroupedKernel(k); string name = k.Method.Name;
            return (s, i, a1, a2, a3, a4, a5, a6, a7) =>
            {
                Launched(name, i.Size, 0);
                l(s, i, a1, a2, a3, a4, a5, a6, a7);
            };
        });
    Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7, T8> Auto<T1, T2, T3, T4, T5, T6, T7, T8>(
        Action<Index1D, T1, T2, T3, T4, T5, T6, T7, T8> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct where T8 : struct =>
        Get<Action<AcceleratorStream, Index1D, T1, T2, T3, T4, T5, T6, T7, T8>>(k.Method, () =>
        {
            var l = Accelerator.LoadAutoGroupedKernel(k); string name = k.Method.Name;
            return (s, i, a1, a2, a3, a4, a5, a6, a7, a8) =>
            {
                Launched(name, i.Size, 0);
                l(s, i, a1, a2, a3, a4, a5, a6, a7, a8);
            };
        });

    static long Threads(KernelConfig c) => (long)c.GridDim.Size * c.GroupDim.Size;

    /// <summary>
    /// Whether two views share an element (same buffer, overlapping ranges): a kernel whose groups add into both
    /// would race on them. Generic accessors read the views' buffer and offset without boxing them.
    /// </summary>
    public static bool Overlap<T>(ArrayView<T> a, ArrayView<T> b) where T : unmanaged
    {
        if (a.Length == 0 || b.Length == 0 || !ReferenceEquals(BufferOf(a), BufferOf(b))) return false;
        long ia = IndexOf(a), ib = IndexOf(b);
        return ia < ib + b.Length && ib < ia + a.Length;
    }

    static MemoryBuffer BufferOf<TView>(TView v) where TView : IArrayView => v.Buffer;
    static long IndexOf<TView>(TView v) where TView : IContiguousArrayView => v.Index;

    // Explicitly grouped kernels (shared memory, barriers): launched with a KernelConfig.
    Action<AcceleratorStream, KernelConfig, T1, T2, T3> Grouped<T1, T2, T3>(Action<T1, T2, T3> k)
        where T1 : struct where T2 : struct where T3 : struct =>
        Get<Action<AcceleratorStream, KernelConfig, T1, T2, T3>>(k.Method, () =>
        {
            var l = Accelerator.LoadKernel(k); string name = k.Method.Name;
            return (s, c, a1, a2, a3) => { Launched(name, Threads(c), c.GroupDim.Size); l(s, c, a1, a2, a3); };
        });
    Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5> Grouped<T1, T2, T3, T4,
        T5>(Action<T1, T2, T3, T4, T5> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct =>
        Get<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5>>(k.Method, () =>
        {
            var l = Accelerator.LoadKernel(k); string name = k.Method.Name;
            return (s, c, a1, a2, a3, a4, a5) =>
            {
                Launched(name, Threads(c), c.GroupDim.Size);
                l(s, c, a1, a2, a3, a4, a5);
            };
        });
    Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6> Grouped<T1, T2, T3, T4, T5, T6>(
        Action<T1, T2, T3, T4, T5, T6> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct =>
        Get<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6>>(k.Method, () =>
        {
            var l = Accelerator.LoadKernel(k); string name = k.Method.Name;
            return (s, c, a1, a2, a3, a4, a5, a6) =>
            {
                Launched(name, Threads(c), c.GroupDim.Size);
                l(s, c, a1, a2, a3, a4, a5, a6);
            };
        });
    Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7> Grouped<T1, T2, T3, T4, T5, T6, T7>(
        Action<T1, T2, T3, T4, T5, T6, T7> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct =>
        Get<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7>>(k.Method, () =>
        {
            var l = Accelerator.LoadKernel(k); string name = k.Method.Name;
            return (s, c, a1, a2, a3, a4, a5, a6, a7) =>
            {
                Launched(name, Threads(c), c.GroupDim.Size);
                l(s, c, a1, a2, a3, a4, a5, a6, a7);
            };
        });
    Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8> Grouped<T1, T2, T3, T4, T5, T6, T7, T8>(
        Action<T1, T2, T3, T4, T5, T6, T7, T8> k)
        where T1 : struct where T2 : struct where T3 : struct where T4 : struct where T5 : struct where T6 : struct
        where T7 : struct where T8 : struct =>
        Get<Action<AcceleratorStream, KernelConfig, T1, T2, T3, T4, T5, T6, T7, T8>>(k.Method, () =>
        {
            var l = Accelerator.LoadKernel(k); string name = k.Method.Name;
            return (s, c, a1, a2, a3, a4, a5, a6, a7, a8) =>
            {
                Launched(name, Threads(c), c.GroupDim.Size);
                l(s, c, a1, a2, a3, a4, a5, a6, a7, a8);
            };
        });
}

/// <summary>
/// One launch as <see cref="GpuKernels.LaunchObserver"/> sees it: the kernel method's name, the threads launched
/// and the threads per group (0 for implicitly grouped kernels, whose group size ILGPU picks).
/// </summary>
public readonly record struct KernelLaunch(string Kernel, long Threads, int GroupSize);
