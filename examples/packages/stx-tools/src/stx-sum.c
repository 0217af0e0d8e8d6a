/* stx-sum: add up the numbers given as arguments with libstx. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stx.h>
#include "usage.h"

#define STX_SUM_VERSION "1.0"

int main(int argc, char **argv)
{
	long sum = 0;
	int i;

	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("stx-sum %s (libstx %s)\n", STX_SUM_VERSION, stx_version());
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fputs(STX_SUM_USAGE, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (i = 1; i < argc; i++) {
		char *end;
		long n;

		errno = 0;
		n = strtol(argv[i], &end, 10);
		if (errno != 0 || *argv[i] == '\0' || *end != '\0') {
			fprintf(stderr, "stx-sum: not a number: %s\n", argv[i]);
			return 2;
		}
		sum = stx_add(sum, n);
	}
	printf("%ld\n", sum);
	return 0;
}
