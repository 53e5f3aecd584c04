using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// Joins tensors along <paramref name="axis"/> (all other sizes equal). Seen as (outer, axis·inner) rows, each
    /// input is a column window of the output. ∂: each input gets its window of dy.
    /// </summary>
    public static Tensor<T> Concat<T>(int axis, params Tensor<T>[] xs) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (xs.Length == 0) throw new ArgumentException("concat needs at least one tensor");
        var first = xs[0];
        int ax = first.Shape.NormalizeAxis(axis), total = 0;
        for (int i = 0; i < xs.Length; i++)
        {
            SameBackend(first, xs[i]);
            xs[i] = xs[i].Contiguous();
            if (xs[i].Shape.Rank != first.Shape.Rank || xs[i].Shape.With(ax, 0) != first.Shape.With(ax, 0))
                throw new ArgumentException($"concat along axis {ax}: {xs[i].Shape} does not match {first.Shape}");
            total += xs[i].Shape[ax];
        }
        var tape = TapeOf<T>();
        var y = tape.Node("concat", first.Shape.With(ax, total), first.Backend);
        SetInputs(y, xs); ConcatAxis(y) = ax;
        y.RequiresGrad = tape.GradEnabled && Array.Exists(xs, x => x.RequiresGrad);
        ForEachWindow(y, xs, ax, (x, win) => y.Backend.CopyRows(Flat(x, Scratch<T>.B, win.Shape), win,
            accumulate: false), y);
        if (y.RequiresGrad)
            y.BackwardFn = static y =>
            {
                var xs = Inputs(y);
                ForEachWindow(y.Grad!, xs, ConcatAxis(y), (x, win) =>
                {
                    if (x.RequiresGrad)
                        y.Backend.CopyRows(win, Flat(x.GradOrZeros(), Scratch<T>.B, win.Shape), accumulate: true);
                }, y);
            };
        return y;
    }

    // For each input: the (outer, size·inner) window it occupies in the (outer, total·inner) output.
    static void ForEachWindow<T>(Tensor<T> output, Tensor<T>[] xs, int ax, Action<Tensor<T>, Tensor<T>> body,
        Tensor<T> shapeOf)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (outer, inner) = shapeOf.Shape.Around(ax);
        int rowLen = shapeOf.Shape[ax] * inner, col = 0;
        foreach (var x in xs)
        {
            int w = x.Shape[ax] * inner;
            body(x, Window(Scratch<T>.A, output.Storage, output.Backend, output.Offset + col, new Shape(outer, w),
                rowLen));
            col += w;
        }
    }

    static Tensor<T> Flat<T>(Tensor<T> x, Tensor<T> scratch, Shape shape)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Window(scratch, x.Storage, x.Backend, x.Offset, shape, shape.Last);

    /// <summary>Concat's inputs (any number, so not the parent slots; Tape.Collect also reads them).</summary>
    static Tensor<T>[] Inputs<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => (Tensor<T>[])y.State!;
    static void SetInputs<T>(Tensor<T> y, Tensor<T>[] xs) where T : unmanaged, IFloatingPointIeee754<T> => y.State = xs;
    /// <summary>The axis joined along, normalised.</summary>
    static ref int ConcatAxis<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.I0;
}
