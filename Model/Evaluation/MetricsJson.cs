using System.Globalization;
using System.Text.Json.Nodes;

namespace InfoVae.Model;

/// <summary>
/// The JSON keys of the sample-quality and semi-supervised metrics (snake_case), added to an object such as
/// `infovae eval --json`'s: fid, kid, kid_std, inception_score, sample_quality (how they were measured) or
/// sample_quality_skipped (why not), and semi_supervised_accuracy keyed by label count, then method.
/// </summary>
public static class MetricsJson
{
    public static void Add(JsonObject o, SampleQualityReport? quality, string? skipped, SemiSupervisedReport? semi)
    {
        if (quality is { } q)
        {
            o["fid"] = q.Fid;
            o["kid"] = q.Kid;
            o["kid_std"] = q.KidStd;
            o["inception_score"] = q.InceptionScore;
            o["sample_quality"] = new JsonObject
            {
                ["features"] = q.Features, ["samples"] = q.Samples, ["reference_images"] = q.Reference,
                ["kid_subsets"] = q.KidSubsets, ["kid_subset_size"] = q.KidSubsetSize,
                ["test_inception_score"] = q.TestInceptionScore,
            };
        }
        else if (skipped != null) o["sample_quality_skipped"] = skipped;
        if (semi != null) o["semi_supervised_accuracy"] = SemiSupervised(semi);
    }

    /// <summary>
    /// {"100": {"logistic_regression": {"mean", "std", "draws"}, "knn": {...}}, "1000": ..., "60000": ...}.
    /// </summary>
    public static JsonObject SemiSupervised(SemiSupervisedReport semi)
    {
        var byCount = new JsonObject();
        foreach (var r in semi.Results)
        {
            string key = r.Labels.ToString(CultureInfo.InvariantCulture);
            if (byCount[key] is not JsonObject methods) byCount[key] = methods = new JsonObject();
            methods[r.Method] = new JsonObject
            {
                ["mean"] = r.Mean, ["std"] = r.Std,
                ["draws"] = new JsonArray([.. r.Draws.Select(d => (JsonNode?)d)])
            };
        }
        return byCount;
    }
}
