/* calibrate.h - fit a calibration (calib.h) to measured pipeline runs.
 *
 * Each measured run (meas.h) is replayed by the simulator from the per-layer
 * profile it was measured with, in the harness's layout (tools/gpu: blocks
 * split as evenly as possible, the extra ones on the last stages, embedding
 * on the first and LM head on the last). The fit is GSL's trust-region
 * nonlinear least squares on relative errors, in two independent parts:
 * step times (the time parameters) and peak memory per rank (the memory
 * parameters). A parameter the fitted runs cannot identify (a zero or
 * dependent Jacobian column: p2p constants from one-GPU runs, say) stays at
 * its neutral value and is reported as such; one that comes out below its
 * physical floor is held at its neutral value (0, or 1 for the scales) and
 * the rest refitted (an active set); the report says so. The numerics are
 * src/lsq.[ch], shared with `ppsim calibrate generator`. */
#ifndef PP_CALIBRATE_H
#define PP_CALIBRATE_H

#include <stddef.h>

#include "calib.h"

struct pp_diag;
struct pp_meas;

enum pp_cal_param {
    /* time: fitted to step times */
    PP_CP_COMPUTE_SCALE,
    PP_CP_PROFILE_OVERHEAD,
    PP_CP_OP_F,
    PP_CP_OP_B,
    PP_CP_OP_BI,
    PP_CP_OP_BW,
    PP_CP_STEP,
    PP_CP_OPT_PER_GB,
    PP_CP_LINK_LATENCY,
    PP_CP_LINK_MS_PER_GB, /* 1 / bandwidth, so that 0 (infinite) is neutral */
    PP_CP_N_TIME,
    /* memory: fitted to peak memory per rank */
    PP_CP_ACT_SCALE = PP_CP_N_TIME,
    PP_CP_MEM_OVERHEAD, /* in GB */
    PP_CP_N
};
extern const char *const pp_cal_param_names[PP_CP_N];

/* One measurement file and the profile its runs are replayed from. */
struct pp_cal_data {
    const char *profile_path;
    const struct pp_meas *meas;
    /* p2p of the uncalibrated prediction (the profile's measured link) */
    double link_latency_ms, link_bandwidth_bytes_per_s;
};

struct pp_cal_opts {
    unsigned fit_mask;        /* bit p: parameter p may be fitted */
    int lazy_gradients;       /* the runtime frees gradients every step */
    /* Which runs the fit sees: schedule names (NULL = all) and data indices
     * (NULL = all); the others are held out and only predicted. */
    const char *const *fit_schedules;
    size_t n_fit_schedules;
    const int *fit_data;
    size_t n_fit_data;
    int max_iterations;       /* 0 = 200 */
};

struct pp_cal_pred {
    size_t data, run;         /* indices into the inputs */
    int in_fit;
    double step_ms_uncal, step_ms_cal;
    double *mem_uncal, *mem_cal; /* [ranks] bytes */
};

struct pp_cal_result {
    struct pp_calib calib;
    int fitted[PP_CP_N];      /* 1 fitted, 0 held neutral */
    char why[PP_CP_N][80];    /* why a parameter was not fitted */
    double value[PP_CP_N];    /* in the units of pp_cal_param_names */
    double sigma[PP_CP_N];    /* 1-sigma from the Jacobian at the optimum (0 if not fitted) */
    int iterations[2];        /* time fit, memory fit */
    double rms_rel[2];        /* RMS relative residual over the fitted runs */
    size_t n_fit_runs, n_fit_ranks;
    struct pp_cal_pred *preds;
    size_t n_preds;
};

void pp_cal_opts_init(struct pp_cal_opts *o);
/* Fit. Fails with -PP_EINVAL on data the profile cannot replay (layer counts
 * that disagree, a configuration ppsim refuses) or when no run is in
 * the fit set, and -PP_EINFEASIBLE when GSL does not converge (nothing is kept). */
int pp_calibrate(const struct pp_cal_data *data, size_t n_data, const struct pp_cal_opts *o,
                 struct pp_cal_result **out, struct pp_diag *d);
void pp_cal_result_free(struct pp_cal_result *r);

#endif
