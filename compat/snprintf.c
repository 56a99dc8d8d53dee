/*
 * snprintf.c - bounded snprintf() and vsnprintf() with C99 semantics, for
 * systems that lack them or whose ones return -1 on truncation.
 *
 * Never writes more than size bytes, always terminates the output when
 * size > 0, and returns the length the whole output would have had (so
 * "r < 0 || r >= size" detects truncation), or -1 if that length does
 * not fit in an int or the format is invalid.  It never calls sprintf or
 * vsprintf on an unbounded buffer: every byte goes through out().
 *
 * Supported: flags "-0 +#", width and precision (digits or "*"), length
 * modifiers h and l, conversions d i u o x X c s p % and f.  e, E, g and
 * G are printed as f (good enough for log lines; yubin prints no floating
 * point elsewhere).  An unknown conversion is copied as it stands.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "compat.h"

#include <limits.h>

#define F_MINUS		0x01
#define F_PLUS		0x02
#define F_SPACE		0x04
#define F_ZERO		0x08
#define F_ALT		0x10
#define F_UPPER		0x20

struct out {
	char	*buf;
	size_t	 size;
	size_t	 len;		/* bytes the full output needs */
	int	 overflow;	/* len passed INT_MAX */
};

static void
out(struct out *o, int c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = (char)c;
	if (o->len >= (size_t)INT_MAX)
		o->overflow = 1;
	else
		o->len++;
}

static void
pad(struct out *o, int c, long n)
{
	while (n-- > 0)
		out(o, c);
}

/* A string of known length, padded to width. */
static void
put_str(struct out *o, const char *s, size_t n, int width, int flags)
{
	long padn = width > 0 && (size_t)width > n ? (long)(width - n) : 0;

	if (!(flags & F_MINUS))
		pad(o, ' ', padn);
	while (n-- > 0)
		out(o, (unsigned char)*s++);
	if (flags & F_MINUS)
		pad(o, ' ', padn);
}

/*
 * An unsigned magnitude with its sign or prefix, in base 8, 10 or 16,
 * with C's rules for precision (minimum digits) and the 0 flag.
 */
static void
put_num(struct out *o, unsigned long v, int neg, int base, int width,
    int prec, int flags)
{
	char		 digits[sizeof(unsigned long) * CHAR_BIT / 3 + 2];
	const char	*set = (flags & F_UPPER) ? "0123456789ABCDEF" :
			    "0123456789abcdef";
	const char	*prefix = "";
	int		 nd = 0, zeros, total;

	while (v != 0) {
		digits[nd++] = set[v % (unsigned long)base];
		v /= (unsigned long)base;
	}
	/* "%.0d" of 0 prints no digits; "%#.0o" of 0 prints "0". */
	zeros = prec > nd ? prec - nd : 0;
	if (nd == 0 && prec < 0)
		zeros = 1;
	if (base == 8 && (flags & F_ALT) && zeros == 0 &&
	    (nd == 0 || digits[nd - 1] != '0'))
		zeros = 1;
	if (neg)
		prefix = "-";
	else if (flags & F_PLUS)
		prefix = "+";
	else if (flags & F_SPACE)
		prefix = " ";
	else if (base == 16 && (flags & F_ALT) && nd > 0)
		prefix = (flags & F_UPPER) ? "0X" : "0x";
	total = (int)strlen(prefix) + zeros + nd;
	if ((flags & F_ZERO) && !(flags & F_MINUS) && prec < 0 &&
	    width > total) {
		zeros += width - total;
		total = width;
	}
	if (!(flags & F_MINUS))
		pad(o, ' ', (long)width - total);
	while (*prefix != '\0')
		out(o, *prefix++);
	pad(o, '0', zeros);
	while (nd > 0)
		out(o, digits[--nd]);
	if (flags & F_MINUS)
		pad(o, ' ', (long)width - total);
}

/*
 * Fixed-point double.  Exact for integers below 2^53 and for the few
 * decimals logs need; values beyond the range of unsigned long are
 * printed digit by digit from the top.
 */
