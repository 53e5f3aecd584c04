namespace InfoVae.Model;

/// <summary>
/// A rank's rows of a batch of <see cref="Total"/> images spread over N ranks: [Offset, Offset + Count) of the
/// batch's rows, in the epoch's one order. Rank r takes rows ⌊r·B/N⌋ up to ⌊(r + 1)·B/N⌋: B/N each when N divides
/// B (the command line insists on that for --batch); an epoch's smaller last batch splits as evenly as it can.
/// </summary>
public readonly record struct BatchShare(int Offset, int Count, int Total)
{
    public static BatchShare Whole(int total) => new(0, total, total);

    public static BatchShare Of(int total, int rank, int ranks)
    {
        int first = (int)((long)total * rank / ranks), next = (int)((long)total * (rank + 1) / ranks);
        return new BatchShare(first, next - first, total);
    }
}
