namespace Sharpen.Models.Tests;

using Sharpen.Torch;

public class CheckpointTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "sharpen-ckpt-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    [Theory]
    [InlineData("llama", false)]
    [InlineData("qwen2", true)]
    [InlineData("qwen3", false)]
    public void SaveThenLoadGivesIdenticalLogits(string type, bool tie)
    {
        using var scope = new TensorScope();
        var config = TinyModels.Config(type, tie: tie);
        using var model = TinyModels.Model(config);
        HfCheckpoint.Save(model, config, dir);
        Assert.True(File.Exists(Path.Combine(dir, "model.safetensors")));
        Assert.True(File.Exists(Path.Combine(dir, "generation_config.json")));
        using var loaded = HfCheckpoint.LoadCausalLM(dir);
        using var _ = Torch.NoGrad();
        var ids = TinyModels.Ids(new long[,] { { 1, 5, 9, 2 } });
        Assert.Equal(0.0, (model.Forward(ids) - loaded.Forward(ids)).Abs().Max().ToDouble());
        Assert.Equal(type, ModelConfig.Load(Path.Combine(dir, "config.json")).ModelType);
        // Hugging Face names
        var names = new SafetensorsFile[] { SafetensorsFile.Open(Path.Combine(dir, "model.safetensors")) };
        using var f = names[0];
        Assert.Contains("model.layers.1.self_attn.q_proj.weight", f.Names);
        Assert.Contains("model.layers.0.mlp.down_proj.weight", f.Names);
        Assert.Equal(!tie, f.Names.Contains("lm_head.weight"));
        Assert.Equal(type == "qwen2", f.Names.Contains("model.layers.0.self_attn.q_proj.bias"));
        Assert.Equal(type == "qwen3", f.Names.Contains("model.layers.0.self_attn.q_norm.weight"));
    }

    [Fact]
    public void ShardedCheckpointRoundTrips()
    {
        using var scope = new TensorScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config);
        HfCheckpoint.Save(model, config, dir, maxShardBytes: 8_000);
        Assert.True(File.Exists(Path.Combine(dir, HfCheckpoint.IndexFile)));
        Assert.True(HfCheckpoint.WeightFiles(dir).Count > 1);
        using var loaded = HfCheckpoint.LoadCausalLM(dir);
        using var _ = Torch.NoGrad();
        var ids = TinyModels.Ids(new long[,] { { 3, 4 } });
        Assert.Equal(0.0, (model.Forward(ids) - loaded.Forward(ids)).Abs().Max().ToDouble());
    }

    [Fact]
    public void MissingTensorIsNamedInTheError()
    {
        using var scope = new TensorScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config);
        HfCheckpoint.Save(model, config, dir);
        var file = Path.Combine(dir, "model.safetensors");
        var all = Safetensors.Load(file);
        all.Remove("model.layers.1.mlp.up_proj.weight");
        Safetensors.Save(file, all);
        var e = Assert.Throws<InputException>(() => HfCheckpoint.LoadCausalLM(dir));
        Assert.Equal($"{dir}: the weights do not match config.json: missing tensors: model.layers.1.mlp.up_proj.weight;", e.Message);
    }

    [Fact]
    public void WrongShapeIsNamedInTheError()
    {
        using var scope = new TensorScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config);
        HfCheckpoint.Save(model, config, dir);
        var file = Path.Combine(dir, "model.safetensors");
        var all = Safetensors.Load(file);
        all["model.norm.weight"] = Tensor.Ones([31]);
        all["extra.weight"] = Tensor.Ones([2]);
        Safetensors.Save(file, all);
        var e = Assert.Throws<InputException>(() => HfCheckpoint.LoadCausalLM(dir));
        Assert.Equal($"{file}: tensor 'model.norm.weight': has shape [31], but config.json makes it [32]", e.Message);
        Assert.Equal((file, "tensor 'model.norm.weight'"), (e.File, e.Where));
    }

    [Fact]
    public void UnknownModelTypeIsAnError()
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"model_type": "gpt_neox", "vocab_size": 10}""");
        var e = Assert.Throws<InputException>(() => HfCheckpoint.LoadCausalLM(dir));
        Assert.Equal($"{Path.Combine(dir, "config.json")}: unknown model_type 'gpt_neox'; supported: llama, mistral, qwen2, qwen3", e.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteWeightsAreRejectedNamingTensorAndFile(float bad)
    {
        using var scope = new TensorScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config);
        HfCheckpoint.Save(model, config, dir);
        var file = Path.Combine(dir, "model.safetensors");
        var all = Safetensors.Load(file);
        var w = all["model.layers.0.mlp.up_proj.weight"].ToArray<float>();
        w[3] = w[17] = bad;
        all["model.layers.0.mlp.up_proj.weight"] = Tensor.From(w, all["model.layers.0.mlp.up_proj.weight"].Shape);
        Safetensors.Save(file, all);
        var e = Assert.Throws<InputException>(() => HfCheckpoint.LoadCausalLM(dir));
        Assert.Equal($"{file}: tensor 'model.layers.0.mlp.up_proj.weight': 2 of its {w.Length} values are NaN or infinite", e.Message);
    }

    [Fact]
    public void TruncatedOrDuplicateKeyConfigJsonNamesTheFile()
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, "{\n  \"model_type\": \"llama\",\n  \"vocab_size\": 1");
        var e = Assert.Throws<InputException>(() => HfCheckpoint.LoadCausalLM(dir));
        Assert.StartsWith($"{path}:3: invalid JSON", e.Message);
        Assert.Equal((path, 3), (e.File, e.Line));
        File.WriteAllText(path, """{"model_type": "llama", "vocab_size": 10, "model_type": "qwen2"}""");
        e = Assert.Throws<InputException>(() => HfCheckpoint.LoadCausalLM(dir));
        Assert.StartsWith(path, e.Message);
        Assert.EndsWith(": the key \"model_type\" appears twice in one object", e.Message);
    }

    [Fact]
    public void HalfPrecisionCheckpointLoadsIntoFloat32()
    {
        using var scope = new TensorScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config);
        HfCheckpoint.Save(model, config, dir);
        var file = Path.Combine(dir, "model.safetensors");
        var bf16 = Safetensors.Load(file).ToDictionary(kv => kv.Key, kv => kv.Value.To(DType.BFloat16));
        Safetensors.Save(file, bf16);
        using var loaded = HfCheckpoint.LoadCausalLM(dir);
        var w = loaded.Model.EmbedTokens.Weight;
        Assert.Equal(DType.Float32, w.DType);
        // Values equal the bf16-rounded originals.
        var expect = model.Model.EmbedTokens.Weight.To(DType.BFloat16).To(DType.Float32);
        Assert.Equal(0.0, (w - expect).Abs().Max().ToDouble());
    }

    [Theory]
    [InlineData("../outside.safetensors")]
    [InlineData("sub/model-00001-of-00002.safetensors")]
    [InlineData("/tmp/outside.safetensors")]
    public void ShardIndexEntryOutsideTheCheckpointFolderIsAnError(string shard)
    {
        using var scope = new TensorScope();
        var config = TinyModels.Config();
        using var model = TinyModels.Model(config);
        var ckpt = Path.Combine(dir, "ckpt");
        HfCheckpoint.Save(model, config, ckpt, maxShardBytes: 8_000);
        // A real shard is copied outside the folder, where the bad entry points: following it would load without error.
        var index = Path.Combine(ckpt, HfCheckpoint.IndexFile);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(index))!;
        var map = json["weight_map"]!.AsObject();
        var first = map.First().Value!.GetValue<string>();
        if (!Path.IsPathRooted(shard))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(Path.Combine(ckpt, shard)))!);
            File.Copy(Path.Combine(ckpt, first), Path.Combine(ckpt, shard), overwrite: true);
        }
        foreach (var key in map.Where(kv => kv.Value!.GetValue<string>() == first).Select(kv => kv.Key).ToList()) map[key] = shard;
        File.WriteAllText(index, json.ToJsonString());

        var e = Assert.Throws<InvalidDataException>(() => HfCheckpoint.LoadCausalLM(ckpt));
        Assert.Contains(HfCheckpoint.IndexFile, e.Message);
        Assert.Contains($"shard '{shard}'", e.Message);
        Assert.Contains("not a file name inside", e.Message);
    }
}
