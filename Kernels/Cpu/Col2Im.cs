using System.Numerics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// col2im in channels-last layout, the adjoint of <see cref="Im2Col"/>: cols (Rows, KH·KW·C) summed into image
/// (N, H, W, C) (accumulates). A gather: each image pixel sums the C-runs of the patches that cover it, kh ascending
/// then kw ascending, from 0, then adds the sum to the image. No two pixels share an output, so no atomics, and the
/// result does not depend on how pixels are split between threads.
/// Correctness: Tests/Kernels/ConvKernelTests.cs against Kernels/Reference/ConvReference.cs.
/// </summary>
public static class Col2Im
{
    /// <summary>image[n, ih, iw, c] += Σ cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] over oh·S − P + kh = ih, ow·S − P + kw = iw.</summary>
    public static void Accumulate<T>(ReadOnlySpan<T> cols, ConvGeometry g, Span<T> image) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Im2Col.CheckLengths(image.Length, cols.Length, g);
        AccumulatePixels(cols, g, image, 0, g.N * g.H * g.W);
    }

    /// <summary>Pixels [first, first + count) of the image, a pixel being one (n, ih, iw).</summary>
    static void AccumulatePixels<T>(ReadOnlySpan<T> cols, ConvGeometry g, Span<T> image, int first, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = g.C, pl = g.PatchLength;
        for (int pixel = first; pixel < first + count; pixel++)
        {
            int iw = pixel % g.W, t = pixel / g.W, ih = t % g.H, n = t / g.H;
            var dst = image.Slice(pixel * c, c);
            for (int j = 0; j < c; j++)
            {
                T s = T.Zero;
                for (int kh = 0; kh < g.KH; kh++)
                {
                    int th = ih + g.Pad - kh;   // = oh·S
                    if (th < 0) break;
                    if (th % g.Stride != 0 || th / g.Stride >= g.OH) continue;
                    for (int kw = 0; kw < g.KW; kw++)
                    {
                        int tw = iw + g.Pad - kw;
                        if (tw < 0) break;
                        if (tw % g.Stride != 0 || tw / g.Stride >= g.OW) continue;
                        s += cols[((n * g.OH + th / g.Stride) * g.OW + tw / g.Stride) * pl + (kh * g.KW + kw) * c + j];
                    }
                }
                dst[j] += s;
            }
        }
    }
}
