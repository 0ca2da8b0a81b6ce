/* schedcsv.c - read PyTorch's pipelining schedule CSV (schedcsv.h): rows,
 * cells and the action grammar here, the semantic checks in schedcsv_check.c;
 * and the dependency-order deadlock check, with the engine's rules.
 *
 * The input is untrusted (it is fuzzed): indices are capped as they are read
 * and the tables they later size are bounded by the file's own size. */
#include "schedcsv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "scenario.h" /* PP_MAX_* caps, shared with the scenario keys */
#include "schedcsv_int.h"
#include "schedule.h"
#include "xalloc.h"

#define MAX_FILE_BYTES (64u << 20)
#define MAX_PIECES (PP_MAX_STAGES * PP_MAX_CHUNKS)

const char *pp_csv_shown(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0, lim = cap - 4;
    for (size_t i = 0; i < n && k < lim; i++) {
        unsigned char c = (unsigned char)s[i];
        out[k++] = c >= 0x20 && c < 0x7f && c != '\'' ? (char)c : '?';
    }
    if (k < n)
        memcpy(out + k, "...", 3), k += 3;
    out[k] = '\0';
    return out;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Decimal digits at s[*i..n); -1 if none, -2 if above `max`. */
static int64_t digits(const char *s, size_t n, size_t *i, int64_t max)
{
    size_t start = *i;
    int64_t v = 0;
    int big = 0;
    while (*i < n && is_digit(s[*i])) {
        if (!big) {
            v = v * 10 + (s[*i] - '0');
            big = v > max;
        }
        (*i)++;
    }
    return *i == start ? -1 : big ? -2 : v;
}

/* _action_regex's alternatives, in its order; F, I, B, W first (compute). */
static const char *const type_names[] = {"F",      "I",      "B",      "W",
                                         "UNSHARD", "RESHARD", "REDUCE_GRAD", "SEND_F",
                                         "RECV_F", "SEND_B", "RECV_B"};

static const char expected_syntax[] =
    "expected STAGE then F, B, I, W or a comm action, then MICROBATCH";

/* One plain action, s[0..n) trimmed. Fills a->kind, stage, mb. */
static int parse_single(struct pp_csvparser *p, const char *s, size_t n, uint32_t line,
                        uint32_t col, struct pp_act *a)
{
    char t[80], u[80];
    size_t i = 0;
    int64_t stage = digits(s, n, &i, MAX_PIECES - 1);
    if (stage == -1)
        return pp_diag_set(p->d, PP_EPARSE, p->file, line, col, "malformed action '%s' (%s)",
                           pp_csv_shown(s, n, t, sizeof t), expected_syntax);
    if (stage == -2)
        return pp_diag_set(p->d, PP_ENOMEM, p->file, line, col,
                           "action '%s': stage index above the limit of %d",
                           pp_csv_shown(s, n, t, sizeof t), MAX_PIECES - 1);
    /* The type is the whole run of capitals, so "2BW0" is not "2B" + junk. */
    size_t te = i;
    while (te < n && ((s[te] >= 'A' && s[te] <= 'Z') || s[te] == '_'))
        te++;
    int type = -1;
    for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++) {
        if (strlen(type_names[k]) == te - i && memcmp(s + i, type_names[k], te - i) == 0) {
            type = (int)k;
            i = te;
            break;
        }
    }
    if (type < 0)
        return pp_diag_set(p->d, PP_EPARSE, p->file, line, col, "malformed action '%s' (%s)",
                           pp_csv_shown(s, n, t, sizeof t), expected_syntax);
    size_t mb_at = i;
    int64_t mb = digits(s, n, &i, PP_MAX_MICROBATCHES - 1);
    if (i < n)
        return pp_diag_set(p->d, PP_EPARSE, p->file, line, col,
                           "malformed action '%s' (microbatch '%s' is not a number)",
                           pp_csv_shown(s, n, t, sizeof t),
                           pp_csv_shown(s + mb_at, n - mb_at, u, sizeof u));
    if (mb == -2)
        return pp_diag_set(p->d, PP_ENOMEM, p->file, line, col,
                           "action '%s': microbatch index above the limit of %d",
                           pp_csv_shown(s, n, t, sizeof t), PP_MAX_MICROBATCHES - 1);
    static const int kinds[4] = {A_F, A_I, A_B, A_W};
    a->kind = type < 4 ? kinds[type] : A_COMM;
    if (a->kind != A_COMM && mb < 0)
        return pp_diag_set(p->d, PP_EPARSE, p->file, line, col,
                           "malformed action '%s' (a compute action needs a microbatch, e.g. %s0)",
                           pp_csv_shown(s, n, t, sizeof t), pp_csv_shown(s, n, u, sizeof u));
    a->stage = (int32_t)stage;
    a->mb = (int32_t)mb;
    return 0;
}

