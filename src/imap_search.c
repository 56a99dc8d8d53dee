/*
 * imap_search.c - IMAP SEARCH (RFC 3501 6.4.4, grammar in section 9):
 * the search keys parsed into a tree, and the tree evaluated against one
 * message at a time (see imap_search.h).
 *
 * What it is for: answering every RFC 3501 search key - flags, sets,
 * sizes, dates, header fields decoded from RFC 2047, bodies decoded from
 * their transfer encodings and charsets - with substrings compared in
 * UTF-8 and case-insensitively (charset.c).
 *
 * What it must never do: read a message's text for keys that need none;
 * recurse without bound (keys and nesting are capped at parse time).
 * The text itself is imap_search_text.c's.
 *
 * Evaluation is three-valued (yes, no, open) and goes in up to three
 * steps, each taken only when the one before left the answer open:
 *   1. keys answered from struct search_msg: sets, flags, sizes, dates;
 *   2. keys answered from the top-level header: header fields, SENT*,
 *      and TEXT when the header holds its string;
 *   3. BODY and TEXT over the MIME parts, stopping after the first part
 *      that settles the answer.
 * AND, OR and NOT have no side effects, so this order is always allowed:
 * "UNSEEN BODY x" reads nothing of a seen message, whatever the order
 * the client wrote the keys in.
 *
 * Choices where RFC 3501 is silent (UW imapd and Dovecot compared):
 *   - a search string is taken as UTF-8 whatever CHARSET said: US-ASCII
 *     is a subset of it, and clients send UTF-8 without CHARSET; a bad
 *     sequence becomes U+FFFD and then matches only U+FFFD;
 *   - FROM, TO, CC, BCC and SUBJECT are HEADER searches of that field:
 *     the decoded text of every occurrence, not the parsed address;
 *   - a header key with "" matches a message that has the field, as
 *     Dovecot does; BODY "" and TEXT "" match every message;
 *   - BEFORE, ON, SINCE use the UTC day of the internal date (Dovecot
 *     uses the server's zone); SENT* use the day written in Date:;
 *   - a missing or unparsable Date: makes every SENT* key false (so NOT
 *     SENTBEFORE is true), as UW imapd's mail_search_msg() does; Dovecot
 *     2.x reads such a date as 1970-01-01, so SENTBEFORE matches there;
 *   - KEYWORD compares case-insensitively;
 *   - BODY and TEXT search the text parts, decoded, and the headers of
 *     message/rfc822 parts; other parts are searched as stored.
 */
#include "yubin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "charset.h"
#include "imap_search.h"
#include "imap_search_priv.h"
#include "imapparse.h"
#include "mboxparse.h"
#include "util.h"

/* --- parsing --- */

struct parser {
	struct imap_tok	*t;
	unsigned long	nmsgs, maxuid;
	int		nkeys, depth, ntext;
};

#define A_NONE		0
#define A_STR		1	/* astring */
#define A_DATE		2
#define A_NUM		3
#define A_UIDSET	4
#define A_ATOM		5	/* flag-keyword */
#define A_HDR		6	/* header-fld-name SP astring */
#define A_KEY		7	/* NOT search-key */
#define A_KEY2		8	/* OR search-key SP search-key */

