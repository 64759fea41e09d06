using System.Globalization;
using Sharpen.Data;
using Sharpen.Data.Tasks;

namespace Sharpen.Tests;

/// <summary>The built-in addition task: correct sums, noisy preference pairs, the gold reward and the tokenizer.</summary>
public class DataArithmeticTests
{
    static (long A, long B) Operands(string prompt)
    {
        var parts = prompt.TrimEnd('=').Split('+');
        return (long.Parse(parts[0], CultureInfo.InvariantCulture), long.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Sft_CompletionsAreTheSumsAndOperandsHaveTheConfiguredDigits()
    {
        var records = new Arithmetic(maxDigits: 4, minDigits: 2).Sft(500, seed: 3);
        Assert.Equal(500, records.Count);
        foreach (var r in records)
        {
            var (a, b) = Operands(r.Prompt.Text!);
            Assert.Equal((a + b).ToString(CultureInfo.InvariantCulture), r.Completion.Text);
            Assert.InRange(a, 10, 9999);
            Assert.InRange(b, 10, 9999);
        }
        var lengths = records.Select(r => Operands(r.Prompt.Text!).A.ToString(CultureInfo.InvariantCulture).Length).ToHashSet();
        Assert.Equal([2, 3, 4], lengths.Order());
        Assert.Equal(records.Select(r => r.Prompt.Text), new Arithmetic(4, 2).Sft(500, seed: 3).Select(r => r.Prompt.Text));
        Assert.NotEqual(records.Select(r => r.Prompt.Text), new Arithmetic(4, 2).Sft(500, seed: 4).Select(r => r.Prompt.Text));
    }

    [Fact]
    public void PreferencePairs_FlipAboutFlipRateAndGoldAgreesWithTheFlips()
    {
        var pairs = new Arithmetic().PreferencePairs(2000, seed: 8, flipRate: 0.2);
        var flipped = pairs.Count(p => (bool)p.Meta!["flipped"]!);
        Assert.InRange(flipped / 2000.0, 0.17, 0.23);               // 0.2 ± 3.4 standard errors
        foreach (var p in pairs)
        {
            var f = (bool)p.Meta!["flipped"]!;
            Assert.NotEqual(p.Chosen.Text, p.Rejected.Text);
            Assert.Equal(f ? 0.0 : 1.0, Arithmetic.Gold(p.Prompt.Text!, p.Chosen.Text!));
            Assert.Equal(f ? 1.0 : 0.0, Arithmetic.Gold(p.Prompt.Text!, p.Rejected.Text!));
        }
        Assert.DoesNotContain(new Arithmetic().PreferencePairs(300, seed: 1, flipRate: 0), p => (bool)p.Meta!["flipped"]!);
    }

    [Fact]
    public void WrongAnswers_AreNearTheSumOrOneDigitOff()
    {
        var rng = new SplitMix64(2);
        for (var i = 0; i < 2000; i++)
        {
            var correct = (long)rng.NextInt(0, 2000);
            var wrong = Arithmetic.WrongAnswer(correct, rng);
            string c = correct.ToString(CultureInfo.InvariantCulture), w = wrong.ToString(CultureInfo.InvariantCulture);
            var oneDigit = c.Length == w.Length && c.Zip(w).Count(x => x.First != x.Second) == 1;
            Assert.True(wrong >= 0 && wrong != correct && (Math.Abs(wrong - correct) <= 10 || oneDigit), $"{correct} → {wrong}");
        }
    }

    [Fact]
    public void Gold_IsExactMatchAfterTrimmingWhitespace()
    {
        Assert.Equal(1.0, Arithmetic.Gold("123+45=", "168"));
        Assert.Equal(1.0, Arithmetic.Gold("123+45=", " 168 \n"));
        Assert.Equal(0.0, Arithmetic.Gold("123+45=", "0168"));
        Assert.Equal(0.0, Arithmetic.Gold("123+45=", "169"));
        Assert.Equal(0.0, Arithmetic.Gold("123+45=", "16 8"));
        Assert.Throws<ArgumentException>(() => Arithmetic.Gold("123-45=", "78"));
    }

    [Fact]
    public void Tokenizer_CoversTheTaskWithPadBosEos()
    {
        var tok = Arithmetic.Tokenizer();
        Assert.Equal((0, 1, 2), (tok.PadId, tok.BosId, tok.EosId));
        Assert.Equal(3 + Arithmetic.Alphabet.Length, tok.VocabSize);
        Assert.Equal([4, 5, 6, 13, 7, 8, 16], tok.Encode("123+45="));
        var record = new Arithmetic(5).Sft(1, seed: 0)[0];
        var e = Tokenize.Sft(record, tok, new() { AddBos = true }, out _);
        Assert.Equal(1, e.Ids[0]);
        Assert.Equal(2, e.Ids[^1]);
        Assert.Equal(record.Prompt.Text + record.Completion.Text, tok.Decode(e.Ids, skipSpecialTokens: true));
        Assert.Equal(record.Completion.Text!.Length + 1, e.LossTokens);
    }

    [Fact]
    public void Problems_CarryTheSumAsANumericAnswer()
    {
        var problems = new Arithmetic().Problems(50, seed: 2);
        Assert.All(problems, p => Assert.Equal(1.0, Arithmetic.Gold(p.Prompt.Text!, p.Answer)));
        Assert.All(problems, p => Assert.Equal("numeric", p.AnswerType));
    }
}
