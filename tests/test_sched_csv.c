/* test_sched_csv.c - PyTorch pipelining schedule CSV (schedules.md §4): import
 * rules and errors, export forms, round trips, the custom schedule and the
 * deadlock check. Oracles: the op orders of schedules.md §2.1 (GPipe) and §2.2
 * (1F1B), and two CSVs PyTorch itself produced (see pytorch_artifacts). */
#include "testutil.h"

#include "buf.h"
#include "diag.h"
#include "partition.h"
#include "schedcsv.h"
#include "schedule.h"
#include "sim.h"
#include "simutil.h"

static struct pp_plan *parse(const char *csv, const struct pp_schedcsv_expect *ex,
                             struct pp_diag *d)
{
    struct pp_plan *plan = NULL;
    int rc = pp_schedcsv_parse(csv, strlen(csv), "t.csv", ex, &plan, d);
    CU_ASSERT_EQUAL(rc == 0, plan != NULL);
    return plan;
}

/* "t.csv:L:C: error: ..." for a CSV that must fail. */
static const char *parse_error(const char *csv, const struct pp_schedcsv_expect *ex, char *line,
                               size_t len)
{
    struct pp_diag d;
    memset(&d, 0, sizeof d);
    struct pp_plan *plan = parse(csv, ex, &d);
    CU_ASSERT_PTR_NULL(plan);
    pp_plan_free(plan);
    return pp_diag_format(&d, line, len);
}

/* The plan written back as compute-only CSV. */
static char *csv_of(const struct pp_plan *plan, int comms)
{
    struct pp_buf b;
    struct pp_diag d;
    pp_buf_init(&b);
    int rc = pp_schedcsv_write(plan, comms, &b, &d);
    CHECK_STR(rc ? d.msg : "", "");
    if (!b.data)
        pp_buf_append(&b, "", 0);
    return b.data;
}

static int plans_equal(const struct pp_plan *a, const struct pp_plan *b)
{
    if (a->n_devices != b->n_devices || a->n_pieces != b->n_pieces || a->chunks != b->chunks ||
        a->copies != b->copies || a->n_microbatches != b->n_microbatches ||
        a->weights != b->weights || a->wrap_dep_every != b->wrap_dep_every ||
        a->n_ops != b->n_ops || (a->mb_copy == NULL) != (b->mb_copy == NULL))
        return 0;
    for (int k = 0; k < a->n_pieces * a->copies; k++)
        if (a->piece_device[k] != b->piece_device[k])
            return 0;
    for (int dv = 0; dv <= a->n_devices; dv++)
        if (a->dev_first[dv] != b->dev_first[dv])
            return 0;
    for (size_t o = 0; o < a->n_ops; o++) {
        const struct pp_op *x = &a->ops[o], *y = &b->ops[o];
        if (x->kind != y->kind || x->piece != y->piece || x->mb != y->mb ||
            (x->kind == PP_OP_FB && (x->piece2 != y->piece2 || x->mb2 != y->mb2)))
            return 0;
    }
    return 1;
}

/* schedules.md §2.1/§2.2 orders, as PyTorch writes them (compute_only). */
static void test_import_gpipe_1f1b(void)
{
    struct pp_diag d;
    /* GPipe: every stage F0..F(m-1) then B0..B(m-1); PyTorch's own IR pads
     * ranks with idle (empty) cells and ends with REDUCE_GRAD. */
    struct pp_plan *p = parse("0F0,0F1,0F2,0B0,0B1,0B2,0REDUCE_GRAD\n"
                              ",1F0,1F1,1F2,,,,1B0,1B1,1B2,1REDUCE_GRAD\n",
                              NULL, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(p->kind, PP_SCHED_CUSTOM);
    CHECK_INT(p->n_devices, 2);
    CHECK_INT(p->n_pieces, 2);
    CHECK_INT(p->chunks, 1);
    CHECK_INT(p->n_microbatches, 3);
    CHECK_INT(p->dev_first[1], 7); /* 6 compute ops + the flush */
    CHECK_INT(p->ops[6].kind, PP_OP_OPTIM);
    CHECK_INT(p->ops[p->n_ops - 1].kind, PP_OP_OPTIM);
    CHECK_INT(p->ops[3].kind, PP_OP_B);
    struct pp_sched_params sp = {.stages = 2, .chunks = 1, .microbatches = 3};
    struct pp_plan *ref = NULL;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_GPIPE, &sp, &ref, &d), 0);
    CU_ASSERT_TRUE(plans_equal(p, ref));
    pp_plan_free(ref);
    pp_plan_free(p);

    /* 1F1B (§2.2): rank r runs min(p-r-1, m) warm-up forwards, then F/B pairs. */
    p = parse("0F0,0F1,0F2,0F3,0B0,0F4,0B1,0F5,0B2,0F6,0B3,0F7,0B4,0B5,0B6,0B7\n"
              "1F0,1F1,1F2,1B0,1F3,1B1,1F4,1B2,1F5,1B3,1F6,1B4,1F7,1B5,1B6,1B7\n"
              "2F0,2F1,2B0,2F2,2B1,2F3,2B2,2F4,2B3,2F5,2B4,2F6,2B5,2F7,2B6,2B7\n"
              "3F0,3B0,3F1,3B1,3F2,3B2,3F3,3B3,3F4,3B4,3F5,3B5,3F6,3B6,3F7,3B7\n",
              NULL, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    struct pp_sched_params sp4 = {.stages = 4, .chunks = 1, .microbatches = 8};
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_1F1B, &sp4, &ref, &d), 0);
    CU_ASSERT_TRUE(plans_equal(p, ref));
    pp_plan_free(ref);
    pp_plan_free(p);
}

