namespace Sharpen.Torch.Tests;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// libtorch errors arrive as managed exceptions with libtorch's message (no C++ backtrace), misuse
/// on the C# side is caught before it reaches native code, and the process keeps working afterwards.
/// </summary>
public class ErrorTests
{
    /// <summary>Runs <paramref name="bad"/>, expects a TorchException, then checks that a following op still works.</summary>
    static string Fails(Action bad)
    {
        var e = Assert.Throws<TorchException>(bad);
        Assert.DoesNotContain("Exception raised from", e.Message); // backtrace stripped
        using var scope = new TensorScope();
        var ok = Tensor.From(new float[] { 1, 2 }) + Tensor.From(new float[] { 3, 4 });
        Assert.Equal([4f, 6], ok.ToArray<float>());
        return e.Message;
    }

    [Fact]
    public void AddWithIncompatibleShapesNamesTheSizes()
    {
        using var scope = new TensorScope();
        var msg = Fails(() => _ = Tensor.Zeros([2, 3]) + Tensor.Zeros([4, 5]));
        Assert.Contains("size of tensor a (3)", msg);
        Assert.Contains("tensor b (5)", msg);
    }

    [Fact]
    public void MatmulWithIncompatibleShapesNamesBothShapes()
    {
        using var scope = new TensorScope();
        var msg = Fails(() => Tensor.Zeros([2, 3]).Matmul(Tensor.Zeros([4, 5])));
        Assert.Contains("2x3", msg);
        Assert.Contains("4x5", msg);
    }

    [Fact]
    public void ViewToAnIncompatibleSizeNamesShapeAndSize()
    {
        using var scope = new TensorScope();
        var msg = Fails(() => Tensor.Zeros([2, 3]).View(4, 2));
        Assert.Contains("[4, 2]", msg);
        Assert.Contains("6", msg);
    }

    [Fact]
    public void SoftmaxOverAMissingDimensionSaysDimensionOutOfRange()
    {
        using var scope = new TensorScope();
        var msg = Fails(() => Tensor.Zeros([2, 3]).Softmax(5));
        Assert.Contains("Dimension out of range", msg);
        Assert.Contains("5", msg);
    }

    [Fact]
    public void IndexSelectWithAFloatIndexNamesTheExpectedDType()
    {
        using var scope = new TensorScope();
        var msg = Fails(() => Tensor.Zeros([3, 2]).IndexSelect(0, Tensor.From(new float[] { 0, 1 })));
        Assert.Contains("index", msg);
        Assert.Contains("int64", msg);
    }

    [Fact]
    public void ToArrayOfTheWrongTypeNamesBothDTypes()
    {
        using var scope = new TensorScope();
        var msg = Fails(() => Tensor.Arange(3).ToArray<float>());
        Assert.Contains("Int64", msg);
        Assert.Contains("Float32", msg);
    }

    [Fact]
    public void ErrorsThroughOutParametersAndScalarResultsAreReported()
    {
        using var scope = new TensorScope();
        Assert.Contains("Dimension out of range", Fails(() => Tensor.Zeros([2, 3]).Max(2)));
        Assert.Contains("6 elements", Fails(() => Tensor.Zeros([2, 3]).ToDouble()));
        Assert.Contains("Sizes of tensors must match", Fails(() => Tensor.Cat([Tensor.Zeros([2, 3]), Tensor.Zeros([2, 4])])));
        Assert.Contains("needs 8", Fails(() => Tensor.FromBytes(new byte[5], DType.Float32, 2)));
    }

    [Fact]
    public void BackwardMisuseIsReported()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new double[] { 1, 2 }).RequiresGrad_();
        Assert.Contains("scalar outputs", Fails(() => (x * 2).Backward()));
        Assert.Contains("does not require grad", Fails(() => Tensor.Ones([1]).Sum().Backward()));
    }

    [Fact]
    public void UseAfterDisposeThrowsObjectDisposed()
    {
        var a = Tensor.Ones([2]);
        a.Dispose();
        a.Dispose(); // twice is harmless
        Assert.True(a.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => a.ToArray<float>());
        using var b = Tensor.Ones([2]);
        Assert.Throws<ObjectDisposedException>(() => b + a);
        Assert.Equal("Tensor(disposed)", a.ToString());

        Tensor inner;
        using (new TensorScope()) inner = Tensor.Ones([2]);
        var e = Assert.Throws<ObjectDisposedException>(() => inner.Shape);
        Assert.Contains("disposed", e.Message);
        Assert.Equal([2f, 2], (b * 2).ToArray<float>());
    }

    [Fact]
    public void ManagedArgumentChecksRejectBadInput()
    {
        using var scope = new TensorScope();
        var t = Tensor.Zeros([3, 2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Size(2));
        Assert.Throws<ArgumentOutOfRangeException>(() => t[1..5]);
        Assert.Throws<ArgumentOutOfRangeException>(() => Torch.Threads = 0);
    }

    [Fact]
    public void TheLastErrorBelongsToTheThreadThatFailed()
    {
        using var scope = new TensorScope();
        string? other = null;
        var worker = new Thread(() =>
        {
            try { using var s = new TensorScope(); Tensor.Zeros([2]).View(3); }
            catch (TorchException e) { other = e.Message; }
        });
        worker.Start();
        worker.Join();
        Assert.Contains("[3]", other);
        var msg = Fails(() => Tensor.Zeros([2, 3]).Matmul(Tensor.Zeros([4, 5])));
        Assert.Contains("2x3", msg);
        Assert.DoesNotContain("[3]", msg);
    }
}