static void trim(const char *s, size_t *a, size_t *b)
{
    while (*a < *b && is_ws(s[*a]))
        (*a)++;
    while (*b > *a && is_ws(s[*b - 1]))
        (*b)--;
}

/* "(0F3;7B1)OVERLAP_F_B": PyTorch skips empty sub-actions; the engine's FB op
 * is exactly one forward with one full backward, in either order. */
static int parse_overlap(struct pp_csvparser *p, const char *s, size_t n, uint32_t line,
                         uint32_t col, struct pp_act *a)
{
    char t[80];
    const char *close = memchr(s, ')', n);
    static const char suffix[] = "OVERLAP_F_B";
    if (!close || (size_t)(s + n - close - 1) != sizeof suffix - 1 ||
        memcmp(close + 1, suffix, sizeof suffix - 1) != 0)
        return pp_diag_set(p->d, PP_EPARSE, p->file, line, col,
                           "malformed action '%s' (expected (F action;B action)OVERLAP_F_B)",
                           pp_csv_shown(s, n, t, sizeof t));
    size_t inner_end = (size_t)(close - s), i = 1;
    int n_sub = 0, have_f = 0, have_b = 0;
    while (i <= inner_end) {
        size_t e = i;
        while (e < inner_end && s[e] != ';')
            e++;
        size_t x = i, y = e;
        trim(s, &x, &y);
        if (x < y) {
            struct pp_act sub;
            int rc = parse_single(p, s + x, y - x, line, col + (uint32_t)x, &sub);
            if (rc)
                return rc;
            n_sub++;
            if (sub.kind == A_F && !have_f) {
                have_f = 1;
                a->stage = sub.stage;
                a->mb = sub.mb;
            } else if (sub.kind == A_B && !have_b) {
                have_b = 1;
                a->stage2 = sub.stage;
                a->mb2 = sub.mb;
            }
        }
        i = e + 1;
    }
    if (n_sub != 2 || !have_f || !have_b)
        return pp_diag_set(p->d, PP_EINVAL, p->file, line, col,
                           "action '%s': OVERLAP_F_B pairs one forward (F) with one full "
                           "backward (B)", pp_csv_shown(s, n, t, sizeof t));
    a->kind = A_FB;
    return 0;
}

static int add_action(struct pp_csvparser *p, size_t a, size_t b, size_t line_start, uint32_t line,
                      int32_t rank)
{
    struct pp_act act;
    memset(&act, 0, sizeof act);
    act.line = line;
    act.col = (uint32_t)(a - line_start + 1);
    act.off = (uint32_t)a;
    act.len = (uint32_t)(b - a);
    act.rank = rank;
    act.stage2 = act.mb2 = -1;
    const char *s = p->buf + a;
    int rc = s[0] == '(' ? parse_overlap(p, s, b - a, line, act.col, &act)
                         : parse_single(p, s, b - a, line, act.col, &act);
    if (rc)
        return rc;
    if (p->n == p->cap)
        p->acts = pp_xgrow(p->acts, &p->cap, p->n + 1, sizeof *p->acts);
    p->acts[p->n++] = act;
    return 0;
}

static void add_row(struct pp_csvparser *p, uint32_t line)
{
    if (p->rows == p->row_cap)
        p->row_line = pp_xgrow(p->row_line, &p->row_cap, p->rows + 1, sizeof *p->row_line);
    p->row_line[p->rows++] = line;
}

/* Split into rows and cells (csv.reader: "," between cells, a cell may be
 * quoted, \n, \r\n or \r ends a row) and parse every non-empty cell. Blank
 * lines at the end are not ranks; elsewhere a blank row is a rank that idles,
 * as csv.reader + _load_csv read it. */
