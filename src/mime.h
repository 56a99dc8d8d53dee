/*
 * mime.h - the MIME structure of one message, as IMAP FETCH needs it:
 * a tree of parts with their ranges and sizes (RFC 2045, 2046), and the
 * ENVELOPE and BODY/BODYSTRUCTURE texts of RFC 3501 section 7.4.2.
 *
 * Pure: no I/O but the read callback, no logging, no globals.  The
 * message is read as stored, with LF line ends and our metadata headers
 * already hidden by the callback; every offset below is in the
 * callback's coordinates (0 = first header byte).  Clients see CRLF, so
 * every size and line count is that of the CRLF form: octets = bytes +
 * LFs.  A stored CR is data: "a\r\n" is 3 bytes + 1 LF = 4 octets, which
 * is what a LF -> CRLF stream of those bytes sends.
 */
#ifndef YUBIN_MIME_H
#define YUBIN_MIME_H

#include <stddef.h>
#include "buf.h"

/*
 * Limits (STYLE.md habit 12; kept here because only this module uses
 * them).  Depth: RFC 2046 sets none, but a message nested 10,000 deep is
 * an attack on the stack; Dovecot stops at 100 and no real mail comes
 * near 20.  Parts: Dovecot's max_total_mime_parts is 10,000.  A header
 * block over 256 KB is spam or an attack; its fields past the cap are
 * ignored but the body is still found.
 */
#define MIME_MAX_DEPTH		20
#define MIME_MAX_PARTS		10000
#define MIME_HDR_MAX		(256 * 1024)
/* The read window: the longest line looked at as a whole. */
#define MIME_WINDOW		(64 * 1024)
/* Everything one tree may allocate: parts, fields, parameters. */
#define MIME_MEM_MAX		(16 * 1024 * 1024)

/*
 * Read up to len bytes at off into buf.  Returns the count, 0 at the end
 * of the message, -1 on error.  Called with increasing offsets only.
 */
typedef long mime_read_fn(void *arg, unsigned long off, char *buf,
    size_t len);

/* A Content-Type or Content-Disposition parameter. */
struct mime_param {
	struct mime_param	*next;
	char			*name;	/* as found, RFC 2231 "*n*" removed */
	char			*value;	/* decoded raw bytes, NUL added */
	size_t			vlen;	/* may hold a %00 */
	/* RFC 2231 extended value: its charset and language ("" if not
	 * given); both NULL for a plain value. */
	char			*charset;
	char			*lang;
};

/* The decoded value of parameter name (any case) in a list, or NULL. */
const char *mime_param_get(const struct mime_param *p, const char *name);

/* Envelope fields, in RFC 3501 order. */
enum {
	MIME_ENV_DATE, MIME_ENV_SUBJECT, MIME_ENV_FROM, MIME_ENV_SENDER,
	MIME_ENV_REPLY_TO, MIME_ENV_TO, MIME_ENV_CC, MIME_ENV_BCC,
	MIME_ENV_IN_REPLY_TO, MIME_ENV_MESSAGE_ID, MIME_ENV_N
};

#define MIME_MULTIPART	1	/* children are the body parts */
#define MIME_MESSAGE	2	/* message/rfc822: children is the message */
#define MIME_ISMSG	4	/* the root of a message: env[] is valid */

struct mime_part {
	struct mime_part	*next;		/* sibling in a multipart */
	struct mime_part	*children;
	struct mime_part	*parent;
	int			flags;
	int			depth;
	/* Header [hdr, body) including the blank line; body [body, end). */
	unsigned long		hdr, body, end;
	unsigned long		hdr_octets;	/* CRLF form of the header */
	unsigned long		octets;		/* CRLF form of the body */
	unsigned long		lines;		/* LFs in the body */
	/* Content-Type as found; "text" "plain" when absent or invalid */
	char			*type, *subtype;
	struct mime_param	*params;
	/* Unfolded field values, NULL when the field is absent. */
	char			*id, *desc, *enc, *md5, *lang, *loc;
	char			*disp;		/* the disposition type */
	struct mime_param	*disp_params;
	char			*env[MIME_ENV_N];
};

struct mime_tree {
	struct mime_part	*root;
	int			nparts;
	struct mime_mem		*mem;
};

#define MIME_ERR_READ	-1	/* the callback failed */
#define MIME_ERR_NOMEM	-2	/* malloc failed or MIME_MEM_MAX passed */

/* Parse a message: 0 and *out, or MIME_ERR_*. */
int mime_parse(mime_read_fn *fn, void *arg, struct mime_tree **out);
/* The same for a message in memory (tests, small messages). */
int mime_parse_mem(const char *p, size_t len, struct mime_tree **out);
void mime_free(struct mime_tree *t);

/*
 * RFC 3501 7.4.2 texts, appended to out; 0, or -1 when out is full.
 * msg must be a message root (the tree's root, or the children of a
 * MIME_MESSAGE part).  mime_bodystructure() writes the whole "body"
 * production, outer parentheses included: BODY with extended 0,
 * BODYSTRUCTURE with extended 1.
 */
int mime_envelope(struct buf *out, const struct mime_part *msg);
int mime_bodystructure(struct buf *out, const struct mime_part *part,
    int extended);

/*
 * The part named by the numbers of a BODY[section] (RFC 3501 6.4.5):
 * "" gives the root, "1.2.3" a part; NULL if there is none.  Part 1 of a
 * message that is not multipart is its body, so "1" may give the root.
 */
const struct mime_part *mime_find_part(const struct mime_part *root,
    const char *section);

/*
 * What a section names, as a byte range of the stored text and the
 * octets it is on the wire.  spec is the text between the brackets
 * without a field list: "", "TEXT", "1.2", "1.2.MIME", "3.HEADER.FIELDS"
 * (case does not matter).  header is 1 when the range is a header block
 * (HEADER.FIELDS[.NOT] must still be filtered by the caller).  0, or -1
 * when the section names nothing (Dovecot then answers with an empty
 * string rather than NO; the caller decides).
 */
struct mime_range {
	unsigned long	off, end;	/* [off, end) of the stored text */
	unsigned long	octets;		/* its CRLF size */
	int		header;
};
int mime_section_range(const struct mime_part *root, const char *spec,
    struct mime_range *r);

#endif
