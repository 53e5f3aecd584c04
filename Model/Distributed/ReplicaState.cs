using System.IO.Hashing;
using System.Runtime.InteropServices;
using InfoVae.Engine.Distributed;

namespace InfoVae.Model.Distributed;

/// <summary>
/// Where training stands (weights, Adam's moments, batch norm's running statistics and counters, the position and the
/// noise generator), copied from rank 0 to every rank before the first step and compared by checksum, so the
/// replicas start equal; Adam then keeps them equal (the same summed gradients on every rank).
/// </summary>
public static class ReplicaState
{
    /// <summary>XxHash3 of everything that makes up the trainer's state.</summary>
    public static ulong Checksum(Trainer t)
    {
        var h = new XxHash3();
        var p = t.Net.Params;
        foreach (var tensor in new[] { p.All, p.AllM, p.AllV, p.AllBuffers })
            if (tensor != null) h.Append(MemoryMarshal.AsBytes(tensor.ToArray().AsSpan()));
        h.Append(MemoryMarshal.AsBytes(Position(t).AsSpan()));
        var state = new uint[TorchGenerator.StateLength];
        t.Noise.SaveState(state);
        h.Append(MemoryMarshal.AsBytes(state.AsSpan()));
        return h.GetCurrentHashAsUInt64();
    }

    /// <summary>
    /// Copies rank 0's state to every rank. A fresh run's ranks have each drawn the weights from the seed first: a
    /// rank whose own draw differs from rank 0's is refused (a different build or instruction set), and so is any
    /// rank whose state after the copy differs from rank 0's.
    /// </summary>
    public static void Share(Trainer t, ICommunicator c, bool fresh)
    {
        if (c.Size == 1) return;
        ulong own = Checksum(t);
        var p = t.Net.Params;
        foreach (var tensor in new[] { p.All, p.AllM, p.AllV, p.AllBuffers })
        {
            if (tensor == null) continue;
            var values = tensor.ToArray();
            c.Broadcast<float>(values, 0);
            tensor.CopyFrom(values);
        }
        var position = Position(t);
        c.Broadcast<long>(position, 0);
        (t.Step, t.Epoch, t.NextBatch) = (position[0], (int)position[1], (int)position[2]);
        position.AsSpan(3).CopyTo(p.BatchesTracked);
        var state = new uint[TorchGenerator.StateLength];
        t.Noise.SaveState(state);
        c.Broadcast<uint>(state, 0);
        t.Noise.RestoreState(state);

        var sums = new ulong[2 * c.Size];
        c.Allgather<ulong>([own, Checksum(t)], sums, Enumerable.Repeat(2, c.Size).ToArray());
        for (int r = 1; r < c.Size; r++)
        {
            if (fresh && sums[2 * r] != sums[0])
                throw new UserError($"rank {r} drew different initial weights from --seed {t.Config.Seed} than rank 0 "
                    + $"(state checksum {sums[2 * r]:x16}, rank 0 {sums[0]:x16}); run the same infovae build on every "
                    + "node")
                { PrintedBy = 0 };
            if (sums[2 * r + 1] != sums[1])
                throw new UserError($"rank {r} holds a different training state than rank 0 after the broadcast "
                    + $"(checksum {sums[2 * r + 1]:x16}, rank 0 {sums[1]:x16}); check the MPI installation on every "
                    + "node")
                { PrintedBy = 0 };
        }
    }

    /// <summary>At an epoch's end: the replicas' states must still agree (the same gradients, the same Adam).</summary>
    public static void Verify(Trainer t, ICommunicator c)
    {
        if (c.Size == 1) return;
        var sums = new ulong[c.Size];
        c.Allgather<ulong>([Checksum(t)], sums, Enumerable.Repeat(1, c.Size).ToArray());
        for (int r = 1; r < c.Size; r++)
            if (sums[r] != sums[0])
                throw new UserError($"the ranks' training states drifted apart by step {t.Step} (rank {r}'s checksum "
                    + $"{sums[r]:x16}, rank 0's {sums[0]:x16}); run the same infovae build and --device on every node, "
                    + "and report it if they were")
                { PrintedBy = 0 };
    }

    static long[] Position(Trainer t) => [t.Step, t.Epoch, t.NextBatch, .. t.Net.Params.BatchesTracked];
}
