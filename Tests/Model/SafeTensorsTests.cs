using System.Buffers.Binary;
using System.Text;
using InfoVae.Model;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

public class SafeTensorsTests
{
    [Test]
    public void Format_matches_a_hand_built_file_byte_for_byte()
    {
        using var dir = new TempFolder();
        var path = dir["two.safetensors"];
        SafeTensors.Write(path,
            [SafeTensor.From<float>("w", [1f, -2.5f], 2), SafeTensor.From<byte>("b", [7, 8, 9], 1, 3)],
            new Dictionary<string, string> { ["format"] = "pt" });

        // 140 bytes of JSON + 4 spaces = 144 = 0x90, so the data start at 8 + 144 = 152, a multiple of 8.
        const string json = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"U8\",\"shape\":[1,3],\"data_offsets\":[8,11]}}    ";
        byte[] expected =
        [
            0x90, 0, 0, 0, 0, 0, 0, 0,
            .. Encoding.ASCII.GetBytes(json),
            0x00, 0x00, 0x80, 0x3f,            // 1.0f little-endian
            0x00, 0x00, 0x20, 0xc0,            // -2.5f
            7, 8, 9,
        ];
        Assert.That(json.Length, Is.EqualTo(144));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(expected));
        Assert.That(File.Exists(path + ".tmp"), Is.False);
    }

    [Test]
    public void Round_trip_keeps_order_dtypes_shapes_values_and_metadata()
    {
        using var dir = new TempFolder();
        var path = dir["all.safetensors"];
        var f32 = Enumerable.Range(0,
            12).Select(i => MathF.Sin(i) * 1e3f).Append(float.NaN).Append(float.NegativeInfinity).ToArray();
        var f64 = new[] { Math.PI, -0.0, double.Epsilon, double.MaxValue };
        var i64 = new[] { long.MinValue, -1L, 0L, long.MaxValue };
        var i32 = new[] { int.MinValue, 42 };
        var u8 = new byte[] { 0, 128, 255 };
        var meta = new Dictionary<string, string> { ["epoch"] = "12", ["note"] = "ünïcode \"quoted\" \\ +<>" };
        SafeTensors.Write(path,
        [
            SafeTensor.From<float>("enc1.w", f32, 2, 7),
            SafeTensor.From<double>("scalar", f64.AsSpan(0, 1)),            // shape []: one element
            SafeTensor.From<double>("f64", f64, 4),
            SafeTensor.From<long>("step", i64, 2, 2),
            SafeTensor.From<int>("i32", i32, 2),
            SafeTensor.From<float>("empty", [], 0, 3),
            SafeTensor.From<byte>("u8", u8, 3, 1),
        ], meta);

        var file = SafeTensors.Read(path);
        Assert.That(file.Tensors.Select(t => t.Name),
            Is.EqualTo(new[] { "enc1.w", "scalar", "f64", "step", "i32", "empty", "u8" }));
        Assert.That(file.Metadata, Is.EquivalentTo(meta));
        Assert.That(file.Get("enc1.w", DType.F32, 2, 7).As<float>(), Is.EqualTo(f32));    // NaN equals NaN here
        Assert.That(file.Get("scalar", DType.F64).As<double>(), Is.EqualTo(new[] { Math.PI }));
        var d = file.Get("f64", DType.F64, 4).As<double>();
        Assert.That(d.Select(BitConverter.DoubleToInt64Bits), Is.EqualTo(f64.Select(BitConverter.DoubleToInt64Bits)),
            "bits, -0 included");
        Assert.That(file.Get("step", DType.I64, 2, 2).As<long>(), Is.EqualTo(i64));
        Assert.That(file.Get("i32", DType.I32, 2).As<int>(), Is.EqualTo(i32));
        Assert.That(file.Get("empty", DType.F32, 0, 3).ElementCount, Is.Zero);
        Assert.That(file.Get("u8", DType.U8, 3, 1).As<byte>(), Is.EqualTo(u8));
        var into = new float[14];
        file.Get("enc1.w", DType.F32, 2, 7).CopyTo<float>(into);
        Assert.That(into, Is.EqualTo(f32));
        Assert.That(file.GetMetadata("epoch"), Is.EqualTo("12"));
    }

    [Test]
    public void Header_is_padded_to_8_bytes_for_every_length()
    {
        using var dir = new TempFolder();
        var path = dir["pad.safetensors"];
        for (int len = 1; len <= 9; len++)
        {
            SafeTensors.Write(path, [SafeTensor.From<byte>(new string('n', len), [1], 1)]);
            var bytes = File.ReadAllBytes(path);
            long n = BinaryPrimitives.ReadInt64LittleEndian(bytes);
            Assert.That(n % 8, Is.Zero, $"name length {len}");
            Assert.That(bytes.Length, Is.EqualTo(8 + n + 1));
            Assert.That(SafeTensors.Read(path).Tensors[0].As<byte>(), Is.EqualTo(new byte[] { 1 }));
        }
    }

    [Test]
    public void Overwrites_an_existing_file()
    {
        using var dir = new TempFolder();
        var path = dir["c.safetensors"];
        SafeTensors.Write(path, [SafeTensor.From<float>("a", [1f, 2f, 3f], 3)]);
        SafeTensors.Write(path, [SafeTensor.From<float>("a", [4f], 1)]);
        Assert.That(SafeTensors.Read(path).Tensors.Single().As<float>(), Is.EqualTo(new[] { 4f }));
    }

    [TestCase(0)]
    [TestCase(20)]
    [TestCase(200)]
    public void A_write_that_fails_midway_leaves_the_previous_file_and_no_temp_file(int limit)
    {
        using var dir = new TempFolder();
        var path = dir["ckpt.safetensors"];
        SafeTensors.Write(path, [SafeTensor.From<float>("w", [1f, 2f], 2)],
            new Dictionary<string, string> { ["epoch"] = "1" });
        var before = File.ReadAllBytes(path);
        var big = Enumerable.Range(0, 1000).Select(i => (float)i).ToArray();

        UserErrors.Expect(() => SafeTensors.Write(path, [SafeTensor.From<float>("w", big, 1000)], null,
            s => new FailAfterStream(s, limit, () => new IOException("No space left on device"))), path,
                "No space left on device", "unchanged");
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(dir.Path), Is.EqualTo(new[] { path }), "no temp file left behind");

        // A bug rather than the disk: the same exception comes out, and the old file still stands.
        Assert.Throws<InvalidOperationException>(() => SafeTensors.Write(path, [SafeTensor.From<float>("w", big, 1000)],
            null,
            s => new FailAfterStream(s, limit, () => new InvalidOperationException("bug"))));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(dir.Path), Is.EqualTo(new[] { path }));
    }

    [Test]
    public void Writing_into_a_missing_folder_is_a_user_error()
    {
        var path = "/nonexistent/infovae/ckpt.safetensors";
        UserErrors.Expect(() => SafeTensors.Write(path, [SafeTensor.From<float>("w", [1f], 1)]), path);
    }

    [Test]
    public void Duplicate_tensor_names_are_refused_on_write()
    {
        using var dir = new TempFolder();
        Assert.Throws<ArgumentException>(()
            => SafeTensors.Write(dir["x"],
            [SafeTensor.From<float>("a", [1f], 1), SafeTensor.From<float>("a", [2f], 1)]));
        Assert.That(Directory.GetFiles(dir.Path), Is.Empty);
    }

    // --- corrupt files, built by hand: 8-byte length, header (padded), data ---

    static byte[] Build(string json, byte[] data, ulong? claimedLength = null)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimedLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    static void ExpectCorrupt(byte[] file, params string[] fragments)
    {
        using var dir = new TempFolder();
        var path = dir["bad.safetensors"];
        File.WriteAllBytes(path, file);
        UserErrors.Expect(() => SafeTensors.Read(path), [path, .. fragments]);
    }

    [Test]
    public void Valid_hand_built_file_reads()
    {
        // The control for the cases below: the same builder with consistent numbers is accepted.
        using var dir = new TempFolder();
        var path = dir["ok.safetensors"];
        File.WriteAllBytes(path, Build("{" + Entry("b", "U8", "[2]", 4, 6) + "," + Entry("a", "F32", "[1]", 0, 4) + "}",
            [0, 0, 0x80, 0x3f, 5, 6]));
        var f = SafeTensors.Read(path);
        Assert.That(f.Get("a", DType.F32, 1).As<float>(), Is.EqualTo(new[] { 1f }));
        Assert.That(f.Get("b", DType.U8, 2).As<byte>(), Is.EqualTo(new byte[] { 5, 6 }));
    }

    [Test] public void Shorter_than_8_bytes() => ExpectCorrupt([1, 0, 0], "truncated");
    [Test] public void Empty_file() => ExpectCorrupt([], "truncated");

    [Test]
    public void Header_length_beyond_the_file() =>
        ExpectCorrupt(Build("{}", [], claimedLength: 1000), "header length 1000 runs past the end");

    [Test]
    public void Absurd_header_length_is_refused_before_allocating() =>
        ExpectCorrupt(Build("{}", [], claimedLength: 1UL << 62), "runs past the end");

    [Test]
    public void Header_not_json() => ExpectCorrupt(Build("{\"a\": [0, 4", [1, 2, 3, 4]), "not valid JSON");

    [Test]
    public void Header_json_but_not_an_object() => ExpectCorrupt(Build("[1, 2]", []), "not an object");

    [Test]
    public void Offsets_overlap() =>
        ExpectCorrupt(Build("{" + Entry("a", "U8", "[4]", 0, 4) + "," + Entry("b", "U8", "[4]", 2, 6) + "}",
            new byte[6]), "overlaps");

    [Test]
    public void Offsets_run_past_the_end() =>
        ExpectCorrupt(Build("{" + Entry("a", "F32", "[4]", 0, 16) + "}", new byte[12]),
            "runs past the end of the data");

    [Test]
    public void Offsets_end_before_they_begin() =>
        ExpectCorrupt(Build("{" + Entry("a", "U8", "[0]", 4, 0) + "}", new byte[4]), "end before they begin");

    [Test]
    public void Gap_between_tensors() =>
        ExpectCorrupt(Build("{" + Entry("a", "U8", "[2]", 0, 2) + "," + Entry("b", "U8", "[2]", 4, 6) + "}",
            new byte[6]), "gap of 2 bytes");

    [Test]
    public void Bytes_after_the_last_tensor() =>
        ExpectCorrupt(Build("{" + Entry("a", "U8", "[2]", 0, 2) + "}", new byte[5]), "3 bytes after the last tensor");

    [Test]
    public void Unknown_dtype() =>
        ExpectCorrupt(Build("{" + Entry("a", "BF16", "[2]", 0, 4) + "}", new byte[4]), "dtype BF16", "F32");

    [Test]
    public void Shape_disagrees_with_byte_length() =>
        ExpectCorrupt(Build("{" + Entry("a", "F32", "[2, 3]", 0, 20) + "}", new byte[20]), "needs 24 bytes", "hold 20");

    [Test]
    public void Shape_whose_element_count_overflows() =>
        ExpectCorrupt(Build("{" + Entry("a", "F64", "[2147483647, 2147483647, 2147483647]", 0, 8) + "}", new byte[8]),
            "more than 2^63");

    [Test]
    public void Negative_size_in_shape() =>
        ExpectCorrupt(Build("{" + Entry("a", "U8", "[-2]", 0, 2) + "}", new byte[2]), "not a list of sizes");

    [Test]
    public void Missing_fields() => ExpectCorrupt(Build("{\"a\":{\"dtype\":\"F32\"}}", []), "needs \"dtype\"");

    [Test]
    public void Duplicate_names() =>
        ExpectCorrupt(Build("{" + Entry("a", "U8", "[1]", 0, 1) + "," + Entry("a", "U8", "[1]", 1, 2) + "}",
            new byte[2]), "'a' twice");

    [Test]
    public void Metadata_values_must_be_strings() =>
        ExpectCorrupt(Build("{\"__metadata__\":{\"epoch\":3}}", []), "metadata 'epoch' is not a string");

    [Test]
    public void Missing_file() => UserErrors.Expect(() => SafeTensors.Read("/nonexistent/x.safetensors"),
        "/nonexistent/x.safetensors", "no such file");

    [Test]
    public void Get_names_the_missing_tensor_and_the_wrong_shape()
    {
        using var dir = new TempFolder();
        var path = dir["m.safetensors"];
        SafeTensors.Write(path, [SafeTensor.From<float>("enc1.w", new float[6], 2, 3)]);
        var f = SafeTensors.Read(path);
        UserErrors.Expect(() => f.Get("dec1.w", DType.F32, 2, 3), path, "no tensor 'dec1.w'", "enc1.w");
        UserErrors.Expect(() => f.Get("enc1.w", DType.F32, 3, 2), path, "F32 [2, 3]", "expected F32 [3, 2]");
        UserErrors.Expect(() => f.Get("enc1.w", DType.F64, 2, 3), path, "expected F64 [2, 3]");
        UserErrors.Expect(() => f.GetMetadata("epoch"), path, "no metadata 'epoch'");
        Assert.Throws<InvalidOperationException>(() => f.Tensors[0].As<double>());
    }
}
