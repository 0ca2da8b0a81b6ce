/* test_partition.c - balanced splits are exact min-max splits (checked against
 * brute force over every cut), even where ties allow, and explicit splits are
 * validated. */
#include "testutil.h"

#include "diag.h"
#include "simutil.h"

static double piece_ms(const struct pp_piece *p)
{
    return p->forward_ms + p->backward_input_ms + p->backward_weight_ms;
}

static double bottleneck(const struct pp_partition *p)
{
    double m = 0;
    for (size_t k = 0; k < p->n_pieces; k++)
        m = fmax(m, piece_ms(&p->pieces[k]));
    return m;
}

/* Smallest bottleneck over all splits of t[0..n) into k pieces, by recursion. */
static double brute(const double *t, size_t n, size_t k)
{
    if (k == 1) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += t[i];
        return s;
    }
    double best = INFINITY, head = 0;
    for (size_t i = 1; i + k - 1 <= n; i++) {
        head += t[i - 1];
        best = fmin(best, fmax(head, brute(t + i, n - i, k - 1)));
    }
    return best;
}

static void test_matches_brute_force(void)
{
    unsigned s = 7;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + trial % 11, k = 1 + (size_t)trial % n;
        struct pp_costmodel *cm = uniform_model(n, 0, 0, 0, 0, 0);
        double t[16];
        for (size_t i = 0; i < n; i++) {
            s = s * 1103515245u + 12345u;
            /* Integer-valued times keep sums exact, so brute force is an exact oracle. */
            t[i] = (double)((s >> 16) % 20);
            cm->layers[i].forward_ms = t[i];
        }
        struct pp_partition *p = NULL;
        struct pp_diag d;
        CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, k, &p, &d), 0);
        CHECK_CLOSE(bottleneck(p), brute(t, n, k), 0);
        size_t covered = 0;
        for (size_t j = 0; j < p->n_pieces; j++) {
            CU_ASSERT(p->pieces[j].n_layers >= 1);
            CHECK_INT(p->pieces[j].first_layer, covered);
            covered += p->pieces[j].n_layers;
        }
        CHECK_INT(covered, n);
        pp_partition_free(p);
        free_model(cm);
    }
}

/* 10 equal layers in 4 pieces: the bottleneck is 3 layers either way; the
 * split keeps cumulative time near even shares, giving 2,3,2,3 not 3,3,3,1. */
static void test_even_spread(void)
{
    struct pp_costmodel *cm = uniform_model(10, 1, 2, 0, 0, 7);
    struct pp_partition *p = NULL;
    struct pp_diag d;
    CU_ASSERT_EQUAL_FATAL(pp_partition_balanced(cm, 4, &p, &d), 0);
    static const size_t want[] = {2, 3, 2, 3};
    for (int k = 0; k < 4; k++)
        CHECK_INT(p->pieces[k].n_layers, want[k]);
    CHECK_CLOSE(p->pieces[0].output_bytes, 7, 0);
    CHECK_CLOSE(p->pieces[3].output_bytes, 0, 0); /* nothing leaves the last piece */
    pp_partition_free(p);
    free_model(cm);
}

static void test_explicit(void)
{
    struct pp_costmodel *cm = uniform_model(6, 1, 1, 0, 0, 0);
    struct pp_partition *p = NULL;
    struct pp_diag d;
    const size_t ok[] = {1, 2, 3}, short_[] = {1, 2, 2}, empty[] = {3, 0, 3};
    CU_ASSERT_EQUAL_FATAL(pp_partition_explicit(cm, ok, 3, &p, &d), 0);
    CHECK_INT(p->pieces[2].first_layer, 3);
    CHECK_CLOSE(p->pieces[2].forward_ms, 3, 0);
    pp_partition_free(p);
    CHECK_INT(pp_partition_explicit(cm, short_, 3, &p, &d), -PP_EINVAL);
    CHECK_STR(d.msg, "partition covers 5 layers, the model has 6");
    CHECK_INT(pp_partition_explicit(cm, empty, 3, &p, &d), -PP_EINVAL);
    CHECK_INT(pp_partition_balanced(cm, 7, &p, &d), -PP_EINVAL);
    free_model(cm);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"balanced = brute-force min-max", test_matches_brute_force},
        {"even spread among optimal splits", test_even_spread},
        {"explicit splits validated", test_explicit},
        {NULL, NULL},
    };
    return pp_test_main("partition", tests);
}
