/* fuzz_converge.c - a scenario's `converge:` section (pp_cv_spec_parse),
 * with "#set" lines applied as --set overrides (fuzz_sets.h). */
#include "converge_spec.h"
#include "diag.h"
#include "fuzz.h"
#include "fuzz_sets.h"

int pp_fuzz_converge(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct pp_fuzz_sets sets;
    pp_fuzz_sets_read(buf, size, &sets);
    struct pp_cv_spec *spec = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_cv_spec_parse(buf, size, PP_FUZZ_FILE, sets.ptr, sets.n, &spec, &d);
    if (rc == 0) {
        if (!spec || spec->n_methods == 0)
            pp_fuzz_fail("converge", "a parsed section has no methods");
        for (size_t k = 0; k < spec->n_methods; k++)
            if (!spec->methods[k].label || !pp_cvm_name(spec->methods[k].method))
                pp_fuzz_fail("converge", "a parsed method has no label or name");
        pp_cv_spec_free(spec);
    } else {
        if (spec)
            pp_fuzz_fail("converge", "a failed parse returned a section");
        pp_fuzz_check_error(rc, &d, "converge");
    }
    pp_fuzz_sets_free(&sets);
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_converge)
