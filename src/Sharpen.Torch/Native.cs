using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sharpen.Torch;

/// <summary>Loading of the native bridge and translation of its errors into exceptions.</summary>
internal static unsafe partial class Native
{
    internal const string Lib = "sharpen_native";

    /// <summary>Environment variable naming the bridge library explicitly (a path to libsharpen_native.so).</summary>
    internal const string LibEnv = "SHARPEN_NATIVE_LIB";

#pragma warning disable CA2255 // the library must install its resolver before any P/Invoke
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Init() =>
        NativeLibrary.SetDllImportResolver(typeof(Native).Assembly, Resolve);

    static IntPtr Resolve(string name, Assembly asm, DllImportSearchPath? path)
    {
        if (name != Lib) return IntPtr.Zero;
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(LibEnv) is { Length: > 0 } env) candidates.Add(env);
        candidates.Add(Path.Combine(AppContext.BaseDirectory, "libsharpen_native.so"));
        candidates.Add(Path.Combine(Path.GetDirectoryName(asm.Location) ?? ".", "libsharpen_native.so"));
        foreach (var c in candidates)
            if (File.Exists(c)) return NativeLibrary.Load(c);
        throw new DllNotFoundException(
            $"Sharpen's native bridge libsharpen_native.so was not found (looked in: {string.Join(", ", candidates)}). " +
            $"Build it with ./sharpen (or cmake -S native -B build/native) or set {LibEnv}.");
    }

    /// <summary>The message of the last failed native call on this thread.</summary>
    internal static string LastError() => Marshal.PtrToStringUTF8(sh_core_last_error()) ?? "unknown native error";

    /// <summary>Throws the last native error when a call returned its error value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static IntPtr Check(IntPtr handle) => handle != IntPtr.Zero ? handle : throw new TorchException(LastError());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Check(int status) => status >= 0 ? status : throw new TorchException(LastError());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static long Check(long value) => value >= 0 ? value : throw new TorchException(LastError());

    internal static string CheckString(IntPtr s) => Marshal.PtrToStringUTF8(Check(s)) ?? "";
}

/// <summary>An error reported by libtorch (shape mismatch, wrong dtype, bad index, …), with libtorch's message.</summary>
public sealed class TorchException : Exception
{
    public TorchException(string message) : base(message) { }
}
