/* fuzz_sets.h - --set overrides carried inside a fuzzed YAML input.
 *
 * A line "#set KEY.PATH=VALUE" is a YAML comment, so the document parses as
 * if it were absent; the scenario-level targets also apply it as a --set, the
 * way `ppsim simulate --set` does. Up to PP_FUZZ_MAX_SETS are taken. */
#ifndef PP_FUZZ_SETS_H
#define PP_FUZZ_SETS_H

#include <stddef.h>

#define PP_FUZZ_MAX_SETS 4

struct pp_fuzz_sets {
    char *text[PP_FUZZ_MAX_SETS];
    const char *ptr[PP_FUZZ_MAX_SETS];
    size_t n;
};

void pp_fuzz_sets_read(const char *buf, size_t len, struct pp_fuzz_sets *s);
void pp_fuzz_sets_free(struct pp_fuzz_sets *s);

#endif
