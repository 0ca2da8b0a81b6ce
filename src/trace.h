/* trace.h - Chrome trace-event JSON of simulated runs, for Perfetto
 * (ui.perfetto.dev) and chrome://tracing (docs/trace.md).
 *
 * One file holds any number of runs; each is one trace process:
 *   pp_trace_begin(&t, &buf);
 *   pp_trace_add_run(&t, run0, 0, "label 0", &opts, &d);   (configuration 0)
 *   pp_trace_add_run(&t, run1, 1, "label 1", &opts, &d);
 *   pp_trace_end(&t);
 *   pp_write_file_atomic(path, buf.data, buf.len, &d);
 * Runs must be made with record_spans (pp_run_scenario). Configuration index
 * i becomes pid i + 1: Perfetto treats pid 0 as the kernel's swapper.
 *
 * Per run (tids in display order, each named by a thread_name record and
 * ordered by thread_sort_index):
 *   tid 1 .. D        device d's compute track: every op of the plan as one
 *                     "X" event (zero-duration ops included), name "F mb3",
 *                     "BW mb3 c1" (c = chunk, only when chunks > 1),
 *                     "F mb3 + B mb1" for an overlapped pair, "OPT", "AR";
 *                     category = the op kind (pp_op_kind_name)
 *   tid D+1 ..        one track per link direction "link 0->1" with its
 *                     transfers as "X" events [start, arrival); a transfer
 *                     that overlaps the one before it (latency outlasting the
 *                     link occupancy) goes to an extra lane "link 0->1 #2", so
 *                     events on a track never partially overlap
 *   "device d memory" a counter ("C") of static bytes (parameters, gradients,
 *                     optimizer state) + dynamic bytes (activations, stashed
 *                     weights) at every op start and end; its maximum is the
 *                     report's peak_memory_bytes
 *   flows             one "s"/"f" pair (bp "e") per data dependency of
 *                     schedule.h, producer -> consumer, same device or not;
 *                     ids are (pid << 32) + dependency number, unique in the file
 * Times are microseconds printed exactly from integer nanoseconds (3 decimals),
 * numbers never depend on the locale, and the bytes depend only on the inputs.
 *
 * Iterations (opts->iter_first .. iter_last - 1): an iteration is one
 * optimizer step. A flushing schedule's simulated plan is iteration 0. The
 * schedules without a flush (pipedream, pipedream-2bw, localsgd, and naive,
 * which is pipedream with one microbatch in flight) update the weights with
 * every microbatch, so there iteration i is microbatch i, as PipeDream counts;
 * an op without a microbatch (an all-reduce) belongs to the microbatch of the
 * op before it on its device. Transfers and flows are kept when both of their
 * ops are. */
#ifndef PP_TRACE_H
#define PP_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct pp_buf;
struct pp_run;
struct pp_diag;

struct pp_trace_opts {
    int64_t iter_first, iter_last; /* keep [first, last); last == 0: everything */
};

struct pp_trace {
    struct pp_buf *b;
    size_t n_events; /* events written so far (also places the separators) */
};

/* Start the JSON document in b (appends; b stays the caller's). */
void pp_trace_begin(struct pp_trace *t, struct pp_buf *b);

/* Append run r as process index + 1 named `label` (NULL: scenario name,
 * schedule and shape). opts may be NULL (everything). Returns 0, or
 * -PP_EINVAL (no spans, index out of 0 .. 2^20-1, or the run's transfers do
 * not match its dependencies) with the buffer left as it was. */
int pp_trace_add_run(struct pp_trace *t, const struct pp_run *r, int index, const char *label,
                     const struct pp_trace_opts *opts, struct pp_diag *d);

/* Close the JSON document. */
void pp_trace_end(struct pp_trace *t);

/* Parse "A:B" (whole numbers, 0 <= A < B) into opts. 0, or -PP_EINVAL with
 * the reason in d. */
int pp_trace_parse_iterations(const char *s, struct pp_trace_opts *opts, struct pp_diag *d);

/* Does the run's schedule update weights every microbatch (no flush)? */
int pp_trace_per_microbatch(const struct pp_run *r);

#endif