/* RFC 3501 6.4.4 and the search-key production of section 9. */
static const struct kdef {
	const char	*name;
	int		type, arg;
	unsigned	val;		/* MF_* or D_* */
	const char	*field;
} kdefs[] = {
	{ "ALL", K_ALL, A_NONE, 0, NULL },
	{ "ANSWERED", K_FLAG, A_NONE, MF_ANSWERED, NULL },
	{ "BCC", K_HEADER, A_STR, 0, "Bcc" },
	{ "BEFORE", K_DATE, A_DATE, D_BEFORE, NULL },
	{ "BODY", K_BODY, A_STR, 0, NULL },
	{ "CC", K_HEADER, A_STR, 0, "Cc" },
	{ "DELETED", K_FLAG, A_NONE, MF_DELETED, NULL },
	{ "DRAFT", K_FLAG, A_NONE, MF_DRAFT, NULL },
	{ "FLAGGED", K_FLAG, A_NONE, MF_FLAGGED, NULL },
	{ "FROM", K_HEADER, A_STR, 0, "From" },
	{ "HEADER", K_HEADER, A_HDR, 0, NULL },
	{ "KEYWORD", K_KEYWORD, A_ATOM, 0, NULL },
	{ "LARGER", K_LARGER, A_NUM, 0, NULL },
	{ "NEW", K_NEW, A_NONE, 0, NULL },
	{ "NOT", K_NOT, A_KEY, 0, NULL },
	{ "OLD", K_OLD, A_NONE, 0, NULL },
	{ "ON", K_DATE, A_DATE, D_ON, NULL },
	{ "OR", K_OR, A_KEY2, 0, NULL },
	{ "RECENT", K_RECENT, A_NONE, 0, NULL },
	{ "SEEN", K_FLAG, A_NONE, MF_SEEN, NULL },
	{ "SENTBEFORE", K_SENT, A_DATE, D_BEFORE, NULL },
	{ "SENTON", K_SENT, A_DATE, D_ON, NULL },
	{ "SENTSINCE", K_SENT, A_DATE, D_SINCE, NULL },
	{ "SINCE", K_DATE, A_DATE, D_SINCE, NULL },
	{ "SMALLER", K_SMALLER, A_NUM, 0, NULL },
	{ "SUBJECT", K_HEADER, A_STR, 0, "Subject" },
	{ "TEXT", K_TEXT, A_STR, 0, NULL },
	{ "TO", K_HEADER, A_STR, 0, "To" },
	{ "UID", K_UID, A_UIDSET, 0, NULL },
	{ "UNANSWERED", K_UNFLAG, A_NONE, MF_ANSWERED, NULL },
	{ "UNDELETED", K_UNFLAG, A_NONE, MF_DELETED, NULL },
	{ "UNDRAFT", K_UNFLAG, A_NONE, MF_DRAFT, NULL },
	{ "UNFLAGGED", K_UNFLAG, A_NONE, MF_FLAGGED, NULL },
	{ "UNKEYWORD", K_UNKEYWORD, A_ATOM, 0, NULL },
	{ "UNSEEN", K_UNFLAG, A_NONE, MF_SEEN, NULL }
};

static int
pfail(struct parser *p, const char *err)
{
	if (p->t->err == NULL)
		p->t->err = err;
	return -1;
}

static struct search_key *
new_key(struct parser *p, int type)
{
	struct search_key *k;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		pfail(p, "Out of memory");
		return NULL;
	}
	k->type = type;
	k->slot = -1;
	return k;
}

