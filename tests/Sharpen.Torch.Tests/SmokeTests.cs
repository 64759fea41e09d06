using Sharpen.Torch;

namespace Sharpen.Torch.Tests;

public class SmokeTests
{
    [Fact]
    public void AddsTwoVectors()
    {
        using var scope = new TensorScope();
        var a = Tensor.From(new float[] { 1, 2, 3 });
        var b = Tensor.From(new float[] { 10, 20, 30 });
        Assert.Equal(new float[] { 11, 22, 33 }, (a + b).ToArray<float>());
    }
}
