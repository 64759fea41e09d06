namespace Sharpen.Cli;

using Sharpen.Torch;
using Torch = Sharpen.Torch.Torch; // the class, not the namespace of the same name

/// <summary>`sharpen info`: the runtime facts (add --config for libtorch's full build configuration).</summary>
static class InfoCommand
{
    public static int Run(string[] argv)
    {
        var a = new Args(argv, "config");
        if (a.Help) { Console.WriteLine("usage: sharpen info [--config]   (--config adds libtorch's build configuration)"); return 0; }
        var config = a.Flag("config");
        a.EnsureAllUsed();
        Torch.Init();
        var info = Torch.Info;
        Console.WriteLine($"sharpen      {Cli.Version}");
        Console.WriteLine($".NET         {Environment.Version}");
        Console.WriteLine($"libtorch     {info.Version}");
        Console.WriteLine($"BLAS         {info.Blas} (LAPACK {info.Lapack})");
        Console.WriteLine($"threads      {info.Threads} (cores: {Environment.ProcessorCount})");
        Console.WriteLine($"CUDA         {(info.CudaDevices > 0 ? $"{info.CudaDevices} device(s)" : "none")}");
        var blasLib = LoadedLibrary("libblas") ?? LoadedLibrary("openblas");
        if (blasLib is not null) Console.WriteLine($"BLAS library {blasLib}");
        if (config) Console.WriteLine($"\n{info.BuildConfig}\n{info.ParallelInfo}");
        return 0;
    }

    // The shared library actually mapped for BLAS (Debian picks it with update-alternatives).
    static string? LoadedLibrary(string fragment)
    {
        try
        {
            return File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault())
                .FirstOrDefault(p => p is not null && p.Contains(fragment) && p.Contains(".so")) is { } path
                ? Path.GetFullPath(new FileInfo(path).LinkTarget is { } t ? Path.Combine(Path.GetDirectoryName(path)!, t) : path)
                : null;
        }
        catch (IOException) { return null; }
    }
}
