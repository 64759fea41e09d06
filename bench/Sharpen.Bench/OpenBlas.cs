using System.Runtime.InteropServices;

namespace Sharpen.Bench;

/// <summary>Which OpenBLAS kernels this process runs (OpenBLAS picks them at load time, or from OPENBLAS_CORETYPE).</summary>
static unsafe class OpenBlas
{
    /// <summary>The kernel family OpenBLAS chose (for example Cooperlake, SkylakeX, Haswell), or "not loaded".</summary>
    public static string CoreName()
    {
        var path = File.ReadLines("/proc/self/maps")
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .FirstOrDefault(p => Path.GetFileName(p).StartsWith("libopenblas", StringComparison.Ordinal));
        if (path is null) return "not loaded";
        var getCoreName = (delegate* unmanaged<IntPtr>)NativeLibrary.GetExport(NativeLibrary.Load(path), "openblas_get_corename");
        return Marshal.PtrToStringUTF8(getCoreName()) ?? "unknown";
    }
}
