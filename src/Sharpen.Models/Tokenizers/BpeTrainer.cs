namespace Sharpen.Models;

using System.Text;

/// <summary>
/// Trains a byte-level BPE tokenizer (Sennrich et al. 2016): split the corpus into pieces with a pre-tokenizer
/// regex, count distinct pieces, start from the 256 single-byte tokens (id = byte value), then repeatedly merge
/// the most frequent adjacent pair of tokens into a new token. Pair counts are updated incrementally (only the
/// pieces holding the merged pair are revisited) and the best pair comes from a heap whose stale entries are
/// corrected when they surface, so training a few thousand merges on megabytes of text takes seconds.
/// </summary>
public static class BpeTrainer
{
    /// <summary>
    /// Trains on <paramref name="texts"/> until the vocabulary (256 bytes + merges + special tokens) holds
    /// <paramref name="vocabSize"/> tokens, or no pair is left to merge. Ties between equally frequent pairs go to
    /// the pair whose left token has the smaller id, then the right token (for single bytes: byte order).
    /// Special tokens are cut out of the corpus, take the last ids, and are matched whole when encoding.
    /// <paramref name="splitPattern"/> defaults to <see cref="SplitPatterns.Llama3"/>.
    /// </summary>
    public static BpeTokenizer Train(IEnumerable<string> texts, int vocabSize, IEnumerable<string> specialTokens,
                                     string? splitPattern = null)
    {
        var specials = specialTokens.Distinct().ToList();
        if (vocabSize < 256 + specials.Count)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), $"vocab size {vocabSize} is below 256 byte tokens + {specials.Count} special tokens");
        splitPattern ??= SplitPatterns.Llama3;
        var (words, counts) = CountWords(texts, new SplitRegex(splitPattern), specials);

        var tokens = Enumerable.Range(0, 256).Select(b => ByteLevel.CharOf((byte)b).ToString()).ToList();
        var idOf = Enumerable.Range(0, 256).ToDictionary(b => tokens[b], StringComparer.Ordinal);
        var merges = new List<(string, string)>();

        var pairCount = new Dictionary<long, long>();
        var wordsWith = new Dictionary<long, HashSet<int>>();  // pair → words that held it at some point
        var increased = new HashSet<long>();
        void Add(long pair, long delta, int word)
        {
            pairCount[pair] = pairCount.GetValueOrDefault(pair) + delta;
            if (delta <= 0) return;
            if (!wordsWith.TryGetValue(pair, out var set)) wordsWith[pair] = set = [];
            set.Add(word);
            increased.Add(pair);
        }
        for (var w = 0; w < words.Count; w++)
            for (var i = 0; i + 1 < words[w].Count; i++) Add(Pair(words[w][i], words[w][i + 1]), counts[w], w);

        var heap = new PriorityQueue<long, (long NegCount, int Left, int Right)>();
        void PushIncreased()
        {
            foreach (var p in increased)
                if (pairCount[p] > 0) heap.Enqueue(p, (-pairCount[p], Left(p), Right(p)));
            increased.Clear();
        }
        PushIncreased();

        var target = vocabSize - specials.Count;
        while (tokens.Count < target && heap.TryDequeue(out var pair, out var priority))
        {
            var count = pairCount.GetValueOrDefault(pair);
            if (count <= 0) continue;
            if (count != -priority.NegCount)
            {
                heap.Enqueue(pair, (-count, priority.Left, priority.Right));
                continue;
            }
            int a = Left(pair), b = Right(pair);
            var merged = tokens[a] + tokens[b];
            if (!idOf.TryGetValue(merged, out var id))  // the same string may come from two different pairs
            {
                id = tokens.Count;
                tokens.Add(merged);
                idOf[merged] = id;
            }
            merges.Add((tokens[a], tokens[b]));

            foreach (var w in wordsWith[pair])
            {
                var s = words[w];
                for (var i = 0; i + 1 < s.Count; i++)
                {
                    if (s[i] != a || s[i + 1] != b) continue;
                    if (i > 0)
                    {
                        Add(Pair(s[i - 1], a), -counts[w], w);
                        Add(Pair(s[i - 1], id), counts[w], w);
                    }
                    if (i + 2 < s.Count)
                    {
                        Add(Pair(b, s[i + 2]), -counts[w], w);
                        Add(Pair(id, s[i + 2]), counts[w], w);
                    }
                    s[i] = id;
                    s.RemoveAt(i + 1);
                }
            }
            pairCount.Remove(pair);
            wordsWith.Remove(pair);
            increased.Remove(pair);
            PushIncreased();
        }
        return BpeTokenizer.Create(tokens, merges, specials, splitPattern);
    }

    /// <summary>The distinct pre-tokenized pieces of the corpus as byte sequences, with how often each occurs.</summary>
    static (List<List<int>> Words, List<long> Counts) CountWords(IEnumerable<string> texts, SplitRegex split, List<string> specials)
    {
        var matcher = new AddedTokenMatcher(specials.Select((s, i) => new AddedToken(i, s, Special: true)));
        var freq = new Dictionary<string, long>(StringComparer.Ordinal);
        var pieces = new List<string>();
        foreach (var text in texts)
        {
            pieces.Clear();
            var last = 0;
            foreach (var (start, end, _) in matcher.Find(text))
            {
                if (start > last) split.Split(text[last..start], pieces);
                last = end;
            }
            if (last < text.Length) split.Split(last == 0 ? text : text[last..], pieces);
            foreach (var p in pieces) freq[p] = freq.GetValueOrDefault(p) + 1;
        }
        var words = new List<List<int>>(freq.Count);
        var counts = new List<long>(freq.Count);
        foreach (var (piece, n) in freq.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            words.Add(Encoding.UTF8.GetBytes(piece).Select(b => (int)b).ToList());
            counts.Add(n);
        }
        return (words, counts);
    }

    static long Pair(int left, int right) => (long)left << 32 | (uint)right;
    static int Left(long pair) => (int)(pair >> 32);
    static int Right(long pair) => (int)(pair & 0xFFFFFFFF);
}
