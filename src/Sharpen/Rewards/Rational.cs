using System.Numerics;

namespace Sharpen.Rewards;

/// <summary>
/// An exact rational number p/q in lowest terms (q &gt; 0) over <see cref="BigInteger"/>, so that 0.5, 1/2 and
/// \frac{1}{2} compare equal without rounding.
/// </summary>
public readonly record struct Rational
{
    /// <summary>The numerator p (carries the sign).</summary>
    public BigInteger Numerator { get; }

    /// <summary>The denominator q, always positive.</summary>
    public BigInteger Denominator { get; }

    /// <summary>p/q reduced to lowest terms; q must not be 0.</summary>
    public Rational(BigInteger numerator, BigInteger denominator)
    {
        if (denominator.IsZero) throw new DivideByZeroException("rational with denominator 0");
        if (denominator.Sign < 0) (numerator, denominator) = (-numerator, -denominator);
        var g = BigInteger.GreatestCommonDivisor(numerator, denominator);
        if (!g.IsOne && !g.IsZero) (numerator, denominator) = (numerator / g, denominator / g);
        Numerator = numerator;
        Denominator = denominator.IsZero ? BigInteger.One : denominator;
    }

    /// <summary>The integer <paramref name="n"/>.</summary>
    public static Rational Integer(BigInteger n) => new(n, BigInteger.One);

    /// <summary>Whether the value is an integer.</summary>
    public bool IsInteger => Denominator.IsOne;

    /// <summary>
    /// Parses a plain decimal "12", "12.50", ".5" or "3." (no sign, no exponent) exactly; false for anything else.
    /// </summary>
    public static bool TryParseDecimal(string s, out Rational value)
    {
        value = default;
        int dot = s.IndexOf('.');
        string whole = dot < 0 ? s : s[..dot], frac = dot < 0 ? "" : s[(dot + 1)..];
        if (whole.Length + frac.Length == 0 || !whole.All(char.IsAsciiDigit) || !frac.All(char.IsAsciiDigit)) return false;
        var digits = BigInteger.Parse(whole + frac == "" ? "0" : whole + frac, System.Globalization.CultureInfo.InvariantCulture);
        value = new Rational(digits, BigInteger.Pow(10, frac.Length));
        return true;
    }

    /// <summary>The exact square root when both p and q are perfect squares; false otherwise (or when negative).</summary>
    public bool TrySqrt(out Rational root)
    {
        root = default;
        if (Numerator.Sign < 0 || !TryIntegerSqrt(Numerator, out var p) || !TryIntegerSqrt(Denominator, out var q)) return false;
        root = new Rational(p, q);
        return true;
    }

    static bool TryIntegerSqrt(BigInteger n, out BigInteger root)
    {
        root = n.IsZero ? BigInteger.Zero : (BigInteger)Math.Sqrt((double)n);
        // Newton steps fix the double estimate for large n.
        for (int i = 0; i < 100 && !n.IsZero; i++)
        {
            var next = (root + n / root) / 2;
            if (BigInteger.Abs(next - root) <= BigInteger.One) { root = next; break; }
            root = next;
        }
        while (root * root > n) root -= 1;
        while ((root + 1) * (root + 1) <= n) root += 1;
        return root * root == n;
    }

    /// <summary>Raises to an integer power (a negative power inverts; 0^negative throws).</summary>
    public Rational Pow(int exponent) => exponent >= 0
        ? new Rational(BigInteger.Pow(Numerator, exponent), BigInteger.Pow(Denominator, exponent))
        : new Rational(BigInteger.Pow(Denominator, -exponent), BigInteger.Pow(Numerator, -exponent));

    /// <summary>The nearest double (may lose precision; used only for tolerance comparisons).</summary>
    public double ToDouble() => Math.Exp(BigInteger.Log(BigInteger.Abs(Numerator)) - BigInteger.Log(Denominator)) * Numerator.Sign;

    /// <summary>Sum.</summary>
    public static Rational operator +(Rational a, Rational b) =>
        new(a.Numerator * b.Denominator + b.Numerator * a.Denominator, a.Denominator * b.Denominator);

    /// <summary>Difference.</summary>
    public static Rational operator -(Rational a, Rational b) =>
        new(a.Numerator * b.Denominator - b.Numerator * a.Denominator, a.Denominator * b.Denominator);

    /// <summary>Negation.</summary>
    public static Rational operator -(Rational a) => new(-a.Numerator, a.Denominator);

    /// <summary>Product.</summary>
    public static Rational operator *(Rational a, Rational b) => new(a.Numerator * b.Numerator, a.Denominator * b.Denominator);

    /// <summary>Quotient; throws <see cref="DivideByZeroException"/> when <paramref name="b"/> is 0.</summary>
    public static Rational operator /(Rational a, Rational b) => new(a.Numerator * b.Denominator, a.Denominator * b.Numerator);

    /// <summary>"p/q", or "p" for an integer.</summary>
    public override string ToString() => IsInteger ? Numerator.ToString() : $"{Numerator}/{Denominator}";
}
