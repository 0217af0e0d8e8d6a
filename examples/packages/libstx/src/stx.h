/* libstx: the tiny shared library of the stx-build example distribution. */
#ifndef STX_H
#define STX_H

#ifdef __cplusplus
extern "C" {
#endif

/* stx_version returns the library version, e.g. "1.0". */
const char *stx_version(void);

/* stx_greeting returns a static greeting for name (or "world" if NULL). */
const char *stx_greeting(const char *name);

/* stx_add returns a + b. */
long stx_add(long a, long b);

#ifdef __cplusplus
}
#endif

#endif
