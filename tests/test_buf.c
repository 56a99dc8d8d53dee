/* test_buf.c - unit tests of src/buf.c, the bounded buffer. */
#include "yubin.h"

#include <string.h>

#include "buf.h"
#include "check.h"

int
main(void)
{
	struct buf b;
	char big[3000];
	size_t i;

	buf_init(&b, 10);
	CHECK(buf_used(&b) == 0);
	CHECK(buf_append(&b, "hello", 5) == 0);
	CHECK(buf_append(&b, "world", 5) == 0);
	CHECK(buf_used(&b) == 10);
	/* over the cap: refused, nothing changed */
	CHECK(buf_append(&b, "!", 1) < 0);
	CHECK(buf_used(&b) == 10 && memcmp(buf_ptr(&b), "helloworld", 10) == 0);
	buf_consume(&b, 5);
	CHECK(buf_used(&b) == 5 && memcmp(buf_ptr(&b), "world", 5) == 0);
	/* consumed space is reclaimed */
	CHECK(buf_append(&b, "12345", 5) == 0);
	CHECK(memcmp(buf_ptr(&b), "world12345", 10) == 0);
	CHECK(buf_terminate(&b) == 0 && strcmp(buf_ptr(&b), "world12345") == 0);
	buf_consume(&b, 100);
	CHECK(buf_used(&b) == 0);
	buf_shrink(&b, 0);
	CHECK(b.data == NULL && b.cap == 0);
	CHECK(buf_printf(&b, "%d-%s", 42, "x") == 0);
	CHECK(buf_used(&b) == 4 && memcmp(buf_ptr(&b), "42-x", 4) == 0);
	CHECK(buf_printf(&b, "%s", "toolongtext") < 0);
	buf_free(&b);

	/* uncapped, long printf goes through the second formatting path */
	buf_init(&b, 0);
	for (i = 0; i < sizeof(big) - 1; i++)
		big[i] = (char)('a' + i % 26);
	big[sizeof(big) - 1] = '\0';
	CHECK(buf_printf(&b, "<%s>", big) == 0);
	CHECK(buf_used(&b) == sizeof(big) + 1);
	CHECK(buf_ptr(&b)[0] == '<' && buf_ptr(&b)[sizeof(big)] == '>');
	CHECK(buf_puts(&b, "") == 0);
	CHECK(buf_reserve(&b, 100) != NULL);
	memcpy(buf_reserve(&b, 3), "xyz", 3);
	buf_commit(&b, 3);
	CHECK(memcmp(buf_ptr(&b) + buf_used(&b) - 3, "xyz", 3) == 0);
	buf_reset(&b);
	CHECK(buf_used(&b) == 0);
	buf_free(&b);
	CHECK(b.data == NULL);
	return check_exit("test_buf");
}
