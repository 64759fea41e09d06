namespace Sharpen.Torch;

// Elementwise math, comparisons, reductions, shapes and indexing. Each method is one native call;
// binary operations broadcast as in PyTorch. Dimensions may be negative (counted from the end).
public sealed unsafe partial class Tensor
{
    // ---- elementwise, unary ---------------------------------------------------------------
    public Tensor Neg() => new(Native.sh_ops_neg(Handle));
    public Tensor Exp() => new(Native.sh_ops_exp(Handle));
    public Tensor Log() => new(Native.sh_ops_log(Handle));
    public Tensor Log1p() => new(Native.sh_ops_log1p(Handle));
    public Tensor Sqrt() => new(Native.sh_ops_sqrt(Handle));
    public Tensor Rsqrt() => new(Native.sh_ops_rsqrt(Handle));
    public Tensor Abs() => new(Native.sh_ops_abs(Handle));
    public Tensor Sign() => new(Native.sh_ops_sign(Handle));
    public Tensor Square() => new(Native.sh_ops_square(Handle));
    public Tensor Reciprocal() => new(Native.sh_ops_reciprocal(Handle));
    public Tensor Sin() => new(Native.sh_ops_sin(Handle));
    public Tensor Cos() => new(Native.sh_ops_cos(Handle));
    public Tensor Floor() => new(Native.sh_ops_floor(Handle));
    public Tensor Relu() => new(Native.sh_ops_relu(Handle));
    /// <summary>x·σ(x) (SwiGLU's gate activation).</summary>
    public Tensor Silu() => new(Native.sh_ops_silu(Handle));
    /// <summary>Exact (erf) GELU; <paramref name="tanhApproximation"/> selects the tanh form.</summary>
    public Tensor Gelu(bool tanhApproximation = false) =>
        new(tanhApproximation ? Native.sh_ops_gelu_tanh(Handle) : Native.sh_ops_gelu(Handle));
    public Tensor Sigmoid() => new(Native.sh_ops_sigmoid(Handle));
    /// <summary>log σ(x), computed stably.</summary>
    public Tensor LogSigmoid() => new(Native.sh_ops_logsigmoid(Handle));
    public Tensor Tanh() => new(Native.sh_ops_tanh(Handle));
    /// <summary>log(1 + eˣ).</summary>
    public Tensor Softplus() => new(Native.sh_ops_softplus(Handle));
    public Tensor LogicalNot() => new(Native.sh_ops_logical_not(Handle));
    /// <summary>True where the element is neither NaN nor ±Inf.</summary>
    public Tensor IsFinite() => new(Native.sh_ops_isfinite(Handle));
    public Tensor Contiguous() => new(Native.sh_ops_contiguous(Handle));
    /// <summary>Indices of non-zero elements, [n, dim].</summary>
    public Tensor Nonzero() => new(Native.sh_ops_nonzero(Handle));

    /// <summary>Clamps into [min, max]; a null bound is open.</summary>
    public Tensor Clamp(double? min = null, double? max = null) =>
        new(Native.sh_ops_clamp(Handle, min ?? 0, min.HasValue ? 1 : 0, max ?? 0, max.HasValue ? 1 : 0));

    // ---- elementwise, binary --------------------------------------------------------------
    public Tensor Add(Tensor other) => new(Native.sh_ops_add(Handle, other.Handle));
    public Tensor Sub(Tensor other) => new(Native.sh_ops_sub(Handle, other.Handle));
    public Tensor Mul(Tensor other) => new(Native.sh_ops_mul(Handle, other.Handle));
    public Tensor Div(Tensor other) => new(Native.sh_ops_div(Handle, other.Handle));
    public Tensor Pow(Tensor exponent) => new(Native.sh_ops_pow(Handle, exponent.Handle));
    public Tensor Pow(double exponent) => new(Native.sh_ops_pow_scalar(Handle, exponent));
    public Tensor Maximum(Tensor other) => new(Native.sh_ops_maximum(Handle, other.Handle));
    public Tensor Minimum(Tensor other) => new(Native.sh_ops_minimum(Handle, other.Handle));
    public Tensor Fmod(double divisor) => new(Native.sh_ops_fmod_scalar(Handle, divisor));
    public Tensor Eq(Tensor other) => new(Native.sh_ops_eq(Handle, other.Handle));
    public Tensor Ne(Tensor other) => new(Native.sh_ops_ne(Handle, other.Handle));
    public Tensor Lt(Tensor other) => new(Native.sh_ops_lt(Handle, other.Handle));
    public Tensor Le(Tensor other) => new(Native.sh_ops_le(Handle, other.Handle));
    public Tensor Gt(Tensor other) => new(Native.sh_ops_gt(Handle, other.Handle));
    public Tensor Ge(Tensor other) => new(Native.sh_ops_ge(Handle, other.Handle));
    public Tensor Eq(double v) => new(Native.sh_ops_eq_scalar(Handle, v));
    public Tensor Ne(double v) => new(Native.sh_ops_ne_scalar(Handle, v));
    public Tensor Lt(double v) => new(Native.sh_ops_lt_scalar(Handle, v));
    public Tensor Le(double v) => new(Native.sh_ops_le_scalar(Handle, v));
    public Tensor Gt(double v) => new(Native.sh_ops_gt_scalar(Handle, v));
    public Tensor Ge(double v) => new(Native.sh_ops_ge_scalar(Handle, v));
    public Tensor LogicalAnd(Tensor other) => new(Native.sh_ops_logical_and(Handle, other.Handle));
    public Tensor LogicalOr(Tensor other) => new(Native.sh_ops_logical_or(Handle, other.Handle));

