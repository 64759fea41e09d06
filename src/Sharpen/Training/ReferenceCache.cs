namespace Sharpen.Training;

using System.Security.Cryptography;
using System.Text;
using Sharpen.Torch;
using Sharpen.Torch.NN;

/// <summary>
/// Reference log-probs computed once per example and kept in the run directory (<see cref="FileName"/>): one float32
/// tensor [N, R] per data split (row = example index, column = response slot), with a fingerprint of the data's tokens
/// and the reference weights in the file's metadata. A file whose fingerprint differs (other data, tokenizer,
/// max_length or model.init) is recomputed; a matching one is reused, e.g. when a run resumes.
/// </summary>
public static class ReferenceCache
{
    /// <summary>The cache file's name inside the run directory.</summary>
    public const string FileName = "ref_logps.safetensors";

    const string FingerprintKey = "fingerprint";

    /// <summary>
    /// SHA-256 (hex) over <paramref name="tokens"/> (every split's example rows, in order, each a sequence of token
    /// ids) and the names, dtypes, shapes and bytes of <paramref name="reference"/>'s state.
    /// </summary>
    public static string Fingerprint(IEnumerable<(string Split, IEnumerable<int[]> Rows)> tokens, Module reference)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        void Text(string s) => sha.AppendData(Encoding.UTF8.GetBytes(s + "\n"));
        foreach (var (split, rows) in tokens)
        {
            Text("split " + split);
            foreach (var row in rows)
            {
                sha.AppendData(BitConverter.GetBytes(row.Length));
                foreach (var id in row) sha.AppendData(BitConverter.GetBytes(id));
            }
        }
        using (new TensorScope())
            foreach (var (name, t) in reference.StateDict().OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                Text($"tensor {name} {t.DType} [{string.Join(",", t.Shape)}]");
                sha.AppendData(t.ToBytes());
            }
        return Convert.ToHexString(sha.GetHashAndReset());
    }

    /// <summary>
    /// The cached tensors of <paramref name="path"/> when the file exists, its fingerprint is
    /// <paramref name="fingerprint"/> and it holds a tensor of each expected shape in <paramref name="shapes"/>; else null.
    /// The tensors are untracked by any <see cref="TensorScope"/>: the caller disposes them.
    /// </summary>
    public static Dictionary<string, Tensor>? TryLoad(string path, string fingerprint, IReadOnlyDictionary<string, long[]> shapes)
    {
        if (!File.Exists(path)) return null;
        using (var file = SafetensorsFile.Open(path))
        {
            if (!file.Metadata.TryGetValue(FingerprintKey, out var stored) || stored != fingerprint) return null;
            if (shapes.Any(s => !file.Contains(s.Key) || !file[s.Key].Shape.SequenceEqual(s.Value))) return null;
        }
        var loaded = Safetensors.Load(path);
        foreach (var t in loaded.Values) TensorScope.Untrack(t);
        return loaded;
    }

    /// <summary>Writes <paramref name="tensors"/> with <paramref name="fingerprint"/> to <paramref name="path"/> (atomically).</summary>
    public static void Save(string path, string fingerprint, IReadOnlyDictionary<string, Tensor> tensors) =>
        Safetensors.Save(path, tensors, new Dictionary<string, string> { [FingerprintKey] = fingerprint, ["format"] = "pt" });
}
