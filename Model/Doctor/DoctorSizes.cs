namespace InfoVae.Model.Doctor;

/// <summary>
/// The sizes the doctor checks at. Full: the model's real sizes (batch 256, the MLP 784-512-256-32, the conv net
/// 32-64-128, GEMM N = 256…4096, pairwise distances and MMD at n = 256, 1024, 4096 and d = 32, 128). Quick: a
/// miniature of the same shapes with awkward (odd, non-power-of-two) sizes, small enough for ILGPU's CPU accelerator
/// in CI: that accelerator runs each thread group's barrier through System.Threading.Barrier, about a third of a
/// millisecond each on 2 cores, and a tiled GEMM of n³ takes 2·(n/4)³ of them, so n stays near 20. Elements: the
/// length of the elementwise ops (a batch of images); Rows × Cols: the 2-D ops.
/// </summary>
public sealed record DoctorSizes(bool Quick, int Elements, int Rows, int Cols, int[] Gemm, TrainConfig Mlp,
    int MlpBatch, TrainConfig Conv, int ConvBatch, int[] DistN, int[] DistD)
{
    public static DoctorSizes Full { get; } = new(false, 256 * 784, 256, 784, [256, 512, 1024, 2048, 4096],
        new TrainConfig(), 256, new TrainConfig { Arch = Architecture.Conv }, 256, [256, 1024, 4096], [32, 128]);

    public static DoctorSizes Small { get; } = new(true, 1003, 13, 77, [13, 21],
        new TrainConfig { InputSize = 25, Hidden = [12, 8], Latent = 3 }, 6,
        new TrainConfig { Arch = Architecture.Conv, Channels = [2, 3, 4], Latent = 3 }, 2, [9, 17], [3, 8]);
}
