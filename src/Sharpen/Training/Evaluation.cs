namespace Sharpen.Training;

using Sharpen.Models;

/// <summary>Task-level evaluation shared by trainers: greedy decoding scored by a gold reward.</summary>
public static class Evaluation
{
    /// <summary>
    /// Fraction of <paramref name="prompts"/> whose greedy completion (up to <paramref name="maxNewTokens"/>, stopping at
    /// EOS) the <paramref name="gold"/> reward scores 1. The prompt is encoded without special tokens, as in training.
    /// </summary>
    public static double GreedyAccuracy(CausalLM model, ITokenizer tok, IReadOnlyList<string> prompts,
                                        Func<string, string, double> gold, int maxNewTokens = 8)
    {
        if (prompts.Count == 0) return double.NaN;
        var ids = prompts.Select(p => tok.Encode(p)).ToList();
        var stops = tok.EosId is { } e ? new[] { e } : [];
        var completions = new GenerationEngine(model, tok).Generate(ids, new SamplingOptions { Greedy = true, MaxNewTokens = maxNewTokens, StopTokenIds = stops });
        var correct = completions.Sum(c => gold(prompts[c.PromptIndex], tok.Decode(c.Tokens, skipSpecialTokens: true)));
        return correct / prompts.Count;
    }
}
