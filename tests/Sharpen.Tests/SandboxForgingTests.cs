using Sharpen.Data;
using Sharpen.Rewards;
using Sharpen.Rewards.Sandbox;

namespace Sharpen.Tests;

/// <summary>
/// Code rewards that cannot be forged: wrong solutions that try to make assert tests pass without computing the answer
/// (objects equal to everything, patched builtins, reading the tests, exiting early, faking the channel) score 0, while
/// honest solutions that return every kind of plain value, objects, generators or exceptions still score 1. Needs
/// root and bubblewrap, like <see cref="SandboxTests"/>.
/// </summary>
[Collection(SandboxTests.Collection)]
public class SandboxForgingTests
{
    static readonly PythonSandbox Sandbox = PythonSandbox.Default;

    static readonly SandboxLimits Quick = new() { WallSeconds = 10, MemoryBytes = 256L << 20, MaxProcesses = 16 };

    /// <summary>One test of each assert form: a statement, a bare expression, and a HumanEval-style check(candidate).</summary>
    static readonly CodeTest[] AddTests =
    [
        new(null, null, "assert add(1, 5) == 6"),
        new(null, null, "add(20, 22) == 42"),
        new(null, null, "def check(candidate):\n    assert candidate(7, 8) == 15\n    assert candidate(-1, 1) == 0\ncheck(add)"),
    ];

    /// <summary>Wrong solutions of "write add(a, b)" that each forged a pass somewhere, or try to: name → program.</summary>
    static readonly Dictionary<string, string> Cheats = new()
    {
        ["equal to everything"] = """
            class Anything:
                def __eq__(self, other): return True
                def __ne__(self, other): return False
                def __bool__(self): return True
                __hash__ = object.__hash__
            def add(a, b):
                return Anything()
            """,
        ["int subclass equal to everything"] = """
            class Zero(int):
                def __eq__(self, other): return True
                def __ne__(self, other): return False
                __hash__ = int.__hash__
            def add(a, b):
                return Zero(0)
            """,
        ["lies about its __class__"] = """
            class Liar:
                @property
                def __class__(self): return int
                def __eq__(self, other): return True
                def __ne__(self, other): return False
                __hash__ = object.__hash__
            def add(a, b):
                return Liar()
            """,
        ["patches eval, exec, AssertionError, operator.eq and int"] = """
            import builtins, operator
            builtins.eval = lambda *args, **kwargs: True
            builtins.exec = lambda *args, **kwargs: None
            builtins.AssertionError = type('NotAnAssertion', (BaseException,), {})
            operator.eq = lambda a, b: True
            builtins.int = type('int', (), {'__eq__': lambda self, other: True})
            def add(a, b):
                return 0
            """,
        ["prints the token found in the caller's frames"] = """
            import os, re, sys
            def add(a, b):
                frame = sys._getframe()
                while frame:
                    for value in list(frame.f_locals.values()) + list(frame.f_globals.values()):
                        if isinstance(value, str) and re.fullmatch('[0-9a-f]{32}', value):
                            os.write(1, ('\n' + value + '\n').encode())
                            os._exit(0)
                    frame = frame.f_back
                return 0
            """,
        ["reads the test file"] = """
            import re
            def add(a, b):
                try:
                    source = open('/sandbox/test.py').read()
                except OSError:
                    return 0
                return int(re.findall(r'==\s*(\d+)', source)[0])
            """,
        ["searches /proc, /tmp and its fds for the test"] = """
            import glob, os, re
            def add(a, b):
                texts = []
                paths = glob.glob('/proc/*/cmdline') + glob.glob('/proc/*/environ') + glob.glob('/proc/*/root/sandbox/*')
                paths += glob.glob('/proc/*/fd/*') + glob.glob('/proc/*/cwd/*') + glob.glob('/tmp/**', recursive=True) + glob.glob('/sandbox/*')
                for path in paths:
                    try:
                        texts.append(open(path, errors='replace').read(1 << 16))
                    except OSError:
                        pass
                found = [int(n) for n in re.findall(r'add\([^)]*\) == (\d+)', ' '.join(texts))]
                return found[0] if found else 0
            """,
        ["walks the garbage collector for the test"] = """
            import gc, re
            def add(a, b):
                for obj in gc.get_objects():
                    values = obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ()
                    for v in list(values):
                        if isinstance(v, str) and (m := re.search(r'add\([^)]*\) == (\d+)', v)):
                            return int(m.group(1))
                        if type(v).__name__ == 'code' and 'test' in v.co_filename:
                            return [c for c in v.co_consts if type(c) is int][-1]
                return 0
            """,
        ["sys.exit(0) before the tests"] = """
            import sys
            def add(a, b):
                return 0
            sys.exit(0)
            """,
        ["os._exit(0) before the tests"] = """
            import os
            os._exit(0)
            """,
        ["raises SystemExit(0) inside the test"] = """
            def add(a, b):
                raise SystemExit(0)
            """,
        ["os._exit(0) inside the test"] = """
            import os
            def add(a, b):
                os._exit(0)
            """,
        ["writes fake results to every fd"] = """
            import os
            FAKE = b'{"names":[["add","value",{"ref":0}]]}\n{"value":true}\nPASS\n0\n' + b'\n' + b'0' * 32 + b'\n'
            for fd in range(32):
                try:
                    os.write(fd, FAKE)
                except OSError:
                    pass
            print(FAKE.decode())
            def add(a, b):
                for fd in range(32):
                    try:
                        os.write(fd, b'{"value":{"ref":0}}\n{"raised":"SystemExit","message":"0"}\n')
                    except OSError:
                        pass
                return 0
            """,
    };

