/* fuzz_costmodel_yaml.c - ppsim's per-layer YAML (pp_costmodel_parse_yaml),
 * and the round trip through its writer (pp_fuzz_costmodel_roundtrip). */
#include "costmodel.h"
#include "diag.h"
#include "fuzz.h"

int pp_fuzz_costmodel_yaml(const uint8_t *data, size_t size)
{
    struct pp_costmodel *cm = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_costmodel_parse_yaml((const char *)data, size, PP_FUZZ_FILE, &cm, &d);
    if (rc == 0) {
        if (!cm || cm->n_layers == 0)
            pp_fuzz_fail("costmodel_yaml", "a parsed model has no layers");
        pp_fuzz_costmodel_roundtrip(cm, "costmodel_yaml");
        pp_costmodel_free(cm);
    } else {
        if (cm)
            pp_fuzz_fail("costmodel_yaml", "a failed parse returned a model");
        pp_fuzz_check_error(rc, &d, "costmodel_yaml");
    }
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_costmodel_yaml)
