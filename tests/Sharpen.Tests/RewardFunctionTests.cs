using System.Collections.Concurrent;
using Sharpen.Rewards;

namespace Sharpen.Tests;

/// <summary>Rule, length and reward-model rewards, their weighted sum, the registry and the parallel reward pool.</summary>
public class RewardFunctionTests
{
    static RewardInput Input(string completion, string? answer = null, int? tokens = null, int? index = null)
    {
        var meta = new Dictionary<string, object?>();
        if (answer != null) meta[RewardMeta.Answer] = answer;
        if (tokens != null) meta[RewardMeta.CompletionTokens] = tokens.Value;
        if (index != null) meta["index"] = index.Value;
        return new RewardInput("prompt", completion, meta);
    }

    /// <summary>A reward computed by a delegate, for pool tests.</summary>
    sealed class FuncReward(string name, Func<RewardInput, RewardResult> score) : IRewardFunction
    {
        public string Name => name;

        public RewardResult Score(RewardInput input) => score(input);
    }

    [Theory]
    [InlineData("  Paris \n", "Paris", false, 1.0)]
    [InlineData("paris", "Paris", false, 0.0)]
    [InlineData("paris", "Paris", true, 1.0)]
    [InlineData("Paris.", "Paris", true, 0.0)]
    public void ExactMatch_ComparesTrimmedText(string completion, string gold, bool ignoreCase, double expected)
    {
        var r = new ExactMatch(ignoreCase).Score(Input(completion, gold));
        Assert.Equal(expected, r.Value);
        Assert.Equal(RewardStatus.Scored, r.Status);
    }

    [Fact]
    public void ExactMatch_WithoutGoldIsUnscorable()
    {
        var r = new ExactMatch().Score(Input("Paris"));
        Assert.Null(r.Value);
        Assert.Equal(RewardStatus.Unscorable, r.Status);
    }

    [Theory]
    [InlineData(@"<think>.*</think>.*\\boxed", "<think>step 1\nstep 2</think> so \\boxed{3}", false, 1.0)]
    [InlineData(@"<think>.*</think>.*\\boxed", "so \\boxed{3} <think>late</think>", false, 0.0)]
    [InlineData(@"<think>.*</think>.*\\boxed", "<think>a</think>\\boxed{3}", true, 0.0)]
    [InlineData(@"<think>.*</think>\s*\\boxed\{.*\}", "<think>a</think> \\boxed{3}", true, 1.0)]
    [InlineData(@"<think>.*</think>\s*\\boxed\{.*\}", "preamble <think>a</think>\\boxed{3}", true, 0.0)]
    public void RegexFormat_ScoresOneWhenThePatternMatches(string pattern, string completion, bool fullMatch, double expected)
    {
        Assert.Equal(expected, new RegexFormat(pattern, fullMatch).Score(Input(completion)).Value);
    }

    [Theory]
    [InlineData(90, 0.0)]
    [InlineData(100, 0.0)]
    [InlineData(101, -0.01)]
    [InlineData(130, -0.3)]
    public void LengthPenalty_IsLinearBeyondTheTarget(int tokens, double expected)
    {
        var r = new LengthPenalty(targetLength: 100, coefficient: 0.01).Score(Input("x", tokens: tokens));
        Assert.Equal(expected, r.Value!.Value, 12);
        Assert.Equal(tokens, r.Details["length"]);
    }

    [Fact]
    public void LengthPenalty_CountsCharactersAsUnicodeScalars()
    {
        // "héllo wörld 😀" is 13 scalars (the emoji is one scalar, two UTF-16 units): 3 over a target of 10.
        var r = new LengthPenalty(10, 0.5, LengthUnit.Characters).Score(Input("héllo wörld 😀"));
        Assert.Equal(-1.5, r.Value);
        Assert.Equal(13, r.Details["length"]);
    }

    [Theory]
    [InlineData(50, 0.0)]
    [InlineData(80, 0.0)]    // L_exp = L_max − L_cache = 80
    [InlineData(81, -0.05)]  // −(81 − 80)/20
    [InlineData(90, -0.5)]
    [InlineData(100, -1.0)]  // L_max
    [InlineData(150, -1.0)]  // beyond L_max
    public void Overlong_IsDapoSoftPunishment(int tokens, double expected)
    {
        var r = new OverlongPenalty(maxLength: 100, cacheLength: 20).Score(Input("x", tokens: tokens));
        Assert.Equal(expected, r.Value!.Value, 12);
    }

