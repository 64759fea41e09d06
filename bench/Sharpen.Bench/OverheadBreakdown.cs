using System.Runtime.InteropServices;
using Sharpen.Torch;

namespace Sharpen.Bench;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// Splits Sharpen's per-op time into layers, calling the bridge's exports through raw function
/// pointers (no Tensor object, no TensorScope) and then through the Tensor API, all in µs/call:
/// a near-empty export, the same with the GC transition suppressed, an export that only allocates
/// an at::Tensor handle (alias + free), the bare bridge add (add + free), and the full
/// <c>using var c = a + b;</c>. Each figure is the median of 50 blocks of 20k calls.
/// The libtorch floor (at::add from C++) is bench/cpp/op_floor.cpp.
/// </summary>
static unsafe class OverheadBreakdown
{
    const int Blocks = 50, BlockCalls = 20_000;

    public static int Run(int threads)
    {
        Torch.Threads = threads;
        var lib = NativeLibrary.Load(Path.Combine(AppContext.BaseDirectory, "libsharpen_native.so"));
        var isGradEnabled = (delegate* unmanaged<int>)NativeLibrary.GetExport(lib, "sh_core_is_grad_enabled");
        var isGradEnabledNoTransition = (delegate* unmanaged[SuppressGCTransition]<int>)NativeLibrary.GetExport(lib, "sh_core_is_grad_enabled");
        var alias = (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(lib, "sh_tensor_alias");
        var add = (delegate* unmanaged<IntPtr, IntPtr, IntPtr>)NativeLibrary.GetExport(lib, "sh_ops_add");
        var free = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(lib, "sh_tensor_free");
        var freeNoTransition = (delegate* unmanaged[SuppressGCTransition]<IntPtr, int>)NativeLibrary.GetExport(lib, "sh_tensor_free");

        using var a = Tensor.Ones([1]);
        using var b = Tensor.Ones([1]);
        var ha = NativeHandle(a);
        var hb = NativeHandle(b);

        for (var pass = 0; pass < 2; pass++)   // pass 0 warms up (tiered JIT), pass 1 reports
        {
            var report = pass == 1;
            Time("pinvoke_trivial", report, () => { for (var i = 0; i < BlockCalls; i++) isGradEnabled(); });
            Time("pinvoke_trivial_suppress_gc", report, () => { for (var i = 0; i < BlockCalls; i++) isGradEnabledNoTransition(); });
            Time("alias_free", report, () => { for (var i = 0; i < BlockCalls; i++) free(alias(ha)); });
            Time("add_free", report, () => { for (var i = 0; i < BlockCalls; i++) free(add(ha, hb)); });
            Time("add_free_suppress_gc", report, () => { for (var i = 0; i < BlockCalls; i++) freeNoTransition(add(ha, hb)); });
            Time("tensor_add_dispose", report, () =>
            {
                for (var i = 0; i < BlockCalls; i++)
                {
                    using var c = a + b;
                }
            });
        }
        return 0;
    }

    static void Time(string name, bool report, Action block)
    {
        var us = new double[Blocks];
        for (var i = 0; i < Blocks; i++)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            block();
            us[i] = Report.Seconds(start) / BlockCalls * 1e6;   // µs/call
        }
        if (report) Report.Result(name, Report.Median(us));
    }

    /// <summary>The native handle of a tensor (the internal Handle property, read by reflection once).</summary>
    static IntPtr NativeHandle(Tensor t) =>
        (IntPtr)typeof(Tensor).GetProperty("Handle", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!.GetValue(t)!;
}