/* csv.reader details PyTorch files carry: CRLF (csv.writer's default), a
 * trailing comma, quoted cells, spaces (from_str strips), trailing blank
 * lines, a byte-order mark; all the same plan. */
static void test_csv_forms(void)
{
    struct pp_diag d;
    struct pp_plan *a = parse("0F0,0F1,0B0,0B1\n1F0,1B0,1F1,1B1\n", NULL, &d);
    const char *variants[] = {
        "0F0,0F1,0B0,0B1\r\n1F0,1B0,1F1,1B1\r\n",
        "0F0,0F1,0B0,0B1,\n1F0,1B0,1F1,1B1,,\n\n\n",
        "\"0F0\", 0F1 ,\t0B0,0B1\n,,1F0,\"1B0\",1F1,1B1",
        "\xEF\xBB\xBF" "0F0,0F1,0B0,0B1\r1F0,1B0,1F1,1B1\r",
        /* compute_comms form: comm and FSDP actions are ignored */
        "0UNSHARD,0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0B0,0RECV_B1,0B1,0REDUCE_GRAD,0RESHARD\n"
        "1RECV_F0,1F0,1B0,1SEND_B0,1RECV_F1,1F1,1B1,1SEND_B1,1REDUCE_GRAD\n",
    };
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        struct pp_plan *b = parse(variants[i], NULL, &d);
        CU_ASSERT_PTR_NOT_NULL(b);
        if (!b)
            printf("variant %zu: %s\n", i, d.msg);
        CU_ASSERT_TRUE(b && plans_equal(a, b));
        pp_plan_free(b);
    }
    pp_plan_free(a);
}

/* A handwritten interleaved schedule (2 ranks, 2 chunks, looped placement:
 * stage k on rank k mod 2) and a V-shaped one with split backwards and an
 * overlapped pair: placement and chunks come from the rows. */
