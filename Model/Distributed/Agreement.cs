using System.IO.Hashing;
using System.Runtime.InteropServices;
using System.Text;
using InfoVae.Engine.Distributed;

namespace InfoVae.Model.Distributed;

/// <summary>
/// How the ranks of a run agree before training: each does its part of the setup and they compare notes, so that
/// a refusal on any rank (a bad flag, a missing file, different data) stops every rank at the same point, and
/// rank 0 prints it as one line. One process: each helper just runs the work.
/// </summary>
public static class Agreement
{
    /// <summary>
    /// Runs <paramref name="work"/> on every rank; when it refuses (a <see cref="UserError"/>) on any rank, every rank
    /// throws the lowest such rank's error, to be printed by rank 0.
    /// </summary>
    public static TR Agree<TR>(this ICommunicator c, Func<TR> work)
    {
        if (c.Size == 1) return work();
        TR result = default!;
        string? error = null;
        try { result = work(); }
        catch (UserError e) { error = e.Message; }
        var all = c.GatherText(error == null ? "" : "!" + error);
        for (int r = 0; r < all.Length; r++)
            if (all[r].StartsWith('!'))
                throw new UserError((r == 0 ? "" : $"rank {r}: ") + all[r][1..]) { PrintedBy = 0 };
        return result;
    }

    public static void Agree(this ICommunicator c, Action work) => c.Agree(() => { work(); return 0; });

    /// <summary>
    /// Every rank's list of (what, value) against rank 0's: the first difference is refused with one line naming it.
    /// <paramref name="fix"/> ends the line.
    /// </summary>
    public static void Same(this ICommunicator c, IReadOnlyList<(string What, string Value)> items, string fix)
    {
        if (c.Size == 1) return;
        var all = c.GatherText(string.Join("\n", items.Select(i => $"{i.What}\t{i.Value}")));
        static (string What, string Value)[] Parse(string text) =>
            text.Length == 0 ? [] : text.Split('\n').Select(l => l.Split('\t', 2)).Select(p => (p[0], p[1])).ToArray();
        var first = Parse(all[0]);
        for (int r = 1; r < all.Length; r++)
        {
            var other = Parse(all[r]);
            for (int i = 0; i < Math.Max(first.Length, other.Length); i++)
            {
                var a = i < first.Length ? first[i] : ("", "");
                var b = i < other.Length ? other[i] : ("", "");
                if (a == b) continue;
                string what = a.Item1.Length > 0 ? a.Item1 : b.Item1;
                throw new UserError($"rank {r}'s {what} is {Show(b.Item2)} but rank 0's is {Show(a.Item2)}; {fix}")
                { PrintedBy = 0 };
            }
        }
    }

    static string Show(string value) => value.Length == 0 ? "not there" : value;

    /// <summary>Every rank's text, in rank order.</summary>
    public static string[] GatherText(this ICommunicator c, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var lengths = new int[c.Size];
        c.Allgather<int>([bytes.Length], lengths, Enumerable.Repeat(1, c.Size).ToArray());
        var all = new byte[lengths.Sum()];
        c.Allgather<byte>(bytes, all, lengths);
        var texts = new string[c.Size];
        for (int r = 0, at = 0; r < c.Size; at += lengths[r], r++)
            texts[r] = Encoding.UTF8.GetString(all, at, lengths[r]);
        return texts;
    }

    /// <summary>Rank 0's text on every rank.</summary>
    public static string ShareText(this ICommunicator c, string text)
    {
        if (c.Size == 1) return text;
        var bytes = Encoding.UTF8.GetBytes(c.Rank == 0 ? text : "");
        var length = new[] { bytes.Length };
        c.Broadcast<int>(length, 0);
        if (c.Rank != 0) bytes = new byte[length[0]];
        c.Broadcast<byte>(bytes, 0);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>A data set in a few words and a checksum of its pixels and labels (other files differ).</summary>
    public static string Describe(LabeledImages d)
    {
        ulong sum = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(d.Pixels.AsSpan())) ^ XxHash3.HashToUInt64(d.Labels);
        return $"{d.Count} images of {d.Rows}×{d.Cols} (checksum {sum:x16})";
    }
}
