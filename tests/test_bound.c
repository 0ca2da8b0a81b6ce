/* test_bound.c - the reconstructed Randomized PipeDream bound
 * (pipedream-theory.md §3.2-§3.3) and delta taken from a schedule (§2.3). */
#include "bound.h"
#include "diag.h"
#include "testutil.h"

static struct pp_bound eval_ok(double L, double G, double d0, double S, double K, double delta,
                               double gamma)
{
    struct pp_bound_params p = {L, G, d0, S, K, delta, gamma};
    struct pp_bound b;
    struct pp_diag d = {{0}, 0, 0, {0}};
    memset(&b, 0, sizeof b);
    int rc = pp_bound_eval(&p, &b, &d);
    CHECK_INT(rc, 0);
    if (rc)
        fprintf(stderr, "unexpected error: %s\n", d.msg);
    return b;
}

/* §3.2: 2 S D0/(gamma K) + gamma S L G^2 + gamma^2 L^2 delta^2 G^2, a given step.
 * L = 2, G = 3, D0 = 10, S = 4, K = 1000, delta = 5, gamma = 0.01:
 *   term 1 = 2*4*10 / (0.01*1000)      = 80/10  = 8
 *   term 2 = 0.01*4*2*9                          = 0.72
 *   term 3 = 0.01^2 * 2^2 * 5^2 * 3^2 = 1e-4*900 = 0.09
 *   sum = 8.81; no closed form for a given step. */
static void test_given_step(void)
{
    struct pp_bound b = eval_ok(2, 3, 10, 4, 1000, 5, 0.01);
    CHECK_INT(b.branch, PP_BOUND_GIVEN);
    CHECK_CLOSE(b.gamma, 0.01, 1e-15);
    CHECK_CLOSE(b.term[0], 8.0, 1e-13);
    CHECK_CLOSE(b.term[1], 0.72, 1e-13);
    CHECK_CLOSE(b.term[2], 0.09, 1e-13);
    CHECK_CLOSE(b.total, 8.81, 1e-13);
    CHECK_INT(isnan(b.closed_form), 1);
    /* the candidates are still reported: 1/L = 0.5, sqrt(20/(2*9*1000)) = 1/30 */
    CHECK_CLOSE(b.gamma_inv_l, 0.5, 1e-15);
    CHECK_CLOSE(b.gamma_sqrt, 1.0 / 30.0, 1e-15);
}

/* The tuned step, square-root branch. L = 2, G = 3, D0 = 10, K = 1000:
 *   sqrt(2*10 / (2*9*1000)) = sqrt(1/900) = 1/30 < 1/L = 0.5, so gamma = 1/30.
 * S = 4, delta = 5:
 *   term 1 = 2*4*10 / (1000/30) = 80*30/1000 = 2.4
 *   term 2 = (1/30)*4*2*9       = 72/30      = 2.4  (equal: §3.2)
 *   term 3 = (1/900)*4*25*9     = 900/900    = 1
 *   sum = 5.8; closed form 2*4*sqrt(2*2*9*10/1000) + 2*2*10*25/1000
 *                        = 8*0.6 + 1 = 5.8. */
static void test_tuned_sqrt_branch(void)
{
    struct pp_bound b = eval_ok(2, 3, 10, 4, 1000, 5, 0);
    CHECK_INT(b.branch, PP_BOUND_SQRT);
    CHECK_CLOSE(b.gamma, 1.0 / 30.0, 1e-15);
    CHECK_CLOSE(b.term[0], 2.4, 1e-13);
    CHECK_CLOSE(b.term[1], 2.4, 1e-13);
    CHECK_CLOSE(b.term[2], 1.0, 1e-13);
    CHECK_CLOSE(b.total, 5.8, 1e-13);
    CHECK_CLOSE(b.closed_form, 5.8, 1e-13);
}

/* The branch switches where sqrt(2 D0/(L G^2 K)) = 1/L, i.e. K* = 2 D0 L / G^2.
 * L = 2, G = 3, D0 = 10: K* = 40/9 = 4.44.
 *   K = 4: sqrt(20/72) = 0.527 > 0.5, so gamma = 1/L = 0.5 and, with S = 4, delta = 5,
 *          term 1 = 80/(0.5*4) = 40, term 2 = 0.5*4*2*9 = 36, term 3 = 0.25*4*25*9 = 225;
 *          below K* term 1 > term 2 (their equality needs the square-root step).
 *   K = 5: sqrt(20/90) = 0.471 < 0.5, the square-root branch. */
