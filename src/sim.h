/* sim.h - discrete-event replay of a plan (stage 4).
 *
 * Devices run their op lists in order. An op starts when its device is free,
 * its predecessor ops are done and its inputs have arrived. Each ordered pair
 * of devices that exchanges data has one link; a transfer occupies the link
 * for bytes / bandwidth (FIFO) and arrives `latency` later, so transfers queue
 * behind each other but overlap with compute. A zero-byte transfer or an
 * infinite bandwidth costs latency only, which is how the Zero Bubble paper's
 * tables model communication (schedules.md §6). Time is integer nanoseconds;
 * events are ordered by (time, priority, sequence). */
#ifndef PP_SIM_H
#define PP_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "evq.h"

struct pp_plan;
struct pp_partition;
struct pp_diag;

enum pp_recompute {
    PP_RECOMPUTE_NONE,
    PP_RECOMPUTE_FULL,      /* keep piece inputs; redo the forward before backward */
    PP_RECOMPUTE_SELECTIVE, /* keep recompute_activation_bytes; redo recompute_forward_ms */
};

struct pp_calib;

struct pp_sim_config {
    double link_bandwidth_bytes_per_s;  /* 0 = infinite */
    double link_latency_ms;
    double optimizer_state_bytes_per_parameter_byte;
    double gradient_bytes_per_parameter_byte;
    double optimizer_step_ms;           /* cost of each PP_OP_OPTIM */
    double device_memory_bytes;         /* 0 = unlimited */
    int record_spans;                   /* keep every op's start and end */
    /* Zero Bubble's model: a transfer costs latency only and never occupies a
     * link, whatever the bandwidth (schedules.md §6). */
    int latency_only;
    enum pp_recompute recompute;
    /* An overlapped F&B pair (DualPipe) costs F + B (one compute stream, the
     * communication hidden: the default) or max(F, B) (perfect overlap). */
    int fb_cost_max;
    const double *optimizer_step_ms_per_device; /* [n_devices], or NULL: optimizer_step_ms */
    /* PP_OP_ALLREDUCE: ring all-reduce of the device's gradients over
     * data_parallel replicas, 2(d-1)/d bytes/bandwidth + 2(d-1) latency. */
    int data_parallel;
    double dp_bandwidth_bytes_per_s;    /* 0 = infinite */
    double dp_latency_ms;
    /* The effects of a real runtime that an isolated profile misses
     * (calib.h): NULL = none. */
    const struct pp_calib *calib;
};

struct pp_span {
    pp_time start_ns, end_ns;
    /* the device's dynamic memory (activations + stashed weight versions)
     * just after the op started and just after it ended: a device runs its
     * ops one at a time, so these points are its memory timeline */
    int64_t mem_start_bytes, mem_end_bytes;
};

/* One link transfer, recorded when record_spans is set. */
struct pp_transfer {
    pp_time start_ns, end_ns; /* link occupied [start, start+bytes/bw); arrives at end_ns */
    int32_t src_dev, dst_dev;
    int32_t piece, mb;        /* the producing op's piece and microbatch */
    int32_t backward;         /* 1 for gradients */
};

struct pp_device_result {
    pp_time busy_ns;
    pp_time first_start_ns, last_end_ns;
    double static_bytes;          /* parameters + gradients + optimizer state */
    pp_time compute_ns;           /* busy in F, B, BI, BW, FB only */
    pp_time allreduce_ns;         /* data-parallel all-reduce on this device */
    double peak_activation_bytes;
    double peak_memory_bytes;     /* static + peak of (activations + stashed weights) */
    int peak_inflight;            /* most microbatches between F start and B end */
    int weight_versions;          /* peak weight versions held (1 for flushing schedules) */
    int over_memory;              /* peak exceeds device_memory_bytes */
};

struct pp_sim_result {
    pp_time makespan_ns;            /* first op start (t=0) to last op end */
    int n_devices;
    struct pp_device_result *dev;   /* [n_devices] */
    pp_time *mb_done_ns;            /* [n_microbatches]: end of each microbatch's first-piece backward */
    int64_t n_microbatches;
    struct pp_span *spans;          /* [n_ops] in plan order, or NULL */
    size_t n_ops;
    struct pp_transfer *transfers;  /* in request order (producer end), or NULL */
    size_t n_transfers;
    uint64_t n_events;
    double setup_s, loop_s;         /* host wall time of the two phases (benchmarks only) */
};

/* Replay `plan` with per-piece costs from `part` (part->n_pieces must equal
 * plan->n_pieces). Fails with -PP_EINVAL and names the stuck op if the plan
 * deadlocks. On success *out is owned (pp_sim_result_free). */
int pp_sim_run(const struct pp_plan *plan, const struct pp_partition *part,
               const struct pp_sim_config *cfg, struct pp_sim_result **out, struct pp_diag *d);
void pp_sim_result_free(struct pp_sim_result *r);

/* Milliseconds to simulated nanoseconds, rounded to nearest. */
pp_time pp_ms_to_ns(double ms);

#endif
