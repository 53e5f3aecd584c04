using System.Runtime.InteropServices;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Distributed;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>
/// The step of <see cref="TrainConfig.Replicas"/> in-process replicas (<see cref="LocalReplicas"/>): replica r's net
/// shares <see cref="Net"/>'s weights and Adam moments, takes rows <see cref="BatchShare.Of"/>(B, r, N) of the batch
/// and of its noise, as MPI rank r would, and computes its share of the loss and its gradient on a thread of its own;
/// then each replica adds up its slice of the gradient over the replicas (in replica order, in double, as
/// <see cref="ICommunicator.SumInRankOrder"/> does), checks it, and runs Adam on its slice of the weights. So a step
/// forks and joins once, and computes what N MPI ranks compute, bit for bit. Batch norm's running statistics are the
/// primary's: the other replicas update copies of their own (sync batch norm normalises with the whole batch's
/// statistics), which nothing reads.
/// </summary>
public sealed partial class Trainer
{
    LocalReplicas? local;
    InfoVaeNet<float>[] nets = [];
    Dictionary<int, Tensor<float>>[] replicaBatches = [];
    IRowGather<float>[] replicaRows = [];
    /// <summary>Replica r's slice of the flat weights, gradient and moments: its part of the sum and of Adam.</summary>
    (Tensor<float> Values, Tensor<float> Grad, Tensor<float> M, Tensor<float> V)[] slices = [];
    GCHandle[] pinned = [];
    nint[] gradients = [];
    float[] shareTerms = [];
    bool[] sliceFinite = [];
    Action<int>? replicaBody;
    int stepStart, stepRows;
    bool stepAnomaly;

    /// <summary>The in-process replicas training together (1: the whole batch at once).</summary>
    public int LocalReplicaCount => nets.Length == 0 ? 1 : nets.Length;

    /// <summary>
    /// Replicas on the CPU backend of a single process; otherwise (a GPU, an MPI rank) a run with replicas trains
    /// each batch whole (resumed there, the command says the rest of the run is rounded differently).
    /// </summary>
    void StartReplicas()
    {
        int n = Config.Replicas;
        if (n <= 1 || Net.Backend is not CpuBackend<float> || Replicas.Size > 1 || Net.Disc != null) return;
        local = new LocalReplicas(n);
        nets = new InfoVaeNet<float>[n];
        nets[0] = Net;
        for (int r = 1; r < n; r++) nets[r] = new InfoVaeNet<float>(Config, Net.Backend, Net) { Replicas = local[r] };
        replicaBatches = Enumerable.Range(0, n).Select(_ => new Dictionary<int, Tensor<float>>()).ToArray();
        replicaRows = Enumerable.Range(0, n).Select(_ => Net.Backend.KeepRows(Train.Pixels, Train.PixelsPerImage))
            .ToArray();
        var p = Net.Params;
        slices = Enumerable.Range(0, n).Select(r =>
        {
            // whole cache lines each, so that no two replicas write to one
            int from = SliceStart(r, n, p.Count), length = SliceStart(r + 1, n, p.Count) - from;
            Tensor<float> View(Storage<float> s) => Tensor<float>.View(s, from, new Shape(length));
            return (View(p.Values), View(p.Grads), View(p.AdamM), View(p.AdamV));
        }).ToArray();
        pinned = new GCHandle[n];
        gradients = new nint[n];
        shareTerms = new float[3 * n];
        sliceFinite = new bool[n];
        replicaBody = ReplicaShare;
    }

    static int SliceStart(int r, int n, int count) => r == n ? count : (int)((long)count * r / n) / 16 * 16;