static void test_placement(void)
{
    struct pp_diag d;
    const char *inter = "0F0,0F1,2F0,2F1,0F2,0F3,2B0,2F2,2B1,2F3,0B0,0B1,2B2,2B3,0B2,0B3\n"
                        "1F0,1F1,3F0,3F1,3B0,3B1,1F2,1F3,1B0,1B1,3F2,3F3,3B2,3B3,1B2,1B3\n";
    struct pp_plan *p = parse(inter, NULL, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(p->chunks, 2);
    CHECK_INT(p->n_pieces, 4);
    CHECK_INT(p->piece_device[2], 0);
    CHECK_INT(p->piece_device[3], 1);
    char *text = csv_of(p, 0);
    CHECK_STR(text, inter);
    free(text);
    pp_plan_free(p);

    const char *v = "0F0,0F1,3F0,3I0,3W0,(3F1;0B0)OVERLAP_F_B,3I1,3W1,0B1\n"
                    "1F0,2F0,1F1,2I0,2W0,(2F1;1B0)OVERLAP_F_B,2B1,1I1,1W1\n";
    p = parse(v, NULL, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(p->piece_device[0], 0);
    CHECK_INT(p->piece_device[1], 1);
    CHECK_INT(p->piece_device[2], 1);
    CHECK_INT(p->piece_device[3], 0);
    const struct pp_op *fb = &p->ops[5];
    CHECK_INT(fb->kind, PP_OP_FB);
    CHECK_INT(fb->piece, 3);
    CHECK_INT(fb->piece2, 0);
    CHECK_INT(p->ops[3].kind, PP_OP_BI);
    CHECK_INT(p->ops[4].kind, PP_OP_BW);
    text = csv_of(p, 0);
    CHECK_STR(text, v);
    free(text);
    /* The engine replays it (the parser's deadlock check agrees with it). */
    struct pp_costmodel *cm = uniform_model(4, 1, 1, 1, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_sim_config cfg = {0};
    struct pp_sim_result *r = NULL;
    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 4, &part, &d), 0);
    CHECK_INT(pp_sim_run(p, part, &cfg, &r, &d), 0);
    pp_sim_result_free(r);
    pp_partition_free(part);
    free_model(cm);
    pp_plan_free(p);
}

/* Export then import is the identity, in both forms, and export is stable. */
static void roundtrip(enum pp_schedule_kind kind, int stages, int chunks, int64_t m)
{
    struct pp_sched_params sp = {.stages = stages, .chunks = chunks, .microbatches = m};
    struct pp_plan *ref = NULL, *back = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(kind, &sp, &ref, &d), 0);
    for (int comms = 0; comms < 2; comms++) {
        char *text = csv_of(ref, comms);
        struct pp_schedcsv_expect ex = {stages, stages * chunks, m};
        int rc = pp_schedcsv_parse(text, strlen(text), "rt.csv", &ex, &back, &d);
        CHECK_STR(rc ? d.msg : "", "");
        if (rc == 0) {
            CU_ASSERT_TRUE(plans_equal(ref, back));
            char *again = csv_of(back, comms);
            CHECK_STR(again, text);
            free(again);
            pp_plan_free(back);
        }
        free(text);
    }
    pp_plan_free(ref);
}

static void test_roundtrip(void)
{
    roundtrip(PP_SCHED_GPIPE, 4, 1, 8);
    roundtrip(PP_SCHED_1F1B, 4, 1, 8);
    roundtrip(PP_SCHED_1F1B, 4, 1, 2); /* m < p */
    roundtrip(PP_SCHED_INTERLEAVED_1F1B, 2, 2, 4);
    roundtrip(PP_SCHED_ZB_H1, 3, 1, 6);
}

/* Exact writer output: 1F1B p=2 m=3 (§2.2), and GPipe's lowering by
 * _add_reduce_grad + _add_send_recv, worked through by hand: rank 0 places
 * 0F0 and its SEND (rank 1 gets RECV_F0), ...; rank 0's 0B0 waits until rank 1
 * has placed 1B0 (which put 0RECV_B0 on rank 0). */
static void test_write_exact(void)
{
    struct pp_sched_params sp = {.stages = 2, .chunks = 1, .microbatches = 3};
    struct pp_plan *p = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_1F1B, &sp, &p, &d), 0);
    char *text = csv_of(p, 0);
    CHECK_STR(text, "0F0,0F1,0B0,0F2,0B1,0B2\n1F0,1B0,1F1,1B1,1F2,1B2\n");
    free(text);
    pp_plan_free(p);
    sp.microbatches = 2;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_GPIPE, &sp, &p, &d), 0);
    text = csv_of(p, 1);
    CHECK_STR(text, "0F0,0SEND_F0,0F1,0SEND_F1,0RECV_B0,0B0,0RECV_B1,0B1,0REDUCE_GRAD\n"
                    "1RECV_F0,1F0,1RECV_F1,1F1,1B0,1SEND_B0,1B1,1SEND_B1,1REDUCE_GRAD\n");
    free(text);
    pp_plan_free(p);
}

/* Oracles PyTorch produced, from pytorch/pytorch test/distributed/pipelining/
 * artifacts/. zb1p_2rank_2stagep_{compute,comms}.csv predate the I/B rename:
 * there B meant input backward and BW full backward, and the comms file is
 * _merge_bw + _add_send_recv of the compute file (test_schedule.py test_csv).
 * Below, the compute file with I for B and _merge_bw applied, and the comms
 * file with I for B and B for BW; our lowering adds REDUCE_GRAD, which that
 * file predates, so those cells are dropped before comparing. */
