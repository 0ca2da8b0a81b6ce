/* calib.c - the calibration file (calib.h): read with the strict YAML reader,
 * written with %.17g so that a file `ppsim calibrate` wrote reads back as the
 * very same numbers. */
#include "calib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "yamlutil.h"

#define MAX_CALIB_BYTES ((size_t)16 << 20)

const char *const pp_calib_op_keys[PP_CAL_N_OPS] = {"forward", "backward", "backward_input",
                                                    "backward_weight"};

static const char *const top_keys[] = {"calibration", "fit", NULL};
static const char *const calib_keys[] = {
    "op_overhead_ms",        "compute_scale",    "profile_overhead_ms", "step_overhead_ms",
    "optimizer_ms_per_gb",   "link",             "memory_overhead_bytes", "activation_scale",
    "lazy_gradients",        NULL};
static const char *const link_keys[] = {"latency_ms", "bandwidth_bytes_per_s", NULL};

void pp_calib_init(struct pp_calib *c)
{
    memset(c, 0, sizeof *c);
    c->compute_scale = 1;
    c->activation_scale = 1;
}

int pp_calib_is_neutral(const struct pp_calib *c)
{
    for (int i = 0; i < PP_CAL_N_OPS; i++)
        if (c->op_overhead_ms[i] != 0)
            return 0;
    return c->compute_scale == 1 && c->profile_overhead_ms == 0 && c->step_overhead_ms == 0 &&
           c->optimizer_ms_per_gb == 0 && !c->has_link && c->memory_overhead_bytes == 0 && c->activation_scale == 1 &&
           !c->lazy_gradients;
}

/* Optional non-negative number at map[key]; `positive` refuses 0 too (the
 * scales: 0 would erase the profile). */
static int opt_num(const struct pp_ynode *map, const char *key, const char *prefix, int positive,
                   double *out, struct pp_diag *d)
{
    char path[96];
    snprintf(path, sizeof path, "%s.%s", prefix, key);
    return pp_yopt_num(map, key, path, positive, out, d);
}

static int read_calibration(const struct pp_ynode *cal, struct pp_calib *c, struct pp_diag *d)
{
    const struct pp_ynode *ops, *link, *v;
    int rc;
    if ((rc = pp_ymap_check(cal, "calibration", calib_keys, d)))
        return rc;
    if ((ops = pp_ymap_get(cal, "op_overhead_ms"))) {
        const char *op_keys[PP_CAL_N_OPS + 1] = {NULL};
        for (int i = 0; i < PP_CAL_N_OPS; i++)
            op_keys[i] = pp_calib_op_keys[i];
        if ((rc = pp_ymap_check(ops, "calibration.op_overhead_ms", op_keys, d)))
            return rc;
    }
    for (int i = 0; ops && i < PP_CAL_N_OPS; i++)
        if ((rc = opt_num(ops, pp_calib_op_keys[i], "calibration.op_overhead_ms", 0,
                          &c->op_overhead_ms[i], d)))
            return rc;
    if ((rc = opt_num(cal, "compute_scale", "calibration", 1, &c->compute_scale, d)) ||
        (rc = opt_num(cal, "step_overhead_ms", "calibration", 0, &c->step_overhead_ms, d)) ||
        (rc = opt_num(cal, "profile_overhead_ms", "calibration", 0, &c->profile_overhead_ms,
                      d)) ||
        (rc = opt_num(cal, "optimizer_ms_per_gb", "calibration", 0, &c->optimizer_ms_per_gb,
                      d)))
        return rc;
    if ((link = pp_ymap_get(cal, "link"))) {
        const struct pp_ynode *lat, *bw;
        if ((rc = pp_ymap_check(link, "calibration.link", link_keys, d)) ||
            (rc = pp_yneed(link, "calibration.link", "latency_ms", &lat, d)) ||
            (rc = pp_yneed(link, "calibration.link", "bandwidth_bytes_per_s", &bw, d)) ||
            (rc = pp_ynum_nonneg(lat, "calibration.link.latency_ms", &c->link_latency_ms, d)) ||
            (rc = pp_ynum_nonneg(bw, "calibration.link.bandwidth_bytes_per_s",
                                 &c->link_bandwidth_bytes_per_s, d)))
            return rc;
        c->has_link = 1;
    }
    if ((rc = opt_num(cal, "memory_overhead_bytes", "calibration", 0, &c->memory_overhead_bytes,
                      d)) ||
        (rc = opt_num(cal, "activation_scale", "calibration", 1, &c->activation_scale, d)))
        return rc;
    if ((v = pp_ymap_get(cal, "lazy_gradients")) &&
        (rc = pp_ybool(v, "calibration.lazy_gradients", &c->lazy_gradients, d)))
        return rc;
    return 0;
}

