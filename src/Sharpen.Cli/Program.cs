using System.Reflection;
using Sharpen.Cli;

return Cli.Run(args);

namespace Sharpen.Cli
{
    /// <summary>One `sharpen` sub-command.</summary>
    /// <param name="Name">What the user types.</param>
    /// <param name="Summary">One line for `sharpen --help`.</param>
    /// <param name="Run">Runs with the remaining arguments; returns the exit code.</param>
    public sealed record Command(string Name, string Summary, Func<string[], int> Run);

    /// <summary>The `sharpen` command line: a registry of sub-commands.</summary>
    public static class Cli
    {
        static readonly List<Command> Commands =
        [
            new("info", "print the runtime: libtorch version, BLAS, threads, CUDA devices", InfoCommand.Run),
            new("quickstart", "the main job: SFT a tiny model on addition, then GRPO with the verifier; accuracy before/after", QuickstartCommand.Run),
            new("train", "train a recipe (sft, reward, preference): sharpen train RECIPE.yaml [--set key=value]", TrainCommand.Run),
            new("new-model", "write a randomly initialised model (Hugging Face layout) with a tokenizer", NewModelCommand.Run),
            new("tokenizer", "train a byte-level BPE tokenizer on text files (train), or encode text (encode)", TokenizerCommand.Run),
            new("generate", "sample completions from a saved model (token-in, token-out, KV-cached)", GenerateCommand.Run),
        ];

        /// <summary>The version of this build (without the source revision).</summary>
        public static string Version =>
            typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

        /// <summary>
        /// Runs the command named by <paramref name="args"/>[0]; returns its exit code. Errors become one line on stderr
        /// (see <see cref="Errors"/>): 1 for a mistake in the input, 2 for the command line, 70 for a bug.
        /// </summary>
        public static int Run(string[] args)
        {
            if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
            {
                PrintHelp();
                return args.Length == 0 ? 1 : 0;
            }
            if (args[0] is "--version" or "version")
            {
                Console.WriteLine($"sharpen {Version}");
                return 0;
            }
            var cmd = Commands.FirstOrDefault(c => c.Name == args[0]);
            if (cmd is null)
            {
                Console.Error.WriteLine($"sharpen: unknown command '{args[0]}'. Commands: {string.Join(", ", Commands.Select(c => c.Name))}");
                return Errors.Usage;
            }
            // An exception on another thread would otherwise end the process with a stack trace (exit 134).
            AppDomain.CurrentDomain.UnhandledException += (_, e) =>
            {
                Console.Out.Flush();
                Environment.Exit(Errors.Report(cmd.Name, e.ExceptionObject as Exception ?? new Exception($"{e.ExceptionObject}"), Console.Error));
            };
            try
            {
                return cmd.Run(args[1..]);
            }
            catch (Exception e)
            {
                Console.Out.Flush();
                return Errors.Report(cmd.Name, e, Console.Error);
            }
        }

        static void PrintHelp()
        {
            Console.WriteLine($"sharpen {Version} — post-training for language models, on libtorch\n");
            Console.WriteLine("usage: sharpen <command> [options]\n");
            foreach (var c in Commands) Console.WriteLine($"  {c.Name,-12} {c.Summary}");
            Console.WriteLine($"  {"test",-12} run the test suite (./sharpen test)");
            Console.WriteLine($"  {"--version",-12} print the version");
        }
    }
}