static int tokenize(struct pp_csvparser *p)
{
    const char *s = p->buf;
    size_t n = p->len, i = 0;
    uint32_t line = 1;
    size_t pending_blank = 0;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        i = 3; /* a spreadsheet's byte-order mark */
    /* Actions are ASCII: name a stray byte (Latin-1 text, a binary file) rather
     * than report it as part of a malformed action. */
    for (size_t k = i, ls = i, ln = 1; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '\n' || (c == '\r' && (k + 1 >= n || s[k + 1] != '\n'))) {
            ln++;
            ls = k + 1;
        } else if (c >= 0x7f || (c < 0x20 && c != '\r' && !is_ws((char)c))) {
            return pp_diag_set(p->d, PP_EPARSE, p->file, (unsigned)ln, (unsigned)(k - ls + 1),
                               "not a schedule CSV: byte 0x%02x is not printable ASCII text",
                               (unsigned)c);
        }
    }
    while (i < n) {
        size_t line_start = i;
        int blank = 1;
        size_t rank = p->rows + pending_blank;
        for (;;) {
            size_t a = i, b;
            if (i < n && s[i] == '"') {
                size_t q = i + 1;
                while (q < n && s[q] != '"' && s[q] != '\n' && s[q] != '\r')
                    q++;
                if (q >= n || s[q] != '"')
                    return pp_diag_set(p->d, PP_EPARSE, p->file, line,
                                       (unsigned)(i - line_start + 1), "unterminated quoted cell");
                b = q + 1;
                while (b < n && s[b] != ',' && s[b] != '\n' && s[b] != '\r')
                    b++;
                if (b != q + 1) { /* text after the closing quote, or a "" escape */
                    char t[80];
                    return pp_diag_set(p->d, PP_EPARSE, p->file, line,
                                       (unsigned)(i - line_start + 1),
                                       "malformed action '%s' (%s)",
                                       pp_csv_shown(s + i, b - i, t, sizeof t), expected_syntax);
                }
                i = b;
                a = a + 1;
                b = q;
                blank = 0;
            } else {
                while (i < n && s[i] != ',' && s[i] != '\n' && s[i] != '\r')
                    i++;
                b = i;
            }
            trim(s, &a, &b);
            if (a < b) {
                blank = 0;
                int rc = add_action(p, a, b, line_start, line, (int32_t)rank);
                if (rc)
                    return rc;
            }
            if (i < n && s[i] == ',') {
                blank = 0;
                i++;
                continue;
            }
            break;
        }
        if (i < n && s[i] == '\r') {
            i++;
            if (i < n && s[i] == '\n')
                i++;
        } else if (i < n && s[i] == '\n') {
            i++;
        }
        if (blank) {
            pending_blank++;
        } else {
            if (rank >= PP_MAX_STAGES)
                return pp_diag_set(p->d, PP_ENOMEM, p->file, line, 1,
                                   "more than %d rows; each row is one rank", PP_MAX_STAGES);
            for (size_t k = pending_blank; k > 0; k--)
                add_row(p, line - (uint32_t)k);
            pending_blank = 0;
            add_row(p, line);
        }
        line++;
    }
    return 0;
}

int pp_schedcsv_parse(const char *buf, size_t len, const char *file,
                      const struct pp_schedcsv_expect *expect, struct pp_plan **out,
                      struct pp_diag *d)
{
    struct pp_diag scratch = {{0}, 0, 0, {0}};
    struct pp_csvparser p;
    memset(&p, 0, sizeof p);
    p.buf = buf;
    p.len = len;
    p.file = file ? file : "<schedule>";
    p.d = d ? d : &scratch;
    *out = NULL;
    if (len > MAX_FILE_BYTES)
        return pp_diag_set(p.d, PP_ENOMEM, p.file, 0, 0, "schedule is larger than %u bytes",
                           MAX_FILE_BYTES);
    int rc = tokenize(&p);
    if (rc == 0)
        rc = pp_csv_check_build(&p, expect, out);
    free(p.acts);
    free(p.row_line);
    return rc;
}

int pp_schedcsv_load(const char *path, const struct pp_schedcsv_expect *expect,
                     struct pp_plan **out, struct pp_diag *d)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = pp_read_file(path, MAX_FILE_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    rc = pp_schedcsv_parse(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, expect, out, d);
    free(buf);
    return rc;
}

