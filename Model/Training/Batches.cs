using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>
/// The order in which an epoch visits the training images: a Fisher-Yates shuffle driven by Philox with the
/// run's seed and the epoch number, so any epoch's order can be recomputed on resume without saved state.
/// </summary>
public static class Batches
{
    public static void Shuffle(int[] order, ulong seed, int epoch)
    {
        for (int i = 0; i < order.Length; i++) order[i] = i;
        ulong key = RandomStreams.Key(seed, RandomStreams.Shuffle);
        ulong counter = (ulong)epoch << 32;
        for (int i = order.Length - 1; i > 0; i--)
        {
            // One 32-bit word per swap; the modulo bias is below 2^-12 for data sets under a million images.
            var (w, _, _, _) = Philox.Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)key, (uint)(key >> 32));
            counter++;
            int j = (int)(w % (uint)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
    }

    public static int Count(int images, int batch) => (images + batch - 1) / batch;
}
