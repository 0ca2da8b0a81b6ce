/* fuzz_calib.c - the calibration file (pp_calib_parse) and its round trip:
 * what parsed is finite, non-negative, with positive scales, and writing it
 * out (with a fit block) reads back as the same calibration. */
#include <math.h>
#include <string.h>

#include "buf.h"
#include "calib.h"
#include "diag.h"
#include "fuzz.h"

static int ok_num(double x)
{
    return isfinite(x) && x >= 0 && !signbit(x);
}

static int same(const struct pp_calib *a, const struct pp_calib *b)
{
    for (int i = 0; i < PP_CAL_N_OPS; i++)
        if (a->op_overhead_ms[i] != b->op_overhead_ms[i])
            return 0;
    return a->compute_scale == b->compute_scale &&
           a->profile_overhead_ms == b->profile_overhead_ms &&
           a->step_overhead_ms == b->step_overhead_ms &&
           a->optimizer_ms_per_gb == b->optimizer_ms_per_gb && a->has_link == b->has_link &&
           (!a->has_link || (a->link_latency_ms == b->link_latency_ms &&
                             a->link_bandwidth_bytes_per_s == b->link_bandwidth_bytes_per_s)) &&
           a->memory_overhead_bytes == b->memory_overhead_bytes &&
           a->activation_scale == b->activation_scale && a->lazy_gradients == b->lazy_gradients;
}

int pp_fuzz_calib(const uint8_t *data, size_t size)
{
    struct pp_calib c;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_calib_parse((const char *)data, size, PP_FUZZ_FILE, &c, &d);
    if (rc != 0) {
        pp_fuzz_check_error(rc, &d, "calib");
        return 0;
    }
    for (int i = 0; i < PP_CAL_N_OPS; i++)
        if (!ok_num(c.op_overhead_ms[i]))
            pp_fuzz_fail("calib", "an op overhead is negative or not finite");
    if (!ok_num(c.step_overhead_ms) || !ok_num(c.profile_overhead_ms) || !ok_num(c.optimizer_ms_per_gb) ||
        !ok_num(c.memory_overhead_bytes) || !ok_num(c.link_latency_ms) ||
        !ok_num(c.link_bandwidth_bytes_per_s))
        pp_fuzz_fail("calib", "a value is negative or not finite");
    if (!(ok_num(c.compute_scale) && c.compute_scale > 0 && ok_num(c.activation_scale) &&
          c.activation_scale > 0))
        pp_fuzz_fail("calib", "a scale is not positive and finite");
    if ((c.has_link != 0 && c.has_link != 1) || (c.lazy_gradients != 0 && c.lazy_gradients != 1))
        pp_fuzz_fail("calib", "a flag is neither 0 nor 1");
    struct pp_buf b;
    pp_buf_init(&b);
    pp_calib_write_yaml(&c, "fit:\n  note: fuzz\n", &b);
    struct pp_calib back;
    rc = pp_calib_parse(b.data, b.len, "written", &back, &d);
    if (rc != 0) {
        pp_fuzz_report("calib", d.msg);
        pp_fuzz_fail("calib", "a written calibration does not parse");
    }
    if (!same(&c, &back))
        pp_fuzz_fail("calib", "a written calibration reads back different");
    pp_buf_free(&b);
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_calib)
