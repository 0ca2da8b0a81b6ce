/* genfit.h - fit the transformer generator's efficiency factors (xformer.h,
 * gpucat.h) to measured per-layer times: `ppsim calibrate generator`
 * (docs/costmodel.md "Generator calibration").
 *
 * Input: the profile CSV of tools/gpu/profile.py (columns in tools/gpu/README.md,
 * formats.PROFILE_COLUMNS): one row per (rank, layer, split method), each with
 * the layer's shape and its measured forward, input-gradient, weight-gradient
 * and full backward times. Each row is predicted by the generator for its
 * shape (one GPU, no TP, flash attention, causal, 16-bit gradients: the
 * harness's model, tools/gpu/blocks.py) and the catalogue GPU's factors; GSL's
 * trust-region least squares on relative errors then fits the factors the
 * times depend on: gemm, attention and memory efficiency and the per-kernel
 * op_overhead_us. Collectives and the network do not occur on one GPU and are
 * never fitted here. A factor the data cannot identify (no effect, a Jacobian
 * column dependent on earlier ones, or a 1-sigma as large as its value) keeps
 * its catalogue value and is reported with the reason; an efficiency fitted
 * above 1 (or an overhead below 0) is pinned at the bound and the rest refitted.
 * Nothing here prints. */
#ifndef PP_GENFIT_H
#define PP_GENFIT_H

#include <stddef.h>

#include "gpucat.h"
#include "xformer.h"

struct pp_diag;
struct pp_buf;

/* Which split of the backward a row's backward_input/weight times come from
 * (tools/gpu/README.md, profile.csv). */
enum pp_gf_method { PP_GF_PIPELINING, PP_GF_AUTOGRAD };
extern const char *const pp_gf_method_names[2];

enum pp_gf_kind { PP_GF_EMBED, PP_GF_BLOCK, PP_GF_HEAD };
extern const char *const pp_gf_kind_names[3];

/* The measured times of a row, in column order. */
enum pp_gf_obs { PP_GF_F, PP_GF_BI, PP_GF_BW, PP_GF_B, PP_GF_NOBS };
extern const char *const pp_gf_obs_names[PP_GF_NOBS]; /* "forward", ..., "backward" */

/* The fitted factors, in the order their Jacobian columns are taken
 * (docs/costmodel.md says why). */
enum pp_gf_param { PP_GF_GEMM, PP_GF_MEMORY, PP_GF_OVERHEAD, PP_GF_ATTENTION, PP_GF_N };
extern const char *const pp_gf_param_names[PP_GF_N]; /* the gpus.yaml efficiency keys */

struct pp_gf_row {
    char *file;           /* the CSV, for messages and reports */
    unsigned line;        /* the row's line */
    char *layer;          /* the `layer` cell: "embed", "block.3", "head" */
    enum pp_gf_kind kind;
    long rank;
    char *gpu_name;       /* as measured (`gpu_name`, "" when the column is absent) */
    struct pp_xf_shape shape;
    enum pp_gf_method method; /* the split used */
    int fallback;         /* the requested split was missing for this layer */
    int in_fit;           /* 0: predicted only (held out) */
    /* Measured ms; backward_input 0 = no input gradient was computed (the
     * embedding): the generator's input-gradient work then counts as weight
     * gradient, as PyTorch's pipelining does for a first stage. */
    double meas_ms[PP_GF_NOBS];
};

struct pp_gf_data {
    struct pp_gf_row *rows;
    size_t n;
};

/* Read the rows of one profile CSV into `into` (appended), keeping one split
 * method per (rank, layer): `method`, or the other where a layer has only that.
 * Every refusal is one line with file:line:col and the column. */
int pp_gf_parse(const char *buf, size_t len, const char *file, enum pp_gf_method method,
                int in_fit, struct pp_gf_data *into, struct pp_diag *d);
int pp_gf_load(const char *path, enum pp_gf_method method, int in_fit, struct pp_gf_data *into,
               struct pp_diag *d);
void pp_gf_data_free(struct pp_gf_data *g);

/* The generator's prediction of a row's four times (pp_gf_obs order) for a GPU
 * and factors: the row's layer kind built by pp_xf_build for its shape;
 * backward = backward_input + backward_weight. Pure; -PP_EINVAL naming the row
 * when the generator refuses the shape. */
int pp_gf_predict(const struct pp_gf_row *r, const struct pp_gpu *gpu,
                  const struct pp_gpu_eff *eff, double out[PP_GF_NOBS], struct pp_diag *d);

struct pp_gf_opts {
    unsigned fit_mask;  /* bit p: factor p may be fitted (default all) */
    int max_iterations; /* per trust-region solve; 0 = 200 */
};

enum pp_gf_status { PP_GF_NOT_FITTED, PP_GF_FITTED, PP_GF_PINNED };

struct pp_gf_result {
    struct pp_gpu_eff eff0;          /* the catalogue's */
    struct pp_gpu_eff eff;           /* calibrated: the fitted ones replaced */
    enum pp_gf_status status[PP_GF_N];
    double value[PP_GF_N];           /* as in eff (op_overhead_us in us) */
    double sigma[PP_GF_N];           /* 1-sigma, same unit; 0 unless fitted */
    char why[PP_GF_N][200];          /* not fitted or pinned: why */
    int iterations;                  /* of the last solve */
    int solves;
    size_t n_res;                    /* measured times in the fit */
    double rms_rel;                  /* RMS relative residual of the fit */
    double (*uncal)[PP_GF_NOBS];     /* per row: catalogue prediction */
    double (*cal)[PP_GF_NOBS];       /* per row: calibrated prediction */
    size_t n_rows;
};

void pp_gf_opts_init(struct pp_gf_opts *o);
/* Fit the rows with in_fit set; predict every row before and after. Fails
 * with -PP_EINVAL when no row is in the fit or a shape is refused, and with
 * -PP_EINFEASIBLE when a solve does not converge (nothing is returned). */
int pp_gf_fit(const struct pp_gf_data *g, const struct pp_gpu *gpu, const struct pp_gf_opts *o,
              struct pp_gf_result **out, struct pp_diag *d);
void pp_gf_result_free(struct pp_gf_result *r);

/* Which of a row's times are compared (measured > 0; backward_input only
 * where an input gradient was measured). */
int pp_gf_obs_used(const struct pp_gf_row *r, int obs);

/* A GPU catalogue (models/gpus.yaml format) holding one entry: `gpu` renamed
 * `name`, without its aliases, with the calibrated factors; every fitted or
 * pinned factor's source names the fit, `files` (NULL-terminated) and its
 * sigma, the others keep their sources. `header` (may be NULL) is written
 * first as # comments, one per line. */
void pp_gf_write_catalogue(struct pp_buf *b, const struct pp_gpu *gpu, const char *name,
                           const struct pp_gf_result *r, const char *const *files,
                           const char *header);

#endif
