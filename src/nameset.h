/* nameset.h - duplicate-name checks that stay linear on hostile input: the
 * keys of a YAML mapping, the column names of a CSV header.
 *
 * Names are added in order 0, 1, 2, ..., each checked against those before
 * it; callers stop at the first duplicate, so the names in the set are
 * distinct. Checking each new name against every earlier one is quadratic
 * (13 s for a CSV header of 100 000 columns, minutes for a YAML mapping of
 * 2 MB of distinct keys, found by fuzzing), so past PP_NAMESET_SCAN names
 * they are hashed; the few names of ordinary input keep the plain scan and
 * allocate nothing. */
#ifndef PP_NAMESET_H
#define PP_NAMESET_H

#include <stddef.h>

#define PP_NAMESET_SCAN 16

/* Name number i of the caller's collection. */
typedef const char *(*pp_name_fn)(const void *ctx, size_t i);

struct pp_nameset {
    size_t *slot; /* name index + 1; 0 = empty. NULL until hashing starts */
    size_t mask;  /* slots - 1, a power of two minus one */
};

/* The index of the earlier name equal to name i, or SIZE_MAX after adding
 * name i. Names 0..i-1 were added before, in order. Start from a zeroed set. */
size_t pp_nameset_add(struct pp_nameset *s, pp_name_fn name, const void *ctx, size_t i);
void pp_nameset_free(struct pp_nameset *s);

#endif