int pp_calib_parse(const char *buf, size_t len, const char *file, struct pp_calib *out,
                   struct pp_diag *d)
{
    struct pp_ydoc *doc;
    int rc = pp_ydoc_parse(buf, len, file, &doc, d);
    if (rc)
        return rc;
    struct pp_calib c;
    pp_calib_init(&c);
    const struct pp_ynode *root = doc->root, *cal;
    if (!root || root->kind != PP_Y_MAP)
        rc = root ? pp_ynode_error(root, PP_EPARSE, "", d,
                                   "expected a calibration: a mapping with 'calibration:'")
                  : pp_diag_set(d, PP_EPARSE, file, 0, 0,
                                "empty calibration file: expected a mapping with 'calibration:'");
    else if ((rc = pp_ymap_check(root, "", top_keys, d)) == 0 &&
             (rc = pp_yneed(root, "", "calibration", &cal, d)) == 0)
        rc = read_calibration(cal, &c, d);
    pp_ydoc_free(doc);
    if (rc == 0)
        *out = c;
    return rc;
}

int pp_calib_load(const char *path, struct pp_calib *out, struct pp_diag *d)
{
    char *buf;
    size_t len;
    int rc = pp_read_file(path, MAX_CALIB_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    rc = pp_calib_parse(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, out, d);
    free(buf);
    return rc;
}

void pp_calib_write_yaml(const struct pp_calib *c, const char *fit_yaml, struct pp_buf *b)
{
    pp_buf_puts(b, "# ppsim calibration (docs/costmodel.md, \"Calibration\"); a scenario applies "
                   "it with cluster.calibration: FILE\n");
    pp_buf_puts(b, "calibration:\n  op_overhead_ms:\n");
    for (int i = 0; i < PP_CAL_N_OPS; i++)
        pp_buf_printf(b, "    %s: %.17g\n", pp_calib_op_keys[i], c->op_overhead_ms[i]);
    pp_buf_printf(b, "  compute_scale: %.17g\n", c->compute_scale);
    pp_buf_printf(b, "  profile_overhead_ms: %.17g\n", c->profile_overhead_ms);
    pp_buf_printf(b, "  step_overhead_ms: %.17g\n", c->step_overhead_ms);
    pp_buf_printf(b, "  optimizer_ms_per_gb: %.17g\n", c->optimizer_ms_per_gb);
    if (c->has_link)
        pp_buf_printf(b, "  link:\n    latency_ms: %.17g\n    bandwidth_bytes_per_s: %.17g\n",
                      c->link_latency_ms, c->link_bandwidth_bytes_per_s);
    pp_buf_printf(b, "  memory_overhead_bytes: %.17g\n", c->memory_overhead_bytes);
    pp_buf_printf(b, "  activation_scale: %.17g\n", c->activation_scale);
    pp_buf_printf(b, "  lazy_gradients: %s\n", c->lazy_gradients ? "true" : "false");
    if (fit_yaml && *fit_yaml) {
        pp_buf_puts(b, fit_yaml);
        if (fit_yaml[strlen(fit_yaml) - 1] != '\n')
            pp_buf_puts(b, "\n");
    }
}
