/* Unit test for libstx, run by "make check" against the freshly built .so. */
#include <stdio.h>
#include <string.h>
#include "stx.h"

static int failures;

static void expect(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAIL", what);
	if (!ok)
		failures++;
}

int main(void)
{
	expect(strcmp(stx_version(), "1.0") == 0, "stx_version() == \"1.0\"");
	expect(strcmp(stx_greeting("stx"), "Hello, stx! (libstx 1.0)") == 0, "stx_greeting(\"stx\")");
	expect(strcmp(stx_greeting(NULL), "Hello, world! (libstx 1.0)") == 0, "stx_greeting(NULL)");
	expect(stx_add(40, 2) == 42, "stx_add(40, 2) == 42");
	printf("%d passed, %d failed\n", 4 - failures, failures);
	return failures != 0;
}
