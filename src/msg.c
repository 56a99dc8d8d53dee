/*
 * msg.c - the received message object (see msg.h), its queue id, and the
 * dates written into headers.
 */
#include "yubin.h"

#include <sys/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "msg.h"
#include "util.h"

struct msg *
msg_new(void)
{
	struct msg *m;

	if ((m = malloc(sizeof(*m))) == NULL)
		return NULL;
	memset(m, 0, sizeof(*m));
	m->refs = 1;
	m->arrival = time(NULL);
	buf_init(&m->data, 0);
	return m;
}

struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

void
msg_unref(struct msg *m)
{
	if (m == NULL || --m->refs > 0)
		return;
	buf_free(&m->data);
	free(m);
}

void
msg_make_id(char *out, size_t len)
{
	static unsigned long seq;
	int r;

	r = snprintf(out, len, "%08lX%04lX%04lX",
	    (unsigned long)time(NULL) & 0xffffffffUL,
	    (unsigned long)getpid() & 0xffffUL, ++seq & 0xffffUL);
	if (r < 0 || (size_t)r >= len)
		out[0] = '\0';
}

int
msg_header_is_ours(const char *line, size_t len)
{
	static const char *const ours[] = {
		"Status", "X-Status", "X-Keywords", "X-UID", "X-IMAP",
		"X-IMAPbase", "X-UIDL", "Content-Length"
	};
	size_t i, n;

	for (i = 0; i < NELEM(ours); i++) {
		n = strlen(ours[i]);
		/* RFC 5322 2.2: optional white space before the colon is
		 * obsolete syntax, but readers accept it, so must we. */
		if (len > n && ascii_ncasecmp(line, ours[i], n) == 0) {
			const char *p = line + n;

			while (p < line + len && (*p == ' ' || *p == '\t'))
				p++;
			if (p < line + len && *p == ':')
				return 1;
		}
	}
	return 0;
}

int
rfc822_date(time_t t, char *out, size_t len)
{
	static const char *const days[] =
	    { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
	    "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm gm, lt;
	long off;
	int r, sign = '+';

	gm = *gmtime(&t);
	lt = *localtime(&t);
	/* The zone offset without tm_gmtoff (not in POSIX.1-1990). */
	off = (lt.tm_hour - gm.tm_hour) * 60L + (lt.tm_min - gm.tm_min);
	if (lt.tm_year != gm.tm_year)
		off += lt.tm_year > gm.tm_year ? 1440 : -1440;
	else if (lt.tm_yday != gm.tm_yday)
		off += lt.tm_yday > gm.tm_yday ? 1440 : -1440;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	r = snprintf(out, len, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    days[lt.tm_wday], lt.tm_mday, months[lt.tm_mon],
	    lt.tm_year + 1900, lt.tm_hour, lt.tm_min, lt.tm_sec, sign,
	    off / 60, off % 60);
	return (r < 0 || (size_t)r >= len) ? -1 : 0;
}

/* RFC 3461 section 4 xtext: queue and maildrop fields. */
int
xtext_put(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	if (*s == '\0')
		return buf_puts(b, "+");	/* an empty field: "+" alone */
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c < 33 || c > 126 || c == '+' || c == '=') {
			char e[3];

			e[0] = '+';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			if (buf_append(b, e, 3) < 0)
				return -1;
		} else if (buf_append(b, s, 1) < 0)
			return -1;
	}
	return 0;
}

static int
hexdig(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one xtext word into out; -1 if malformed or too long. */
int
xtext_get(const char *s, size_t len, char *out, size_t outlen)
{
	size_t i, o = 0;
	int h, l;

	if (len == 1 && s[0] == '+') {
		out[0] = '\0';
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (o + 1 >= outlen)
			return -1;
		if (s[i] != '+') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			return -1;
		if ((h = hexdig((unsigned char)s[i + 1])) < 0 ||
		    (l = hexdig((unsigned char)s[i + 2])) < 0 || h * 16 + l == 0)
			return -1;
		out[o++] = (char)(h * 16 + l);
		i += 2;
	}
	out[o] = '\0';
	return 0;
}


/*
 * Our Received: line (RFC 5321 4.4), LF-ended, for a copy to rcpt (NULL:
 * several, so no "for" clause): who sent it, who logged in (RFC 4954 7,
 * "with ESMTPA" RFC 3848), our name, the queue id, the date.
 */
int
msg_received(struct buf *out, const struct msg *m, const char *rcpt)
{
	char date[64], forc[MSG_ADDR_MAX + 16];
	int r;

	if (rfc822_date(m->arrival, date, sizeof(date)) < 0)
		return -1;
	/* "id X\n\tfor <rcpt>; date", or "id X;\n\tdate" */
	r = rcpt != NULL ? snprintf(forc, sizeof(forc), "\n\tfor <%s>;", rcpt) :
	    snprintf(forc, sizeof(forc), ";");
	if (r < 0 || (size_t)r >= sizeof(forc))
		return -1;
	if (strcmp(m->proto, "local") == 0)
		return buf_printf(out, "Received: by %s (yubin) id %s%s%s%s\n",
		    config->hostname, m->id, forc, rcpt != NULL ? " " : "\n\t",
		    date);
	return buf_printf(out, "Received: from %s ([%s])\n%s%s%s"
	    "\tby %s (yubin) with %s id %s%s%s%s\n",
	    m->helo[0] ? m->helo : "unknown", m->client,
	    m->auth[0] ? "\t(authenticated as " : "", m->auth,
	    m->auth[0] ? ")\n" : "", config->hostname, m->proto, m->id,
	    forc, rcpt != NULL ? " " : "\n\t", date);
}