    /// <summary>Matrix product with NumPy broadcasting rules (1-D, 2-D and batched).</summary>
    public Tensor Matmul(Tensor other) => new(Native.sh_ops_matmul(Handle, other.Handle));
    /// <summary>Batched matrix product, [B, n, m] × [B, m, p] → [B, n, p].</summary>
    public Tensor Bmm(Tensor other) => new(Native.sh_ops_bmm(Handle, other.Handle));

    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    public static Tensor operator +(Tensor a, double b) => new(Native.sh_ops_add_scalar(a.Handle, b));
    public static Tensor operator +(double a, Tensor b) => new(Native.sh_ops_add_scalar(b.Handle, a));
    public static Tensor operator -(Tensor a, double b) => new(Native.sh_ops_sub_scalar(a.Handle, b));
    public static Tensor operator -(double a, Tensor b) => new(Native.sh_ops_rsub_scalar(b.Handle, a));
    public static Tensor operator *(Tensor a, double b) => new(Native.sh_ops_mul_scalar(a.Handle, b));
    public static Tensor operator *(double a, Tensor b) => new(Native.sh_ops_mul_scalar(b.Handle, a));
    public static Tensor operator /(Tensor a, double b) => new(Native.sh_ops_div_scalar(a.Handle, b));
    public static Tensor operator /(double a, Tensor b) => new(Native.sh_ops_rdiv_scalar(b.Handle, a));
    public static Tensor operator -(Tensor a) => a.Neg();
    // Comparisons give bool tensors. == and != are not overloaded (they keep reference meaning); use Eq/Ne.
    public static Tensor operator <(Tensor a, Tensor b) => a.Lt(b);
    public static Tensor operator >(Tensor a, Tensor b) => a.Gt(b);
    public static Tensor operator <=(Tensor a, Tensor b) => a.Le(b);
    public static Tensor operator >=(Tensor a, Tensor b) => a.Ge(b);
    public static Tensor operator <(Tensor a, double b) => a.Lt(b);
    public static Tensor operator >(Tensor a, double b) => a.Gt(b);
    public static Tensor operator <=(Tensor a, double b) => a.Le(b);
    public static Tensor operator >=(Tensor a, double b) => a.Ge(b);
    public static Tensor operator &(Tensor a, Tensor b) => a.LogicalAnd(b);
    public static Tensor operator |(Tensor a, Tensor b) => a.LogicalOr(b);
    public static Tensor operator !(Tensor a) => a.LogicalNot();

    // ---- along one dimension --------------------------------------------------------------
    public Tensor Softmax(int dim) => new(Native.sh_ops_softmax(Handle, dim));
    public Tensor LogSoftmax(int dim) => new(Native.sh_ops_log_softmax(Handle, dim));
    public Tensor Cumsum(int dim) => new(Native.sh_ops_cumsum(Handle, dim));
    public Tensor Unsqueeze(int dim) => new(Native.sh_ops_unsqueeze(Handle, dim));
    public Tensor Squeeze(int dim) => new(Native.sh_ops_squeeze(Handle, dim));
    /// <summary>Removes every dimension of size 1.</summary>
    public Tensor Squeeze() => new(Native.sh_ops_squeeze_all(Handle));
    /// <summary>Lower triangle (elements with column − row ≤ diagonal), the rest zero.</summary>
    public Tensor Tril(int diagonal = 0) => new(Native.sh_ops_tril(Handle, diagonal));
    /// <summary>Upper triangle (elements with column − row ≥ diagonal), the rest zero.</summary>
    public Tensor Triu(int diagonal = 0) => new(Native.sh_ops_triu(Handle, diagonal));

