/* xalloc.c - aborting allocators. Overflow in count*size is treated as exhaustion. */
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE */
#include "xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void oom(size_t n)
{
    fprintf(stderr, "ppsim: out of memory (%zu bytes)\n", n);
    abort();
}

void *pp_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *pp_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *pp_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

void *pp_xgrow(void *p, size_t *cap, size_t need, size_t size)
{
    size_t c = *cap;
    if (need <= c)
        return p;
    if (c < 8)
        c = 8;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            oom(SIZE_MAX);
        c *= 2;
    }
    if (c > SIZE_MAX / size)
        oom(SIZE_MAX);
    *cap = c;
    return pp_xrealloc(p, c * size);
}

#define HUGE_BYTES ((size_t)2 << 20)

void *pp_xmalloc_big(size_t n)
{
    if (n < HUGE_BYTES)
        return pp_xmalloc(n);
    size_t rounded = (n + HUGE_BYTES - 1) & ~(HUGE_BYTES - 1);
    if (rounded < n)
        oom(n);
    void *p = aligned_alloc(HUGE_BYTES, rounded);
    if (!p)
        oom(n);
#ifdef MADV_HUGEPAGE
    madvise(p, rounded, MADV_HUGEPAGE); /* advisory: failure only costs speed */
#endif
    return p;
}

void *pp_xcalloc_big(size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        oom(SIZE_MAX);
    void *p = pp_xmalloc_big(count * size);
    memset(p, 0, count * size);
    return p;
}

char *pp_xstrdup(const char *s)
{
    return pp_xstrndup(s, strlen(s));
}

char *pp_xstrndup(const char *s, size_t n)
{
    char *p = pp_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}
