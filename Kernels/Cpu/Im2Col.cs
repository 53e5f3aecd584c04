using System.Numerics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// im2col in channels-last layout (see <see cref="ConvGeometry"/>): image (N, H, W, C) → cols (Rows, KH·KW·C).
/// For one patch row kh, the KW·C values of cols are one contiguous run of the image (NHWC keeps w and c adjacent),
/// clipped at the left and right edges, so the copy is one span copy per (row, kh) plus zero fills for the padding.
/// Correctness: Tests/Kernels/ConvKernelTests.cs against Kernels/Reference/ConvReference.cs.
/// </summary>
public static class Im2Col
{
    /// <summary>cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] = image[n, oh·S − P + kh, ow·S − P + kw, c], 0 outside (overwrites cols).</summary>
    public static void Copy<T>(ReadOnlySpan<T> image, ConvGeometry g, Span<T> cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckLengths(image.Length, cols.Length, g);
        CopyRows(image, g, cols, 0, g.Rows);
    }

    /// <summary>Rows [first, first + count) of cols.</summary>
    static void CopyRows<T>(ReadOnlySpan<T> image, ConvGeometry g, Span<T> cols, int first, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int pl = g.PatchLength, kwc = g.KW * g.C;
        for (int row = first; row < first + count; row++)
        {
            int ow = row % g.OW, t = row / g.OW, oh = t % g.OH, n = t / g.OH;
            int ih0 = oh * g.Stride - g.Pad, iw0 = ow * g.Stride - g.Pad;
            // The kw range that lands inside the image: [kwLo, kwHi).
            int kwLo = Math.Max(0, -iw0), kwHi = Math.Min(g.KW, g.W - iw0);
            var dst = cols.Slice(row * pl, pl);
            for (int kh = 0; kh < g.KH; kh++)
            {
                var d = dst.Slice(kh * kwc, kwc);
                int ih = ih0 + kh;
                if (ih < 0 || ih >= g.H || kwHi <= kwLo) { d.Clear(); continue; }
                d[..(kwLo * g.C)].Clear();
                image.Slice(((n * g.H + ih) * g.W + iw0 + kwLo) * g.C, (kwHi - kwLo) * g.C).CopyTo(d[(kwLo * g.C)..]);
                d[(kwHi * g.C)..].Clear();
            }
        }
    }

    internal static void CheckLengths(int image, int cols, ConvGeometry g)
    {
        g.Validate();
        if (image != g.ImageLength) throw new ArgumentException($"image holds {image} elements, not N·H·W·C = {g.ImageLength} ({g})", nameof(image));
        if (cols != g.ColsLength) throw new ArgumentException($"cols holds {cols} elements, not Rows·PatchLength = {g.Rows}·{g.PatchLength} ({g})", nameof(cols));
    }
}