    // ---- reductions -----------------------------------------------------------------------
    delegate IntPtr Reduce(IntPtr a, long* dims, long ndims, int keepdim);

    Tensor Reduced(Reduce f, int[] dims, bool keepdim)
    {
        long* d = stackalloc long[dims.Length];
        for (var i = 0; i < dims.Length; i++) d[i] = dims[i];
        return new Tensor(f(Handle, d, dims.Length, keepdim ? 1 : 0));
    }

    /// <summary>Sum of all elements (0-dim).</summary>
    public Tensor Sum() => new(Native.sh_ops_sum_all(Handle));
    public Tensor Sum(int dim, bool keepdim = false) => Reduced(Native.sh_ops_sum, [dim], keepdim);
    public Tensor Sum(int[] dims, bool keepdim = false) => Reduced(Native.sh_ops_sum, dims, keepdim);
    /// <summary>Sum accumulated and returned in <paramref name="dtype"/> (for example float64 sums of float32).</summary>
    public Tensor Sum(int[] dims, bool keepdim, DType dtype)
    {
        long* d = stackalloc long[dims.Length];
        for (var i = 0; i < dims.Length; i++) d[i] = dims[i];
        return new Tensor(Native.sh_ops_sum_dtype(Handle, d, dims.Length, keepdim ? 1 : 0, (int)dtype));
    }
    /// <summary>Mean of all elements (0-dim).</summary>
    public Tensor Mean() => new(Native.sh_ops_mean_all(Handle));
    public Tensor Mean(int dim, bool keepdim = false) => Reduced(Native.sh_ops_mean, [dim], keepdim);
    public Tensor Mean(int[] dims, bool keepdim = false) => Reduced(Native.sh_ops_mean, dims, keepdim);
    /// <summary>log Σ exp, computed stably.</summary>
    public Tensor LogSumExp(int dim, bool keepdim = false) => Reduced(Native.sh_ops_logsumexp, [dim], keepdim);
    public Tensor LogSumExp(int[] dims, bool keepdim = false) => Reduced(Native.sh_ops_logsumexp, dims, keepdim);
    /// <summary>Largest element (0-dim).</summary>
    public Tensor Max() => new(Native.sh_ops_max_all(Handle));
    /// <summary>Smallest element (0-dim).</summary>
    public Tensor Min() => new(Native.sh_ops_min_all(Handle));
    /// <summary>Largest values over <paramref name="dims"/> (no indices).</summary>
    public Tensor Amax(int[] dims, bool keepdim = false) => Reduced(Native.sh_ops_amax, dims, keepdim);
    /// <summary>Smallest values over <paramref name="dims"/> (no indices).</summary>
    public Tensor Amin(int[] dims, bool keepdim = false) => Reduced(Native.sh_ops_amin, dims, keepdim);

    /// <summary>Largest values along <paramref name="dim"/> and their indices.</summary>
    public (Tensor Values, Tensor Indices) Max(int dim, bool keepdim = false)
    {
        IntPtr v, i;
        Native.Check(Native.sh_ops_max_dim(Handle, dim, keepdim ? 1 : 0, &v, &i));
        return (new Tensor(v), new Tensor(i));
    }

    /// <summary>Smallest values along <paramref name="dim"/> and their indices.</summary>
    public (Tensor Values, Tensor Indices) Min(int dim, bool keepdim = false)
    {
        IntPtr v, i;
        Native.Check(Native.sh_ops_min_dim(Handle, dim, keepdim ? 1 : 0, &v, &i));
        return (new Tensor(v), new Tensor(i));
    }

    public Tensor Argmax(int dim, bool keepdim = false) => new(Native.sh_ops_argmax(Handle, dim, keepdim ? 1 : 0));
    public Tensor Argmin(int dim, bool keepdim = false) => new(Native.sh_ops_argmin(Handle, dim, keepdim ? 1 : 0));

    /// <summary>Variance over <paramref name="dims"/>; <paramref name="correction"/> 1 is Bessel's (n−1).</summary>
    public Tensor Var(int[] dims, int correction = 1, bool keepdim = false)
    {
        long* d = stackalloc long[dims.Length];
        for (var i = 0; i < dims.Length; i++) d[i] = dims[i];
        return new Tensor(Native.sh_ops_var(Handle, d, dims.Length, correction, keepdim ? 1 : 0));
    }

