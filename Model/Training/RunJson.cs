using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace InfoVae.Model;

/// <summary>
/// The one JSON convention of everything infovae writes (config.json, run.jsonl, `eval --json`, the checkpoint's
/// "config" metadata): snake_case keys (<c>learning_rate</c>, <c>iw_nll</c>), kebab-case enum values (<c>mlp</c>,
/// <c>imq</c>), every field once, and null where a flag's 0 means "none / all / the batch size". Configs written
/// before this convention (PascalCase keys, the MMD settings again under "Mmd", <c>PriorSamples: 0</c>) are
/// upgraded on reading, so old run folders and checkpoints still load.
/// </summary>
public static class RunJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };

    static readonly JsonSerializerOptions Indented = new(Options) { WriteIndented = true };

    /// <summary>run.jsonl's lines leave out the keys that do not apply to the run (null): an MMD run's
    /// adversarial terms.</summary>
    public static readonly JsonSerializerOptions Lines = new(Options)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    // A key this infovae does not know is a setting it would silently drop (a config from a newer version, a typo):
    // refused rather than ignored.
    static readonly JsonSerializerOptions Strict = new(Options)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static string Write(TrainConfig config, bool indented = false) =>
        JsonSerializer.Serialize(config, indented ? Indented : Options);

    /// <summary>A config as written now or by an older infovae; <see cref="JsonException"/> if it is not one.</summary>
    public static TrainConfig ReadConfig(string json)
    {
        var node = JsonNode.Parse(json) as JsonObject ?? throw new JsonException("it is not a JSON object");
        return Upgrade(node).Deserialize<TrainConfig>(Strict) ?? throw new JsonException("it is empty");
    }

    /// <summary>True for a config written before snake_case (its keys start with a capital letter).</summary>
    public static bool IsLegacy(JsonObject config) => config.Any(kv => kv.Key.Length > 0 && char.IsUpper(kv.Key[0]));

    /// <summary>
    /// The PascalCase config of older versions in today's form: keys to snake_case, the derived fields it also wrote
    /// (KlWeight, MmdWeight and the Mmd object, a second copy of the kernel, scales, bandwidth and estimator; the
    /// adversarial divergence's first builds also wrote DivergenceWeight and AdversarialWeight)
    /// dropped, and PriorSamples 0 ("the batch size") as null.
    /// </summary>
    static JsonObject Upgrade(JsonObject config)
    {
        if (!IsLegacy(config)) return config;
        var upgraded = new JsonObject();
        foreach (var (key, value) in config)
        {
            if (key is "KlWeight" or "MmdWeight" or "Mmd" or "DivergenceWeight" or "AdversarialWeight") continue;
            upgraded[JsonNamingPolicy.SnakeCaseLower.ConvertName(key)] = value?.DeepClone();
        }
        if (upgraded["prior_samples"] is JsonValue v && v.TryGetValue(out int m) && m == 0)
            upgraded["prior_samples"] = null;
        return upgraded;
    }
}
