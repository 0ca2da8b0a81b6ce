/* fuzz_csvtab.c - the RFC 4180 table reader (pp_csvtab_parse) that plots and
 * `sweep merge` read sweep CSVs with. Every cell of a parsed table is a
 * string, and every number it reads is finite. */
#include <math.h>

#include "csvtab.h"
#include "diag.h"
#include "fuzz.h"

int pp_fuzz_csvtab(const uint8_t *data, size_t size)
{
    struct pp_csvtab *t = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_csvtab_parse((const char *)data, size, PP_FUZZ_FILE, &t, &d);
    if (rc != 0) {
        if (t)
            pp_fuzz_fail("csvtab", "a failed parse returned a table");
        pp_fuzz_check_error(rc, &d, "csvtab");
        return 0;
    }
    if (t->n_cols == 0)
        pp_fuzz_fail("csvtab", "a parsed table has no columns");
    for (size_t c = 0; c < t->n_cols; c++)
        if (!t->header[c] || pp_csvtab_col(t, t->header[c]) != (int)c)
            pp_fuzz_fail("csvtab", "a header name does not find its own column");
    for (size_t r = 0; r < t->n_rows; r++)
        for (size_t c = 0; c < t->n_cols; c++) {
            double x;
            if (!pp_csvtab_cell(t, r, c))
                pp_fuzz_fail("csvtab", "a cell is NULL");
            if (pp_csvtab_number(t, r, c, &x, &d) == 0 && !isfinite(x))
                pp_fuzz_fail("csvtab", "a cell read as a number that is not finite");
        }
    pp_csvtab_free(t);
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_csvtab)
