namespace Sharpen.Torch;

/// <summary>Process-wide libtorch settings and facts: seeding, threads, grad mode, runtime info.</summary>
public static class Torch
{
    static Torch()
    {
        // Default: every core (libtorch would otherwise follow OMP_NUM_THREADS or its own guess).
        if (Environment.GetEnvironmentVariable("SHARPEN_THREADS") is { Length: > 0 } s && int.TryParse(s, out var n) && n > 0)
            Threads = n;
        else
            Threads = Environment.ProcessorCount;
    }

    /// <summary>Forces the one-time set-up (thread count) to run.</summary>
    public static void Init() { }

    /// <summary>Seeds every libtorch generator (CPU and CUDA). CPU runs are then bit-for-bit repeatable for the same thread count.</summary>
    public static void Seed(ulong seed) => Native.Check(Native.sh_core_manual_seed(seed));

    /// <summary>Intra-op threads libtorch uses (default: every core; SHARPEN_THREADS overrides).</summary>
    public static int Threads
    {
        get => Native.Check(Native.sh_core_get_num_threads());
        set
        {
            if (value < 1) throw new ArgumentOutOfRangeException(nameof(value), value, "thread count must be at least 1");
            Native.Check(Native.sh_core_set_num_threads(value));
        }
    }

    /// <summary>Whether autograd records operations on this thread.</summary>
    public static bool IsGradEnabled => Native.Check(Native.sh_core_is_grad_enabled()) == 1;

    /// <summary>Disables gradient recording on this thread until the returned guard is disposed.</summary>
    /// <example><code>using (Torch.NoGrad()) { var logits = model.Forward(ids); }</code></example>
    public static GradModeGuard NoGrad() => new(false);

    /// <summary>Enables gradient recording on this thread until the returned guard is disposed.</summary>
    public static GradModeGuard EnableGrad() => new(true);

    /// <summary>Number of CUDA devices libtorch sees (0 on a CPU-only build).</summary>
    public static int CudaDeviceCount => Native.Check(Native.sh_core_cuda_device_count());

    /// <summary>True when a CUDA device is usable.</summary>
    public static bool CudaAvailable => CudaDeviceCount > 0;

    /// <summary>Runtime facts: libtorch version, BLAS/LAPACK, threads, CUDA devices.</summary>
    public static TorchInfo Info
    {
        get
        {
            var config = Native.CheckString(Native.sh_core_config());
            string Field(string key)
            {
                var i = config.IndexOf(key + "=", StringComparison.Ordinal);
                if (i < 0) return "unknown";
                var start = i + key.Length + 1;
                var end = config.IndexOfAny([',', '\n'], start);
                return config[start..(end < 0 ? config.Length : end)].Trim();
            }
            return new TorchInfo(
                Native.CheckString(Native.sh_core_version()),
                Field("BLAS_INFO"),
                Field("LAPACK_INFO"),
                Threads,
                CudaDeviceCount,
                config,
                Native.CheckString(Native.sh_core_parallel_info()));
        }
    }
}

/// <summary>Restores the previous grad mode of this thread when disposed.</summary>
public readonly struct GradModeGuard : IDisposable
{
    readonly bool previous;

    internal GradModeGuard(bool enabled) => previous = Native.Check(Native.sh_core_set_grad_enabled(enabled ? 1 : 0)) == 1;

    public void Dispose() => Native.Check(Native.sh_core_set_grad_enabled(previous ? 1 : 0));
}

/// <summary>Facts about the libtorch runtime Sharpen is running on.</summary>
/// <param name="Version">libtorch version, for example 1.13.0.</param>
/// <param name="Blas">BLAS libtorch was built against (BLAS_INFO).</param>
/// <param name="Lapack">LAPACK libtorch was built against (LAPACK_INFO).</param>
/// <param name="Threads">Intra-op threads in use.</param>
/// <param name="CudaDevices">CUDA devices visible.</param>
/// <param name="BuildConfig">libtorch's full build configuration text.</param>
/// <param name="ParallelInfo">libtorch's parallel back-end description.</param>
public sealed record TorchInfo(string Version, string Blas, string Lapack, int Threads, int CudaDevices, string BuildConfig, string ParallelInfo);

/// <summary>A private CPU random number generator, for repeatable sampling independent of the global seed.</summary>
public sealed class Generator : IDisposable
{
    IntPtr handle;

    /// <summary>A generator seeded with <paramref name="seed"/>.</summary>
    public Generator(ulong seed) => handle = Native.Check(Native.sh_generator_new(seed));

    internal IntPtr Handle => handle != IntPtr.Zero ? handle : throw new ObjectDisposedException(nameof(Generator));

    /// <summary>Restarts the stream from <paramref name="seed"/>.</summary>
    public void SetSeed(ulong seed) => Native.Check(Native.sh_generator_set_seed(Handle, seed));

    /// <summary>The generator's full state, for checkpoints.</summary>
    public byte[] GetState() => GetState(Handle);

    /// <summary>Restores a state from <see cref="GetState()"/>.</summary>
    public void SetState(byte[] state) => SetState(Handle, state);

    /// <summary>The global CPU generator's state (seeded by <see cref="Torch.Seed"/>).</summary>
    public static byte[] GetGlobalState() => GetState(IntPtr.Zero);

    /// <summary>Restores the global CPU generator's state.</summary>
    public static void SetGlobalState(byte[] state) => SetState(IntPtr.Zero, state);

    static unsafe byte[] GetState(IntPtr h)
    {
        var n = Native.Check(Native.sh_generator_get_state(h, null, 0));
        var buf = new byte[n];
        fixed (byte* p = buf) Native.Check(Native.sh_generator_get_state(h, p, n));
        return buf;
    }

    static unsafe void SetState(IntPtr h, byte[] state)
    {
        fixed (byte* p = state) Native.Check(Native.sh_generator_set_state(h, p, state.Length));
    }

    public void Dispose()
    {
        if (handle == IntPtr.Zero) return;
        Native.sh_generator_free(handle);
        handle = IntPtr.Zero;
    }
}