static char *
dup_n(const char *s, size_t n)
{
	char *d;

	if ((d = malloc(n + 1)) != NULL) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Days since 1970-01-01 of a UTC time, rounding down before 1970. */
long
search_day_of(time_t t)
{
	long d;

	d = (long)(t / 86400);
	if (t % 86400 < 0)
		d--;
	return d;
}

/*
 * A search string, folded once here so that the text can be folded on
 * the fly (charset_match_*).  One that folds to more than
 * CHARSET_NEEDLE_MAX bytes is refused, as charset.h asks.
 */
static int
get_needle(struct parser *p, struct search_key *k)
{
	struct buf b;
	const char *s;
	size_t n;
	int r;

	if (imap_get_astring(p->t, &s, &n) < 0)
		return -1;
	buf_init(&b, CHARSET_NEEDLE_MAX);
	r = charset_fold(s, n, &b);
	if (r == CHARSET_OK && buf_terminate(&b) < 0)
		r = CHARSET_NOMEM;
	if (r != CHARSET_OK) {
		buf_free(&b);
		return pfail(p, r == CHARSET_TRUNC ? "Search string too long" :
		    "Out of memory");
	}
	k->str = b.data;
	k->len = buf_used(&b);
	return 0;
}

static int parse_key(struct parser *, struct search_key **);

/* A key inside NOT or OR: one level deeper. */
static int
parse_sub(struct parser *p, struct search_key **out)
{
	int r;

	if (++p->depth > IMAP_SEARCH_DEPTH)
		return pfail(p, "Search keys nested too deeply");
	r = parse_key(p, out);
	p->depth--;
	return r;
}

/* The argument(s) of a named key. */
static int
parse_args(struct parser *p, const struct kdef *d, struct search_key *k)
{
	const char *s;
	time_t t;

	switch (d->arg) {
	case A_STR:
		if (d->field != NULL &&
		    (k->field = dup_n(d->field, strlen(d->field))) == NULL)
			return pfail(p, "Out of memory");
		return get_needle(p, k);
	case A_HDR:
		if (imap_get_astring(p->t, &s, NULL) < 0)
			return -1;
		if ((k->field = dup_n(s, strlen(s))) == NULL)
			return pfail(p, "Out of memory");
		return get_needle(p, k);
	case A_DATE:
		if (imap_get_date(p->t, &t) < 0)
			return -1;
		k->day = search_day_of(t);
		return 0;
	case A_NUM:
		return imap_get_number(p->t, &k->num);
	case A_UIDSET:
		return imap_get_seqset(p->t, p->maxuid, 1, &k->set);
	case A_ATOM:
		if (imap_get_atom(p->t, &s) < 0)
			return -1;
		k->len = strlen(s);
		return (k->str = dup_n(s, k->len)) == NULL ?
		    pfail(p, "Out of memory") : 0;
	case A_KEY:
		return parse_sub(p, &k->kids);
	case A_KEY2:
		if (parse_sub(p, &k->kids) < 0)
			return -1;
		return parse_sub(p, &k->kids->next);
	default:
		return 0;
	}
}

static int
parse_named(struct parser *p, struct search_key **out)
{
	const struct kdef *d;
	struct search_key *k;
	const char *name;
	size_t i;

	if (imap_get_atom(p->t, &name) < 0)
		return -1;
	for (i = 0; i < NELEM(kdefs); i++)
		if (ascii_casecmp(kdefs[i].name, name) == 0)
			break;
	if (i == NELEM(kdefs))
		return pfail(p, "Unknown search key");
	d = &kdefs[i];
	if ((k = *out = new_key(p, d->type)) == NULL)
		return -1;
	k->op = (int)d->val;
	k->flags = d->val;
	if (parse_args(p, d, k) < 0)
		return -1;
	if ((k->type == K_BODY || k->type == K_TEXT) && k->len == 0)
		k->type = K_ALL;	/* "" is in every text */
	if (k->type >= K_SENT)
		k->slot = p->ntext++;
	return 0;
}

/* "(" search-key *(SP search-key) ")": all of them. */
static int
parse_list(struct parser *p, struct search_key **out)
{
	struct search_key **tail;

	if ((*out = new_key(p, K_AND)) == NULL)
		return -1;
	if (imap_get_list_begin(p->t) < 0)
		return -1;
	if (++p->depth > IMAP_SEARCH_DEPTH)
		return pfail(p, "Search keys nested too deeply");
	tail = &(*out)->kids;
	do {
		if (parse_key(p, tail) < 0)
			return -1;
		tail = &(*tail)->next;
	} while (imap_peek(p->t) != IMAP_T_LIST_CLOSE &&
	    imap_peek(p->t) != IMAP_T_END);
	p->depth--;
	return imap_get_list_end(p->t);
}

/* One search-key; whatever was built is in *out even on failure. */
static int
parse_key(struct parser *p, struct search_key **out)
{
	struct search_key *k;

	*out = NULL;
	if (++p->nkeys > IMAP_SEARCH_KEYS_MAX)
		return pfail(p, "Too many search keys");
	switch (imap_peek(p->t)) {
	case IMAP_T_NUMBER:
	case IMAP_T_SEQSET:
		if ((k = *out = new_key(p, K_SEQ)) == NULL)
			return -1;
		return imap_get_seqset(p->t, p->nmsgs, 0, &k->set);
	case IMAP_T_LIST_OPEN:
		return parse_list(p, out);
	case IMAP_T_ATOM:
		return parse_named(p, out);
	case IMAP_T_END:
		return pfail(p, "Missing search key");
	case IMAP_T_LIST_CLOSE:
		return pfail(p, p->t->depth > 0 ? "Missing search key" :
		    "Unbalanced )");
	default:
		return pfail(p, "Invalid search key");
	}
}

/*
 * [CHARSET astring] (RFC 3501 6.4.4): US-ASCII and UTF-8 under any of
 * their names; anything else is -2, for "NO [BADCHARSET ...]".
 */
static int
parse_charset(struct parser *p)
{
	struct imap_tok save;
	enum charset_id id;
	const char *s;
	size_t n;

	save = *p->t;
	if (imap_peek(p->t) != IMAP_T_ATOM || imap_get_atom(p->t, &s) < 0 ||
	    ascii_casecmp(s, "CHARSET") != 0) {
		*p->t = save;		/* a search key: read it again */
		return 0;
	}
	if (imap_get_astring(p->t, &s, &n) < 0)
		return -1;
	id = charset_lookup(s, n);
	return id == CS_ASCII || id == CS_UTF8 ? 0 : -2;
}

/* File the text keys by slot in the root, and note what they read. */
static void
collect(struct search_key *root, struct search_key *k)
{
	for (; k != NULL; k = k->next) {
		if (k->slot >= 0) {
			root->text[k->slot] = k;
			if (k->type != K_BODY)
				root->hdr = 1;
			if (k->type == K_BODY || k->type == K_TEXT)
				root->body = 1;
		}
		collect(root, k->kids);
	}
}

int
imap_search_parse(struct imap_tok *t, unsigned long nmsgs,
    unsigned long maxuid, struct search_key **out)
{
	struct parser p;
	struct search_key *root, **tail;
	int r;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	p.t = t;
	p.nmsgs = nmsgs;
	p.maxuid = maxuid;
	if ((r = parse_charset(&p)) != 0)
		return r;
	if ((root = new_key(&p, K_AND)) == NULL)
		return -1;
	tail = &root->kids;
	do {
		if (parse_key(&p, tail) < 0)
			goto fail;
		tail = &(*tail)->next;
	} while (!imap_at_end(t));
	if (imap_get_end(t) < 0)
		goto fail;
	root->ntext = p.ntext;
	if (p.ntext > 0) {
		root->text = malloc((size_t)p.ntext * sizeof(*root->text));
		if (root->text == NULL) {
			pfail(&p, "Out of memory");
			goto fail;
		}
		collect(root, root->kids);
	}
	*out = root;
	return 0;
fail:
	imap_search_free(root);
	return -1;
}

void
imap_search_free(struct search_key *k)
{
	struct search_key *next;

	for (; k != NULL; k = next) {
		next = k->next;
		imap_search_free(k->kids);
		seqset_free(&k->set);
		free(k->field);
		free(k->str);
		free(k->text);
		free(k);
	}
}

int
imap_search_needs_text(const struct search_key *k)
{
	return k->ntext > 0;
}

/* --- evaluation --- */

int
search_day_cmp(int op, long day, long key)
{
	if (op == D_BEFORE)
		return day < key;
	return op == D_ON ? day == key : day >= key;
}

/* Is kw in the space-separated list?  Case-insensitive. */
static int
has_keyword(const char *list, const char *kw, size_t len)
{
	const char *e;

	while (list != NULL && *list != '\0') {
		while (*list == ' ')
			list++;
		for (e = list; *e != '\0' && *e != ' '; e++)
			;
		if ((size_t)(e - list) == len && len > 0 &&
		    ascii_ncasecmp(list, kw, len) == 0)
			return 1;
		list = e;
	}
	return 0;
}

/*
 * Kleene's three-valued logic: a NO settles an AND, a YES settles an
 * OR, whatever is still open.  res holds the text keys' results, or is
 * NULL before any text was looked at.
 */
int
search_eval(const struct search_key *k, const struct search_msg *m,
    const signed char *res)
{
	const struct search_key *c;
	int r, v;

	switch (k->type) {
	case K_AND:
	case K_OR:
		r = k->type == K_AND ? R_YES : R_NO;
		for (c = k->kids; c != NULL; c = c->next) {
			v = search_eval(c, m, res);
			if (v == R_OPEN)
				r = R_OPEN;
			else if ((v == R_YES) == (k->type == K_OR))
				return v;
		}
		return r;
	case K_NOT:
		v = search_eval(k->kids, m, res);
		return v == R_OPEN ? R_OPEN : !v;
	case K_ALL:
		return R_YES;
	case K_SEQ:
		return seqset_contains(&k->set, m->seq);
	case K_UID:
		return seqset_contains(&k->set, m->uid);
	case K_FLAG:
		return (m->flags & k->flags) != 0;
	case K_UNFLAG:
		return (m->flags & k->flags) == 0;
	case K_RECENT:
		return m->recent != 0;
	case K_NEW:		/* RFC 3501 6.4.4: "(RECENT UNSEEN)" */
		return m->recent != 0 && (m->flags & MF_SEEN) == 0;
	case K_OLD:		/* "NOT RECENT" */
		return m->recent == 0;
	case K_KEYWORD:
		return has_keyword(m->keywords, k->str, k->len);
	case K_UNKEYWORD:
		return !has_keyword(m->keywords, k->str, k->len);
	case K_LARGER:		/* the RFC822.SIZE, CRLF octets */
		return m->size > k->num;
	case K_SMALLER:
		return m->size < k->num;
	case K_DATE:
		return search_day_cmp(k->op, search_day_of(m->internaldate),
		    k->day);
	default:
		return res != NULL ? res[k->slot] : R_OPEN;
	}
}

static int
ctx_init(struct sctx *c, const struct search_key *root,
    const struct search_msg *m)
{
	const struct search_key *k;
	size_t n;
	int i;

	memset(c, 0, sizeof(*c));
	c->root = root;
	c->m = m;
	buf_init(&c->hdr, MIME_HDR_MAX);
	buf_init(&c->val, SEARCH_FIELD_MAX);
	buf_init(&c->out, SEARCH_OUT_MAX);
	n = (size_t)root->ntext;
	if ((c->res = malloc(n)) == NULL ||
	    (c->mt = malloc(n * sizeof(*c->mt))) == NULL)
		return -1;
	for (i = 0; i < root->ntext; i++) {
		k = root->text[i];
		c->res[i] = R_OPEN;
		/* needles were checked against CHARSET_NEEDLE_MAX */
		(void)charset_match_init(&c->mt[i], k->str != NULL ? k->str :
		    "", k->len);
	}
	return 0;
}

static void
ctx_free(struct sctx *c)
{
	buf_free(&c->hdr);
	buf_free(&c->val);
	buf_free(&c->out);
	free(c->res);
	free(c->mt);
	free(c->in);
	free(c->dec);
}

int
imap_search_match(const struct search_key *k, const struct search_msg *m)
{
	struct sctx c;
	int r;

	if ((r = search_eval(k, m, NULL)) != R_OPEN)
		return r;
	/* Memory running out is -1 too: the caller can only answer NO. */
	r = -1;
	if (ctx_init(&c, k, m) < 0 || (k->hdr && search_header_pass(&c) < 0))
		goto done;
	if ((r = search_eval(k, m, c.res)) == R_OPEN)
		r = search_body_pass(&c) < 0 ? -1 : search_eval(k, m, c.res);
done:
	ctx_free(&c);
	return r;
}
