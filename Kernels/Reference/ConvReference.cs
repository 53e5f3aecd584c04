namespace InfoVae.Kernels.Reference;

// 2-D convolution in channels-last layout, written out as loops (see ConvGeometry for the letters).
// N = batch, H×W = image, C = image channels, KH×KW = kernel, S = stride, P = pad, OH×OW = grid of patches.
// Tested against: Kernels/Cpu/Im2Col.cs, Col2Im.cs (Tests/Kernels/ConvKernelTests.cs), Engine/Ops/Conv2d.cs and
// ConvTranspose2d.cs (Tests/Engine/ConvOpTests.cs). PyTorch's definitions:
// https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html, .../torch.nn.ConvTranspose2d.html
public static partial class Reference
{
    /// <summary>
    /// cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] = image[n, oh·S − P + kh, ow·S − P + kw, c], 0 outside. image: (N,
    /// H, W, C); cols: (Rows, PatchLength).
    /// </summary>
    public static void Im2Col(ReadOnlySpan<double> image, ConvGeometry g, Span<double> cols)
    {
        for (int n = 0; n < g.N; n++)
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                    for (int kh = 0; kh < g.KH; kh++)
                        for (int kw = 0; kw < g.KW; kw++)
                            for (int c = 0; c < g.C; c++)
                            {
                                int ih = oh * g.Stride - g.Pad + kh, iw = ow * g.Stride - g.Pad + kw;
                                bool inside = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
                                cols[((n * g.OH + oh) * g.OW + ow) * g.PatchLength + (kh * g.KW + kw) * g.C + c] =
                                    inside ? image[((n * g.H + ih) * g.W + iw) * g.C + c] : 0;
                            }
    }

    /// <summary>
    /// image[n, ih, iw, c] += Σ cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] over the (oh, ow, kh, kw) with
    /// oh·S − P + kh = ih and ow·S − P + kw = iw: the adjoint of <see cref="Im2Col"/>. The sum runs kh ascending, then
    /// kw ascending, starting from 0, and is then added to the image (the order the fast kernels use).
    /// </summary>
    public static void Col2Im(ReadOnlySpan<double> cols, ConvGeometry g, Span<double> image)
    {
        for (int n = 0; n < g.N; n++)
            for (int ih = 0; ih < g.H; ih++)
                for (int iw = 0; iw < g.W; iw++)
                    for (int c = 0; c < g.C; c++)
                    {
                        double s = 0;
                        for (int kh = 0; kh < g.KH; kh++)
                        {
                            int th = ih + g.Pad - kh;   // = oh·S
                            if (th < 0 || th % g.Stride != 0 || th / g.Stride >= g.OH) continue;
                            for (int kw = 0; kw < g.KW; kw++)
                            {
                                int tw = iw + g.Pad - kw;
                                if (tw < 0 || tw % g.Stride != 0 || tw / g.Stride >= g.OW) continue;
                                s += cols[((n * g.OH + th / g.Stride) * g.OW + tw / g.Stride) * g.PatchLength
                                    + (kh * g.KW + kw) * g.C + c];
                            }
                        }
                        image[((n * g.H + ih) * g.W + iw) * g.C + c] += s;
                    }
    }

    /// <summary>
    /// Direct conv2d: y[n, oh, ow, o] = b[o] + Σ_{kh, kw, c} x[n, oh·S − P + kh, ow·S − P + kw, c] · w[o, kh, kw, c].
    /// x: (N, H, W, C) = g's image; w: (OC, KH, KW, C); b: (OC) or empty; y: (N, OH, OW, OC).
    /// </summary>
    public static void Conv2d(ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> b, ConvGeometry g,
        int oc, Span<double> y)
    {
        for (int n = 0; n < g.N; n++)
            for (int oh = 0; oh < g.OH; oh++)
                for (int ow = 0; ow < g.OW; ow++)
                    for (int o = 0; o < oc; o++)
                    {
                        double s = b.IsEmpty ? 0 : b[o];
                        for (int kh = 0; kh < g.KH; kh++)
                            for (int kw = 0; kw < g.KW; kw++)
                            {
                                int ih = oh * g.Stride - g.Pad + kh, iw = ow * g.Stride - g.Pad + kw;
                                if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                for (int c = 0; c < g.C; c++)
                                    s += x[((n * g.H + ih) * g.W + iw) * g.C + c]
                                        * w[((o * g.KH + kh) * g.KW + kw) * g.C + c];
                            }
                        y[((n * g.OH + oh) * g.OW + ow) * oc + o] = s;
                    }
    }

    /// <summary>
    /// Direct conv-transpose2d as a scatter: every input pixel x[n, ih, iw, ·] adds x[n, ih, iw, ci] · w[ci, kh, kw,
    /// co] to y[n, ih·S − P + kh, iw·S − P + kw, co] where that lands inside y; y starts at b. Here g describes the
    /// adjoint conv: image = y (N, OH, OW, Cout) = (g.N, g.H, g.W, g.C), grid = x's positions (IH, IW) = (g.OH, g.OW).
    /// x: (N, IH, IW, Cin); w: (Cin, KH, KW, Cout); b: (Cout) or empty; y: (N, OH, OW, Cout).
    /// </summary>
    public static void ConvTranspose2d(ReadOnlySpan<double> x, ReadOnlySpan<double> w, ReadOnlySpan<double> b,
        ConvGeometry g, int cin, Span<double> y)
    {
        int cout = g.C;
        for (int p = 0; p < g.ImageLength; p++) y[p] = b.IsEmpty ? 0 : b[p % cout];
        for (int n = 0; n < g.N; n++)
            for (int ih = 0; ih < g.OH; ih++)
                for (int iw = 0; iw < g.OW; iw++)
                    for (int kh = 0; kh < g.KH; kh++)
                        for (int kw = 0; kw < g.KW; kw++)
                        {
                            int oh = ih * g.Stride - g.Pad + kh, ow = iw * g.Stride - g.Pad + kw;
                            if (oh < 0 || oh >= g.H || ow < 0 || ow >= g.W) continue;
                            for (int co = 0; co < cout; co++)
                            {
                                double s = 0;
                                for (int ci = 0; ci < cin; ci++)
                                    s += x[((n * g.OH + ih) * g.OW + iw) * cin + ci]
                                        * w[((ci * g.KH + kh) * g.KW + kw) * cout + co];
                                y[((n * g.H + oh) * g.W + ow) * cout + co] += s;
                            }
                        }
    }
}
