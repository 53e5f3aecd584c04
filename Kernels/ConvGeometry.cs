namespace InfoVae.Kernels;

/// <summary>
/// The sizes of one 2-D convolution in channels-last (NHWC) layout, shared by im2col, col2im and the conv ops.
/// "image" = (N, H, W, C); "grid" of patch positions = (N, OH, OW); one patch = (KH, KW, C), so
/// cols = (Rows, PatchLength) = (N·OH·OW, KH·KW·C) with
/// <c>cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] = image[n, oh·Stride − Pad + kh, ow·Stride − Pad + kw, c]</c> (0
/// outside). Conv2d: image = its input, grid = its output positions (<see cref="Conv"/>).
/// ConvTranspose2d is the adjoint: image = its OUTPUT, grid = its INPUT positions (<see cref="Transposed"/>).
/// Either way OH = (H + 2·Pad − KH) / Stride + 1 (floor), which <see cref="Validate"/> checks.
/// Spec: docs/conv.md (issue #8).
/// </summary>
public readonly record struct ConvGeometry(int N, int H, int W, int C, int KH, int KW, int Stride, int Pad, int OH,
    int OW)
{
    /// <summary>KH·KW·C: the length of one patch, a row of cols.</summary>
    public int PatchLength => KH * KW * C;

    /// <summary>N·OH·OW: patch positions, the rows of cols.</summary>
    public int Rows => N * OH * OW;

    /// <summary>N·H·W·C: elements of the image.</summary>
    public int ImageLength => N * H * W * C;

    /// <summary>Rows·PatchLength: elements of cols.</summary>
    public int ColsLength => Rows * PatchLength;

    /// <summary>
    /// Output size of a convolution along one axis: ⌊(size + 2·pad − kernel) / stride⌋ + 1 (PyTorch's Conv2d, dilation
    /// 1).
    /// </summary>
    public static int ConvOutputSize(int size, int kernel, int stride, int pad)
        => (size + 2 * pad - kernel) / stride + 1;

    /// <summary>
    /// Output size of a transposed convolution along one axis: (size − 1)·stride − 2·pad + kernel + outputPad
    /// (PyTorch's ConvTranspose2d).
    /// </summary>
    public static int TransposedOutputSize(int size, int kernel, int stride, int pad, int outputPad)
        => (size - 1) * stride - 2 * pad + kernel + outputPad;

    /// <summary>
    /// Conv2d of an (n, h, w, c) input with a (·, kh, kw, c) kernel: the grid is the output. Validated.
    /// </summary>
    public static ConvGeometry Conv(int n, int h, int w, int c, int kh, int kw, int stride, int pad)
    {
        CheckArguments(n, h, w, c, kh, kw, stride, pad, "conv2d", "input");
        if (h + 2 * pad < kh || w + 2 * pad < kw)
            throw new ArgumentException($"conv2d: kernel {kh}×{kw} is larger than the padded input "
                + $"{h + 2 * pad}×{w + 2 * pad} (input {h}×{w}, pad {pad})");
        var g = new ConvGeometry(n, h, w, c, kh, kw, stride, pad, ConvOutputSize(h, kh, stride, pad),
            ConvOutputSize(w, kw, stride, pad));
        g.Validate();
        return g;
    }

    /// <summary>
    /// ConvTranspose2d of an (n, ih, iw, ·) input to (n, OH, OW, cOut) with a (·, kh, kw, cOut) kernel: the image is
    /// the output, OH = (ih − 1)·stride − 2·pad + kh + outputPad, and the grid is the input (ih, iw). Validated.
    /// </summary>
    public static ConvGeometry Transposed(int n, int ih, int iw, int cOut, int kh, int kw, int stride, int pad,
        int outputPad)
    {
        CheckArguments(n, ih, iw, cOut, kh, kw, stride, pad, "conv_transpose2d", "input");
        if (outputPad < 0 || outputPad >= stride)
            throw new ArgumentException($"conv_transpose2d: output padding {outputPad} must be in [0, stride = "
                + $"{stride})");
        int oh = TransposedOutputSize(ih, kh, stride, pad, outputPad),
            ow = TransposedOutputSize(iw, kw, stride, pad, outputPad);
        if (oh < 1 || ow < 1)
            throw new ArgumentException($"conv_transpose2d: input {ih}×{iw}, kernel {kh}×{kw}, stride {stride}, pad "
                + $"{pad}, output padding {outputPad} give an empty output {oh}×{ow}");
        var g = new ConvGeometry(n, oh, ow, cOut, kh, kw, stride, pad, ih, iw);
        g.Validate();
        return g;
    }

    static void CheckArguments(int n, int h, int w, int c, int kh, int kw, int stride, int pad, string op, string what)
    {
        if (n < 1 || h < 1 || w < 1 || c < 1)
            throw new ArgumentException($"{op}: {what} (N, H, W, C) = ({n}, {h}, {w}, {c}) needs every size ≥ 1");
        if (kh < 1 || kw < 1) throw new ArgumentException($"{op}: kernel {kh}×{kw} needs both sizes ≥ 1");
        if (stride < 1) throw new ArgumentException($"{op}: stride {stride} must be ≥ 1");
        if (pad < 0) throw new ArgumentException($"{op}: padding {pad} must be ≥ 0");
    }

    /// <summary>
    /// Throws an ArgumentException unless every size is positive, the grid matches the image, and every buffer fits an
    /// int.
    /// </summary>
    public void Validate()
    {
        if (N < 1 || H < 1 || W < 1 || C < 1)
            throw new ArgumentException($"conv geometry: image (N, H, W, C) = ({N}, {H}, {W}, {C}) needs every size ≥ "
                + "1");
        if (KH < 1 || KW < 1) throw new ArgumentException($"conv geometry: kernel {KH}×{KW} needs both sizes ≥ 1");
        if (Stride < 1) throw new ArgumentException($"conv geometry: stride {Stride} must be ≥ 1");
        if (Pad < 0) throw new ArgumentException($"conv geometry: padding {Pad} must be ≥ 0");
        if (OH < 1 || OW < 1) throw new ArgumentException($"conv geometry: grid {OH}×{OW} needs both sizes ≥ 1");
        if (H + 2 * Pad < KH || W + 2 * Pad < KW)
            throw new ArgumentException($"conv geometry: kernel {KH}×{KW} is larger than the padded image "
                + $"{H + 2 * Pad}×{W + 2 * Pad}");
        int eh = ConvOutputSize(H, KH, Stride, Pad), ew = ConvOutputSize(W, KW, Stride, Pad);
        if (OH != eh || OW != ew)
            throw new ArgumentException($"conv geometry: grid {OH}×{OW} does not match image {H}×{W} with kernel "
                + $"{KH}×{KW}, stride {Stride}, pad {Pad} (expected {eh}×{ew})");
        if ((long)N * H * W * C > int.MaxValue || (long)KH * KW * C > int.MaxValue || (long)N * OH * OW > int.MaxValue
            || (long)N * OH * OW * ((long)KH * KW * C) > int.MaxValue)
            throw new ArgumentException($"conv geometry: image ({N}, {H}, {W}, {C}) or cols ({(long)N * OH * OW}, "
                + $"{(long)KH * KW * C}) has more than {int.MaxValue} elements");
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"image ({N}, {H}, {W}, {C}), kernel {KH}×{KW}, stride {Stride}, pad {Pad}, grid {OH}×{OW}";
}