    /// <summary>Standard deviation over <paramref name="dims"/>; <paramref name="correction"/> 1 is Bessel's (n−1).</summary>
    public Tensor Std(int[] dims, int correction = 1, bool keepdim = false)
    {
        long* d = stackalloc long[dims.Length];
        for (var i = 0; i < dims.Length; i++) d[i] = dims[i];
        return new Tensor(Native.sh_ops_std(Handle, d, dims.Length, correction, keepdim ? 1 : 0));
    }

    public Tensor Var(int dim, int correction = 1, bool keepdim = false) => Var([dim], correction, keepdim);
    public Tensor Std(int dim, int correction = 1, bool keepdim = false) => Std([dim], correction, keepdim);

    /// <summary>The k largest (or smallest) values along <paramref name="dim"/> and their indices.</summary>
    public (Tensor Values, Tensor Indices) TopK(long k, int dim = -1, bool largest = true, bool sorted = true)
    {
        IntPtr v, i;
        Native.Check(Native.sh_ops_topk(Handle, k, dim, largest ? 1 : 0, sorted ? 1 : 0, &v, &i));
        return (new Tensor(v), new Tensor(i));
    }

    /// <summary>Stable sort along <paramref name="dim"/>: values and the permutation.</summary>
    public (Tensor Values, Tensor Indices) Sort(int dim = -1, bool descending = false)
    {
        IntPtr v, i;
        Native.Check(Native.sh_ops_sort(Handle, dim, descending ? 1 : 0, &v, &i));
        return (new Tensor(v), new Tensor(i));
    }

    /// <summary>Draws <paramref name="numSamples"/> indices per row of a [.., n] probability tensor.</summary>
    public Tensor Multinomial(long numSamples, bool replacement = false, Generator? generator = null) =>
        new(Native.sh_ops_multinomial(Handle, numSamples, replacement ? 1 : 0, generator?.Handle ?? IntPtr.Zero));

    // ---- shapes and views -----------------------------------------------------------------
    delegate IntPtr ShapeOp(IntPtr a, long* shape, long ndim);

    Tensor Shaped(ShapeOp f, long[] shape)
    {
        fixed (long* p = shape) return new Tensor(f(Handle, p, shape.Length));
    }

    /// <summary>A view with a new shape (one size may be -1); the tensor must be compatible with a view.</summary>
    public Tensor View(params long[] shape) => Shaped(Native.sh_ops_view, shape);
    /// <summary>A new shape, copying only when a view is impossible.</summary>
    public Tensor Reshape(params long[] shape) => Shaped(Native.sh_ops_reshape, shape);
    /// <summary>Reorders dimensions.</summary>
    public Tensor Permute(params long[] dims) => Shaped(Native.sh_ops_permute, dims);
    /// <summary>Broadcasts size-1 dimensions to <paramref name="shape"/> without copying (-1 keeps a size).</summary>
    public Tensor Expand(params long[] shape) => Shaped(Native.sh_ops_expand, shape);
    /// <summary>Tiles the tensor <paramref name="repeats"/> times along each dimension (copies).</summary>
    public Tensor Repeat(params long[] repeats) => Shaped(Native.sh_ops_repeat, repeats);
    public Tensor Transpose(int dim0, int dim1) => new(Native.sh_ops_transpose(Handle, dim0, dim1));
    /// <summary>Transpose of a 2-D tensor.</summary>
    public Tensor T => Transpose(0, 1);
    public Tensor Flatten(int startDim = 0, int endDim = -1) => new(Native.sh_ops_flatten(Handle, startDim, endDim));
    /// <summary>The slice at <paramref name="index"/> of <paramref name="dim"/>, removing that dimension.</summary>
    public Tensor Select(int dim, long index) => new(Native.sh_ops_select(Handle, dim, index));
    /// <summary>Elements start … start+length−1 of <paramref name="dim"/> (a view).</summary>
    public Tensor Narrow(int dim, long start, long length) => new(Native.sh_ops_narrow(Handle, dim, start, length));
    /// <summary>Elements start, start+step, … below end of <paramref name="dim"/> (a view; Python slicing bounds).</summary>
    public Tensor Slice(int dim, long start, long end, long step = 1) => new(Native.sh_ops_slice(Handle, dim, start, end, step));

    /// <summary>t[i] selects along dimension 0.</summary>
    public Tensor this[long index] => Select(0, index);

    /// <summary>t[a..b] slices dimension 0 (C# ranges, ^ from the end).</summary>
    public Tensor this[Range range]
    {
        get
        {
            var n = Size(0);
            var (off, len) = range.GetOffsetAndLength((int)n);
            return Narrow(0, off, len);
        }
    }

