using InfoVae.Model.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace InfoVae.Bench;

/// <summary>Fashion-MNIST, read once per process (DataSet.Load, /usr/share/datasets/fashion-mnist), and the same
/// 60,000 × 784 pixels as one TorchSharp tensor for the peer.</summary>
static class ModelData
{
    static DataSet? data;
    static Tensor? torchTrain;

    public static DataSet Data => data ??= DataSet.Load();

    public static Tensor TorchTrain
        => torchTrain ??= torch.tensor(Data.Train.Pixels, [Data.Train.Count, Data.Train.PixelsPerImage]);
}
