/* test_rfc822.c - unit tests of src/rfc822.c (address lists, fields). */
#include "yubin.h"

#include <string.h>

#include "check.h"
#include "rfc822.h"
#include "util.h"

static int
list_is(const char *text, const char *const *want, int nwant)
{
	struct strlist l;
	int i, n, ok;

	memset(&l, 0, sizeof(l));
	n = rfc822_addresses(text, strlen(text), &l);
	ok = n == nwant && l.n == nwant;
	for (i = 0; ok && i < nwant; i++)
		if (strcmp(l.v[i], want[i]) != 0)
			ok = 0;
	if (!ok) {
		fprintf(stderr, "list [%s] -> %d:", text, n);
		for (i = 0; i < l.n; i++)
			fprintf(stderr, " [%s]", l.v[i]);
		fprintf(stderr, "\n");
	}
	strlist_free(&l);
	return ok;
}

int
main(void)
{
	static const char *const one[] = { "a@b.example" };
	static const char *const two[] = { "a@b.example", "c@d.example" };
	static const char *const three[] = { "x@y", "a@b", "c@d" };
	static const char *const q[] = { "\"odd, name\"@x" };
	static const char *const bare[] = { "joe" };
	struct strlist l;

	CHECK(list_is("a@b.example", one, 1));
	CHECK(list_is(" Alice <a@b.example> ", one, 1));
	CHECK(list_is("\"Smith, Alice\" <a@b.example>", one, 1));
	CHECK(list_is("a@b.example (Alice, comment)", one, 1));
	CHECK(list_is("(c) a@b.example (d (nested) e)", one, 1));
	CHECK(list_is("a@b.example, c@d.example", two, 2));
	CHECK(list_is("a@b.example,\n\tc@d.example\n", two, 2));
	CHECK(list_is("Alice <a@b.example>, \"C\" <c@d.example>", two, 2));
	CHECK(list_is("x@y, team: a@b, c@d;", three, 3));
	CHECK(list_is("undisclosed-recipients:;", NULL, 0));
	CHECK(list_is("<@route1,@route2:a@b.example>", one, 1));
	CHECK(list_is("\"odd, name\"@x", q, 1));
	CHECK(list_is("joe", bare, 1));
	CHECK(list_is("", NULL, 0));
	CHECK(list_is(" , ,", NULL, 0));
	memset(&l, 0, sizeof(l));
	CHECK(rfc822_addresses("\"open", 5, &l) < 0);
	CHECK(rfc822_addresses("a (open", 7, &l) < 0);
	CHECK(rfc822_addresses("<a@b", 4, &l) < 0);
	CHECK(rfc822_addresses("a@b>", 4, &l) < 0);
	strlist_free(&l);

	CHECK(rfc822_field("To: a", 5, "To") == 3);
	CHECK(rfc822_field("to : a", 6, "To") == 4);
	CHECK(rfc822_field("Toast: a", 8, "To") == 0);
	CHECK(rfc822_field("Cc:", 3, "Cc") == 3);
	CHECK(rfc822_field("Bcc", 3, "Bcc") == 0);
	return check_exit("test_rfc822");
}
