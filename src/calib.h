/* calib.h - a calibration: the physical effects that separate a per-layer
 * profile taken in isolation from the same layers running inside a real
 * pipeline runtime (docs/costmodel.md, "Calibration").
 *
 * File format (YAML, written by `ppsim calibrate`, applied by a scenario's
 * `cluster.calibration: FILE`):
 *   calibration:
 *     op_overhead_ms: {forward: T, backward: T, backward_input: T, backward_weight: T}
 *     compute_scale: K            # in-pipeline compute time / profiled
 *     profile_overhead_ms: T      # per layer and op: what timing one layer alone adds
 *     step_overhead_ms: T         # per iteration and device: zero_grad, loss, launches
 *     optimizer_ms_per_gb: T      # optimizer step per GB of parameters on the device
 *     link: {latency_ms: T, bandwidth_bytes_per_s: B}   # p2p alpha-beta (optional)
 *     memory_overhead_bytes: B    # per device: allocator, workspaces, loss buffers
 *     activation_scale: K         # in-pipeline activation bytes / profiled
 *     lazy_gradients: BOOL        # gradients exist only from a piece's first backward
 *   fit: {...}                    # provenance and residuals, informational
 * Every key of `calibration` is optional; an absent one leaves the scenario's
 * value (or the neutral default) alone. */
#ifndef PP_CALIB_H
#define PP_CALIB_H

#include <stddef.h>

struct pp_diag;

enum pp_calib_op { PP_CAL_F, PP_CAL_B, PP_CAL_BI, PP_CAL_BW, PP_CAL_N_OPS };
extern const char *const pp_calib_op_keys[PP_CAL_N_OPS];

struct pp_calib {
    /* Host work of one schedule action (Python dispatch, autograd bookkeeping,
     * kernel launches not hidden behind the GPU): added to each op. */
    double op_overhead_ms[PP_CAL_N_OPS];
    double compute_scale;          /* 1 = the profile as is */
    /* Timing one layer alone (CUDA events around one module call) adds its
     * launch and synchronisation latency to every layer's time; a stage runs
     * its layers back to back and hides it. Subtracted per layer and op,
     * before compute_scale, never below 0. */
    double profile_overhead_ms;
    double step_overhead_ms;       /* added to each device's optimizer op */
    double optimizer_ms_per_gb;    /* ditto, times the device's parameter GB */
    int has_link;                  /* link_* below replace cluster.link */
    double link_latency_ms;
    double link_bandwidth_bytes_per_s; /* 0 = infinite */
    double memory_overhead_bytes;
    double activation_scale;       /* 1 = the profile as is */
    int lazy_gradients;            /* zero_grad(set_to_none=True) semantics */
};

/* The neutral calibration: applying it changes nothing. */
void pp_calib_init(struct pp_calib *c);
int pp_calib_is_neutral(const struct pp_calib *c);

/* Parse a calibration file; `file` names it in diagnostics (file:line:col,
 * unknown keys with "did you mean", negative or non-finite values refused). */
int pp_calib_parse(const char *buf, size_t len, const char *file, struct pp_calib *out,
                   struct pp_diag *d);
int pp_calib_load(const char *path, struct pp_calib *out, struct pp_diag *d);

struct pp_buf;
/* Append the file format above: `calibration:` with every field (numbers
 * with %.17g so that parse(write(c)) == c), then `fit_yaml` verbatim when
 * not NULL (a block starting with "fit:", written by the fitter). */
void pp_calib_write_yaml(const struct pp_calib *c, const char *fit_yaml, struct pp_buf *b);

#endif
