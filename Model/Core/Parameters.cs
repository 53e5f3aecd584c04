using System.Numerics;
using InfoVae.Engine;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>How PyTorch initialises a tensor (drawn from the seeded generator in layout order, or constant).</summary>
public enum InitKind { KaimingUniform, FanInUniform, Ones, Zeros }

/// <summary>
/// A batch-norm layer's tensors: gamma and beta in the parameters, running mean and variance in the buffers.
/// </summary>
public readonly record struct NormIndex(int Layer, int Gamma, int Beta, int RunningMean, int RunningVar);

/// <summary>
/// All parameters in one flat buffer with named views, and their shapes in one layout table (llm.c's ParameterTensors).
/// Gradients and Adam's two moments share the layout, so the optimiser is one loop over <see cref="Count"/>, zeroing is
/// one fill, and a checkpoint is one write per buffer. Names follow the PyTorch twin's state dict (encoder.0.weight,
/// ...). MLP weights are stored (out, in) as PyTorch stores them; conv weights are channels-last (docs/conv.md), and
/// each entry's <see cref="ParameterEntry.Order"/> says how to reach PyTorch's layout. Batch norm's running statistics
/// are buffers (PyTorch's word): a second flat buffer without gradients or moments, plus one num_batches_tracked
/// counter per batch-norm layer.
/// </summary>
public sealed class Parameters<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public IReadOnlyList<ParameterEntry> Layout { get; }
    public int Count { get; }
    public Storage<T> Values { get; }
    public Storage<T> Grads { get; }
    public Storage<T> AdamM { get; }
    public Storage<T> AdamV { get; }
    /// <summary>The named views, in layout order; each one's Grad is a view into <see cref="Grads"/>.</summary>
    public Tensor<T>[] Tensors { get; }

    /// <summary>Running means and variances of the batch-norm layers (empty for the MLP).</summary>
    public IReadOnlyList<ParameterEntry> BufferLayout { get; }
    public int BufferCount { get; }
    public Tensor<T>[] Buffers { get; }
    /// <summary>Batch-norm layers: their module names (encoder.1, ...) and tensors, in layout order.</summary>
    public IReadOnlyList<string> NormNames { get; }
    public IReadOnlyList<NormIndex> Norms { get; }
    /// <summary>PyTorch's num_batches_tracked per batch-norm layer: training forward passes so far.</summary>
    public long[] BatchesTracked { get; }

    readonly Tensor<T> all, allGrad, allM, allV, allBuffers, gradFlag;
    readonly Storage<T>? bufferStorage;

    /// <summary>The InfoVAE's parameters (<see cref="ParameterLayout.For(TrainConfig)"/>).</summary>
    public Parameters(TrainConfig config, IBackend<T> backend) : this(ParameterLayout.For(config), backend) { }

    /// <summary>
    /// A plain MLP sizes[0] → sizes[1] → … → sizes[^1] named like an nn.Sequential of Linear and ReLU modules:
    /// prefix.0, prefix.2, … (the adversarial divergence's discriminator).
    /// </summary>
    public static Parameters<T> Mlp(string prefix, int[] sizes, IBackend<T> backend)
    {
        var layout = new ParameterLayout();
        for (int i = 0; i + 1 < sizes.Length; i++) layout.Linear($"{prefix}.{2 * i}", sizes[i], sizes[i + 1]);
        return new Parameters<T>(layout, backend);
    }

    /// <summary>
    /// The parameters of <paramref name="layoutTable"/>. With <paramref name="valuesOf"/> (the same layout), the
    /// weights and Adam's moments are that one's, and only the gradients and buffers are this one's own: an in-process
    /// replica (LocalReplicas), which reads the one set of weights and computes the gradient of its share of a batch.
    /// </summary>
    public Parameters(ParameterLayout layoutTable, IBackend<T> backend, Parameters<T>? valuesOf = null)
    {
        var layout = layoutTable.Entries; var buffers = layoutTable.Buffers; var normNames = layoutTable.NormNames;
        Layout = layout;
        Count = layoutTable.Count;
        if (valuesOf != null && valuesOf.Count != Count)
            throw new ArgumentException($"{valuesOf.Count} parameters to share, not {Count}", nameof(valuesOf));
        Values = valuesOf?.Values ?? backend.Rent(Count); Grads = backend.Rent(Count);
        AdamM = valuesOf?.AdamM ?? backend.Rent(Count); AdamV = valuesOf?.AdamV ?? backend.Rent(Count);
        all = Tensor<T>.View(Values, 0, new Shape(Count));
        allGrad = Tensor<T>.View(Grads, 0, new Shape(Count));
        allM = Tensor<T>.View(AdamM, 0, new Shape(Count));
        allV = Tensor<T>.View(AdamV, 0, new Shape(Count));
        foreach (var t in valuesOf == null ? new[] { all, allGrad, allM, allV } : [allGrad]) backend.Fill(t, T.Zero);
        gradFlag = Tensor<T>.Zeros(new Shape(1), backend);
        Tensors = layout.Select(e => Tensor<T>.View(Values, e.Offset, e.Shape, Tensor<T>.View(Grads, e.Offset, e.Shape),
            requiresGrad: true)).ToArray();

        BufferLayout = buffers;
        BufferCount = layoutTable.BufferCount;
        NormNames = normNames;
        BatchesTracked = new long[normNames.Count];
        if (BufferCount > 0)
        {
            bufferStorage = backend.Rent(BufferCount);
            allBuffers = Tensor<T>.View(bufferStorage, 0, new Shape(BufferCount));
            backend.Fill(allBuffers, T.Zero);
            Buffers = buffers.Select(e => Tensor<T>.View(bufferStorage, e.Offset, e.Shape)).ToArray();
        }
        else { allBuffers = all; Buffers = []; }
        Norms = normNames.Select((n, i) => new NormIndex(i, IndexOf(n + ".weight"), IndexOf(n + ".bias"),
            BufferIndexOf(n + ".running_mean"), BufferIndexOf(n + ".running_var"))).ToArray();
    }

    public Tensor<T> this[string name] => Tensors[IndexOf(name)];

    public int IndexOf(string name)
    {
        for (int i = 0; i < Layout.Count; i++) if (Layout[i].Name == name) return i;
        throw new KeyNotFoundException($"no parameter named {name}");
    }

    public int BufferIndexOf(string name)
    {
        for (int i = 0; i < BufferLayout.Count; i++) if (BufferLayout[i].Name == name) return i;
        throw new KeyNotFoundException($"no buffer named {name}");
    }

    /// <summary>
    /// PyTorch's default initialisation (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d), bit-identical
    /// to torch.manual_seed(seed) and then building the twin model (see <see cref="TorchInit"/>): each random tensor
    /// is drawn in PyTorch's layout, in construction order, then permuted into ours. Buffers start at PyTorch's
    /// values (running mean 0, variance 1, no batches), Adam's moments at zero.
    /// </summary>
    public void Initialize(ulong seed) => Initialize(new TorchGenerator(seed));

    /// <summary>
    /// As <see cref="Initialize(ulong)"/>, drawing from <paramref name="rng"/> and leaving it where PyTorch's global
    /// generator would be.
    /// </summary>
    public void Initialize(TorchGenerator rng)
    {
        var host = new float[Count];
        var init = new TorchInit(rng);
        foreach (var e in Layout)
        {
            var span = host.AsSpan(e.Offset, e.Shape.Length);
            switch (e.Init)
            {
                case InitKind.KaimingUniform:
                    var drawn = new float[span.Length];
                    init.KaimingUniform(drawn, e.FanIn);
                    e.Order.FromTorch<float>(drawn, span);
                    break;
                case InitKind.FanInUniform: init.FanInUniform(span, e.FanIn); break;
                case InitKind.Ones: span.Fill(1); break;
                case InitKind.Zeros: span.Clear(); break;
            }
        }
        all.CopyFrom(Array.ConvertAll(host, v => T.CreateTruncating(v)));
        all.Backend.Fill(allM, T.Zero); all.Backend.Fill(allV, T.Zero);
        ResetBuffers();
    }

    /// <summary>Running means 0, variances 1, no batches tracked (PyTorch's reset_running_stats).</summary>
    public void ResetBuffers()
    {
        for (int i = 0; i < BufferLayout.Count; i++)
            all.Backend.Fill(Buffers[i], BufferLayout[i].Init == InitKind.Ones ? T.One : T.Zero);
        Array.Clear(BatchesTracked);
    }

    /// <summary>
    /// The whole state in PyTorch's names, shapes and layouts, in state-dict order (each batch-norm layer's running
    /// statistics and num_batches_tracked follow its bias): what the twin's load_state_dict expects.
    /// </summary>
    public IEnumerable<(string Name, int[] Shape, T[]? Values, long? Count)> TorchState()
    {
        var values = all.ToArray();
        var buffers = BufferCount > 0 ? allBuffers.ToArray() : [];
        for (int i = 0; i < Layout.Count; i++)
        {
            var e = Layout[i];
            var torch = new T[e.Shape.Length];
            e.Order.ToTorch<T>(values.AsSpan(e.Offset, e.Shape.Length), torch);
            yield return (e.Name, e.TorchShape, torch, null);
            foreach (var norm in Norms)
            {
                if (norm.Beta != i) continue;
                foreach (var b in new[] { BufferLayout[norm.RunningMean], BufferLayout[norm.RunningVar] })
                    yield return (b.Name, b.TorchShape, buffers[b.Offset..(b.Offset + b.Shape.Length)], null);
                yield return (NormNames[norm.Layer] + ".num_batches_tracked", [], null, BatchesTracked[norm.Layer]);
            }
        }
    }

    /// <summary>
    /// Loads a PyTorch state dict (PyTorch's layouts): <paramref name="get"/> returns a tensor's values given its
    /// name and PyTorch shape, <paramref name="count"/> a num_batches_tracked. Adam's moments are left alone.
    /// </summary>
    public void LoadTorchState(Func<string, int[], float[]> get, Func<string, long> count)
    {
        var values = new T[Count];
        foreach (var e in Layout)
            e.Order.FromTorch<T>(Array.ConvertAll(get(e.Name, e.TorchShape), v => T.CreateTruncating(v)),
                values.AsSpan(e.Offset, e.Shape.Length));
        all.CopyFrom(values);
        for (int i = 0; i < BufferLayout.Count; i++)
            Buffers[i].CopyFrom(Array.ConvertAll(get(BufferLayout[i].Name, BufferLayout[i].TorchShape),
                v => T.CreateTruncating(v)));
        for (int i = 0; i < NormNames.Count; i++) BatchesTracked[i] = count(NormNames[i] + ".num_batches_tracked");
    }

    /// <summary>
    /// Zeroes the gradients lazily (<see cref="Tensor{T}.ZeroGradDeferred"/>): backward's first write to each one
    /// overwrites it, so the 4.4 MB buffer is neither cleared nor read before the step. Call
    /// <see cref="MaterializeGrads"/> before reading <see cref="AllGrad"/>.
    /// </summary>
    public void ZeroGrad() { foreach (var t in Tensors) t.ZeroGradDeferred(); }

    /// <summary>
    /// Clears the gradients that backward did not reach (a parameter outside the loss's graph), so all of <see
    /// cref="AllGrad"/> is meaningful.
    /// </summary>
    public void MaterializeGrads() { foreach (var t in Tensors) t.MaterializeGrad(); }

    /// <summary>
    /// The first parameter tensor (layout order) whose gradient holds a NaN or ±∞, with the element and its value;
    /// null when every gradient is finite. Materialises deferred zeros first. One vectorised pass over the flat
    /// gradient buffer (one kernel and one flag read on a GPU) in the usual all-finite case; only a failing check
    /// copies the gradients to the host to find the tensor.
    /// </summary>
    public (int Tensor, int Index, T Value)? FirstNonFiniteGradient()
    {
        MaterializeGrads();
        if (all.Backend.AllFinite(allGrad)) return null;
        var g = allGrad.ToArray();
        int at = Array.FindIndex(g, v => !T.IsFinite(v));
        int k = Layout.Count - 1;
        while (Layout[k].Offset > at) k--;
        return (k, at - Layout[k].Offset, g[at]);
    }

    /// <summary>
    /// Queues the check of <see cref="FirstNonFiniteGradient"/> without waiting: the returned scalar becomes 1 when
    /// some gradient is NaN or ±∞, else 0. The trainer reads it with the loss terms (one wait per step on a GPU).
    /// </summary>
    public Tensor<T> FlagNonFiniteGradient()
    {
        MaterializeGrads();
        all.Backend.FlagNonFinite(allGrad, gradFlag);
        return gradFlag;
    }

    /// <summary>
    /// Throws a <see cref="NonFiniteException"/> naming the first parameter whose gradient holds a NaN or ±∞.
    /// </summary>
    public void ThrowIfNonFiniteGradient()
    {
        if (FirstNonFiniteGradient() is not { } bad) return;
        var e = Layout[bad.Tensor];
        throw NonFiniteException.InGradientOf(e.Name, e.Shape, bad.Index, double.CreateTruncating(bad.Value));
    }

    public Tensor<T> All => all;
    public Tensor<T> AllGrad => allGrad;
    public Tensor<T> AllM => allM;
    public Tensor<T> AllV => allV;
    /// <summary>Every buffer in one flat view (running means and variances); an empty net has none.</summary>
    public Tensor<T>? AllBuffers => BufferCount > 0 ? allBuffers : null;
}

/// <summary>
/// The Philox streams of what has no PyTorch twin to follow (importance-weighted NLL, mutual information, pictures):
/// one key per purpose, derived from the seed. Training and the test-set loss draw from <see cref="TorchGenerator"/>.
/// </summary>
public static class RandomStreams
{
    public const ulong Eval = 5, Pictures = 6;

    /// <summary>A 64-bit key per (seed, purpose), mixed by SplitMix64 so nearby seeds give unrelated keys.</summary>
    public static ulong Key(ulong seed, ulong purpose)
    {
        ulong z = seed * 0x9E3779B97F4A7C15UL + purpose * 0xBF58476D1CE4E5B9UL + 0x94D049BB133111EBUL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
