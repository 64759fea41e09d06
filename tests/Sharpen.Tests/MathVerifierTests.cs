using Sharpen.Rewards;

namespace Sharpen.Tests;

/// <summary>The math verifier: extraction, normalisation, exact rational comparison and the fail-closed rules.</summary>
public class MathVerifierTests
{
    static RewardResult Verify(string completion, string? gold, string? answerType = null, MathVerifier? verifier = null)
    {
        var meta = new Dictionary<string, object?> { [RewardMeta.Answer] = gold };
        if (answerType != null) meta[RewardMeta.AnswerType] = answerType;
        return (verifier ?? new MathVerifier()).Score(new RewardInput("q", completion, meta));
    }

    [Theory]
    // Equivalent forms are accepted.
    [InlineData(@"\boxed{\frac{1}{2}}", "0.5", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{0.5}", @"\frac{1}{2}", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{.5}", "1/2", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{0.500}", "0.5", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{3.0}", "3", 1.0, RewardStatus.Scored)]
    [InlineData("The total is 1,234", "1234", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{1,234,567}", "1234567", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{1\,000}", "1000", 1.0, RewardStatus.Scored)]
    [InlineData("She has 40 + 2 apples.\n#### 42", "42", 1.0, RewardStatus.Scored)]
    [InlineData("#### $1,234.00", "1234", 1.0, RewardStatus.Scored)]
    [InlineData("\\boxed{\u22123}", "-3", 1.0, RewardStatus.Scored)]
    [InlineData(@"$\dfrac{3}{4}$", "0.75", 1.0, RewardStatus.Scored)]
    [InlineData("0.75", @"\tfrac{3}{4}", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{\dfrac{6}{8}}", @"\frac{3}{4}", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{\frac12}", "0.5", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{-\frac{2}{4}}", "-0.5", 1.0, RewardStatus.Scored)]
    [InlineData(@"So \boxed{12}. Check: 12 + 3 = 15, and 15 - 3 = 121 - 109.", "12", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{\frac{1}{\sqrt{4}}}", "0.5", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{\left( \frac{1}{2} \right)}", "1/2", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{10\text{ cm}}", "10", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{10 \text{ cm}^2}", "10", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{90^\circ}", "90", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{\$5.00}", "5", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{x = 5}", "5", 1.0, RewardStatus.Scored)]
    [InlineData(@"\fbox{7}", "7", 1.0, RewardStatus.Scored)]
    [InlineData(@"$\boxed{42}$", "42", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{2^{10}}", "1024", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{2 \times 3}", "6", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{50\%}", "50", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{\left(\frac{1}{2}, 3\right)}", "(0.5, 3)", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{\sqrt{2}}", @"\sqrt2", 1.0, RewardStatus.Scored)]
    [InlineData("The answer is 5.", "5", 1.0, RewardStatus.Scored)]
    [InlineData("so x equals -7", "-7", 1.0, RewardStatus.Scored)]
    [InlineData("I got 5 apples", "5", 1.0, RewardStatus.Scored)]
    // Near misses are rejected.
    [InlineData(@"\boxed{0.33}", "1/3", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{0.333333333333333333}", @"\frac{1}{3}", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{121}", "12", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{12}", "121", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{1/2}", "2/1", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{-3}", "3", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{0.5001}", "0.5", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{1,234}", "1.234", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{(2, 1)}", "(1, 2)", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{[1, 2]}", "(1, 2)", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{\sqrt{3}}", @"\sqrt{2}", 0.0, RewardStatus.Scored)]
    // Garbage scores 0 as a parse failure, never rescued by a later number.
    [InlineData("the answer is blue", "42", 0.0, RewardStatus.ParseFailure)]
    [InlineData("", "42", 0.0, RewardStatus.ParseFailure)]
    [InlineData("I do not know.", "42", 0.0, RewardStatus.ParseFailure)]
    [InlineData(@"\boxed{}", "42", 0.0, RewardStatus.ParseFailure)]
    [InlineData(@"\boxed{} and maybe 42", "42", 0.0, RewardStatus.ParseFailure)]
    [InlineData(@"\boxed{42", "42", 0.0, RewardStatus.ParseFailure)]
    [InlineData(@"\boxed{\frac{1}{0}}", "1", 0.0, RewardStatus.ParseFailure)]
    [InlineData(@"\boxed{\sqrt{2}}", "1.4142", 0.0, RewardStatus.ParseFailure)]
    public void Score_TableOfTrickyAnswers(string completion, string gold, double expected, RewardStatus status)
    {
        var r = Verify(completion, gold);
        Assert.Equal(expected, r.Value);
        Assert.Equal(status, r.Status);
        Assert.Equal(expected, r.Details["correct"]);
        Assert.Equal(status == RewardStatus.ParseFailure ? 1.0 : 0.0, r.Details["parse_failure"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(@"\frac{1}{")]
    [InlineData(null)]
    public void UnparseableGold_IsUnscorableNull_NeverOne(string? gold)
    {
        var r = Verify(@"\boxed{5}", gold);
        Assert.Null(r.Value);
        Assert.Equal(RewardStatus.Unscorable, r.Status);
    }

    [Fact]
    public void MissingGold_AndNonNumericGoldOfNumericType_AreUnscorable()
    {
        var noGold = new MathVerifier().Score(new RewardInput("q", @"\boxed{5}"));
        Assert.Null(noGold.Value);
        Assert.Equal(RewardStatus.Unscorable, noGold.Status);
        // "n/a" would match itself as an expression; answer_type numeric demands a number.
        var r = Verify("n/a", "n/a", answerType: "numeric");
        Assert.Null(r.Value);
        Assert.Equal(RewardStatus.Unscorable, r.Status);
    }

    [Theory]
    [InlineData(PercentMode.Strip, @"\boxed{50\%}", "50", 1.0)]
    [InlineData(PercentMode.Strip, @"\boxed{50\%}", "0.5", 0.0)]
    [InlineData(PercentMode.Fraction, @"\boxed{50\%}", "50", 0.0)]
    [InlineData(PercentMode.Fraction, @"\boxed{50\%}", "0.5", 1.0)]
    [InlineData(PercentMode.Fraction, "It rose by 12.5%", "1/8", 1.0)]
    [InlineData(PercentMode.Either, @"\boxed{50\%}", "50", 1.0)]
    [InlineData(PercentMode.Either, @"\boxed{50\%}", "1/2", 1.0)]
    [InlineData(PercentMode.Either, @"\boxed{50\%}", "5", 0.0)]
    [InlineData(PercentMode.Fraction, @"\boxed{0.25}", "25%", 1.0)]
    public void Percent_IsReadByTheConfiguredMode(PercentMode mode, string completion, string gold, double expected)
    {
        Assert.Equal(expected, Verify(completion, gold, verifier: new MathVerifier(percent: mode)).Value);
    }

    [Fact]
    public void Extraction_LastBoxedWinsOverAnEarlierOne()
    {
        const string completion = @"First guess \boxed{3}, but on reflection \boxed{4}. Done.";
        Assert.Equal(1.0, Verify(completion, "4").Value);
        Assert.Equal(0.0, Verify(completion, "3").Value);
        Assert.Equal("4", AnswerExtraction.Default.Extract(completion));
    }

    [Fact]
    public void Extraction_HashIsPreferredWhenConfiguredFirst()
    {
        const string completion = "We might write \\boxed{3}.\n#### 4";
        var hashFirst = new MathVerifier(new AnswerExtraction { Order = [AnswerSource.Hash, AnswerSource.Boxed] });
        Assert.Equal(1.0, Verify(completion, "4", verifier: hashFirst).Value);
        Assert.Equal(0.0, Verify(completion, "4").Value);
        Assert.Equal(1.0, Verify(completion, "3").Value);
    }

    [Fact]
    public void Extraction_OnlyConfiguredSourcesAreTried()
    {
        var boxedOnly = new MathVerifier(new AnswerExtraction { Order = [AnswerSource.Boxed] });
        var r = Verify("The result is 42", "42", verifier: boxedOnly);
        Assert.Equal(0.0, r.Value);
        Assert.Equal(RewardStatus.ParseFailure, r.Status);
        Assert.Equal(1.0, Verify("The result is 42", "42").Value);
    }

    [Fact]
    public void Extraction_BoxedContentKeepsNestedBraces()
    {
        Assert.Equal(@"\frac{1}{\sqrt{4}}", AnswerExtraction.LastBoxed(@"so \boxed{\frac{1}{\sqrt{4}}} ok"));
        Assert.Equal("", AnswerExtraction.LastBoxed(@"\boxed{\frac{1}{2}"));
        Assert.Null(AnswerExtraction.LastBoxed("no box"));
    }

    [Theory]
    [InlineData(1e-3, 1.0)]
    [InlineData(1e-6, 0.0)]
    public void RelativeTolerance_AcceptsCloseDecimals(double tolerance, double expected)
    {
        // |0.3333 − 1/3| = 3.3e−5 ≤ 1e−3·1 but > 1e−6·1.
        Assert.Equal(expected, Verify(@"\boxed{0.3333}", "1/3", verifier: new MathVerifier(relativeTolerance: tolerance)).Value);
    }

    [Theory]
    [InlineData(@"\boxed{\text{(B)}}", "b", 1.0, RewardStatus.Scored)]
    [InlineData("The answer is (B).", "B", 1.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{C}", "B", 0.0, RewardStatus.Scored)]
    [InlineData(@"\boxed{12}", "B", 0.0, RewardStatus.ParseFailure)]
    public void Choice_ComparesCaseFoldedLetters(string completion, string gold, double expected, RewardStatus status)
    {
        var r = Verify(completion, gold, answerType: "choice");
        Assert.Equal(expected, r.Value);
        Assert.Equal(status, r.Status);
    }

    [Theory]
    [InlineData("0.5", "1/2")]
    [InlineData(@"\frac{3}{-6}", "-1/2")]
    [InlineData("2^{-2}", "1/4")]
    [InlineData(@"-3^2", "-9")]
    [InlineData(@"(1+2)*3-4/8", "17/2")]
    [InlineData(@"\sqrt{\frac{9}{16}}", "3/4")]
    [InlineData("123456789012345678901234567890.5", "246913578024691357802469135781/2")]
    public void TryEvaluate_IsExactRationalArithmetic(string text, string expected)
    {
        Assert.True(MathAnswer.TryEvaluate(text, out var v));
        Assert.Equal(expected, v.ToString());
    }

    [Theory]
    [InlineData(@"\sqrt{2}")]
    [InlineData(@"2\sqrt{4}")]
    [InlineData("1e3")]
    [InlineData(@"\pi")]
    [InlineData("2^{100000}")]
    [InlineData("1/0")]
    public void TryEvaluate_RejectsWhatIsNotASimpleRational(string text)
    {
        Assert.False(MathAnswer.TryEvaluate(text, out _));
    }
}
