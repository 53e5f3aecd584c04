using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace InfoVae.Model.IO;

/// <summary>
/// One ONNX model being built: a graph of float32 tensors whose first dimension is the dynamic batch ("batch"),
/// weights as initializers, nodes of the default domain at <see cref="Opset"/>. The messages are onnx.proto's,
/// compiled by protoc for Google.Protobuf (the OnnxSharp package); nothing here encodes protobuf by hand.
/// Operator semantics: https://onnx.ai/onnx/operators/.
/// </summary>
public sealed class OnnxGraph(string name, string doc)
{
    /// <summary>Opset 17 (ONNX 1.12) holds every operator used here; IR version 8 goes with it.</summary>
    public const int Opset = 17, IrVersion = 8;
    public const string BatchDim = "batch";

    readonly GraphProto graph = new() { Name = name, DocString = doc };

    /// <summary>A graph input (batch, width), float32.</summary>
    public string Input(string input, int width, string inputDoc)
    {
        graph.Input.Add(new ValueInfoProto { Name = input, Type = BatchOf(width), DocString = inputDoc });
        return input;
    }

    /// <summary>Declares the tensor <paramref name="output"/> (batch, width), float32, as a graph output.</summary>
    public void Output(string output, int width, string outputDoc) =>
        graph.Output.Add(new ValueInfoProto { Name = output, Type = BatchOf(width), DocString = outputDoc });

    /// <summary>A float32 initializer of shape <paramref name="dims"/> (row-major), as little-endian bytes.</summary>
    public string Weight(string weight, ReadOnlySpan<float> values, params int[] dims)
    {
        var t = new TensorProto { Name = weight, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (int d in dims) t.Dims.Add(d);
        if (t.Dims.Aggregate(1L, (a, d) => a * d) != values.Length)
            throw new ArgumentException($"{weight}: {values.Length} values do not fill ({string.Join(", ", dims)})");
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("ONNX raw data is little-endian");
        t.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values));
        graph.Initializer.Add(t);
        return weight;
    }

    /// <summary>A 1-D int64 initializer (a target shape, slice bounds).</summary>
    public string Int64s(string constant, params long[] values)
    {
        var t = new TensorProto { Name = constant, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.Add(values);
        graph.Initializer.Add(t);
        return constant;
    }

    /// <summary>Adds the node <paramref name="op"/>(inputs) → <paramref name="output"/>, named as its output.</summary>
    public string Node(string op, string[] inputs, string output, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = output };
        n.Input.Add(inputs);
        n.Output.Add(output);
        n.Attribute.Add(attributes);
        graph.Node.Add(n);
        return output;
    }

    public static AttributeProto Attribute(string attribute, long value) =>
        new() { Name = attribute, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string attribute, float value) =>
        new() { Name = attribute, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attribute(string attribute, params long[] values)
    {
        var a = new AttributeProto { Name = attribute, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.Add(values);
        return a;
    }

    /// <summary>The model around the graph, with string metadata (ONNX Runtime: CustomMetadataMap).</summary>
    public ModelProto ToModel(string producerVersion, IEnumerable<KeyValuePair<string, string>> metadata)
    {
        var m = new ModelProto
        {
            IrVersion = IrVersion, ProducerName = "infovae", ProducerVersion = producerVersion, Graph = graph,
            DocString = graph.DocString,
        };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        foreach (var (key, value) in metadata)
            m.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return m;
    }

    static TypeProto BatchOf(int width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = BatchDim });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new TypeProto
        {
            TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
        };
    }
}