static void
put_double(struct out *o, double d, int width, int prec, int flags)
{
	char	 ibuf[320], fbuf[40];
	int	 ni = 0, nf, neg = 0, total, i;
	double	 ip, scale, r;
	long	 padn;

	if (prec < 0)
		prec = 6;
	if (prec > (int)sizeof(fbuf))
		prec = (int)sizeof(fbuf);
	if (d != d) {		/* NaN */
		put_str(o, "nan", 3, width, flags);
		return;
	}
	if (d < 0) {
		neg = 1;
		d = -d;
	}
	if (d > 1e308) {
		put_str(o, neg ? "-inf" : "inf", neg ? 4 : 3, width, flags);
		return;
	}
	/* Round at the last printed decimal. */
	r = 0.5;
	for (i = 0; i < prec; i++)
		r /= 10.0;
	d += r;
	/* Integer part, lowest digit first. */
	scale = 1.0;
	while (scale * 10.0 <= d)
		scale *= 10.0;
	ip = 0.0;
	for (; scale >= 1.0 && ni < (int)sizeof(ibuf); scale /= 10.0) {
		int dig = (int)((d - ip) / scale);

		if (dig > 9)
			dig = 9;
		if (dig < 0)
			dig = 0;
		ibuf[ni++] = (char)('0' + dig);
		ip += dig * scale;
	}
	if (ni == 0)
		ibuf[ni++] = '0';
	d -= ip;
	for (nf = 0; nf < prec; nf++) {
		int dig;

		d *= 10.0;
		dig = (int)d;
		if (dig > 9)
			dig = 9;
		if (dig < 0)
			dig = 0;
		fbuf[nf] = (char)('0' + dig);
		d -= dig;
	}
	total = ni + (neg || (flags & (F_PLUS | F_SPACE)) ? 1 : 0) +
	    (prec > 0 || (flags & F_ALT) ? 1 + prec : 0);
	padn = width > total ? width - total : 0;
	if (!(flags & (F_MINUS | F_ZERO)))
		pad(o, ' ', padn);
	if (neg)
		out(o, '-');
	else if (flags & F_PLUS)
		out(o, '+');
	else if (flags & F_SPACE)
		out(o, ' ');
	if ((flags & F_ZERO) && !(flags & F_MINUS))
		pad(o, '0', padn);
	for (i = 0; i < ni; i++)
		out(o, ibuf[i]);
	if (prec > 0 || (flags & F_ALT))
		out(o, '.');
	for (i = 0; i < nf; i++)
		out(o, fbuf[i]);
	if (flags & F_MINUS)
		pad(o, ' ', padn);
}

/* Reads a decimal field width or precision; saturates instead of overflowing. */
static int
get_int(const char **fp)
{
	const char	*f = *fp;
	int		 n = 0;

	while (*f >= '0' && *f <= '9') {
		if (n <= (INT_MAX - 9) / 10)
			n = n * 10 + (*f - '0');
		f++;
	}
	*fp = f;
	return n;
}

int
yubin_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out	 o;
	const char	*spec;

	o.buf = buf;
	o.size = buf == NULL ? 0 : size;
	o.len = 0;
	o.overflow = 0;

	while (*fmt != '\0') {
		int		 flags = 0, width = 0, prec = -1, lmod = 0;
		unsigned long	 uv;
		long		 sv;

		if (*fmt != '%') {
			out(&o, (unsigned char)*fmt++);
			continue;
		}
		spec = fmt++;
		for (;; fmt++) {
			if (*fmt == '-')
				flags |= F_MINUS;
			else if (*fmt == '+')
				flags |= F_PLUS;
			else if (*fmt == ' ')
				flags |= F_SPACE;
			else if (*fmt == '0')
				flags |= F_ZERO;
			else if (*fmt == '#')
				flags |= F_ALT;
			else
				break;
		}
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				flags |= F_MINUS;
				width = width == INT_MIN ? INT_MAX : -width;
			}
			fmt++;
		} else
			width = get_int(&fmt);
		if (*fmt == '.') {
			fmt++;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				if (prec < 0)
					prec = -1;	/* as if omitted */
				fmt++;
			} else
				prec = get_int(&fmt);
		}
		if (*fmt == 'h' || *fmt == 'l')
			lmod = *fmt++;

		switch (*fmt) {
		case 'd':
		case 'i':
			if (lmod == 'l')
				sv = va_arg(ap, long);
			else
				sv = va_arg(ap, int);
			if (lmod == 'h')
				sv = (short)sv;
			/* -LONG_MIN overflows; unsigned arithmetic does not. */
			uv = sv < 0 ? 0UL - (unsigned long)sv : (unsigned long)sv;
			put_num(&o, uv, sv < 0, 10, width, prec, flags);
			break;
		case 'u':
		case 'o':
		case 'x':
		case 'X':
			if (lmod == 'l')
				uv = va_arg(ap, unsigned long);
			else
				uv = va_arg(ap, unsigned int);
			if (lmod == 'h')
				uv = (unsigned short)uv;
			if (*fmt == 'X')
				flags |= F_UPPER;
			flags &= ~(F_PLUS | F_SPACE);
			put_num(&o, uv, 0, *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16,
			    width, prec, flags);
			break;
		case 'p':
			uv = (unsigned long)va_arg(ap, void *);
			put_num(&o, uv, 0, 16, width, prec,
			    (flags & F_MINUS) | F_ALT);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);

			put_str(&o, &c, 1, width, flags);
			break;
		}
		case 's': {
			const char	*s = va_arg(ap, const char *);
			size_t		 n = 0;

			if (s == NULL)
				s = "(null)";
			/* With a precision, s need not be terminated. */
			while ((prec < 0 || n < (size_t)prec) && s[n] != '\0')
				n++;
			put_str(&o, s, n, width, flags);
			break;
		}
		case 'f':
		case 'e':
		case 'E':
		case 'g':
		case 'G':
			put_double(&o, va_arg(ap, double), width, prec, flags);
			break;
		case '%':
			out(&o, '%');
			break;
		default:
			/* Unknown or truncated: copy the directive as it is. */
			while (spec < fmt)
				out(&o, (unsigned char)*spec++);
			if (*fmt == '\0')
				continue;
			out(&o, (unsigned char)*fmt);
			break;
		}
		fmt++;
	}
	if (o.size > 0)
		o.buf[o.len < o.size ? o.len : o.size - 1] = '\0';
	if (o.overflow)
		return -1;
	return (int)o.len;
}

int
yubin_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = yubin_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return r;
}
