using InfoVae.Kernels.Cpu;
using InfoVae.Model;

namespace InfoVae.Tests.Model;

/// <summary>
/// The MMD's default scales are shared by every config and spec: no one may change them for the others.
/// </summary>
public class SharedDefaultsTests
{
    static readonly double[] Wae = [0.1, 0.2, 0.5, 1, 2, 5, 10];

    [Test]
    public void Changing_one_configs_scales_leaves_the_defaults_alone()
    {
        var mine = new TrainConfig();
        mine.Scales[0] = 99;                         // a caller's own array: allowed, and private to it
        MmdSpec.Default.Scales[1] = 98;
        Assert.That(new TrainConfig().Scales, Is.EqualTo(Wae), "a new config");
        Assert.That(MmdSpec.WaeScales, Is.EqualTo(Wae), "MmdSpec.WaeScales");
        Assert.That(MmdSpec.Default.Scales, Is.EqualTo(Wae), "MmdSpec.Default");
        Assert.That(new TrainConfig().Mmd.Scales, Is.EqualTo(Wae), "a config's spec");
    }
}
