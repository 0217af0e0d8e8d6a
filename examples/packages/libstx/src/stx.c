#include <stdio.h>
#include "stx.h"

#define STX_VERSION "1.0"

const char *stx_version(void)
{
	return STX_VERSION;
}

const char *stx_greeting(const char *name)
{
	static char buf[256];

	snprintf(buf, sizeof buf, "Hello, %s! (libstx %s)", name ? name : "world", STX_VERSION);
	return buf;
}

long stx_add(long a, long b)
{
	return a + b;
}
