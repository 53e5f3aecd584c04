namespace InfoVae.Model;

/// <summary>
/// The order in which an epoch visits the training images: PyTorch's torch.randperm(n, generator) from a generator
/// seeded with the run's seed, one permutation per epoch in turn (the twin's DataLoader-free loop), so any epoch's
/// order is recomputed on resume by replaying the earlier ones (a few milliseconds).
/// </summary>
public static class Batches
{
    public static void Shuffle(int[] order, ulong seed, int epoch)
    {
        var g = new TorchGenerator(seed);
        for (int e = 0; e <= epoch; e++) g.Randperm(order);
    }

    public static int Count(int images, int batch) => (images + batch - 1) / batch;
}
