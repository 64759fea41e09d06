namespace Sharpen.Tests;

using Sharpen.Data;
using Sharpen.Data.Tasks;

public class TaskTests
{
    public static IEnumerable<object[]> Names => VerifiableTasks.Names.Select(n => new object[] { n });

    [Theory]
    [MemberData(nameof(Names))]
    public void GeneratorsRepeatForTheSameSeedAndDifferAcrossSeeds(string name)
    {
        var task = VerifiableTasks.Get(name, 2);
        string Key(PromptAnswerRecord p) => $"{p.Prompt.Text}|{p.Answer}|{p.ReferenceSolution}";
        var a = task.Problems(50, 7).Select(Key).ToList();
        var b = task.Problems(50, 7).Select(Key).ToList();
        var c = task.Problems(50, 8).Select(Key).ToList();
        Assert.Equal(a, b);
        Assert.True(a.Zip(c).Count(x => x.First != x.Second) > 25, "another seed should give mostly other problems");
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void ReferenceSolutionsVerifyAndFitTheSharedTokenizer(string name)
    {
        var task = VerifiableTasks.Get(name, 2);
        var tok = VerifiableTasks.Tokenizer();
        var sft = VerifiableTasks.Sft(task, 200, 3);
        foreach (var r in sft)
        {
            var (prompt, completion) = (r.Prompt.Text!, r.Completion.Text!);
            Assert.Equal(Verdict.Correct, task.Verify(prompt, completion));
            Assert.True(completion.Length <= task.MaxAnswerLength, $"{completion} is longer than MaxAnswerLength {task.MaxAnswerLength}");
            Assert.Equal(prompt + completion, tok.Decode(tok.Encode(prompt + completion)));
        }
    }

    [Fact]
    public void SharedTokenizerKeepsTheArithmeticIds()
    {
        Assert.Equal(Arithmetic.Tokenizer().Encode(Arithmetic.Alphabet), VerifiableTasks.Tokenizer().Encode(Arithmetic.Alphabet));
        Assert.Equal(Arithmetic.Tokenizer().VocabSize + 7, VerifiableTasks.Tokenizer().VocabSize);
    }

    [Theory]
    [InlineData("12+34=", "46", 1, false)]
    [InlineData("12+34=", " 46 ", 1, false)]
    [InlineData("12+34=", "47", 0, false)]
    [InlineData("12+34=", "046", 0, false)]
    [InlineData("12+34=", "4 6", 0, true)]
    [InlineData("12+34=", "", 0, true)]
    [InlineData("12*34=", "408", 1, false)]
    [InlineData("12*34=", "418", 0, false)]
    [InlineData("99*99=", "9801", 1, false)]
    [InlineData("12*34=", "40-8", 0, true)]
    [InlineData("[5,3,9,1]=", "1,3,5,9", 1, false)]
    [InlineData("[2,10,2]=", "2,2,10", 1, false)]
    [InlineData("[2,10,2]=", "10,2,2", 0, false)]
    [InlineData("[5,3,9,1]=", "1,3,5", 0, false)]
    [InlineData("[5,3,9,1]=", "1,3,5,9,9", 0, false)]
    [InlineData("[5,3,9,1]=", "1,3,,5,9", 0, true)]
    [InlineData("[5,3,9,1]=", "[1,3,5,9]", 0, true)]
    public void ArithmeticAndSortingVerifiersScoreAnswers(string prompt, string completion, double reward, bool parseFailed)
    {
        var name = prompt.Contains('+') ? "addition" : prompt.Contains('*') ? "multiplication" : "sorting";
        Assert.Equal(new Verdict(reward, parseFailed), VerifiableTasks.Get(name).Verify(prompt, completion));
    }

    [Theory]
    [InlineData("3*7+9", 1, false)]
    [InlineData("9+7*3", 1, false)]
    [InlineData(" ( 3 * 7 ) + 9 ", 1, false)]
    [InlineData("(9+3)*7", 0, false)]        // 84
    [InlineData("9*3+3", 0, false)]          // 3 used twice
    [InlineData("3*10", 0, false)]           // 10 is not given
    [InlineData("7*3+9+0", 0, false)]        // 0 is not given
    [InlineData("3*7", 0, false)]            // 9 unused
    [InlineData("3*+7", 0, true)]
    [InlineData("(3*7+9", 0, true)]
    [InlineData("3x7+9", 0, true)]
    [InlineData("-3+7+9", 0, true)]          // no unary minus
    [InlineData("", 0, true)]
    public void CountdownVerifierChecksValueAndNumbersUsed(string completion, double reward, bool parseFailed) =>
        Assert.Equal(new Verdict(reward, parseFailed), new CountdownTask().Verify("3,7,9:30=", completion));

    [Fact]
    public void CountdownRejectsInexactDivisionUnlessFractionsAreAllowed()
    {
        // 1/3·6 = 2 passes through the fraction 1/3; 6/3·1 = 2 does not.
        Assert.Equal(Verdict.Wrong, new CountdownTask().Verify("1,3,6:2=", "1/3*6"));
        Assert.Equal(Verdict.Correct, new CountdownTask().Verify("1,3,6:2=", "6/3*1"));
        Assert.Equal(Verdict.Correct, new CountdownTask(allowFractions: true).Verify("1,3,6:2=", "1/3*6"));
        Assert.Equal(Verdict.Wrong, new CountdownTask().Verify("7,7,9:1=", "9/(7-7)"));            // division by zero
        Assert.Equal(Verdict.Wrong, new CountdownTask().Verify("1,3,6:3=", "6/3*1+1"));            // 1 used twice
    }

    [Fact]
    public void CountdownCanAllowUnusedNumbers()
    {
        Assert.Equal(Verdict.Wrong, new CountdownTask().Verify("3,7,9:21=", "3*7"));
        Assert.Equal(Verdict.Correct, new CountdownTask(useAllNumbers: false).Verify("3,7,9:21=", "3*7"));
        Assert.Equal(Verdict.Wrong, new CountdownTask(useAllNumbers: false).Verify("3,7,9:21=", "7*3*1"));
    }

    [Fact]
    public void CountdownOverflowAndDeepNestingAreHandled()
    {
        var task = new CountdownTask(digits: 4, count: 6);
        Assert.Equal(Verdict.Wrong, task.Verify("9999,9999,9999,9999,9999,9999:1=", "9999*9999*9999*9999*9999*9999"));
        Assert.True(task.Verify("1,2,3,4,5,6:21=", new string('(', 40) + "1" + new string(')', 40) + "+2+3+4+5+6").ParseFailed);
    }

    [Fact]
    public void CountdownProblemsUseEveryNumberOnceAndReachTheirTarget()
    {
        foreach (var p in new CountdownTask(digits: 1, count: 4).Problems(100, 11))
        {
            var numbers = p.Prompt.Text![..p.Prompt.Text!.IndexOf(':')].Split(',').Select(long.Parse).Order();
            var used = p.ReferenceSolution!.Split('+', '-', '*', '/', '(', ')').Where(s => s.Length > 0).Select(long.Parse).Order();
            Assert.Equal(numbers, used);
            Assert.True(long.Parse(p.Answer) >= 1);
            Assert.EndsWith(":" + p.Answer + "=", p.Prompt.Text);
        }
    }

    [Fact]
    public void PromptsOfAnotherTaskAreRejected()
    {
        Assert.Throws<ArgumentException>(() => VerifiableTasks.Get("sorting").Verify("12+34=", "46"));
        Assert.Throws<ArgumentException>(() => VerifiableTasks.Get("multiplication").Verify("[1,2]=", "1,2"));
        Assert.Throws<ArgumentException>(() => new CountdownTask().Verify("12*3=", "36"));
        var e = Assert.Throws<ArgumentException>(() => VerifiableTasks.Get("builtin:division"));
        Assert.Contains("builtin:countdown", e.Message);
    }
}