/* --- deadlock: run the lists in dependency order, costs ignored --- */

/* As the engine's wrap_binds (sim.c): ZB's quirk releases the wrap-around edge. */
static int wrap_binds(const struct pp_plan *plan, int to, int64_t mb)
{
    return !plan->wrap_dep_every || to % plan->n_devices != 0 || mb % plan->wrap_dep_every == 0;
}

/* Bits of a cell once produced: the forward output, the input gradient. */
enum { D_F = 1, D_BI = 2 };

/* The first unmet dependency of op o (the engine's op_deps), or 0 when ready.
 * -1: the op names a piece or microbatch out of range. */
static int first_unmet(const struct pp_plan *plan, const uint8_t *done, const struct pp_op *op,
                       size_t *cell, int *bit, int *piece, int64_t *mb)
{
    int np = plan->n_pieces, all = np * plan->copies;
    int64_t m = plan->n_microbatches;
    int nh = op->kind == PP_OP_FB ? 2 : 1;
    for (int h = 0; h < nh; h++) {
        int kind = op->kind == PP_OP_FB ? (h ? PP_OP_B : PP_OP_F) : op->kind;
        int k = h ? op->piece2 : op->piece;
        int64_t b = h ? op->mb2 : op->mb;
        if (kind == PP_OP_OPTIM || kind == PP_OP_ALLREDUCE)
            return 0;
        if (kind < 0 || kind >= PP_OP_KIND_COUNT || k < 0 || k >= all || b < 0 || b >= m)
            return -1;
        int local = k % np;
        int need[2][2], n = 0; /* (piece, bit) */
        if (kind == PP_OP_F) {
            if (local > 0 && wrap_binds(plan, local, b))
                need[n][0] = k - 1, need[n++][1] = D_F;
        } else if (kind == PP_OP_B || kind == PP_OP_BI) {
            if (local < np - 1 && wrap_binds(plan, local + 1, b))
                need[n][0] = k + 1, need[n++][1] = D_BI;
            need[n][0] = k, need[n++][1] = D_F;
        } else if (kind == PP_OP_BW) {
            need[n][0] = k, need[n++][1] = D_BI;
        }
        for (int j = 0; j < n; j++) {
            size_t c = (size_t)need[j][0] * (size_t)m + (size_t)b;
            if (!(done[c] & need[j][1])) {
                *cell = c;
                *bit = need[j][1];
                *piece = need[j][0];
                *mb = b;
                return 1;
            }
        }
    }
    return 0;
}

/* Devices advance as far as their dependencies allow; a blocked device waits
 * on one cell and is woken when that cell gains an output, so the whole run is
 * linear in ops. The final positions do not depend on the visiting order.
 * Returns the number of blocked devices, or -1 for an op out of range. */