static void test_branch_switch(void)
{
    struct pp_bound b = eval_ok(2, 3, 10, 4, 4, 5, 0);
    CHECK_INT(b.branch, PP_BOUND_INV_L);
    CHECK_CLOSE(b.gamma, 0.5, 1e-15);
    CHECK_CLOSE(b.term[0], 40.0, 1e-13);
    CHECK_CLOSE(b.term[1], 36.0, 1e-13);
    CHECK_CLOSE(b.term[2], 225.0, 1e-13);
    CHECK_CLOSE(b.total, 301.0, 1e-13);
    CHECK_INT(isnan(b.closed_form), 1);

    b = eval_ok(2, 3, 10, 4, 5, 5, 0);
    CHECK_INT(b.branch, PP_BOUND_SQRT);
    CHECK_CLOSE(b.gamma, sqrt(20.0 / 90.0), 1e-15);

    /* a tie is the square-root branch: L = G = 1, D0 = 2, K = 4 gives sqrt(4/4) = 1 = 1/L;
     * then terms S, S, delta^2 and the closed form 2S sqrt(2*2/4) + 2*2*delta^2/4 agree */
    enum pp_bound_branch br;
    CHECK_CLOSE(pp_bound_tuned_gamma(1, 1, 2, 4, &br), 1.0, 0);
    CHECK_INT(br, PP_BOUND_SQRT);
    b = eval_ok(1, 1, 2, 3, 4, 7, 0);
    CHECK_CLOSE(b.total, 3 + 3 + 49, 1e-14);
    CHECK_CLOSE(b.closed_form, 55.0, 1e-14);

    /* the tuned step depends on L, G, D0, K only: not on S or delta (§3.2) */
    struct pp_bound a = eval_ok(2, 3, 10, 2, 1000, 0, 0);
    b = eval_ok(2, 3, 10, 128, 1000, 16320, 0);
    CHECK_CLOSE(a.gamma, b.gamma, 0);
}

/* §3.2: "with the square-root choice the first two terms are equal, and the bound
 * becomes 2 S sqrt(2 L G^2 D0/K) + 2 L D0 delta^2/K" - over a grid of inputs. */
static void test_equal_terms_and_closed_form(void)
{
    static const double Ls[] = {0.1, 1, 4.01, 250};
    static const double Gs[] = {0.05, 1, 7};
    static const double D0s[] = {1e-3, 1, 500};
    static const double Ks[] = {1e3, 3178, 97728, 1e9};
    static const double Ss[] = {1, 2, 16, 128};
    int sqrt_cases = 0, cap_cases = 0;
    for (size_t a = 0; a < sizeof Ls / sizeof *Ls; a++)
        for (size_t g = 0; g < sizeof Gs / sizeof *Gs; g++)
            for (size_t z = 0; z < sizeof D0s / sizeof *D0s; z++)
                for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++)
                    for (size_t s = 0; s < sizeof Ss / sizeof *Ss; s++) {
                        double S = Ss[s], delta = S * S - S / 2;
                        struct pp_bound b = eval_ok(Ls[a], Gs[g], D0s[z], S, Ks[k], delta, 0);
                        if (b.branch == PP_BOUND_SQRT) {
                            sqrt_cases++;
                            CHECK_CLOSE(b.term[0] / b.term[1], 1.0, 1e-12);
                            CHECK_CLOSE(b.closed_form / b.total, 1.0, 1e-12);
                            CHECK_CLOSE(b.term[2] / (2 * Ls[a] * D0s[z] * delta * delta / Ks[k]),
                                        1.0, 1e-12);
                        } else {
                            cap_cases++;
                            CHECK_INT(b.branch, PP_BOUND_INV_L);
                            /* below K* the optimisation term dominates the variance term */
                            pp_check_impl(b.term[0] > b.term[1], __LINE__, __FILE__,
                                          "1/L branch: term 1 > term 2");
                        }
                    }
    /* the grid must exercise both branches, or the test proves little */
    pp_check_impl(sqrt_cases > 100 && cap_cases > 10, __LINE__, __FILE__,
                  "both branches exercised");
}

