/* nameset.c - linear duplicate-name checks (nameset.h). */
#include "nameset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static size_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

/* The slot holding a name equal to `key`, or the empty slot for it. */
static size_t *find(const struct pp_nameset *s, pp_name_fn name, const void *ctx, const char *key)
{
    for (size_t k = hash(key) & s->mask;; k = (k + 1) & s->mask)
        if (!s->slot[k] || strcmp(name(ctx, s->slot[k] - 1), key) == 0)
            return &s->slot[k];
}

size_t pp_nameset_add(struct pp_nameset *s, pp_name_fn name, const void *ctx, size_t i)
{
    const char *key = name(ctx, i);
    if (i < PP_NAMESET_SCAN) {
        for (size_t j = 0; j < i; j++)
            if (strcmp(name(ctx, j), key) == 0)
                return j;
        return SIZE_MAX;
    }
    if (!s->slot || 2 * (i + 1) > s->mask) { /* at most half full */
        size_t n = s->slot ? 2 * (s->mask + 1) : 4 * PP_NAMESET_SCAN;
        while (n < 4 * (i + 1))
            n *= 2;
        free(s->slot);
        s->slot = pp_xcalloc(n, sizeof *s->slot);
        s->mask = n - 1;
        for (size_t j = 0; j < i; j++)
            *find(s, name, ctx, name(ctx, j)) = j + 1;
    }
    size_t *slot = find(s, name, ctx, key);
    if (*slot)
        return *slot - 1;
    *slot = i + 1;
    return SIZE_MAX;
}

void pp_nameset_free(struct pp_nameset *s)
{
    free(s->slot);
    s->slot = NULL;
    s->mask = 0;
}
