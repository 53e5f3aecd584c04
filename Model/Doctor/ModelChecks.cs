using InfoVae.Engine;
using InfoVae.Kernels;
using static InfoVae.Model.Doctor.Arena;

namespace InfoVae.Model.Doctor;

/// <summary>
/// The checks above the primitives: each conv and transposed-conv layer of the conv net (forward and backward
/// through the Engine's ops, at the net's batch) and one whole training step of the MLP and of the conv net
/// (batch upload, noise, forward, loss, backward, Adam), through the same <see cref="Trainer"/> that train runs.
/// </summary>
public static class ModelChecks
{
    public static IEnumerable<OpCheck> All(DoctorSizes s)
    {
        var enc = ConvArch.Encoder(s.Conv.Channels);
        var dec = ConvArch.Decoder(s.Conv.Channels);
        for (int i = 0; i < enc.Length; i++)
            yield return ConvLayer(ConvArch.EncoderConv(i), enc[i], s.ConvBatch, transposed: false, bias: false);
        for (int i = 0; i < dec.Length; i++)
            yield return ConvLayer(ConvArch.DecoderConv(i), dec[i], s.ConvBatch, transposed: true,
                bias: i == dec.Length - 1);
        yield return Step("mlp_train_step", s.Mlp, s.MlpBatch);
        yield return Step("conv_train_step", s.Conv, s.ConvBatch);
    }

    /// <summary>GEMM FLOP of one conv layer's forward, input and weight gradients: 3 × 2·rows·patch·cout.</summary>
    static double ConvFlop(ConvLayer l, int b, bool transposed)
    {
        int rows = b * (transposed ? l.InSize * l.InSize : l.OutSize * l.OutSize);
        int patch = l.Kernel * l.Kernel * (transposed ? l.Out : l.In), other = transposed ? l.In : l.Out;
        return 3.0 * 2 * rows * patch * other;
    }

    static OpCheck ConvLayer(string name, ConvLayer l, int b, bool transposed, bool bias)
    {
        int k = l.Kernel;
        int outputPad = transposed ? l.OutSize - ConvGeometry.TransposedOutputSize(l.InSize, k, l.Stride, l.Pad, 0) : 0;
        return new OpCheck(transposed ? "conv_transpose2d" : "conv2d",
            $"{name} {l.In}→{l.Out} k{k} s{l.Stride} p{l.Pad}, ({b}, {l.InSize}, {l.InSize}, {l.In}) → "
            + $"({b}, {l.OutSize}, {l.OutSize}, {l.Out})", be =>
        {
            var a = new Arena(be);
            var x = a.Random(200, -1, 1, b, l.InSize, l.InSize, l.In);
            var w = transposed ? a.Random(201, -0.2, 0.2, l.In, k, k, l.Out)
                : a.Random(201, -0.2, 0.2, l.Out, k, k, l.In);
            var bv = bias ? a.Random(202, -0.5, 0.5, l.Out) : null;
            foreach (var t in new[] { x, w, bv }) if (t != null) t.RequiresGrad = true;
            var seed = a.Random(203, -1, 1, b, l.OutSize, l.OutSize, l.Out);
            var tape = Tape<float>.Current;
            Tensor<float>? y = null;
            float[]? firstY = null;
            int terms = k * k * Math.Max(l.In, l.Out), rows = b * l.OutSize * l.OutSize;
            return new PreparedOp(() =>
            {
                tape.Reset();
                y = transposed ? Ops.ConvTranspose2d(x, w, bv, l.Stride, l.Pad, outputPad)
                    : Ops.Conv2d(x, w, bv, l.Stride, l.Pad);
                y.Backward(seed);
                firstY ??= y.ToArray();
            }, () =>
            {
                var outs = new List<CheckOutput>
                {
                    new("y", firstY!, Tolerances.Reduction(terms)), Out("dx", x.Grad!, Tolerances.Reduction(terms)),
                    Out("dw", w.Grad!, Tolerances.Reduction(rows)),
                };
                if (bv != null) outs.Add(Out("db", bv.Grad!, Tolerances.Reduction(rows)));
                return outs;
            }, () => { tape.Reset(); a.Dispose(); });
        }, Flop: ConvFlop(l, b, transposed));
    }

    /// <summary>
    /// Napkin FLOP of one step: MLP, 6·(weights)·B for the layers' forward and two backward GEMMs plus ~14·B²·Z for
    /// the MMD (Bench/TrainStepBench.cs); conv net, the six conv layers' GEMMs plus the two linear layers'.
    /// </summary>
    public static double StepFlop(TrainConfig cfg, int b)
    {
        double mmd = 14.0 * b * b * cfg.Latent;
        if (cfg.Arch == Architecture.Mlp)
        {
            int[] w = [cfg.InputSize, .. cfg.Hidden, 2 * cfg.Latent];
            double weights = 0;
            for (int l = 0; l + 1 < w.Length; l++) weights += (double)w[l] * w[l + 1];
            weights += weights - (double)w[^2] * w[^1] + (double)w[^2] * cfg.Latent;   // the decoder, from Z
            return 6 * weights * b + mmd;
        }
        double conv = ConvArch.Encoder(cfg.Channels).Sum(l => ConvFlop(l, b, false))
            + ConvArch.Decoder(cfg.Channels).Sum(l => ConvFlop(l, b, true));
        return conv + 6.0 * b * ConvArch.Flat(cfg.Channels) * 3 * cfg.Latent + mmd;
    }

    /// <summary>
    /// One step of <see cref="Trainer"/> from the seed's initial weights on 4·B random images: the four loss terms and
    /// every parameter's gradient (and the conv net's batch-norm running statistics) after the first call. The
    /// weights after Adam are not compared: a first Adam step moves each weight by lr·sign(g), so a gradient within
    /// rounding of zero may flip it by 2·lr on either backend; Adam itself is checked on its own.
    /// </summary>
    static OpCheck Step(string op, TrainConfig cfg, int b)
    {
        int side = (int)Math.Round(Math.Sqrt(cfg.InputSize));
        var config = cfg with { Batch = b, Epochs = int.MaxValue };
        return new OpCheck(op, $"{config.Describe()}, batch {b}", be =>
        {
            var data = new LabeledImages(Uniform(4 * b * side * side, 300, 0, 1), new byte[4 * b], side, side);
            var trainer = new Trainer(config, data, be);
            trainer.InitializeWeights();
            StepMetrics? first = null;
            return new PreparedOp(() =>
            {
                var m = trainer.TrainStep();
                first ??= m;
            }, () =>
            {
                var m = first!.Value;
                var p = trainer.Net.Params;
                var outs = new List<CheckOutput>
                {
                    new("total", [(float)m.Total], Tolerances.TrainingStep),
                    new("recon", [(float)m.Recon], Tolerances.TrainingStep),
                    new("kl", [(float)m.Kl], Tolerances.TrainingStep),
                    new("mmd", [(float)m.Mmd], Tolerances.StepMmd),
                };
                for (int i = 0; i < p.Tensors.Length; i++)
                    outs.Add(Out($"{p.Layout[i].Name}.grad", p.Tensors[i].Grad!, Tolerances.TrainingStep));
                if (p.AllBuffers is { } buffers)
                    outs.Add(Out("batch-norm running statistics", buffers, Tolerances.TrainingStep));
                return outs;
            });
        }, Flop: StepFlop(config, b));
    }
}
