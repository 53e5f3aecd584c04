namespace InfoVae.Model;

/// <summary>
/// One convolution of the conv InfoVAE: In → Out channels, a Kernel × Kernel window, Stride, Pad, and the square
/// spatial size before (InSize) and after (OutSize). For a transposed convolution InSize is its input's size and
/// OutSize the (larger) output's, OutSize = (InSize − 1)·Stride − 2·Pad + Kernel.
/// </summary>
public readonly record struct ConvLayer(int In, int Out, int Kernel, int Stride, int Pad, int InSize, int OutSize);

/// <summary>
/// The conv InfoVAE for 28 × 28 × 1 images, channels (c1, c2, c3), activations NHWC (docs/conv.md):
/// <code>
/// encoder: (N,28,28,1) conv k4 s2 p1 → (N,14,14,c1) BN LReLU(0.2) → conv k4 s2 p1 → (N,7,7,c2) BN LReLU
///          → conv k3 s2 p1 → (N,4,4,c3) BN LReLU → flatten (N, 16·c3) → linear → (N, 2Z) = [mu | logvar]
/// decoder: (N,Z) linear → (N, 16·c3) → (N,4,4,c3) BN LReLU → convT k3 s2 p1 → (N,7,7,c2) BN LReLU
///          → convT k4 s2 p1 → (N,14,14,c1) BN LReLU → convT k4 s2 p1 → (N,28,28,1) logits
/// </code>
/// Convolutions followed by batch norm have no bias (BN's beta subsumes it; its gradient would be rounding noise),
/// and neither has the decoder's linear layer; the encoder's linear layer and the last transposed convolution do.
/// Names are those of the PyTorch twin (Tests/Data/make_conv_debug_state.py), two nn.Sequential:
/// encoder = [Conv, BN, LReLU] × 3, Flatten, Linear (indices 0-10); decoder = Linear, Unflatten, BN, LReLU,
/// [ConvT, BN, LReLU] × 2, ConvT (indices 0-10).
/// </summary>
public static class ConvArch
{
    /// <summary>Image side (pixels) and the encoder's last spatial side.</summary>
    public const int Side = 28, Bottom = 4, Depth = 3;
    public const double LeakySlope = 0.2, Momentum = 0.1, NormEps = 1e-5;

    public static ConvLayer[] Encoder(int[] c) =>
        [new(1, c[0], 4, 2, 1, 28, 14), new(c[0], c[1], 4, 2, 1, 14, 7), new(c[1], c[2], 3, 2, 1, 7, Bottom)];

    public static ConvLayer[] Decoder(int[] c) =>
        [new(c[2], c[1], 3, 2, 1, Bottom, 7), new(c[1], c[0], 4, 2, 1, 7, 14), new(c[0], 1, 4, 2, 1, 14, Side)];

    /// <summary>Width of the flattened bottom: Bottom² · c3.</summary>
    public static int Flat(int[] c) => Bottom * Bottom * c[2];

    public static string EncoderConv(int i) => $"encoder.{3 * i}";
    public static string EncoderNorm(int i) => $"encoder.{3 * i + 1}";
    public const string EncoderLinear = "encoder.10", DecoderLinear = "decoder.0", DecoderLinearNorm = "decoder.2";
    public static string DecoderConv(int i) => $"decoder.{4 + 3 * i}";
    /// <summary>Batch norm after decoder convolution i (i = 0, 1; the last convolution has none).</summary>
    public static string DecoderNorm(int i) => $"decoder.{5 + 3 * i}";
}

/// <summary>
/// How a tensor in our layout maps onto PyTorch's: ours, read row-major as (A, B, C, D), is PyTorch's contiguous
/// (A, C, B, D). One swap covers every case: conv weight (OC, KH·KW, C, 1) ↔ (OC, C, KH·KW); transposed-conv weight
/// (Cin, KH·KW, Cout, 1) ↔ (Cin, Cout, KH·KW); the encoder's linear weight (2Z, HW, c3, 1) ↔ (2Z, c3, HW) (PyTorch
/// flattens NCHW, we flatten NHWC); the decoder's linear weight (1, HW, c3, Z) ↔ (c3, HW, Z). B = 1 or C = 1 is the
/// identity (every MLP tensor).
/// </summary>
public readonly record struct TorchOrder(int A, int B, int C, int D)
{
    public static TorchOrder Same(int length) => new(length, 1, 1, 1);

    public bool IsIdentity => B == 1 || C == 1;

    public void ToTorch<TE>(ReadOnlySpan<TE> ours, Span<TE> torch) => Copy(ours, torch, toTorch: true);
    public void FromTorch<TE>(ReadOnlySpan<TE> torch, Span<TE> ours) => Copy(torch, ours, toTorch: false);

    void Copy<TE>(ReadOnlySpan<TE> source, Span<TE> destination, bool toTorch)
    {
        int n = A * B * C * D;
        if (source.Length != n || destination.Length != n)
            throw new ArgumentException($"({A}, {B}, {C}, {D}) holds {n} elements, not {source.Length} → "
                + $"{destination.Length}");
        if (IsIdentity) { source.CopyTo(destination); return; }
        for (int a = 0; a < A; a++)
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                {
                    int o = ((a * B + b) * C + c) * D, t = ((a * C + c) * B + b) * D;
                    if (toTorch) source.Slice(o, D).CopyTo(destination.Slice(t, D));
                    else source.Slice(t, D).CopyTo(destination.Slice(o, D));
                }
    }
}
