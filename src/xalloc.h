/* xalloc.h - allocation that aborts on exhaustion, as a CLI should (Redis, jq). */
#ifndef PP_XALLOC_H
#define PP_XALLOC_H

#include <stddef.h>

void *pp_xmalloc(size_t n);
void *pp_xcalloc(size_t count, size_t size);
void *pp_xrealloc(void *p, size_t n);
/* Grow an array of `size`-byte elements to hold at least `need`; doubles capacity. */
void *pp_xgrow(void *p, size_t *cap, size_t need, size_t size);
/* Large arrays (simulator state, plans): 2 MiB-aligned and marked for
 * transparent huge pages, so first touch costs one page fault per 2 MiB instead
 * of per 4 KiB. Falls back to malloc for small sizes. Free with free(). The
 * _zero variant clears the memory. */
void *pp_xmalloc_big(size_t n);
void *pp_xcalloc_big(size_t count, size_t size);
char *pp_xstrdup(const char *s);
char *pp_xstrndup(const char *s, size_t n);

#endif
