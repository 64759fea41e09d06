using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Sharpen.Torch;

/// <summary>
/// An n-dimensional array on a device, with autograd: owns exactly one libtorch tensor handle.
/// Dispose it (or let the enclosing <see cref="TensorScope"/> do so); native memory is not left
/// to the garbage collector. Operations live in the partial files Tensor.*.cs.
/// </summary>
public sealed unsafe partial class Tensor : IDisposable
{
    IntPtr handle;

    /// <summary>Takes ownership of a native handle; a null handle raises the last native error.</summary>
    internal Tensor(IntPtr h)
    {
        handle = Native.Check(h);
        TensorScope.Track(this);
    }

    /// <summary>The scope that will dispose this tensor (null: its owner disposes it).</summary>
    internal TensorScope? Scope;

    /// <summary>The native handle; throws if the tensor was disposed.</summary>
    internal IntPtr Handle
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => handle != IntPtr.Zero ? handle : throw Disposed();
    }

    static ObjectDisposedException Disposed() =>
        new(nameof(Tensor), "the tensor was used after it was disposed (by its TensorScope or by Dispose)");

    /// <summary>True once the native tensor has been released.</summary>
    public bool IsDisposed => handle == IntPtr.Zero;

    /// <summary>Releases the native tensor. Safe to call twice.</summary>
    public void Dispose()
    {
        var h = handle;
        if (h == IntPtr.Zero) return;
        handle = IntPtr.Zero;
        Native.sh_tensor_free(h);
    }

    /// <summary>
    /// Makes this object hold <paramref name="from"/>'s native tensor (its own is released and
    /// <paramref name="from"/> becomes disposed). References to this object stay valid: used for
    /// caches and parameters that change storage in place.
    /// </summary>
    public void ReplaceWith(Tensor from) => ReplaceHandle(from);

    /// <summary>Replaces the native tensor behind this object (used by Module.To to keep field references valid).</summary>
    internal void ReplaceHandle(Tensor from)
    {
        var h = from.handle;
        if (h == IntPtr.Zero) throw Disposed();
        from.handle = IntPtr.Zero;
        Native.sh_tensor_free(Handle);
        handle = h;
    }

    // ---- metadata -------------------------------------------------------------------------

    /// <summary>Number of dimensions.</summary>
    public int Dim => (int)Native.Check(Native.sh_tensor_dim(Handle));

    /// <summary>Sizes of every dimension.</summary>
    public long[] Shape
    {
        get
        {
            long* buf = stackalloc long[16];
            var n = Native.Check(Native.sh_tensor_shape(Handle, buf, 16));
            var s = new long[n];
            if (n <= 16) for (var i = 0; i < n; i++) s[i] = buf[i];
            else fixed (long* p = s) Native.sh_tensor_shape(Handle, p, n);
            return s;
        }
    }

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public long Size(int dim)
    {
        var s = Shape;
        var d = dim < 0 ? dim + s.Length : dim;
        if (d < 0 || d >= s.Length)
            throw new ArgumentOutOfRangeException(nameof(dim), $"dimension {dim} out of range for a tensor of {s.Length} dims");
        return s[d];
    }

    /// <summary>Number of elements.</summary>
    public long Numel => Native.Check(Native.sh_tensor_numel(Handle));

    /// <summary>Element type.</summary>
    public DType DType => (DType)Native.Check(Native.sh_tensor_dtype(Handle));

    /// <summary>The device holding the data.</summary>
    public Device Device
    {
        get
        {
            var p = Native.Check(Native.sh_tensor_device(Handle));
            return new Device((DeviceType)(p >> 16), (p & 0xFFFF) - 1);
        }
    }

    /// <summary>True when the elements are laid out densely in row-major order.</summary>
    public bool IsContiguous => Native.Check(Native.sh_tensor_is_contiguous(Handle)) == 1;

    public override string ToString() =>
        IsDisposed ? "Tensor(disposed)" : $"Tensor([{string.Join(", ", Shape)}], {DType}, {Device}{(RequiresGrad ? ", requires_grad" : "")})";

    // ---- creation -------------------------------------------------------------------------

    delegate IntPtr ShapeFactory(long* shape, long ndim, int dtype, int devType, int devIndex);

    static Tensor Make(ShapeFactory f, long[] shape, DType dtype, Device? device)
    {
        var d = device ?? Device.CPU;
        fixed (long* p = shape) return new Tensor(f(p, shape.Length, (int)dtype, (int)d.Type, d.Index));
    }

    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(long[] shape, DType dtype = DType.Float32, Device? device = null) =>
        Make(Native.sh_tensor_zeros, shape, dtype, device);

    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(long[] shape, DType dtype = DType.Float32, Device? device = null) =>
        Make(Native.sh_tensor_ones, shape, dtype, device);

    /// <summary>An uninitialised tensor.</summary>
    public static Tensor Empty(long[] shape, DType dtype = DType.Float32, Device? device = null) =>
        Make(Native.sh_tensor_empty, shape, dtype, device);

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(long[] shape, double value, DType dtype = DType.Float32, Device? device = null)
    {
        var d = device ?? Device.CPU;
        fixed (long* p = shape) return new Tensor(Native.sh_tensor_full(p, shape.Length, value, (int)dtype, (int)d.Type, d.Index));
    }

    /// <summary>A 0-dimensional tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null) =>
        Full([], value, dtype, device);

    /// <summary>Values start, start+step, … below end (int64 unless another dtype is given).</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Int64, Device? device = null)
    {
        var d = device ?? Device.CPU;
        return new Tensor(Native.sh_tensor_arange(start, end, step, (int)dtype, (int)d.Type, d.Index));
    }

    /// <summary>0, 1, …, end-1 as int64.</summary>
    public static Tensor Arange(long end, Device? device = null) => Arange(0, end, 1, DType.Int64, device);

    /// <summary>Standard normal samples (from <paramref name="generator"/>, or the global one seeded by <see cref="Torch.Seed"/>).</summary>
    public static Tensor Randn(long[] shape, DType dtype = DType.Float32, Device? device = null, Generator? generator = null)
    {
        var d = device ?? Device.CPU;
        fixed (long* p = shape)
            return new Tensor(Native.sh_tensor_randn(p, shape.Length, generator?.Handle ?? IntPtr.Zero, (int)dtype, (int)d.Type, d.Index));
    }

    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor Rand(long[] shape, DType dtype = DType.Float32, Device? device = null, Generator? generator = null)
    {
        var d = device ?? Device.CPU;
        fixed (long* p = shape)
            return new Tensor(Native.sh_tensor_rand(p, shape.Length, generator?.Handle ?? IntPtr.Zero, (int)dtype, (int)d.Type, d.Index));
    }

    /// <summary>A 1-D CPU tensor [data.Length] holding a copy of <paramref name="data"/> (also for one element).</summary>
    public static Tensor From<T>(ReadOnlySpan<T> data) where T : unmanaged => From(data, [data.Length]);

    /// <summary>A CPU tensor of exactly <paramref name="shape"/> holding a copy of <paramref name="data"/> ([] is 0-dim, one element).</summary>
    public static Tensor From<T>(ReadOnlySpan<T> data, params long[] shape) where T : unmanaged =>
        FromBytes(MemoryMarshal.AsBytes(data), DTypes.Of<T>(), shape);

    /// <summary>A 1-D CPU tensor [data.Length] holding a copy of <paramref name="data"/> (also for one element).</summary>
    public static Tensor From<T>(T[] data) where T : unmanaged => From((ReadOnlySpan<T>)data);

    /// <summary>A CPU tensor of exactly <paramref name="shape"/> holding a copy of <paramref name="data"/> ([] is 0-dim, one element).</summary>
    public static Tensor From<T>(T[] data, params long[] shape) where T : unmanaged => From((ReadOnlySpan<T>)data, shape);

    /// <summary>A 2-D CPU tensor from a rectangular C# array.</summary>
    public static Tensor From<T>(T[,] data) where T : unmanaged
    {
        var span = MemoryMarshal.CreateReadOnlySpan(ref Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(data)), data.Length);
        return From(span, data.GetLength(0), data.GetLength(1));
    }

    /// <summary>A CPU tensor of <paramref name="dtype"/> from raw little-endian element bytes (bfloat16 included).</summary>
    public static Tensor FromBytes(ReadOnlySpan<byte> bytes, DType dtype, params long[] shape)
    {
        fixed (byte* b = bytes)
        fixed (long* s = shape)
            return new Tensor(Native.sh_tensor_from_data(b, bytes.Length, s, shape.Length, (int)dtype));
    }

    /// <summary>Copies the elements to a new C# array (from any device, row-major). T must match the dtype.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var want = DTypes.Of<T>();
        var have = DType;
        if (want != have)
            throw new TorchException($"ToArray<{typeof(T).Name}>: the tensor is {have}, not {want}; convert it with .To(DType.{want}) first");
        var result = new T[Numel];
        fixed (T* p = result) Native.Check(Native.sh_tensor_copy_to_host(Handle, p, (long)result.Length * sizeof(T)));
        return result;
    }

    /// <summary>The elements' raw bytes, row-major.</summary>
    public byte[] ToBytes()
    {
        var result = new byte[Numel * DType.ElementSize()];
        fixed (byte* p = result) Native.Check(Native.sh_tensor_copy_to_host(Handle, p, result.Length));
        return result;
    }

    /// <summary>The value of a one-element tensor as a double.</summary>
    public double ToDouble()
    {
        double v;
        Native.Check(Native.sh_tensor_item_double(Handle, &v));
        return v;
    }

    /// <summary>The value of a one-element tensor as an int64.</summary>
    public long ToInt64()
    {
        long v;
        Native.Check(Native.sh_tensor_item_long(Handle, &v));
        return v;
    }

    /// <summary>The value of a one-element tensor as a float.</summary>
    public float ToSingle() => (float)ToDouble();

    // ---- conversion -----------------------------------------------------------------------

    /// <summary>This tensor on <paramref name="device"/> with <paramref name="dtype"/> (itself, aliased, if nothing changes and copy is false).</summary>
    public Tensor To(DType dtype, Device device, bool copy = false) =>
        new(Native.sh_tensor_to(Handle, (int)dtype, (int)device.Type, device.Index, copy ? 1 : 0));

    /// <summary>Converted to <paramref name="dtype"/> on the same device.</summary>
    public Tensor To(DType dtype) => To(dtype, Device);

    /// <summary>Moved to <paramref name="device"/>, same dtype.</summary>
    public Tensor To(Device device) => To(DType, device);

    /// <summary>A copy with its own storage (differentiable).</summary>
    public Tensor Clone() => new(Native.sh_tensor_clone(Handle));

    /// <summary>A second handle to the same tensor (shares storage and autograd identity).</summary>
    public Tensor Alias() => new(Native.sh_tensor_alias(Handle));

    // ---- autograd -------------------------------------------------------------------------

    /// <summary>Whether autograd records operations on this tensor.</summary>
    public bool RequiresGrad
    {
        get => Native.Check(Native.sh_tensor_requires_grad(Handle)) == 1;
        set => Native.Check(Native.sh_tensor_set_requires_grad(Handle, value ? 1 : 0));
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this tensor.</summary>
    public Tensor RequiresGrad_(bool on = true)
    {
        RequiresGrad = on;
        return this;
    }

    /// <summary>The accumulated gradient (a new handle sharing its storage), or null when there is none.</summary>
    public Tensor? Grad
    {
        get
        {
            var g = Native.sh_tensor_grad(Handle);
            if (g == IntPtr.Zero)
            {
                var err = Native.LastError();
                if (err.Length > 0) throw new TorchException(err);
                return null;
            }
            return new Tensor(g);
        }
        set => Native.Check(Native.sh_tensor_set_grad(Handle, value?.Handle ?? IntPtr.Zero));
    }

    /// <summary>Drops the accumulated gradient (PyTorch's zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad() => Native.Check(Native.sh_tensor_set_grad(Handle, IntPtr.Zero));

    /// <summary>Back-propagates from this tensor (a scalar, or any shape given <paramref name="gradient"/>).</summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) =>
        Native.Check(Native.sh_tensor_backward(Handle, gradient?.Handle ?? IntPtr.Zero, retainGraph ? 1 : 0));

    /// <summary>The same data, cut from the autograd graph.</summary>
    public Tensor Detach() => new(Native.sh_tensor_detach(Handle));

    /// <summary>True for tensors created by the user rather than by a recorded operation.</summary>
    public bool IsLeaf => Native.Check(Native.sh_tensor_is_leaf(Handle)) == 1;
}
