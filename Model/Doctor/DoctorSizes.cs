namespace InfoVae.Model.Doctor;

/// <summary>
/// The sizes the doctor checks at. Full: the model's real sizes (batch 256, the MLP 784-512-256-32, the conv net
/// 32-64-128, GEMM N = 256…4096, pairwise distances and MMD at n = 256, 1024, 4096 and d = 32, 128). Quick: a
/// miniature of the same shapes with awkward (odd, non-power-of-two) sizes, small enough for ILGPU's CPU accelerator
/// in CI. Elements: the length of the elementwise ops (a batch of images); Rows × Cols: the 2-D ops.
/// </summary>
public sealed record DoctorSizes(bool Quick, int Elements, int Rows, int Cols, int[] Gemm, TrainConfig Mlp,
    int MlpBatch, TrainConfig Conv, int ConvBatch, int[] DistN, int[] DistD)
{
    public static DoctorSizes Full { get; } = new(false, 256 * 784, 256, 784, [256, 512, 1024, 2048, 4096],
        new TrainConfig(), 256, new TrainConfig { Arch = Architecture.Conv }, 256, [256, 1024, 4096], [32, 128]);

    public static DoctorSizes Small { get; } = new(true, 1003, 13, 77, [33, 64],
        new TrainConfig { InputSize = 49, Hidden = [24, 16], Latent = 4 }, 8,
        new TrainConfig { Arch = Architecture.Conv, Channels = [2, 3, 4], Latent = 4 }, 4, [17, 40], [3, 8]);
}