/* §3.2 scaling: delta = S^2 - S/2, so term 3 = gamma^2 L^2 G^2 (S^2 - S/2)^2 grows as S^4.
 * Doubling S multiplies it by ((4S^2 - S)/(S^2 - S/2))^2 = 16 ((S - 1/4)/(S - 1/2))^2:
 * 21.78 at S = 2 -> 4, then falling to 16 (16.008 at 1024 -> 2048). */
static void test_delta_scaling_s4(void)
{
    double prev_term3 = 0, prev_gap = INFINITY;
    for (double S = 2; S <= 2048; S *= 2) {
        struct pp_bound b = eval_ok(1, 1, 10, S, 1e5, S * S - S / 2, 0);
        /* with the tuned step gamma^2 L^2 G^2 = 2 D0 L/K = 2e-4 */
        CHECK_CLOSE(b.term[2] / ((S * S - S / 2) * (S * S - S / 2)), 2e-4, 1e-12);
        if (prev_term3 > 0) {
            double h = S / 2, ratio = b.term[2] / prev_term3;
            CHECK_CLOSE(ratio, 16 * ((h - 0.25) / (h - 0.5)) * ((h - 0.25) / (h - 0.5)), 1e-12);
            double gap = ratio - 16;
            pp_check_impl(gap > 0 && gap < prev_gap, __LINE__, __FILE__,
                          "term 3 doubling ratio decreases towards 16");
            prev_gap = gap;
        }
        prev_term3 = b.term[2];
    }
    CHECK_CLOSE(prev_gap, 16 * (1023.75 / 1023.5) * (1023.75 / 1023.5) - 16, 1e-9);
    pp_check_impl(prev_gap < 0.01, __LINE__, __FILE__, "ratio within 0.01 of 16 by S = 2048");
}

/* D0 = 0: w^0 is optimal; the tuned step is 0 and every term is 0 (the infimum). */
static void test_zero_gap(void)
{
    struct pp_bound b = eval_ok(1, 1, 0, 8, 100, 60, 0);
    CHECK_CLOSE(b.gamma, 0, 0);
    CHECK_INT(b.branch, PP_BOUND_SQRT);
    CHECK_CLOSE(b.total, 0, 0);
    CHECK_CLOSE(b.closed_form, 0, 0);
    b = eval_ok(1, 1, 0, 8, 100, 60, 0.1); /* a given step: term 1 = 0, the rest stand */
    CHECK_CLOSE(b.term[0], 0, 0);
    CHECK_CLOSE(b.term[1], 0.8, 1e-14);
    CHECK_CLOSE(b.term[2], 36, 1e-12);
}

static void expect_bad(double L, double G, double d0, double S, double K, double delta,
                       double gamma, const char *msg)
{
    struct pp_bound_params p = {L, G, d0, S, K, delta, gamma};
    struct pp_bound b;
    struct pp_diag d = {{0}, 0, 0, {0}};
    CHECK_INT(pp_bound_eval(&p, &b, &d), -PP_EINVAL);
    CHECK_STR(d.msg, msg);
}

static void test_validation(void)
{
    expect_bad(0, 1, 1, 2, 10, 0, 0, "L: must be > 0, got 0");
    expect_bad(-1, 1, 1, 2, 10, 0, 0, "L: must be > 0, got -1");
    expect_bad(NAN, 1, 1, 2, 10, 0, 0, "L: must be a finite number, got nan");
    expect_bad(1, 0, 1, 2, 10, 0, 0, "G: must be > 0, got 0");
    expect_bad(1, INFINITY, 1, 2, 10, 0, 0, "G: must be a finite number, got inf");
    expect_bad(1, 1, -0.5, 2, 10, 0, 0, "delta0: must be >= 0, got -0.5");
    expect_bad(1, 1, INFINITY, 2, 10, 0, 0, "delta0: must be a finite number, got inf");
    expect_bad(1, 1, 1, 0, 10, 0, 0, "stages: must be >= 1, got 0");
    expect_bad(1, 1, 1, 2.5, 10, 0, 0, "stages: must be a whole number, got 2.5");
    expect_bad(1, 1, 1, 1e17, 10, 0, 0, "stages: must be at most 2^53, got 1e+17");
    expect_bad(1, 1, 1, 2, 0, 0, 0, "iterations: must be >= 1, got 0");
    expect_bad(1, 1, 1, 2, 10.5, 0, 0, "iterations: must be a whole number, got 10.5");
    expect_bad(1, 1, 1, 2, -INFINITY, 0, 0, "iterations: must be a finite number, got -inf");
    expect_bad(1, 1, 1, 2, 10, -1, 0, "delay: must be >= 0, got -1");
    expect_bad(1, 1, 1, 2, 10, NAN, 0, "delay: must be a finite number, got nan");
    expect_bad(1, 1, 1, 2, 10, 0, -0.1, "gamma: must be > 0, got -0.10000000000000001");
    expect_bad(1, 1, 1, 2, 10, 0, NAN, "gamma: must be a finite number, got nan");
    /* valid inputs whose terms overflow a double are refused, not printed as inf */
    expect_bad(1e200, 1e200, 1, 2, 10, 1, 0.5,
               "term 2 (gamma S L G^2) is not a finite double (gamma = 0.5); rescale L, G or "
               "delta0");
    /* the per-parameter check the CLI uses */
    CHECK_STR(pp_bound_check(PP_BOUND_GAMMA, 0), "must be > 0");
    CHECK_INT(pp_bound_check(PP_BOUND_DELAY, 0) == NULL, 1);
    CHECK_INT(pp_bound_check(PP_BOUND_STAGES, 1) == NULL, 1);
    CHECK_STR(pp_bound_param_name(PP_BOUND_DELTA0), "delta0");
    CHECK_STR(pp_bound_branch_name(PP_BOUND_INV_L), "1/L");
}

