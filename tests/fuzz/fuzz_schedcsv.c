/* fuzz_schedcsv.c - PyTorch's pipelining schedule CSV (pp_schedcsv_parse).
 * A plan that imports must pass pp_plan_validate, and both CSV forms the
 * writer makes of it (compute_only, compute_comms) must import back to the
 * same ops (schedcsv.h: the two forms import to the same plan). */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "fuzz.h"
#include "schedcsv.h"
#include "schedule.h"

static void check_same(const struct pp_plan *a, const struct pp_plan *b)
{
    if (a->n_devices != b->n_devices || a->n_pieces != b->n_pieces ||
        a->n_microbatches != b->n_microbatches || a->n_ops != b->n_ops)
        pp_fuzz_fail("schedcsv", "a written schedule imports back with another shape");
    for (size_t i = 0; i < a->n_ops; i++)
        if (memcmp(&a->ops[i], &b->ops[i], sizeof a->ops[i]) != 0)
            pp_fuzz_fail("schedcsv", "a written schedule imports back with other ops");
    for (int k = 0; k <= a->n_devices; k++)
        if (a->dev_first[k] != b->dev_first[k])
            pp_fuzz_fail("schedcsv", "a written schedule imports back on other devices");
}

int pp_fuzz_schedcsv(const uint8_t *data, size_t size)
{
    struct pp_plan *plan = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_schedcsv_parse((const char *)data, size, PP_FUZZ_FILE, NULL, &plan, &d);
    if (rc != 0) {
        if (plan)
            pp_fuzz_fail("schedcsv", "a failed parse returned a plan");
        pp_fuzz_check_error(rc, &d, "schedcsv");
        return 0;
    }
    char line[1024];
    if (pp_plan_validate(plan, &d) != 0)
        pp_fuzz_fail("schedcsv", pp_diag_format(&d, line, sizeof line));
    for (int comms = 0; comms < 2; comms++) {
        struct pp_buf b;
        pp_buf_init(&b);
        if (pp_schedcsv_write(plan, comms, &b, &d) != 0)
            pp_fuzz_fail("schedcsv", pp_diag_format(&d, line, sizeof line));
        struct pp_plan *back = NULL;
        if (pp_schedcsv_parse(b.data ? b.data : "", b.len, "<written>", NULL, &back, &d) != 0)
            pp_fuzz_fail("schedcsv", pp_diag_format(&d, line, sizeof line));
        check_same(plan, back);
        pp_plan_free(back);
        pp_buf_free(&b);
    }
    pp_plan_free(plan);
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_schedcsv)