static const char zb1p_compute[] =
    "0F0,0F1,2F0,2F1,2B0,0F2,2B1,0F3,0B0,2F2,0B1,2F3,2B2,0F4,2B3,0F5,0B2,2F4,0B3,2F5,2B4,0F6,2B5,"
    "0F7,0B4,2F6,0B5,2F7,2B6,2B7,0B6,0B7\n"
    "1F0,1F1,3F0,3I0,3F1,3I1,3W0,1F2,1I0,3W1,1F3,1I1,1W0,3F2,3I2,1W1,3F3,3I3,3W2,1F4,1I2,3W3,1F5,"
    "1I3,1W2,3F4,3I4,1W3,3F5,3I5,3W4,1F6,1I4,3W5,1F7,1I5,1W4,3F6,3I6,1W5,3F7,3I7,3W6,1I6,3W7,1I7,"
    "1W6,1W7\n";
static const char zb1p_comms[] =
    "0F0,0SEND_F0,2RECV_F0,0F1,0SEND_F1,2RECV_F1,2F0,2SEND_F0,2F1,2SEND_F1,2RECV_B0,2B0,2SEND_B0,"
    "0F2,0SEND_F2,2RECV_B1,2B1,2SEND_B1,0F3,0SEND_F3,2RECV_F2,0RECV_B0,0B0,2F2,2SEND_F2,2RECV_F3,"
    "0RECV_B1,0B1,2F3,2SEND_F3,2RECV_B2,2B2,2SEND_B2,0F4,0SEND_F4,2RECV_B3,2B3,2SEND_B3,0F5,"
    "0SEND_F5,2RECV_F4,0RECV_B2,0B2,2F4,2SEND_F4,2RECV_F5,0RECV_B3,0B3,2F5,2SEND_F5,2RECV_B4,2B4,"
    "2SEND_B4,0F6,0SEND_F6,2RECV_B5,2B5,2SEND_B5,0F7,0SEND_F7,2RECV_F6,0RECV_B4,0B4,2F6,2SEND_F6,"
    "2RECV_F7,0RECV_B5,0B5,2F7,2SEND_F7,2RECV_B6,2B6,2SEND_B6,2RECV_B7,2B7,2SEND_B7,0RECV_B6,0B6,"
    "0RECV_B7,0B7\n"
    "1RECV_F0,1F0,1SEND_F0,1RECV_F1,1F1,1SEND_F1,3RECV_F0,3F0,3RECV_F1,3I0,3SEND_B0,1RECV_B0,3F1,"
    "1RECV_F2,3I1,3SEND_B1,1RECV_B1,3W0,1RECV_F3,1F2,1SEND_F2,1I0,1SEND_B0,3W1,3RECV_F2,1F3,"
    "1SEND_F3,1I1,1SEND_B1,1W0,3RECV_F3,3F2,3I2,3SEND_B2,1RECV_B2,1W1,1RECV_F4,3F3,3I3,3SEND_B3,"
    "1RECV_B3,3W2,1RECV_F5,1F4,1SEND_F4,1I2,1SEND_B2,3W3,3RECV_F4,1F5,1SEND_F5,1I3,1SEND_B3,1W2,"
    "3RECV_F5,3F4,3I4,3SEND_B4,1RECV_B4,1W3,1RECV_F6,3F5,3I5,3SEND_B5,1RECV_B5,3W4,1RECV_F7,1F6,"
    "1SEND_F6,1I4,1SEND_B4,3W5,3RECV_F6,1F7,1SEND_F7,1I5,1SEND_B5,1W4,3RECV_F7,3F6,3I6,3SEND_B6,"
    "1RECV_B6,1W5,3F7,3I7,3SEND_B7,1RECV_B7,3W6,1I6,1SEND_B6,3W7,1I7,1SEND_B7,1W6,1W7\n";
/* dualpipev_4rank_10mb.csv, PyTorch's ScheduleDualPipeV (V placement,
 * OVERLAP_F_B, mixed B and I/W), verbatim. */
