/* testutil.h - shared CUnit helpers: value-printing assertions and a main()
 * that exits non-zero on any failure record (CUnit's own return code does not;
 * see ecosystem.md §6). Include once per test program. */
#ifndef PP_TESTUTIL_H
#define PP_TESTUTIL_H

#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void pp_check_impl(int ok, unsigned line, const char *file, const char *msg)
{
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, "", CU_FALSE);
}

/* Relative-or-absolute closeness with the values in the failure message. */
#define CHECK_CLOSE(got, want, rtol)                                                         \
    do {                                                                                     \
        double g_ = (double)(got), w_ = (double)(want), t_ = (double)(rtol);                 \
        char m_[300];                                                                        \
        snprintf(m_, sizeof m_, "%s: got %.17g, want %.17g (rtol %g)", #got, g_, w_, t_);    \
        pp_check_impl(fabs(g_ - w_) <= t_ * fmax(1.0, fabs(w_)), __LINE__, __FILE__, m_);    \
    } while (0)

#define CHECK_INT(got, want)                                                                 \
    do {                                                                                     \
        long long g_ = (long long)(got), w_ = (long long)(want);                             \
        char m_[300];                                                                        \
        snprintf(m_, sizeof m_, "%s: got %lld, want %lld", #got, g_, w_);                    \
        pp_check_impl(g_ == w_, __LINE__, __FILE__, m_);                                     \
    } while (0)

#define CHECK_STR(got, want)                                                                 \
    do {                                                                                     \
        const char *g_ = (got), *w_ = (want);                                                \
        char m_[2048];                                                                       \
        snprintf(m_, sizeof m_, "%s: got \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_); \
        pp_check_impl(g_ && strcmp(g_, w_) == 0, __LINE__, __FILE__, m_);                    \
    } while (0)

/* Substring check, for diagnostics. */
#define CHECK_CONTAINS(hay, needle)                                                          \
    do {                                                                                     \
        const char *h_ = (hay), *n_ = (needle);                                              \
        char m_[2048];                                                                       \
        snprintf(m_, sizeof m_, "%s: \"%s\" does not contain \"%s\"", #hay, h_ ? h_ : "(null)", n_); \
        pp_check_impl(h_ && strstr(h_, n_) != NULL, __LINE__, __FILE__, m_);                 \
    } while (0)

struct pp_test {
    const char *name;
    void (*fn)(void);
};

/* Run one suite of tests; returns the process exit status. */
static inline int pp_test_main(const char *suite_name, const struct pp_test *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return EXIT_FAILURE;
    CU_pSuite s = CU_add_suite(suite_name, NULL, NULL);
    for (const struct pp_test *t = tests; t->name; t++)
        CU_add_test(s, t->name, t->fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned bad = CU_get_number_of_failure_records();
    CU_ErrorCode err = CU_get_error();
    CU_cleanup_registry();
    return (bad || err) ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
