using System.Numerics;
using InfoVae.Engine;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>
/// All parameters in one flat buffer with named views, and their shapes in one layout table (llm.c's
/// ParameterTensors). Gradients and Adam's two moments share the layout, so the optimiser is one loop over
/// <see cref="Count"/>, zeroing is one fill, and a checkpoint is one write per buffer. Names follow PyTorch's
/// nn.Sequential state dict (encoder.0.weight, ...) with weights stored (out, in), so export needs no reshuffle.
/// </summary>
public sealed class Parameters<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public sealed record Entry(string Name, Shape Shape, int Offset, int FanIn);

    public IReadOnlyList<Entry> Layout { get; }
    public int Count { get; }
    public Storage<T> Values { get; }
    public Storage<T> Grads { get; }
    public Storage<T> AdamM { get; }
    public Storage<T> AdamV { get; }
    /// <summary>The named views, in layout order; each one's Grad is a view into <see cref="Grads"/>.</summary>
    public Tensor<T>[] Tensors { get; }
    readonly Tensor<T> all, allGrad, allM, allV;

    public Parameters(TrainConfig config, IBackend<T> backend)
    {
        var layout = new List<Entry>();
        int offset = 0;
        void Linear(string prefix, int inSize, int outSize)
        {
            layout.Add(new Entry(prefix + ".weight", new Shape(outSize, inSize), offset, inSize)); offset += outSize * inSize;
            layout.Add(new Entry(prefix + ".bias", new Shape(outSize), offset, inSize)); offset += outSize;
        }
        // Encoder D → H1 → … → 2Z, decoder Z → …reversed… → D; ReLU modules sit at the odd Sequential indices.
        int[] enc = [config.InputSize, .. config.Hidden, 2 * config.Latent];
        for (int i = 0; i + 1 < enc.Length; i++) Linear($"encoder.{2 * i}", enc[i], enc[i + 1]);
        int[] dec = [config.Latent, .. config.Hidden.Reverse(), config.InputSize];
        for (int i = 0; i + 1 < dec.Length; i++) Linear($"decoder.{2 * i}", dec[i], dec[i + 1]);
        Layout = layout;
        Count = offset;
        Values = backend.Rent(Count); Grads = backend.Rent(Count); AdamM = backend.Rent(Count); AdamV = backend.Rent(Count);
        all = Tensor<T>.View(Values, 0, new Shape(Count));
        allGrad = Tensor<T>.View(Grads, 0, new Shape(Count));
        allM = Tensor<T>.View(AdamM, 0, new Shape(Count));
        allV = Tensor<T>.View(AdamV, 0, new Shape(Count));
        foreach (var t in new[] { all, allGrad, allM, allV }) backend.Fill(t, T.Zero);
        Tensors = layout.Select(e => Tensor<T>.View(Values, e.Offset, e.Shape, Tensor<T>.View(Grads, e.Offset, e.Shape), requiresGrad: true)).ToArray();
    }

    public Tensor<T> this[string name] => Tensors[IndexOf(name)];

    public int IndexOf(string name)
    {
        for (int i = 0; i < Layout.Count; i++) if (Layout[i].Name == name) return i;
        throw new KeyNotFoundException($"no parameter named {name}");
    }

    /// <summary>
    /// PyTorch's default nn.Linear init, bit-identical to torch.manual_seed(seed) and then building the twin
    /// nn.Sequential model (see <see cref="TorchInit"/>); Adam's moments start at zero.
    /// </summary>
    public void Initialize(ulong seed) => Initialize(new TorchGenerator(seed));

    /// <summary>As <see cref="Initialize(ulong)"/>, drawing from <paramref name="rng"/> and leaving it where PyTorch's global generator would be.</summary>
    public void Initialize(TorchGenerator rng)
    {
        var host = new float[Count];
        var init = new TorchInit(rng);
        for (int i = 0; i < Layout.Count; i += 2)
        {
            var (w, b) = (Layout[i], Layout[i + 1]);
            init.Linear(host.AsSpan(w.Offset, w.Shape.Length), host.AsSpan(b.Offset, b.Shape.Length), w.FanIn);
        }
        all.CopyFrom(Array.ConvertAll(host, v => T.CreateTruncating(v)));
        all.Backend.Fill(allM, T.Zero); all.Backend.Fill(allV, T.Zero);
    }

    /// <summary>
    /// Zeroes the gradients lazily (<see cref="Tensor{T}.ZeroGradDeferred"/>): backward's first write to each one
    /// overwrites it, so the 4.4 MB buffer is neither cleared nor read before the step. Call
    /// <see cref="MaterializeGrads"/> before reading <see cref="AllGrad"/>.
    /// </summary>
    public void ZeroGrad() { foreach (var t in Tensors) t.ZeroGradDeferred(); }

    /// <summary>Clears the gradients that backward did not reach (a parameter outside the loss's graph), so all of <see cref="AllGrad"/> is meaningful.</summary>
    public void MaterializeGrads() { foreach (var t in Tensors) t.MaterializeGrad(); }

    public Tensor<T> All => all;
    public Tensor<T> AllGrad => allGrad;
    public Tensor<T> AllM => allM;
    public Tensor<T> AllV => allV;
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
