using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// x (N, C) with its rows [offset, offset + n) replaced by <paramref name="rows"/> (n, C): how a data-parallel rank
    /// puts its own z into the batch gathered from every rank (x, a constant copy of the others' rows), so that a
    /// loss over the whole batch back-propagates into this rank's rows only. ∂: rows gets those rows of dy; x gets dy
    /// everywhere else (its replaced rows do not reach the output).
    /// </summary>
    public static Tensor<T> ReplaceRows<T>(Tensor<T> x, Tensor<T> rows, int offset)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(x, rows);
        if (x.Shape.Rank != 2 || rows.Shape.Rank != 2 || rows.Shape[1] != x.Shape[1]
            || offset < 0 || offset + rows.Shape[0] > x.Shape[0])
            throw new ArgumentException($"replace_rows: {rows.Shape} at row {offset} does not fit inside {x.Shape}");
        x = x.Contiguous(); rows = rows.Contiguous();
        var y = TapeOf<T>().Node("replace_rows", x.Shape, x.Backend, x, rows);
        ReplacedFrom(y) = offset;
        var be = x.Backend;
        be.CopyRows(x, y, accumulate: false);
        be.CopyRows(rows, RowWindow(Scratch<T>.A, y, offset, rows.Shape[0]), accumulate: false);
        if (y.RequiresGrad)
            y.BackwardFn = static y =>
            {
                Tensor<T> x = First(y), rows = Second(y), dy = y.Grad!;
                int offset = ReplacedFrom(y), n = rows.Shape[0], after = x.Shape[0] - offset - n;
                var be = y.Backend;
                if (rows.RequiresGrad)
                    be.CopyRows(RowWindow(Scratch<T>.A, dy, offset, n), rows.GradOrZeros(), accumulate: true);
                if (!x.RequiresGrad) return;
                var dx = x.GradOrZeros();
                if (offset > 0)
                    be.CopyRows(RowWindow(Scratch<T>.A, dy, 0, offset), RowWindow(Scratch<T>.B, dx, 0, offset),
                        accumulate: true);
                if (after > 0)
                {
                    var from = RowWindow(Scratch<T>.A, dy, offset + n, after);
                    be.CopyRows(from, RowWindow(Scratch<T>.B, dx, offset + n, after), accumulate: true);
                }
            };
        return y;
    }

    /// <summary>The first replaced row, saved for the backward.</summary>
    static ref int ReplacedFrom<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.I0;

    /// <summary>Rows [first, first + count) of a contiguous (N, C) tensor, as a throwaway window.</summary>
    static Tensor<T> RowWindow<T>(Tensor<T> scratch, Tensor<T> t, int first, int count)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = t.Shape[1];
        return Window(scratch, t.Storage, t.Backend, t.Offset + first * c, new Shape(count, c), c);
    }
}
