using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

// Im2Col and its adjoint Col2Im for channels-last convolutions (docs/conv.md, the semantics of Kernels/Reference).
// Letters: N = batch, (H, W, C) = the image, (OH, OW) = the grid of patches, (KH, KW) = the kernel, S = stride,
// P = padding; a patch is KH·KW·C long, cols is (N·OH·OW, KH·KW·C). For a transposed convolution the image is its
// output and the grid its input (see Kernels/ConvGeometry).
// Im2Col: one thread per element of cols (writes coalesced; reads run along C, contiguous in the image).
// Col2Im: one thread per element of the image, gathering the cols entries that cover it, kh ascending then kw
//    ascending: no atomics, the same bits every run, and each thread visits only the ⌈KH/S⌉·⌈KW/S⌉ kernel taps
//    that can land on its pixel.
// Correctness: Tests/Kernels/Gpu/ConvKernelTests.cs (against Kernels/Reference).

/// <summary>
/// A convolution's geometry as plain ints for the kernels: <see cref="ConvGeometry"/>'s fields, without its record
/// machinery.
/// </summary>
public struct ConvArgs
{
    /// <summary>The fields of <see cref="ConvGeometry"/> of the same names.</summary>
    public int N, H, W, C, KH, KW, Stride, Pad, OH, OW;

    /// <summary>KH·KW·C: one row of cols.</summary>
    public readonly int PatchLength => KH * KW * C;
    /// <summary>N·OH·OW: the rows of cols.</summary>
    public readonly int Rows => N * OH * OW;
    /// <summary>N·H·W·C.</summary>
    public readonly int ImageLength => N * H * W * C;

    /// <summary>The kernels' copy of a geometry.</summary>
    public static ConvArgs Of(ConvGeometry g) => new()
    {
        N = g.N, H = g.H, W = g.W, C = g.C, KH = g.KH, KW = g.KW, Stride = g.Stride, Pad = g.Pad, OH = g.OH, OW = g.OW,
    };
}

/// <summary>The im2col and col2im kernels (see the header of this file).</summary>
public static class ConvKernels
{
    /// <summary>
    /// cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] = image[n, oh·S − P + kh, ow·S − P + kw, c], 0 outside.
    /// </summary>
    public static void Im2ColKernel(Index1D idx, ArrayView<float> image, ArrayView<float> cols, ConvArgs g)
    {
        int patch = g.KH * g.KW * g.C;
        int r = idx / patch, p = idx - r * patch;
        int khw = p / g.C, c = p - khw * g.C;
        int kh = khw / g.KW, kw = khw - kh * g.KW;
        int nOh = r / g.OW, ow = r - nOh * g.OW;
        int n = nOh / g.OH, oh = nOh - n * g.OH;
        int ih = oh * g.Stride - g.Pad + kh, iw = ow * g.Stride - g.Pad + kw;
        cols[idx] = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W ? image[((n * g.H + ih) * g.W + iw) * g.C + c] : 0f;
    }

    /// <summary>
    /// image[n, ih, iw, c] += Σ cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] over oh·S − P + kh = ih, ow·S − P + kw =
    /// iw.
    /// </summary>
    public static void Col2ImKernel(Index1D idx, ArrayView<float> cols, ArrayView<float> image, ConvArgs g)
    {
        int nHw = idx / g.C, c = idx - nHw * g.C;
        int nH = nHw / g.W, iw = nHw - nH * g.W;
        int n = nH / g.H, ih = nH - n * g.H;
        int patch = g.KH * g.KW * g.C;
        float acc = 0f;
        // oh·S = ih + P − kh must be a non-negative multiple of S: kh ≡ (ih + P) mod S, and kh ≤ ih + P.
        int yh = ih + g.Pad, yw = iw + g.Pad;
        for (int kh = yh % g.Stride; kh < g.KH && kh <= yh; kh += g.Stride)
        {
            int oh = (yh - kh) / g.Stride;
            if (oh >= g.OH) continue;
            for (int kw = yw % g.Stride; kw < g.KW && kw <= yw; kw += g.Stride)
            {
                int ow = (yw - kw) / g.Stride;
                if (ow >= g.OW) continue;
                acc += cols[((n * g.OH + oh) * g.OW + ow) * patch + (kh * g.KW + kw) * g.C + c];
            }
        }
        image[idx] += acc;   // summed first, then added: the order of Reference.Col2Im and Kernels/Cpu
    }
}

public sealed partial class GpuKernels
{
    /// <summary>image (N, H, W, C) → cols (N·OH·OW, KH·KW·C), overwritten.</summary>
    public void Im2Col(ArrayView<float> image, ConvGeometry geometry, ArrayView<float> cols)
    {
        var g = ConvArgs.Of(geometry);
        int n = Threads(g.N, g.OH, g.OW, g.KH, g.KW, g.C);
        if (n == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ConvArgs>(ConvKernels.Im2ColKernel)(Stream, n, image, cols, g);
    }

    /// <summary>image (N, H, W, C) += the adjoint of Im2Col applied to cols (N·OH·OW, KH·KW·C).</summary>
    public void Col2Im(ArrayView<float> cols, ConvGeometry geometry, ArrayView<float> image)
    {
        var g = ConvArgs.Of(geometry);
        int n = Threads(g.N, g.H, g.W, g.C);
        if (n == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ConvArgs>(ConvKernels.Col2ImKernel)(Stream, n, cols, image, g);
    }
}
