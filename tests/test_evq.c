/* test_evq.c - event order is (time, priority, sequence): the tie rule the
 * house style fixes (c-style-anchors.md §8) and that makes replays deterministic. */
#include "testutil.h"

#include "evq.h"

static void test_order(void)
{
    pp_evq *q = pp_evq_create(16);
    pp_evq_push(q, 5, 1, 0, 1);
    pp_evq_push(q, 3, 2, 0, 2);
    pp_evq_push(q, 3, 1, 0, 3);
    pp_evq_push(q, 5, 0, 0, 4);
    pp_evq_push(q, 3, 1, 0, 5); /* same (time, prio) as arg 3: FIFO after it */
    static const unsigned want[] = {3, 5, 2, 4, 1};
    struct pp_event ev;
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL_FATAL(pp_evq_pop(q, &ev), 1);
        CHECK_INT(ev.arg, want[i]);
    }
    CHECK_INT(pp_evq_pop(q, &ev), 0);
    pp_evq_free(q);
}

static void test_capacity_is_fixed(void)
{
    pp_evq *q = pp_evq_create(2);
    CHECK_INT(pp_evq_push(q, 1, 0, 0, 0), 0);
    CHECK_INT(pp_evq_push(q, 1, 0, 0, 0), 0);
    CHECK_INT(pp_evq_push(q, 1, 0, 0, 0), -1);
    CHECK_INT(pp_evq_size(q), 2);
    pp_evq_free(q);
}

/* Many random events come out sorted by (time, seq) with FIFO ties. */
static void test_heap_sorts(void)
{
    enum { N = 5000 };
    pp_evq *q = pp_evq_create(N);
    unsigned s = 12345;
    for (unsigned i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        pp_evq_push(q, (s >> 16) % 97, 0, 0, i);
    }
    struct pp_event prev, ev;
    pp_evq_pop(q, &prev);
    int ok = 1;
    while (pp_evq_pop(q, &ev)) {
        if (ev.t_ns < prev.t_ns || (ev.t_ns == prev.t_ns && ev.arg < prev.arg))
            ok = 0;
        prev = ev;
    }
    CU_ASSERT_TRUE(ok);
    pp_evq_free(q);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"(time, priority, sequence) order", test_order},
        {"fixed capacity", test_capacity_is_fixed},
        {"heap sorts with FIFO ties", test_heap_sorts},
        {NULL, NULL},
    };
    return pp_test_main("evq", tests);
}