    [Fact]
    public void Overlong_FactorScalesThePenalty_AndBadLengthsAreRejected()
    {
        var r = new OverlongPenalty(100, 20, factor: 0.5, LengthUnit.Characters).Score(Input(new string('a', 95)));
        Assert.Equal(-0.5 * 15 / 20, r.Value!.Value, 12);
        Assert.Throws<ArgumentException>(() => new OverlongPenalty(100, 0));
        Assert.Throws<ArgumentException>(() => new OverlongPenalty(100, 101));
    }

    [Fact]
    public void TokenLength_WithoutCompletionTokensMetaThrows()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new OverlongPenalty(100, 20).Score(Input("x")));
        Assert.Contains("completion_tokens", e.Message);
    }

    static WeightedSum MathFormatOverlong(bool nullAsZero = false) => new(
    [
        new RewardComponent(new MathVerifier(), 1.0),
        new RewardComponent(new RegexFormat(@"<think>.*</think>"), 0.2, "format"),
        new RewardComponent(new OverlongPenalty(100, 20), 0.5),
    ], nullAsZero);

    [Fact]
    public void WeightedSum_SumsWeightedComponentsAndLogsEach()
    {
        var r = MathFormatOverlong().Score(Input(@"<think>6*7</think> \boxed{42}", "42", tokens: 90));
        // 1·1 + 0.2·1 + 0.5·(−(90 − 80)/20) = 0.95
        Assert.Equal(0.95, r.Value!.Value, 12);
        Assert.Equal(RewardStatus.Scored, r.Status);
        Assert.Equal(1.0, r.Details["math"]);
        Assert.Equal(1.0, r.Details["format"]);
        Assert.Equal(-0.5, r.Details["overlong"]);
        Assert.Equal(1.0, r.Details["math/correct"]);
        Assert.Equal(0.0, r.Details["math/parse_failure"]);
        Assert.Equal(90.0, r.Details["overlong/length"]);
    }

    [Fact]
    public void WeightedSum_NullComponentMakesTheSumNullUnlessNullAsZero()
    {
        var badGold = Input(@"<think>a</think> \boxed{42}", "", tokens: 100);
        var strict = MathFormatOverlong().Score(badGold);
        Assert.Null(strict.Value);
        Assert.Equal(RewardStatus.Unscorable, strict.Status);
        Assert.False(strict.Details.ContainsKey("math"));
        Assert.Equal(-1.0, strict.Details["overlong"]);

        var lenient = MathFormatOverlong(nullAsZero: true).Score(badGold);
        Assert.Equal(0.2 * 1 + 0.5 * -1.0, lenient.Value!.Value, 12);
        Assert.Equal(RewardStatus.Unscorable, lenient.Status);
    }

    [Fact]
    public void WeightedSum_ParseFailureKeepsItsValueAndStatus()
    {
        var r = MathFormatOverlong().Score(Input("no idea", "42", tokens: 10));
        Assert.Equal(0.0, r.Value);
        Assert.Equal(RewardStatus.ParseFailure, r.Status);
        Assert.Equal(1.0, r.Details["math/parse_failure"]);
    }

    [Fact]
    public void WeightedSum_RejectsDuplicateKeys()
    {
        var e = Assert.Throws<ArgumentException>(() => new WeightedSum(
            [new RewardComponent(new ExactMatch(), 1), new RewardComponent(new ExactMatch(true), 1)]));
        Assert.Contains("exact_match", e.Message);
        var named = new WeightedSum([new RewardComponent(new ExactMatch(), 1), new RewardComponent(new ExactMatch(true), 2, "exact_ci")]);
        Assert.Equal(1 * 0 + 2 * 1, named.Score(Input("PARIS", "paris")).Value);
    }

    [Fact]
    public void RewardModelScorer_CallsTheScorerInBatches_AndNonFiniteIsAnError()
    {
        var calls = new List<int>();
        var rm = new RewardModelScorer(pairs =>
        {
            calls.Add(pairs.Count);
            return pairs.Select(p => p.Completion == "nan" ? double.NaN : p.Completion.Length + 0.5 * p.Prompt.Length).ToArray();
        }, batchSize: 2);
        var results = rm.ScoreBatch([Input("a"), Input("bb"), Input("nan"), Input("dddd"), Input("")]);
        Assert.Equal([2, 2, 1], calls);
        // prompt "prompt" has 6 characters: reward = |completion| + 3.
        Assert.Equal(new double?[] { 4, 5, null, 7, 3 }, results.Select(r => r.Value).ToArray());
        Assert.Equal(RewardStatus.Error, results[2].Status);
        Assert.Throws<InvalidOperationException>(() => new RewardModelScorer(_ => [1.0]).ScoreBatch([Input("a"), Input("b")]));
    }

    [Fact]
    public void Registry_CreatesEachFunctionByName_AndNamesMissingOptions()
    {
        Assert.Equal(["code_tests", "exact_match", "length_penalty", "math", "overlong", "regex_format", "reward_model"],
            RewardFunctions.Registry.Names.Order().ToArray());
        Assert.IsType<MathVerifier>(RewardFunctions.Create("math"));
        var overlong = RewardFunctions.Create("overlong", new RewardOptions { MaxLength = 100, CacheLength = 20 });
        Assert.Equal(-0.5, overlong.Score(Input("x", tokens: 90)).Value);
        var hashOnly = RewardFunctions.Create("math", new RewardOptions { AnswerOrder = [AnswerSource.Hash] });
        Assert.Equal(RewardStatus.ParseFailure, hashOnly.Score(Input(@"\boxed{4}", "4")).Status);
        Assert.Contains("pattern", Assert.Throws<ArgumentException>(() => RewardFunctions.Create("regex_format")).Message);
        Assert.Contains("cache_length", Assert.Throws<ArgumentException>(
            () => RewardFunctions.Create("overlong", new RewardOptions { MaxLength = 10 })).Message);
        Assert.Contains("known: code_tests, exact_match", Assert.Throws<ArgumentException>(() => RewardFunctions.Create("bogus")).Message);
    }

    [Fact]
    public void Pool_PreservesOrderAcrossRandomDelays()
    {
        var reward = new FuncReward("index", x =>
        {
            int i = (int)x.Meta["index"]!;
            Thread.Sleep(new Random(i).Next(0, 3));
            return RewardResult.Scored(i);
        });
        var inputs = Enumerable.Range(0, 200).Select(i => Input("c", index: i)).ToArray();
        var batch = new RewardPool(reward, 4).Score(inputs);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => (double?)i).ToArray(), batch.Values);
        Assert.Equal((0, 0, 0), (batch.ParseFailures, batch.Unscorable, batch.Errors));
    }

    [Fact]
    public void Pool_TurnsExceptionsIntoCountedErrors()
    {
        var reward = new FuncReward("flaky", x =>
        {
            int i = (int)x.Meta["index"]!;
            return i % 7 == 0 ? throw new InvalidDataException($"bad sample {i}") : RewardResult.Scored(1);
        });
        var batch = new RewardPool(reward, 3).Score(Enumerable.Range(0, 200).Select(i => Input("c", index: i)).ToArray());
        Assert.Equal(29, batch.Errors);                    // 0, 7, …, 196
        Assert.Equal(200 - 29, batch.Values.Count(v => v == 1.0));
        for (int i = 0; i < 200; i += 7)
        {
            Assert.Null(batch.Results[i].Value);
            Assert.Equal(RewardStatus.Error, batch.Results[i].Status);
        }
        Assert.StartsWith("InvalidDataException: bad sample", batch.FirstError);
    }

    [Fact]
    public void Pool_CountsParseFailuresAndUnscorableSamples()
    {
        var batch = new RewardPool(new MathVerifier(), 2).Score(
            [Input(@"\boxed{4}", "4"), Input("no idea", "4"), Input(@"\boxed{4}", ""), Input(@"\boxed{5}", "4")]);
        Assert.Equal(new double?[] { 1, 0, null, 0 }, batch.Values);
        Assert.Equal((1, 1, 0), (batch.ParseFailures, batch.Unscorable, batch.Errors));
        Assert.Null(batch.FirstError);
    }

    [Fact]
    public void Pool_RunsOffTheCallingThread()
    {
        // The caller is a dedicated thread (not a pool thread, so it can never pick up the pool's work). Every
        // sample waits for the caller to signal after ScoreAsync has returned: scoring on the calling thread would
        // leave the gate shut and the samples would time out (value 0).
        using var gate = new ManualResetEventSlim();
        var seen = new ConcurrentBag<int>();
        var reward = new FuncReward("thread", _ =>
        {
            seen.Add(Environment.CurrentManagedThreadId);
            return RewardResult.Scored(gate.Wait(TimeSpan.FromSeconds(10)) ? 1 : 0);
        });
        var rm = new RewardModelScorer(pairs => { seen.Add(Environment.CurrentManagedThreadId); return new double[pairs.Count]; });
        int caller = 0;
        bool returnedBeforeScoring = false;
        RewardBatch? batch = null, modelBatch = null;
        var thread = new Thread(() =>
        {
            caller = Environment.CurrentManagedThreadId;
            var task = new RewardPool(reward, 2).ScoreAsync(Enumerable.Range(0, 20).Select(i => Input("c")).ToArray());
            returnedBeforeScoring = !task.IsCompleted;
            gate.Set();
            batch = task.GetAwaiter().GetResult();
            modelBatch = new RewardPool(rm).Score([Input("c"), Input("d")]);
        });
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(30)));
        Assert.True(returnedBeforeScoring);
        Assert.Equal(Enumerable.Repeat((double?)1, 20).ToArray(), batch!.Values);
        Assert.Equal(new double?[] { 0, 0 }, modelBatch!.Values);
        Assert.Equal(21, seen.Count);
        Assert.DoesNotContain(caller, seen);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Pool_BoundsTheNumberOfConcurrentCalls(int degree)
    {
        ThreadPool.GetMinThreads(out int workers, out int io);
        if (workers < 8) ThreadPool.SetMinThreads(8, io);
        int calls = 0, current = 0, max = 0;
        var reward = new FuncReward("busy", _ =>
        {
            int now = Interlocked.Increment(ref current);
            for (int seen = Volatile.Read(ref max); now > seen; seen = Volatile.Read(ref max))
                Interlocked.CompareExchange(ref max, now, seen);
            // The first calls wait for each other, so a pool that runs `degree` workers must reach `degree` at once.
            if (Interlocked.Increment(ref calls) <= degree)
                SpinWait.SpinUntil(() => Volatile.Read(ref current) >= degree, TimeSpan.FromSeconds(5));
            Thread.Sleep(1);
            Interlocked.Decrement(ref current);
            return RewardResult.Scored(1);
        });
        new RewardPool(reward, degree).Score(Enumerable.Range(0, 30).Select(i => Input("c")).ToArray());
        Assert.Equal(degree, max);
    }

    [Fact]
    public void Pool_ScoresWeightedSumWithOneBatchedReward_ModelCall()
    {
        int calls = 0;
        var rm = new RewardModelScorer(pairs => { Interlocked.Increment(ref calls); return pairs.Select(p => 0.1 * p.Completion.Length).ToArray(); });
        var sum = new WeightedSum([new RewardComponent(new MathVerifier(), 1.0), new RewardComponent(rm, 2.0)]);
        var inputs = Enumerable.Range(0, 10).Select(i => Input($@"\boxed{{{i}}}", "3")).ToArray();
        var batch = new RewardPool(sum, 3).Score(inputs);
        Assert.Equal(1, calls);
        // completion "\boxed{i}" has 9 characters: 1[i = 3] + 2·0.9.
        var expected = Enumerable.Range(0, 10).Select(i => (i == 3 ? 1.0 : 0.0) + 2 * 0.9).ToArray();
        for (int i = 0; i < 10; i++) Assert.Equal(expected[i], batch.Results[i].Value!.Value, 12);
        Assert.Equal(0.9, batch.Results[0].Details["reward_model"], 12);
    }

    [Fact]
    public void Pool_ErrorInsideOneComponentMakesThatSampleAnError()
    {
        var sum = new WeightedSum([new RewardComponent(new MathVerifier(), 1.0), new RewardComponent(new OverlongPenalty(100, 20), 1.0)]);
        var batch = new RewardPool(sum, 2).Score([Input(@"\boxed{4}", "4", tokens: 10), Input(@"\boxed{4}", "4")]);
        Assert.Equal(new double?[] { 1.0, null }, batch.Values);
        Assert.Equal(1, batch.Errors);
        Assert.Contains("completion_tokens", batch.FirstError);
    }

    [Fact]
    public async Task Pool_StopsWhenCancelled()
    {
        using var cts = new CancellationTokenSource();
        int scored = 0;
        var reward = new FuncReward("slow", _ =>
        {
            if (Interlocked.Increment(ref scored) == 5) cts.Cancel();
            Thread.Sleep(2);
            return RewardResult.Scored(1);
        });
        var inputs = Enumerable.Range(0, 200).Select(i => Input("c")).ToArray();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new RewardPool(reward, 2).ScoreAsync(inputs, cts.Token));
        Assert.InRange(scored, 5, 6);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => new RewardPool(reward, 2).ScoreAsync(inputs, cts.Token));
        Assert.InRange(scored, 5, 6);
    }
}
