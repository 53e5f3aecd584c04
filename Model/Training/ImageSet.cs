namespace InfoVae.Model;

/// <summary>Images as one contiguous (Count, Rows·Cols) float array in [0, 1], with their labels.</summary>
public sealed record ImageSet(float[] Pixels1D, int Count, int Rows, int Cols, byte[] Labels)
{
    public int Pixels => Rows * Cols;
    public ReadOnlySpan<float> Image(int i) => Pixels1D.AsSpan(i * Pixels, Pixels);
}
