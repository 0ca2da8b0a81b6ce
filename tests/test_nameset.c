/* test_nameset.c - duplicate-name checks (nameset.c) and the CSV header
 * check built on them (csvtab.c).
 *
 * Oracle: the plain pairwise scan, which the hashed check replaced and must
 * agree with on every prefix (which earlier index matches, or none), and a
 * 100 000-column header with one duplicate at the end, whose message and
 * file:line:col are worked out from the header text. Not timed (that the
 * check is no longer quadratic was measured by hand: 13 s before, 0.13 s). */
#include <stdint.h>

#include "buf.h"
#include "csvtab.h"
#include "diag.h"
#include "nameset.h"
#include "testutil.h"

static const char *name_at(const void *ctx, size_t i)
{
    return ((const char *const *)ctx)[i];
}

static size_t scan(const char *const *names, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(names[j], names[i]) == 0)
            return j;
    return SIZE_MAX;
}

/* Add names in order until the first duplicate; every answer as the scan's. */
static size_t check_against_scan(const char *const *names, size_t n)
{
    struct pp_nameset s = {0};
    size_t i, got = SIZE_MAX;
    for (i = 0; i < n; i++) {
        got = pp_nameset_add(&s, name_at, names, i);
        CHECK_INT(got, scan(names, i));
        if (got != SIZE_MAX)
            break;
    }
    pp_nameset_free(&s);
    return i;
}

static void test_against_scan(void)
{
    /* duplicates before, at and past the switch to hashing, and across the
     * table's growth (64, 128, ... slots) */
    char buf[4096][12];
    const char *names[4096];
    size_t cases[][2] = {{1, 0},   {5, 2},    {15, 0},   {16, 3},    {17, 16},
                         {40, 39}, {63, 1},   {64, 20},  {200, 150}, {4095, 0},
                         {4095, 4094}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t at = cases[c][0], first = cases[c][1];
        for (size_t i = 0; i <= at; i++) {
            snprintf(buf[i], sizeof buf[i], "n%zu", i);
            names[i] = buf[i];
        }
        names[at] = buf[first];
        CHECK_INT(check_against_scan(names, at + 1), at);
    }
    /* no duplicate: every name goes in */
    for (size_t i = 0; i < 4096; i++) {
        snprintf(buf[i], sizeof buf[i], "%zx", i * 2654435761u);
        names[i] = buf[i];
    }
    CHECK_INT(check_against_scan(names, 4096), 4096);
    /* the empty string is a name like any other */
    const char *empty[20];
    for (size_t i = 0; i < 20; i++)
        empty[i] = buf[i];
    empty[18] = "";
    empty[19] = "";
    CHECK_INT(check_against_scan(empty, 20), 19);
}

static void test_wide_header(void)
{
    enum { N = 100000 };
    struct pp_buf b;
    pp_buf_init(&b);
    for (size_t i = 0; i < N; i++)
        pp_buf_printf(&b, "%sc%zu", i ? "," : "", i);
    size_t col = b.len + 2; /* the duplicate starts after the comma */
    pp_buf_puts(&b, ",c5\n");
    for (size_t i = 0; i <= N; i++)
        pp_buf_puts(&b, i ? ",1" : "1");
    pp_buf_puts(&b, "\n");
    struct pp_csvtab *t = NULL;
    struct pp_diag d;
    char line[1024], want[256];
    CHECK_INT(pp_csvtab_parse(b.data, b.len, "wide.csv", &t, &d), -PP_EPARSE);
    snprintf(want, sizeof want, "wide.csv:1:%zu: error: duplicate column name 'c5' (also column 6)",
             col);
    CHECK_STR(pp_diag_format(&d, line, sizeof line), want);
    CU_ASSERT_PTR_NULL(t);
    /* without the duplicate the same header reads, every column findable */
    b.len = col - 2;
    pp_buf_puts(&b, "\n");
    for (size_t i = 0; i < N; i++)
        pp_buf_puts(&b, i ? ",7" : "7");
    pp_buf_puts(&b, "\n");
    CHECK_INT(pp_csvtab_parse(b.data, b.len, "wide.csv", &t, &d), 0);
    if (t) {
        CHECK_INT(t->n_cols, N);
        CHECK_INT(t->n_rows, 1);
        CHECK_INT(pp_csvtab_col(t, "c99999"), N - 1);
        CHECK_STR(pp_csvtab_cell(t, 0, N - 1), "7");
        pp_csvtab_free(t);
    }
    pp_buf_free(&b);
}

static void test_small_headers(void)
{
    /* the messages of the pairwise scan, unchanged */
    static const struct {
        const char *csv, *want;
    } cases[] = {
        {"a,b,a\n1,2,3\n", "t.csv:1:5: error: duplicate column name 'a' (also column 1)"},
        {"a,b,,c\n", "t.csv:1:5: error: empty column name in the header (column 3)"},
        {"\"x,y\",\"x,y\"\n", "t.csv:1:7: error: duplicate column name 'x,y' (also column 1)"},
        {"a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,e\n",
         "t.csv:1:39: error: duplicate column name 'e' (also column 5)"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        struct pp_csvtab *t = NULL;
        struct pp_diag d;
        char line[1024];
        CHECK_INT(pp_csvtab_parse(cases[c].csv, strlen(cases[c].csv), "t.csv", &t, &d),
                  -PP_EPARSE);
        CHECK_STR(pp_diag_format(&d, line, sizeof line), cases[c].want);
        pp_csvtab_free(t);
    }
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"hashed check agrees with the pairwise scan", test_against_scan},
        {"100000-column header, duplicate at the end", test_wide_header},
        {"small headers: messages unchanged", test_small_headers},
        {NULL, NULL},
    };
    return pp_test_main("nameset", tests);
}