static const char dualpipev[] =
    "0F0,0F1,0F2,0F3,0F4,0F5,0F6,7F0,7I0,7W0,7F1,7I1,7W1,7F2,7I2,7W2,7F3,(0F7;7B3)OVERLAP_F_B,"
    "(7F4;0B0)OVERLAP_F_B,(0F8;7B4)OVERLAP_F_B,(7F5;0B1)OVERLAP_F_B,(0F9;7B5)OVERLAP_F_B,"
    "(7F6;0B2)OVERLAP_F_B,7B6,(7F7;0B3)OVERLAP_F_B,7B7,(7F8;0B4)OVERLAP_F_B,7B8,"
    "(7F9;0B5)OVERLAP_F_B,7B9,0I6,0W6,0I7,0W7,0I8,0W8,0I9,0W9\n"
    "1F0,1F1,1F2,1F3,1F4,6F0,1F5,6F1,6I0,6W0,6F2,6I1,6W1,6F3,(1F6;6B2)OVERLAP_F_B,"
    "(6F4;1B0)OVERLAP_F_B,(1F7;6B3)OVERLAP_F_B,(6F5;1B1)OVERLAP_F_B,(1F8;6B4)OVERLAP_F_B,"
    "(6F6;1B2)OVERLAP_F_B,(1F9;6B5)OVERLAP_F_B,(6F7;1B3)OVERLAP_F_B,6B6,(6F8;1B4)OVERLAP_F_B,6B7,"
    "(6F9;1B5)OVERLAP_F_B,6B8,1B6,6I9,1I7,6W9,1I8,1W7,1I9,1W8,1W9\n"
    "2F0,2F1,2F2,5F0,2F3,5F1,2F4,5F2,5I0,5W0,5F3,(2F5;5B1)OVERLAP_F_B,(5F4;2B0)OVERLAP_F_B,"
    "(2F6;5B2)OVERLAP_F_B,(5F5;2B1)OVERLAP_F_B,(2F7;5B3)OVERLAP_F_B,(5F6;2B2)OVERLAP_F_B,"
    "(2F8;5B4)OVERLAP_F_B,(5F7;2B3)OVERLAP_F_B,(2F9;5B5)OVERLAP_F_B,(5F8;2B4)OVERLAP_F_B,5B6,"
    "(5F9;2B5)OVERLAP_F_B,5B7,2B6,5B8,2I7,5I9,2I8,2W7,2I9,5W9,2W8,2W9\n"
    "3F0,4F0,3F1,4F1,3F2,4F2,3F3,4F3,3F4,4B0,(4F4;3B0)OVERLAP_F_B,(3F5;4B1)OVERLAP_F_B,"
    "(4F5;3B1)OVERLAP_F_B,(3F6;4B2)OVERLAP_F_B,(4F6;3B2)OVERLAP_F_B,(3F7;4B3)OVERLAP_F_B,"
    "(4F7;3B3)OVERLAP_F_B,(3F8;4B4)OVERLAP_F_B,(4F8;3B4)OVERLAP_F_B,(3F9;4B5)OVERLAP_F_B,"
    "(4F9;3B5)OVERLAP_F_B,4B6,3B6,4B7,3B7,4I8,3I8,4I9,3I9,4W8,3W8,4W9,3W9\n";

/* Drop the REDUCE_GRAD cells, counting them. */
static int drop_reduce_grad(char *s)
{
    int n = 0;
    char *w = s;
    for (char *r = s; *r;) {
        size_t len = strcspn(r, ",\n");
        if (len > 11 && strncmp(r + len - 11, "REDUCE_GRAD", 11) == 0) {
            n++;
            if (w > s && w[-1] == ',' && r[len] == '\n')
                w--; /* the comma before a row's last cell */
            r += len + (r[len] == ',');
            continue;
        }
        memmove(w, r, len + (r[len] != '\0'));
        w += len + (r[len] != '\0');
        r += len + (r[len] != '\0');
    }
    *w = '\0';
    return n;
}

