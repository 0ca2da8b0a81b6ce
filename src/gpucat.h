/* gpucat.h - the GPU catalogue: peak rates, memory and links of accelerators,
 * each number with the document it comes from (models/gpus.yaml).
 *
 * The built-in catalogue is models/gpus.yaml compiled into the binary, so a
 * ppsim run never depends on where it was installed. A user file given with
 * --gpu-catalogue adds entries; an entry whose name (or an alias) matches a
 * built-in one replaces that entry as a whole (docs/costmodel.md §GPU catalogue).
 *
 * Every value in the file is a mapping {value: NUMBER, source: "TEXT"}: a number
 * without a source is refused, so the catalogue cannot drift away from its
 * datasheets unnoticed. Units are in the key names. */
#ifndef PP_GPUCAT_H
#define PP_GPUCAT_H

#include <stddef.h>

struct pp_diag;

/* Achievable fractions of the peaks above (the roofline's efficiency factors;
 * docs/costmodel.md §Efficiency factors says how the defaults were chosen). */
struct pp_gpu_eff {
    double gemm;       /* dense tensor-core GEMM, of the dtype's peak */
    double memory;     /* streaming (element-wise) kernels, of the HBM bandwidth */
    double collective; /* NCCL ring collectives, of the scale-up bandwidth */
    double network;    /* point-to-point between nodes, of the network bandwidth */
    double attention;  /* fused (flash) attention kernels, of the dtype's peak */
    double collective_latency_us; /* fixed cost of one collective */
    double op_overhead_us;        /* added to every kernel (launch, sync) */
};

/* Field order of pp_gpu_eff, for sources and messages. */
enum { PP_GPU_EFF_N = 7 };
extern const char *const pp_gpu_eff_keys[PP_GPU_EFF_N];

struct pp_gpu {
    char *name;
    char *description;
    char **aliases; /* n_aliases names also accepted (matched like the name) */
    size_t n_aliases;
    /* Peak dense tensor-core rates in FLOP/s; 0 = the GPU has no such unit. */
    double bf16_flops, fp16_flops, fp8_flops;
    double hbm_bytes;          /* capacity */
    double hbm_bytes_per_s;    /* peak */
    double scaleup_bytes_per_s;  /* NVLink / Infinity Fabric, per GPU, per direction */
    int scaleup_gpus;            /* GPUs sharing one scale-up domain (TP stays inside it) */
    double network_bytes_per_s;  /* scale-out NIC bandwidth per GPU, per direction */
    int sm_count;                /* streaming multiprocessors / compute units */
    struct pp_gpu_eff eff;
    /* "key: source" lines for every number above, in file order. */
    char **sources;
    size_t n_sources;
    char *file; /* the catalogue it came from */
};

struct pp_gpucat {
    struct pp_gpu *gpus;
    size_t n;
};

/* The built-in catalogue (models/gpus.yaml as compiled in); the `file` of
 * its entries is PP_GPUCAT_BUILTIN_FILE. */
#define PP_GPUCAT_BUILTIN_FILE "models/gpus.yaml (built in)"
int pp_gpucat_builtin(struct pp_gpucat **out, struct pp_diag *d);
/* Parse a catalogue from a buffer; `file` names it in messages. */
int pp_gpucat_parse(const char *buf, size_t len, const char *file, struct pp_gpucat **out,
                    struct pp_diag *d);
/* Built-in catalogue merged with the user's file (may be NULL): the user's
 * entries first, replacing built-ins of the same name. */
int pp_gpucat_load(const char *user_file, struct pp_gpucat **out, struct pp_diag *d);
void pp_gpucat_free(struct pp_gpucat *cat);

/* Find a GPU by name or alias, ignoring case and punctuation ("h100 sxm" =
 * "H100-SXM"). An unknown name fails with -PP_EINVAL and a message naming the
 * closest entries and listing the catalogue. */
int pp_gpucat_find(const struct pp_gpucat *cat, const char *name, const struct pp_gpu **out,
                   struct pp_diag *d);

#endif