    // ---- indexing -------------------------------------------------------------------------
    /// <summary>Rows of <paramref name="dim"/> picked by a 1-D int64 <paramref name="index"/>.</summary>
    public Tensor IndexSelect(int dim, Tensor index) => new(Native.sh_ops_index_select(Handle, dim, index.Handle));
    /// <summary>out[i][j] = this[i][index[i][j]] for dim 1 (and likewise for other dims).</summary>
    public Tensor Gather(int dim, Tensor index) => new(Native.sh_ops_gather(Handle, dim, index.Handle));
    /// <summary>A copy with src written at <paramref name="index"/> along <paramref name="dim"/>.</summary>
    public Tensor Scatter(int dim, Tensor index, Tensor src) => new(Native.sh_ops_scatter(Handle, dim, index.Handle, src.Handle));
    /// <summary>A copy with src added at <paramref name="index"/> along <paramref name="dim"/>.</summary>
    public Tensor ScatterAdd(int dim, Tensor index, Tensor src) => new(Native.sh_ops_scatter_add(Handle, dim, index.Handle, src.Handle));
    /// <summary>A copy with <paramref name="value"/> where the bool <paramref name="mask"/> is true.</summary>
    public Tensor MaskedFill(Tensor mask, double value) => new(Native.sh_ops_masked_fill(Handle, mask.Handle, value));
    /// <summary>Elementwise cond ? a : b.</summary>
    public static Tensor Where(Tensor cond, Tensor a, Tensor b) => new(Native.sh_ops_where(cond.Handle, a.Handle, b.Handle));

    /// <summary>Concatenates along an existing dimension.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, int dim = 0) => Join(Native.sh_ops_cat, tensors, dim);
    /// <summary>Stacks along a new dimension.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0) => Join(Native.sh_ops_stack, tensors, dim);

    delegate IntPtr JoinOp(IntPtr* ts, long n, long dim);

    static Tensor Join(JoinOp f, IReadOnlyList<Tensor> tensors, int dim)
    {
        var hs = new IntPtr[tensors.Count];
        for (var i = 0; i < hs.Length; i++) hs[i] = tensors[i].Handle;
        fixed (IntPtr* p = hs) return new Tensor(f(p, hs.Length, dim));
    }

    // ---- in place (no autograd history is kept for these on leaves; use under NoGrad) -----
    /// <summary>this += alpha · other.</summary>
    public Tensor Add_(Tensor other, double alpha = 1)
    {
        Native.Check(Native.sh_ops_add_(Handle, other.Handle, alpha));
        return this;
    }

    /// <summary>this *= v.</summary>
    public Tensor Mul_(double v)
    {
        Native.Check(Native.sh_ops_mul_scalar_(Handle, v));
        return this;
    }

    /// <summary>this += v.</summary>
    public Tensor Add_(double v)
    {
        Native.Check(Native.sh_ops_add_scalar_(Handle, v));
        return this;
    }

    /// <summary>this += value · t1 · t2.</summary>
    public Tensor Addcmul_(Tensor t1, Tensor t2, double value = 1)
    {
        Native.Check(Native.sh_ops_addcmul_(Handle, t1.Handle, t2.Handle, value));
        return this;
    }

    /// <summary>this += value · t1 / t2.</summary>
    public Tensor Addcdiv_(Tensor t1, Tensor t2, double value = 1)
    {
        Native.Check(Native.sh_ops_addcdiv_(Handle, t1.Handle, t2.Handle, value));
        return this;
    }

    /// <summary>Copies <paramref name="src"/> into this tensor (broadcasting, converting dtype/device).</summary>
    public Tensor Copy_(Tensor src)
    {
        Native.Check(Native.sh_ops_copy_(Handle, src.Handle));
        return this;
    }

    public Tensor Zero_()
    {
        Native.Check(Native.sh_ops_zero_(Handle));
        return this;
    }

    public Tensor Fill_(double v)
    {
        Native.Check(Native.sh_ops_fill_(Handle, v));
        return this;
    }

    public Tensor MaskedFill_(Tensor mask, double value)
    {
        Native.Check(Native.sh_ops_masked_fill_(Handle, mask.Handle, value));
        return this;
    }

    /// <summary>True when every element is within atol + rtol·|other| of other.</summary>
    public bool AllClose(Tensor other, double rtol = 1e-5, double atol = 1e-8) =>
        Native.Check(Native.sh_ops_allclose(Handle, other.Handle, rtol, atol)) == 1;
}