    StepMetrics ReplicaStep(int start, int b)
    {
        int z = Config.Latent, m = Config.PriorCount(b), n = nets.Length;
        // the twin's draws, in its order: eps for the whole batch, then the prior; replica r takes its rows of eps
        Noise.Normal(hostEps.AsSpan(0, b * z));
        Noise.Normal(hostPrior.AsSpan(0, m * z));
        stepStart = start; stepRows = b;
        stepAnomaly = Tape<float>.Current.DetectAnomaly;
        // the primary's collectives go to the other replicas for this step only: a batch too small to split, the
        // test-set loss and the pictures run on the primary alone
        Net.Replicas = local![0];
        try
        {
            for (int r = 0; r < n; r++)
            {
                var g = nets[r].Params.AllGrad;
                pinned[r] = GCHandle.Alloc(((CpuStorage<float>)g.Storage).Data, GCHandleType.Pinned);
                gradients[r] = pinned[r].AddrOfPinnedObject() + g.Offset * sizeof(float);
            }
            local.Run(replicaBody!);
        }
        finally
        {
            Net.Replicas = Replicas;
            for (int r = 0; r < n; r++) if (pinned[r].IsAllocated) pinned[r].Free();
        }
        var metrics = ShareMetrics();
        if (metrics.IsFinite)
        {
            // the replicas took the step if every slice of the gradient was finite; if not, this throws the
            // error that names the parameter, as one process would (no weight or moment was written)
            if (sliceFinite.AsSpan().Contains(false)) Net.AdamStep(Step + 1, gradientsFinite: false);
            Step++;
        }
        return metrics;
    }

    /// <summary>The step's metrics from the replicas' shares (the same on every replica).</summary>
    StepMetrics ShareMetrics()
    {
        double recon = 0, kl = 0;
        for (int r = 0; r < nets.Length; r++) { recon += shareTerms[3 * r]; kl += shareTerms[3 * r + 1]; }
        return Combined(recon, kl, shareTerms[2]);
    }

    /// <summary>
    /// Replica r, on its own thread and tape: forward and backward on its rows of the batch; then, once every replica
    /// is there, its slice of the summed gradient and its check; then Adam on its slice if every slice was finite.
    /// </summary>
    void ReplicaShare(int r)
    {
        var net = nets[r];
        var tape = Tape<float>.Current;
        if (tape.DetectAnomaly != stepAnomaly) tape.DetectAnomaly = stepAnomaly;
        int z = Config.Latent, m = Config.PriorCount(stepRows);
        var share = BatchShare.Of(stepRows, r, nets.Length);
        try
        {
            var x = Gather(order.AsSpan(stepStart + share.Offset, share.Count), replicaBatches[r], replicaRows[r]);
            var eps = tape.Scratch(new Shape(share.Count, z), net.Backend);
            eps.CopyFrom(hostEps.AsSpan(share.Offset * z, share.Count * z));
            var prior = tape.Scratch(new Shape(m, z), net.Backend);
            prior.CopyFrom(hostPrior.AsSpan(0, m * z));
            net.ZeroGrad();
            net.Training = true;
            var terms = net.Loss(x, eps, prior, share);
            tape.CheckAnomalies();
            terms.Total.Backward();
            net.Params.MaterializeGrads();
            net.Backend.ReadScalars([terms.Recon, terms.Kl, terms.Mmd], shareTerms.AsSpan(3 * r, 3));
        }
        finally { net.Training = false; tape.Reset(); }

        var comm = local![r];
        comm.Barrier();   // every replica's gradient and terms are complete
        var slice = slices[r];
        int from = slice.Grad.Offset;
        Span<nint> sources = stackalloc nint[nets.Length];
        for (int q = 0; q < nets.Length; q++) sources[q] = gradients[q] + from * sizeof(float);
        unsafe { OrderedSum.Sum<float>(sources, slice.Grad.Length, (float*)sources[0]); }
        sliceFinite[r] = net.Backend.AllFinite(slice.Grad);
        comm.Barrier();   // every slice is summed and checked: all replicas decide alike
        if (!ShareMetrics().IsFinite || sliceFinite.AsSpan().Contains(false)) return;
        net.Backend.Adam(slice.Values, slice.Grad, slice.M, slice.V, Config.LearningRate, Config.Beta1, Config.Beta2,
            Config.AdamEps, Step + 1);
    }
}
