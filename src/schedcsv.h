/* schedcsv.h - PyTorch torch.distributed.pipelining schedule CSV, both ways
 * (schedules.md §4).
 *
 * One row per rank, one cell per action, an empty cell is an idle step:
 *   cell    := action | "(" STAGE "F" MB ";" STAGE "B" MB ")OVERLAP_F_B" | empty
 *   action  := STAGE TYPE [MB]    (decimal STAGE and MB; MB required for F I B W)
 *   TYPE    := F | I | B | W | UNSHARD | RESHARD | REDUCE_GRAD
 *            | SEND_F | RECV_F | SEND_B | RECV_B
 * (_Action.from_str in torch/distributed/pipelining/schedules.py; the two
 * halves of an OVERLAP_F_B may come in either order). Cells may be quoted and
 * padded with blanks, rows end in \n, \r\n or \r, blank lines at the end are
 * not ranks (csv.reader's conventions). PyTorch's
 * stage index is ppsim's piece index (model order); the row that runs a stage
 * places it. F, I, W, B and OVERLAP_F_B become PP_OP_F, PP_OP_BI, PP_OP_BW,
 * PP_OP_B and PP_OP_FB; communication and FSDP actions are accepted and
 * ignored, since the engine derives every transfer from the op kinds. So the
 * "compute_only" and "compute_comms" files of one schedule import to the same
 * plan. Each rank ends with one PP_OP_OPTIM: a PyTorch step() is one flushing
 * iteration.
 *
 * Stricter than PyTorch on purpose: a cell must be one whole action (its regex
 * ignores trailing text, so "2BW0" would silently read as "2B"). */
#ifndef PP_SCHEDCSV_H
#define PP_SCHEDCSV_H

#include <stddef.h>
#include <stdint.h>

struct pp_plan;
struct pp_diag;
struct pp_buf;

/* What the caller knows of the pipeline; 0 = infer from the file. */
struct pp_schedcsv_expect {
    int ranks;            /* rows: pipeline.stages */
    int pieces;           /* PyTorch stages: pipeline.stages x pipeline.chunks */
    int64_t microbatches; /* pipeline.microbatches; inferred as the largest index + 1 */
};

/* Parse buf[0..len) (need not be NUL-terminated; any bytes are safe) into a
 * PP_SCHED_CUSTOM plan: placement from the rows, chunks = pieces / ranks.
 * Checks PyTorch's _validate_schedule rules (every stage runs every
 * microbatch's forward once, then a full backward B or an input-gradient
 * backward I before its weight-gradient backward W; one rank per stage) and
 * that the schedule can finish under the engine's dependencies
 * (pp_plan_find_deadlock). Every error is one line at file:line:col naming the
 * offending action. expect may be NULL. On success *out is owned
 * (pp_plan_free). Returns 0, -PP_EPARSE (syntax), -PP_EINVAL, or -PP_ENOMEM
 * for a file over 64 MiB. Limits: PP_MAX_STAGES rows, stage indices below
 * PP_MAX_STAGES x PP_MAX_CHUNKS, microbatches below PP_MAX_MICROBATCHES. */
int pp_schedcsv_parse(const char *buf, size_t len, const char *file,
                      const struct pp_schedcsv_expect *expect, struct pp_plan **out,
                      struct pp_diag *d);

/* pp_read_file (path "-" = stdin) then pp_schedcsv_parse. */
int pp_schedcsv_load(const char *path, const struct pp_schedcsv_expect *expect,
                     struct pp_plan **out, struct pp_diag *d);

/* Append plan as PyTorch's CSV to out, one "\n"-terminated row per rank.
 * with_comms = 0: the "compute_only" form (F, I, W, B, OVERLAP_F_B). 1: the
 * "compute_comms" form as _PipelineScheduleRuntime lowers it, i.e.
 * _add_reduce_grad (REDUCE_GRAD after a stage's last B or W) then
 * _add_send_recv (SEND_F/RECV_F after F, SEND_B/RECV_B after I or B, none
 * between stages on one rank), without the FSDP-only UNSHARD/RESHARD
 * prefetches (no-ops without FSDP). Refuses what the format cannot say: two
 * model copies, weight stashing (no flush), the ZB wrap quirk, an optimizer
 * step that is not a rank's last op. PP_OP_ALLREDUCE ops are left out (PyTorch
 * reduces per stage, REDUCE_GRAD). Returns 0 or -PP_EINVAL. */
int pp_schedcsv_write(const struct pp_plan *plan, int with_comms, struct pp_buf *out,
                      struct pp_diag *d);

/* One op in PyTorch's action syntax: "0F3", "2I1", "(0F3;7B1)OVERLAP_F_B"
 * (global piece ids); the per-device ops, which PyTorch does not write, read
 * "OPTIM" and "ALLREDUCE". Returns buf. */
struct pp_op;
const char *pp_schedcsv_action(const struct pp_op *op, char *buf, size_t len);

/* Can the plan finish? Runs every device's list in order under the engine's
 * dependencies (schedule.h; ZB's wrap quirk included), costs ignored. Returns
 * 0 when it finishes; -PP_EINVAL when it cannot, with msg naming the first
 * blocked op of each blocked device and what it waits for, e.g. "deadlock:
 * device 0 blocks at op 2 (0B0, waits for 1B0); ...", ops in PyTorch's
 * action syntax with global piece ids. */
int pp_plan_find_deadlock(const struct pp_plan *plan, char *msg, size_t len);

#endif