static void test_pytorch_artifacts(void)
{
    struct pp_diag d;
    struct pp_schedcsv_expect ex = {2, 4, 8};
    struct pp_plan *p = parse(zb1p_compute, &ex, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    char *comms = csv_of(p, 1);
    CHECK_INT(drop_reduce_grad(comms), 4); /* one per stage */
    CHECK_STR(comms, zb1p_comms);
    free(comms);
    struct pp_plan *q = parse(zb1p_comms, &ex, &d); /* the comms form imports alike */
    CU_ASSERT_TRUE(q && plans_equal(p, q));
    pp_plan_free(q);
    pp_plan_free(p);

    struct pp_schedcsv_expect ex2 = {4, 8, 10};
    p = parse(dualpipev, &ex2, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CHECK_INT(p->piece_device[0], 0);
    CHECK_INT(p->piece_device[7], 0);
    CHECK_INT(p->piece_device[4], 3);
    char *text = csv_of(p, 0);
    CHECK_STR(text, dualpipev);
    free(text);
    comms = csv_of(p, 1); /* lowering never stalls on a schedule PyTorch runs */
    q = parse(comms, &ex2, &d);
    CU_ASSERT_TRUE(q && plans_equal(p, q));
    pp_plan_free(q);
    free(comms);
    pp_plan_free(p);
}

/* The files in bad/schedule/ and the one line each must give. */
static const struct {
    const char *file;
    struct pp_schedcsv_expect ex;
    const char *line;
} bad[] = {
    {"malformed_action.csv", {0, 0, 0}, "3:17: error: malformed action '0X3' (expected STAGE then F, B, I, W or a comm action, then MICROBATCH)"},
    {"nonnumeric_microbatch.csv", {0, 0, 0}, "2:5: error: malformed action '1Fone' (microbatch 'one' is not a number)"},
    {"legacy_bw.csv", {0, 0, 0}, "1:9: error: malformed action '0BW0' (expected STAGE then F, B, I, W or a comm action, then MICROBATCH)"},
    {"unterminated_quote.csv", {0, 0, 0}, "1:5: error: unterminated quoted cell"},
    {"empty.csv", {0, 0, 0}, "1:1: error: empty schedule (expected one row of actions per rank)"},
    {"stage_on_two_ranks.csv", {0, 0, 0}, "3:9: error: action '1B0' on rank 2 runs stage 1, which rank 1 runs too (at 2:1); a stage belongs to one rank"},
    {"missing_forward.csv", {0, 0, 0}, "2:1: error: stage 1 never runs the forward of microbatch 1 (every stage runs microbatches 0..2; stage 1 starts at '1F0')"},
    {"w_before_i.csv", {0, 0, 0}, "2:13: error: action '1W1' runs before the input-gradient backward (I) of stage 1 microbatch 1"},
    {"backward_before_forward.csv", {0, 0, 0}, "1:5: error: action '0B1' runs before the forward of stage 0 microbatch 1"},
    {"missing_weight.csv", {0, 0, 0}, "1:5: error: action '0I0' has no weight-gradient backward (W) after it for stage 0 microbatch 0"},
    {"deadlock.csv", {0, 0, 0}, "1:5: error: deadlock: the schedule can never finish; rank 0 blocks at '0B0' (waits for 1B0), rank 1 blocks at '1F1' (waits for 0F1)"},
    {"rank_count.csv", {4, 0, 0}, "3:1: error: the schedule has 3 ranks (rows), expected 4"},
    {"microbatch_range.csv", {0, 0, 2}, "1:9: error: action '0F2' names microbatch 2, but there are 2"},
    {"overlap_pair.csv", {0, 0, 0}, "1:17: error: action '(0F2;1I0)OVERLAP_F_B': OVERLAP_F_B pairs one forward (F) with one full backward (B)"},
    {"uneven_stages.csv", {0, 0, 0}, "1:1: error: 3 stages do not split evenly over 2 ranks (chunks = stages / ranks must be a whole number)"},
    {"stage_gap.csv", {0, 0, 0}, "3:1: error: action '3F0' names stage 3, but no action runs stage 2 (stages are numbered 0..N-1 in model order)"},
    {"comm_on_wrong_rank.csv", {0, 0, 0}, "2:1: error: action '0RECV_F0' on rank 1 names stage 0, which rank 0 runs (PyTorch places a comm action on its stage's rank)"},
};

static void test_bad_files(void)
{
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char path[256], want[600], got[1024];
        struct pp_plan *plan = NULL;
        struct pp_diag d;
        snprintf(path, sizeof path, "bad/schedule/%s", bad[i].file);
        snprintf(want, sizeof want, "%s:%s", path, bad[i].line);
        CU_ASSERT_NOT_EQUAL(pp_schedcsv_load(path, &bad[i].ex, &plan, &d), 0);
        CU_ASSERT_PTR_NULL(plan);
        CHECK_STR(pp_diag_format(&d, got, sizeof got), want);
    }
}

/* Errors that need no file: comm-only rows, a duplicate, mixing B with I/W. */
static void test_more_errors(void)
{
    char line[1024];
    CHECK_STR(parse_error("0F0,0B0,0REDUCE_GRAD\n1UNSHARD\n", NULL, line, sizeof line),
              "t.csv:2:1: error: action '1UNSHARD' names stage 1, which no compute action runs");
    CHECK_STR(parse_error("0F0,0F0,0B0\n", NULL, line, sizeof line),
              "t.csv:1:5: error: action '0F0' repeats the forward of stage 0 microbatch 0");
    CHECK_STR(parse_error("0F0,0I0,0B0\n", NULL, line, sizeof line),
              "t.csv:1:9: error: action '0B0' mixes a full backward (B) with split I/W backwards "
              "of stage 0 microbatch 0");
    CHECK_STR(parse_error("0F0,0F\n", NULL, line, sizeof line),
              "t.csv:1:5: error: malformed action '0F' (a compute action needs a microbatch, e.g. "
              "0F0)");
    struct pp_schedcsv_expect ex = {0, 4, 0};
    CHECK_STR(parse_error("0F0,0B0\n1F0,1B0\n", &ex, line, sizeof line),
              "t.csv:1:1: error: no action runs stage 2 (the pipeline has 4 stages x chunks)");
    CHECK_STR(parse_error("  ,\n", NULL, line, sizeof line),
              "t.csv:1:1: error: the schedule has no compute actions (F, I, B, W or OVERLAP_F_B)");
}

/* The custom schedule replays the imported plan through pp_plan_build. */
static void test_custom_schedule(void)
{
    struct pp_diag d;
    struct pp_plan *imp = parse("0F0,0F1,0I0,0W0,0I1,0W1\n1F0,1I0,1F1,1I1,1W0,1W1\n", NULL, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(imp);
    struct pp_sched_params sp = {.stages = 2, .chunks = 1, .microbatches = 2, .custom = imp};
    struct pp_plan *p = NULL;
    CU_ASSERT_EQUAL_FATAL(pp_plan_build(PP_SCHED_CUSTOM, &sp, &p, &d), 0);
    CU_ASSERT_TRUE(plans_equal(p, imp));
    pp_plan_free(p);
    sp.microbatches = 3;
    CHECK_INT(pp_plan_build(PP_SCHED_CUSTOM, &sp, &p, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "pipeline.microbatches: the schedule file runs a different number");
    sp.microbatches = 2;
    sp.stages = 1;
    sp.chunks = 2;
    CHECK_INT(pp_plan_build(PP_SCHED_CUSTOM, &sp, &p, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "pipeline.stages: the schedule file has one row per rank");
    sp.custom = NULL;
    CHECK_INT(pp_plan_build(PP_SCHED_CUSTOM, &sp, &p, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "pipeline.schedule_file: no schedule was imported");
    pp_plan_free(imp);
}

/* What the CSV cannot say is refused, not written wrongly. */
static void test_write_refuses(void)
{
    struct pp_sched_params sp = {.stages = 2, .chunks = 1, .microbatches = 1};
    struct pp_plan *p = pp_plan_alloc(PP_SCHED_CHIMERA, &sp, 4);
    pp_plan_set_copies(p);
    pp_plan_push(p, 0, PP_OP_F, 0, 0);
    pp_plan_push(p, 1, PP_OP_F, 1, 0);
    pp_plan_push(p, 1, PP_OP_B, 1, 0);
    pp_plan_push(p, 0, PP_OP_B, 0, 0);
    pp_plan_push(p, 0, PP_OP_OPTIM, -1, -1);
    pp_plan_push(p, 1, PP_OP_OPTIM, -1, -1);
    pp_plan_finish(p);
    struct pp_buf b;
    struct pp_diag d;
    pp_buf_init(&b);
    CHECK_INT(pp_schedcsv_write(p, 0, &b, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "chimera holds two model copies");
    p->copies = 1;
    p->weights = PP_WEIGHTS_STASH;
    CHECK_INT(pp_schedcsv_write(p, 0, &b, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "never flushes");
    p->weights = PP_WEIGHTS_FLUSH;
    p->ops[p->dev_first[1] - 1].kind = PP_OP_ALLREDUCE; /* device 0 lost its flush */
    CHECK_INT(pp_schedcsv_write(p, 0, &b, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "device 0 does not end with its one optimizer step");
    CHECK_INT(b.len, 0);
    pp_buf_free(&b);
    pp_plan_free(p);
}

/* pp_plan_find_deadlock agrees with the engine, on both sides. */
static void test_find_deadlock(void)
{
    struct pp_sched_params sp = {.stages = 2, .chunks = 1, .microbatches = 2};
    struct pp_plan *p = pp_plan_alloc(PP_SCHED_1F1B, &sp, 4);
    const int order[2][4][2] = {{{PP_OP_F, 0}, {PP_OP_B, 0}, {PP_OP_F, 1}, {PP_OP_B, 1}},
                                {{PP_OP_F, 1}, {PP_OP_F, 0}, {PP_OP_B, 0}, {PP_OP_B, 1}}};
    for (int dv = 0; dv < 2; dv++) {
        for (int i = 0; i < 4; i++)
            pp_plan_push(p, dv, (enum pp_op_kind)order[dv][i][0], dv, order[dv][i][1]);
        pp_plan_push(p, dv, PP_OP_OPTIM, -1, -1);
    }
    pp_plan_finish(p);
    char msg[512];
    CHECK_INT(pp_plan_find_deadlock(p, msg, sizeof msg), -PP_EINVAL);
    CHECK_STR(msg, "deadlock: device 0 blocks at op 1 (0B0, waits for 1B0); device 1 blocks at "
                   "op 0 (1F1, waits for 0F1)");
    struct pp_costmodel *cm = uniform_model(2, 1, 1, 0, 1, 0);
    struct pp_partition *part = NULL;
    struct pp_sim_config cfg = {0};
    struct pp_sim_result *r = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 2, &part, &d), 0);
    CHECK_INT(pp_sim_run(p, part, &cfg, &r, &d), -PP_EINVAL);
    CHECK_CONTAINS(d.msg, "deadlocks");
    pp_plan_free(p);
    /* Generated plans finish, the ZB wrap quirk included (it only drops edges). */
    enum pp_schedule_kind kinds[] = {PP_SCHED_GPIPE, PP_SCHED_1F1B, PP_SCHED_INTERLEAVED_1F1B,
                                     PP_SCHED_ZB_H2};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        struct pp_sched_params g = {.stages = 4, .microbatches = 8,
                                    .chunks = kinds[i] == PP_SCHED_INTERLEAVED_1F1B ? 2 : 1,
                                    .zb_wrap_quirk = kinds[i] == PP_SCHED_INTERLEAVED_1F1B};
        CU_ASSERT_EQUAL_FATAL(pp_plan_build(kinds[i], &g, &p, &d), 0);
        CHECK_INT(pp_plan_find_deadlock(p, msg, sizeof msg), 0);
        pp_plan_free(p);
    }
    pp_partition_free(part);
    free_model(cm);
}

/* Mutated valid files: never a crash, always a plan or a located error. */
static void test_mutations(void)
{
    static const char alphabet[] = "0123456789FIBW(;),\n\r\" _ORSENDCVUAHGXP";
    const char *seeds[] = {dualpipev, zb1p_compute, "0F0,0F1,0B0,0B1\n1F0,1B0,1F1,1B1\n"};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int ok = 0, failed = 0;
    for (int it = 0; it < 6000; it++) {
        const char *seed = seeds[it % 3];
        size_t n = strlen(seed);
        char *buf = malloc(n + 8);
        memcpy(buf, seed, n);
        for (int k = 0; k < 1 + it % 4; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x >> 8) % n;
            int op = (int)(x % 3);
            char c = alphabet[(x >> 40) % (sizeof alphabet - 1)];
            if (op == 0)
                buf[at] = c;
            else if (op == 1 && n > 1)
                memmove(buf + at, buf + at + 1, n - at - 1), n--;
            else
                memmove(buf + at + 1, buf + at, n - at), buf[at] = c, n++;
        }
        struct pp_plan *plan = NULL;
        struct pp_diag d;
        memset(&d, 0, sizeof d);
        char msg[512];
        if (pp_schedcsv_parse(buf, n, "m.csv", NULL, &plan, &d) == 0) {
            ok++;
            if (pp_plan_validate(plan, &d) != 0 || pp_plan_find_deadlock(plan, msg, sizeof msg))
                failed++;
        } else if (d.line < 1 || d.msg[0] == '\0') {
            failed++;
        }
        pp_plan_free(plan);
        free(buf);
    }
    CHECK_INT(failed, 0);
    CU_ASSERT_TRUE(ok > 0); /* some mutations (e.g. 0F0 -> 0F0 ) stay valid */
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"import gpipe and 1f1b (schedules.md 2.1, 2.2)", test_import_gpipe_1f1b},
        {"csv forms", test_csv_forms},
        {"placement from rows", test_placement},
        {"round trips", test_roundtrip},
        {"exact writer output", test_write_exact},
        {"pytorch artifacts", test_pytorch_artifacts},
        {"bad files", test_bad_files},
        {"more errors", test_more_errors},
        {"custom schedule", test_custom_schedule},
        {"writer refuses", test_write_refuses},
        {"deadlock check", test_find_deadlock},
        {"mutations", test_mutations},
        {NULL, NULL},
    };
    return pp_test_main("sched_csv", tests);
}