/* delta from a schedule: the staleness analyser's steady-state maximum in the
 * unit-time model. §2.3 table: tau_max = floor(S(2S-1)/2), the scaling run's
 * delta column {3, 14, 60, 248, 1008, 4064, 16320}; 2BW: one batch = S block
 * updates (staleness.h); flushing schedules: 0. */
static void test_schedule_delay(void)
{
    static const long want[] = {3, 14, 60, 248, 1008, 4064, 16320};
    struct pp_diag d = {{0}, 0, 0, {0}};
    int i = 0;
    for (int S = 2; S <= 128; S *= 2, i++) {
        double delta = -1, mean = -1;
        CHECK_INT(pp_bound_schedule_delay(PP_SCHED_PIPEDREAM, S, 0, &delta, &mean, &d), 0);
        CHECK_CLOSE(delta, (double)want[i], 0);
        CHECK_CLOSE(delta, floor(S * (2.0 * S - 1) / 2), 0);
        CHECK_CLOSE(mean, (S * (double)S - 1) / 2, 1e-12); /* steady mean (S^2-1)/2 */
    }
    for (int S = 2; S <= 16; S *= 2) {
        double delta = -1;
        CHECK_INT(pp_bound_schedule_delay(PP_SCHED_PIPEDREAM_2BW, S, 0, &delta, NULL, &d), 0);
        CHECK_CLOSE(delta, S, 0);
        CHECK_INT(pp_bound_schedule_delay(PP_SCHED_1F1B, S, 0, &delta, NULL, &d), 0);
        CHECK_CLOSE(delta, 0, 0);
        CHECK_INT(pp_bound_schedule_delay(PP_SCHED_GPIPE, S, 0, &delta, NULL, &d), 0);
        CHECK_CLOSE(delta, 0, 0);
    }
    /* odd S: floor(S(2S-1)/2) = 7 at S = 3 (S^2 - S/2 = 7.5) */
    double delta = -1;
    CHECK_INT(pp_bound_schedule_delay(PP_SCHED_PIPEDREAM, 3, 0, &delta, NULL, &d), 0);
    CHECK_CLOSE(delta, 7, 0);
    /* errors come from the analyser, unchanged */
    CHECK_INT(pp_bound_schedule_delay(PP_SCHED_PIPEDREAM, 1, 0, &delta, NULL, &d) < 0, 1);
    CHECK_CONTAINS(d.msg, "stages");
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"given step (hand-computed)", test_given_step},
        {"tuned step, sqrt branch (hand-computed)", test_tuned_sqrt_branch},
        {"tuned step branch switch at K* = 2 D0 L / G^2", test_branch_switch},
        {"sqrt branch: terms 1 = 2, closed form", test_equal_terms_and_closed_form},
        {"stale-read term grows as S^4", test_delta_scaling_s4},
        {"delta0 = 0", test_zero_gap},
        {"validation", test_validation},
        {"delta from a schedule (§2.3)", test_schedule_delay},
        {NULL, NULL},
    };
    return pp_test_main("bound", tests);
}