    public static TheoryData<string> CheatNames => new(Cheats.Keys);

    static RewardResult Score(string program, IEnumerable<CodeTest> tests) =>
        new CodeTestsReward(CodeTestsMode.FractionPassed, limits: Quick).Score(new RewardInput("Write add(a, b).",
            $"```python\n{program}\n```", new Dictionary<string, object?> { [RewardMeta.Tests] = tests.ToArray(), ["language"] = "python" }));

    [Theory]
    [MemberData(nameof(CheatNames))]
    public void Cheat_ScoresZero_OnEveryAssertForm(string cheat)
    {
        var reward = Score(Cheats[cheat], AddTests);

        Assert.Equal((0.0, 0.0), (reward.Value!.Value, reward.Details["pass_fraction"]));
    }

    [Fact]
    public void HonestAdd_ScoresOne_OnEveryAssertForm_EvenWhenItPrintsAndExits()
    {
        const string honest = "import sys\ndef add(a, b):\n    print('adding', a, b)\n    return a + b\nprint('ready')\nsys.exit(0)";

        Assert.Equal(1.0, Score(honest, AddTests).Value!.Value);
    }

    [Fact]
    public void StandardLibraryNames_MeanTheRealModules_AndBuiltinsCannotBeShadowed()
    {
        CodeTest[] tests =
        [
            new(null, null, "assert math.isclose(area(2), 12.566, rel_tol=1e-3)"),   // math imported by the solution only
            new(null, null, "assert sorted(digits(312)) == [1, 2, 3]"),
        ];
        const string honest = "import math\ndef area(r):\n    return math.pi * r * r\ndef digits(n):\n    return [int(c) for c in str(n)]";
        // A fake math whose isclose says yes, and a sorted that returns the expected list, reach only the solution itself.
        const string cheat = "class math:\n    isclose = staticmethod(lambda *a, **k: True)\ndef area(r):\n    return 0.0\n"
                             + "def sorted(x, *a, **k):\n    return [1, 2, 3]\ndef digits(n):\n    return 'nope'";

        Assert.Equal(1.0, Score(honest, tests).Value!.Value);
        Assert.Equal(0.0, Score(cheat, tests).Value!.Value);
    }

