/* evq.c - binary min-heap of events keyed by (t_ns, priority, sequence).
 * Priority and sequence share one 64-bit key, so a comparison is two integer
 * compares. Fixed capacity: push never allocates. */
#include "evq.h"

#include <stdlib.h>

#include "xalloc.h"

#define SEQ_BITS 56

struct pp_evq {
    struct pp_event *heap;
    size_t n, cap;
    uint64_t seq;
};

pp_evq *pp_evq_create(size_t capacity)
{
    pp_evq *q = pp_xcalloc(1, sizeof *q);
    q->cap = capacity ? capacity : 1;
    q->heap = pp_xmalloc(q->cap * sizeof *q->heap);
    return q;
}

void pp_evq_free(pp_evq *q)
{
    if (!q)
        return;
    free(q->heap);
    free(q);
}

static inline int less(const struct pp_event *a, const struct pp_event *b)
{
    return a->t_ns < b->t_ns || (a->t_ns == b->t_ns && a->key < b->key);
}

int pp_evq_push(pp_evq *q, pp_time t_ns, unsigned prio, uint32_t type, uint32_t arg)
{
    if (q->n == q->cap)
        return -1;
    struct pp_event ev = {t_ns, ((uint64_t)(prio & 0xFF) << SEQ_BITS) | (q->seq++ & ((1ull << SEQ_BITS) - 1)),
                          type, arg};
    size_t i = q->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!less(&ev, &q->heap[parent]))
            break;
        q->heap[i] = q->heap[parent];
        i = parent;
    }
    q->heap[i] = ev;
    return 0;
}

int pp_evq_pop(pp_evq *q, struct pp_event *ev)
{
    if (q->n == 0)
        return 0;
    *ev = q->heap[0];
    struct pp_event last = q->heap[--q->n];
    size_t i = 0, n = q->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && less(&q->heap[c + 1], &q->heap[c]))
            c++;
        if (!less(&q->heap[c], &last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n > 0)
        q->heap[i] = last;
    return 1;
}

size_t pp_evq_size(const pp_evq *q)
{
    return q->n;
}
