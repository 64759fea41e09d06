namespace Sharpen.Models;

using System.Runtime.InteropServices;
using System.Text;

/// <summary>
/// Unicode normalization (NFC, NFD, NFKC, NFKD) for tokenizer normalizers. Sharpen runs with invariant
/// globalization, where <see cref="string.Normalize(NormalizationForm)"/> leaves text unchanged, so this calls
/// ICU's <c>unorm2_normalize</c> from the system's libicuuc directly (the library .NET itself uses when
/// globalization is on). ASCII text is returned as is: every form leaves it unchanged.
/// </summary>
internal static unsafe class UnicodeNormalizer
{
    static readonly bool managedWorks = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00E9";
    static readonly Lazy<Icu?> icu = new(Icu.Load);

    /// <summary><paramref name="text"/> in normalization form <paramref name="form"/>.</summary>
    /// <exception cref="NotSupportedException">Non-ASCII text, and neither globalization nor libicuuc is available.</exception>
    public static string Normalize(string text, NormalizationForm form)
    {
        if (Ascii.IsValid(text)) return text;
        if (managedWorks) return text.Normalize(form);
        return (icu.Value ?? throw new NotSupportedException(
            $"the tokenizer's {form} normalizer needs ICU (libicuuc) or .NET globalization, and neither is available")).Normalize(text, form);
    }

    /// <summary>The four ICU normalizer instances and <c>unorm2_normalize</c>.</summary>
    sealed class Icu
    {
        readonly Dictionary<NormalizationForm, IntPtr> instances = [];
        delegate* unmanaged<IntPtr, char*, int, char*, int, int*, int> normalize;

        const int BufferOverflow = 15;  // U_BUFFER_OVERFLOW_ERROR

        /// <summary>Binds libicuuc, or returns null when it or its symbols are missing.</summary>
        public static Icu? Load()
        {
            IntPtr lib = 0;
            if (!NativeLibrary.TryLoad("libicuuc.so", out lib))
                for (var v = 90; v >= 50 && lib == 0; v--) NativeLibrary.TryLoad($"libicuuc.so.{v}", out lib);
            if (lib == 0) return null;
            // ICU exports its symbols with the major version as suffix (unorm2_normalize_72), or without it
            foreach (var suffix in new[] { "" }.Concat(Enumerable.Range(50, 41).Reverse().Select(v => $"_{v}")))
            {
                if (!NativeLibrary.TryGetExport(lib, "unorm2_normalize" + suffix, out var fn)) continue;
                var icu = new Icu { normalize = (delegate* unmanaged<IntPtr, char*, int, char*, int, int*, int>)fn };
                foreach (var (form, name) in new[] { (NormalizationForm.FormC, "NFC"), (NormalizationForm.FormD, "NFD"),
                                                     (NormalizationForm.FormKC, "NFKC"), (NormalizationForm.FormKD, "NFKD") })
                {
                    if (!NativeLibrary.TryGetExport(lib, $"unorm2_get{name}Instance{suffix}", out var get)) return null;
                    int err = 0;
                    var instance = ((delegate* unmanaged<int*, IntPtr>)get)(&err);
                    if (err > 0 || instance == 0) return null;
                    icu.instances[form] = instance;
                }
                return icu;
            }
            return null;
        }

        /// <summary><paramref name="text"/> in <paramref name="form"/>, growing the output buffer if ICU asks for more.</summary>
        public string Normalize(string text, NormalizationForm form)
        {
            var capacity = text.Length * 3 + 16;
            while (true)
            {
                var dest = new char[capacity];
                int err = 0, length;
                fixed (char* s = text, d = dest) length = normalize(instances[form], s, text.Length, d, capacity, &err);
                if (err == BufferOverflow) { capacity = length; continue; }
                if (err > 0) throw new InvalidOperationException($"ICU unorm2_normalize failed with error {err}");
                return new string(dest, 0, length);
            }
        }
    }
}
