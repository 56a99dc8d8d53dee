/*
 * rfc822.c - address lists and header fields (see rfc822.h).  A small
 * scanner, not a full grammar: it knows quoted strings (with quoted
 * pairs), comments (nested), angle brackets and groups, which is what
 * separates one address from the next in real headers.
 */
#include "yubin.h"

#include <string.h>

#include "rfc822.h"
#include "util.h"

size_t
rfc822_field(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name), i;

	if (len <= n || ascii_ncasecmp(line, name, n) != 0)
		return 0;
	for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i < len && line[i] == ':' ? i + 1 : 0;
}

/* Trim white space and add one address, if any is left. */
static int
emit(const char *p, size_t n, struct strlist *out)
{
	char tmp[1024];

	while (n > 0 && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' ||
	    p[n - 1] == '\r' || p[n - 1] == '\n'))
		n--;
	/* RFC 5322 4.4 obs-route: "@a,@b:user@c" -> user@c */
	if (n > 0 && *p == '@') {
		const char *colon = memchr(p, ':', n);

		if (colon != NULL) {
			n -= (size_t)(colon + 1 - p);
			p = colon + 1;
		}
	}
	if (n == 0)
		return 0;
	if (n >= sizeof(tmp))
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	strlist_add(out, tmp);
	return 1;
}

/*
 * One address (between separators): take what is inside <> if there is
 * a bracket, else the text with comments removed.
 */
static int
one_address(const char *p, size_t n, struct strlist *out)
{
	char plain[1024];
	size_t i, o = 0;
	int depth = 0, quoted = 0;
	const char *lt = NULL, *gt = NULL;

	for (i = 0; i < n; i++) {
		char ch = p[i];

		if (quoted) {
			if (ch == '\\' && i + 1 < n) {
				if (o + 2 < sizeof(plain)) {
					plain[o++] = ch;
					plain[o++] = p[i + 1];
				}
				i++;
				continue;
			}
			if (ch == '"')
				quoted = 0;
		} else if (depth > 0) {
			if (ch == '\\' && i + 1 < n)
				i++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
			continue;
		} else if (ch == '(') {
			depth++;
			continue;
		} else if (ch == '"')
			quoted = 1;
		else if (ch == '<' && lt == NULL)
			lt = p + i;
		else if (ch == '>' && lt != NULL && gt == NULL)
			gt = p + i;
		if (o + 1 < sizeof(plain))
			plain[o++] = ch;
	}
	if (quoted || depth != 0 || (lt != NULL) != (gt != NULL))
		return -1;
	if (lt != NULL)
		return emit(lt + 1, (size_t)(gt - lt - 1), out);
	return emit(plain, o, out);
}

int
rfc822_addresses(const char *text, size_t len, struct strlist *out)
{
	size_t i, start = 0;
	int depth = 0, quoted = 0, angle = 0, r, n = 0;

	for (i = 0; i <= len; i++) {
		char ch = i < len ? text[i] : ',';

		if (quoted) {
			if (ch == '\\' && i + 1 < len)
				i++;
			else if (ch == '"')
				quoted = 0;
			if (i < len)
				continue;
			return -1;
		}
		if (depth > 0) {
			if (ch == '\\' && i + 1 < len)
				i++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
			if (i < len)
				continue;
			return -1;
		}
		switch (ch) {
		case '"':
			quoted = 1;
			break;
		case '(':
			depth++;
			break;
		case '<':
			angle++;
			break;
		case '>':
			angle--;
			break;
		case ':':
			/* "group:" starts a group: the name is no address */
			if (angle == 0)
				start = i + 1;
			break;
		case ',':
		case ';':
			if (angle != 0)
				break;
			if ((r = one_address(text + start, i - start, out)) < 0)
				return -1;
			n += r;
			start = i + 1;
			break;
		}
	}
	return angle == 0 ? n : -1;
}