int pp_plan_blocked(const struct pp_plan *plan, struct pp_blocked *b)
{
    int nd = plan->n_devices;
    int64_t m = plan->n_microbatches;
    size_t cells = (size_t)plan->n_pieces * (size_t)plan->copies * (size_t)(m > 0 ? m : 0);
    uint8_t *done = pp_xcalloc(cells ? cells : 1, 1);
    int32_t *head = pp_xmalloc((cells ? cells : 1) * sizeof *head);
    int32_t *next = pp_xmalloc((size_t)nd * sizeof *next);
    int32_t *stack = pp_xmalloc((size_t)nd * sizeof *stack);
    size_t *pos = pp_xmalloc((size_t)nd * sizeof *pos);
    for (size_t c = 0; c < cells; c++)
        head[c] = -1;
    int sp = 0, bad = 0;
    for (int dv = nd - 1; dv >= 0; dv--) {
        pos[dv] = plan->dev_first[dv];
        stack[sp++] = dv;
    }
    while (sp > 0 && !bad) {
        int dv = stack[--sp];
        while (pos[dv] < plan->dev_first[dv + 1]) {
            const struct pp_op *op = &plan->ops[pos[dv]];
            size_t cell = 0;
            int bit = 0, piece = 0;
            int64_t mb = 0;
            int r = first_unmet(plan, done, op, &cell, &bit, &piece, &mb);
            if (r < 0) {
                bad = 1;
                break;
            }
            if (r > 0) {
                b[dv] = (struct pp_blocked){pos[dv], bit == D_F ? PP_OP_F : PP_OP_BI, piece, mb};
                next[dv] = head[cell];
                head[cell] = dv;
                break;
            }
            /* Done: publish its outputs and wake whoever waits on them. */
            size_t outc[2];
            uint8_t outb[2];
            int no = 0;
            if (op->kind == PP_OP_F || op->kind == PP_OP_FB)
                outc[no] = (size_t)op->piece * (size_t)m + (size_t)op->mb, outb[no++] = D_F;
            if (op->kind == PP_OP_B || op->kind == PP_OP_BI)
                outc[no] = (size_t)op->piece * (size_t)m + (size_t)op->mb, outb[no++] = D_BI;
            if (op->kind == PP_OP_FB)
                outc[no] = (size_t)op->piece2 * (size_t)m + (size_t)op->mb2, outb[no++] = D_BI;
            for (int j = 0; j < no; j++) {
                done[outc[j]] |= outb[j];
                for (int32_t w = head[outc[j]], nx; w >= 0; w = nx) {
                    nx = next[w];
                    stack[sp++] = w;
                }
                head[outc[j]] = -1;
            }
            pos[dv]++;
        }
    }
    int blocked = 0;
    for (int dv = 0; dv < nd; dv++) {
        if (pos[dv] == plan->dev_first[dv + 1])
            b[dv].op = SIZE_MAX;
        else
            blocked++;
    }
    free(done);
    free(head);
    free(next);
    free(stack);
    free(pos);
    return bad ? -1 : blocked;
}

/* "1B0": the op that would produce what b waits for, in action syntax. */
void pp_plan_blocked_need(const struct pp_plan *plan, const struct pp_blocked *b, char *out,
                          size_t len)
{
    if (b->need_kind == PP_OP_F) {
        snprintf(out, len, "%dF%lld", b->need_piece, (long long)b->need_mb);
        return;
    }
    int dv = plan->piece_device[b->need_piece];
    for (size_t o = plan->dev_first[dv]; o < plan->dev_first[dv + 1]; o++) {
        const struct pp_op *op = &plan->ops[o];
        int full = (op->kind == PP_OP_B && op->piece == b->need_piece && op->mb == b->need_mb) ||
                   (op->kind == PP_OP_FB && op->piece2 == b->need_piece && op->mb2 == b->need_mb);
        if (full || (op->kind == PP_OP_BI && op->piece == b->need_piece && op->mb == b->need_mb)) {
            snprintf(out, len, "%d%c%lld", b->need_piece, full ? 'B' : 'I',
                     (long long)b->need_mb);
            return;
        }
    }
    snprintf(out, len, "%dI%lld or %dB%lld, which no device runs", b->need_piece,
             (long long)b->need_mb, b->need_piece, (long long)b->need_mb);
}

int pp_plan_find_deadlock(const struct pp_plan *plan, char *msg, size_t len)
{
    size_t nd = plan->n_devices > 0 ? (size_t)plan->n_devices : 1;
    struct pp_blocked *b = pp_xmalloc(nd * sizeof *b);
    int n = pp_plan_blocked(plan, b);
    if (n == 0) {
        free(b);
        if (len)
            msg[0] = '\0';
        return 0;
    }
    size_t used = 0;
    if (n < 0) {
        snprintf(msg, len, "invalid plan: an op names a piece or microbatch out of range");
        free(b);
        return -PP_EINVAL;
    }
    used = (size_t)snprintf(msg, len, "deadlock:");
    int listed = 0;
    for (int dv = 0; dv < plan->n_devices && used < len; dv++) {
        if (b[dv].op == SIZE_MAX)
            continue;
        if (listed == 6) {
            snprintf(msg + used, len - used, " and %d more devices", n - listed);
            break;
        }
        char at[64], need[96];
        pp_schedcsv_action(&plan->ops[b[dv].op], at, sizeof at);
        pp_plan_blocked_need(plan, &b[dv], need, sizeof need);
        used += (size_t)snprintf(msg + used, len - used, "%s device %d blocks at op %zu (%s, waits "
                                 "for %s)", listed ? ";" : "", dv,
                                 b[dv].op - plan->dev_first[dv], at, need);
        listed++;
    }
    free(b);
    return -PP_EINVAL;
}

