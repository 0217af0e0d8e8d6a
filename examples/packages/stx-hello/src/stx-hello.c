/* stx-hello: greet using libstx; "--version" prints program and library versions. */
#include <stdio.h>
#include <string.h>
#include <stx.h>

#define STX_HELLO_VERSION "1.0"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("stx-hello %s (libstx %s)\n", STX_HELLO_VERSION, stx_version());
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		printf("Usage: stx-hello [NAME]\n"
		       "Print a greeting made by libstx.\n"
		       "\n"
		       "      --help     display this help and exit\n"
		       "      --version  output version information and exit\n");
		return 0;
	}
	puts(stx_greeting(argc > 1 ? argv[1] : NULL));
	return 0;
}