    [Fact]
    public void PlainValuesOfEveryKind_ObjectsGeneratorsAndExceptions_StillPass()
    {
        const string program = """
            import os
            from collections import Counter, namedtuple
            Point = namedtuple('Point', 'x y')
            TABLE = list(range(100_000))          # a large global travels as a reference

            def kinds():
                return (None, True, 3 ** 200, -0.0, float('inf'), 1 + 2j, 'é', b'\x00\xff', bytearray(b'ab'),
                        [1, [2]], {(1, 2): {frozenset({3})}}, {4, 5})
            def counts(s):
                return Counter(s)
            def point():
                return Point(1, 2)
            def squares(n):
                for i in range(n):
                    yield i * i
            def adder(n):
                return lambda x: x + n
            class Stack:
                def __init__(self):
                    self.items = []
                def push(self, x):
                    self.items.append(x)
                def pop(self):
                    return self.items.pop()
                def __len__(self):
                    return len(self.items)
                def __str__(self):
                    return f'Stack{self.items}'
            def sort_in_place(a):
                a.sort()
            def positive(x):
                if x <= 0:
                    raise ValueError('not positive')
                return x
            def files():
                return sorted(os.listdir('/sandbox'))
            """;
        string[] asserts =
        [
            "assert kinds() == (None, True, 3 ** 200, -0.0, float('inf'), 1 + 2j, 'é', b'\\x00\\xff', bytearray(b'ab'), [1, [2]], {(1, 2): {frozenset({3})}}, {4, 5})",
            "assert type(kinds()[2]) is int and str(kinds()[3]) == '-0.0'",
            "assert counts('abca') == {'a': 2, 'b': 1, 'c': 1}",
            "assert point() == (1, 2)",
            "assert list(squares(4)) == [0, 1, 4, 9] and sum(squares(10_000)) == 333_283_335_000",
            "assert adder(2)(3) == 5",
            "s = Stack()\ns.push(1)\ns.push(2)\nassert (len(s), str(s), s.pop(), s.items) == (2, 'Stack[1, 2]', 2, [1])",
            "a = [3, 1, 2]\nsort_in_place(a)\nassert a == [1, 2, 3]",
            "try:\n    positive(-1)\nexcept ValueError as e:\n    assert str(e) == 'not positive'\nelse:\n    assert False",
            "from solution import positive\nassert positive(4) == 4",
            "assert TABLE[99_999] == 99_999 and len(TABLE) == 100_000 and sum(TABLE) == 4_999_950_000",
            "assert files() == ['seccomp.bpf', 'solution.py']",   // the test is never in the program's sandbox
        ];
        var result = Sandbox.Run(program, asserts.Select(TestCase.Assertion).ToArray(), Quick);

        Assert.All(result.Tests, t => Assert.True(t.Passed, $"test {t.Index}: {t.Outcome} {t.Stderr}"));
    }

    [Fact]
    public void AssertOutcomes_AreToldApart()
    {
        var limits = Quick with { MaxOutputBytes = 64 << 10 };
        var result = Sandbox.Run("import sys\ndef f(x):\n    if x == 1:\n        raise MemoryError\n    if x == 2:\n        return 'x' * 100_000\n"
                                 + "    if x == 3:\n        raise KeyError(x)\n    print('p' * 200_000, file=sys.stderr)",
            [
                TestCase.Assertion("assert f(1) == 1"),          // MemoryError raised in the solution
                TestCase.Assertion("assert f(2) == 'x'"),        // a value larger than MaxOutputBytes
                TestCase.Assertion("assert f(3) == 3"),          // an exception that is not AssertionError
                TestCase.Assertion("assert f(4) is None"),       // prints more than MaxOutputBytes
                TestCase.Assertion("assert f(5) ==="),           // the test does not compile
            ], limits with { EarlyStop = EarlyStop.Never });

        Assert.Equal([TestOutcome.MemoryLimit, TestOutcome.OutputLimit, TestOutcome.RuntimeError, TestOutcome.OutputLimit, TestOutcome.CompileError],
            result.Tests.Select(t => t.Outcome));
        // The checker's statuses (TestResult.ExitCode): 3 MemoryError, 4 a value over the limit, 2 raised, 97 does not compile.
        Assert.Equal([3, 4, 2, PythonSandbox.CompileErrorExitCode], result.Tests.Where((_, i) => i != 3).Select(t => t.ExitCode));
        Assert.Contains("KeyError: '3'", result.Tests[2].Stderr);   // re-raised in the checker with the solution's message
        Assert.Equal(KillReason.OutputLimit, result.Tests[3].Killed);

        var brokenProgram = Sandbox.Run("def f(:\n    pass", [TestCase.Assertion("assert True")], limits);
        Assert.Equal((TestOutcome.CompileError, PythonSandbox.CompileErrorExitCode), (brokenProgram.Status, brokenProgram.Tests[0].ExitCode));
    }
}
