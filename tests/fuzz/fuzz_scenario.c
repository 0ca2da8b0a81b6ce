/* fuzz_scenario.c - scenario YAML (pp_scenario_parse), with "#set" lines
 * applied as --set overrides (fuzz_sets.h). */
#include <stdlib.h>

#include "diag.h"
#include "fuzz.h"
#include "fuzz_sets.h"
#include "scenario.h"

int pp_fuzz_scenario(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct pp_fuzz_sets sets;
    pp_fuzz_sets_read(buf, size, &sets);
    struct pp_scenario *sc = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    int rc = pp_scenario_parse(buf, size, PP_FUZZ_FILE, sets.ptr, sets.n, &sc, &d);
    if (rc == 0) {
        if (!sc || !sc->model || sc->stages < 1 || sc->microbatches < 1)
            pp_fuzz_fail("scenario", "a parsed scenario lacks a model, stages or microbatches");
        struct pp_sched_params p;
        pp_scenario_sched_params(sc, &p);
        pp_scenario_free(sc);
    } else {
        if (sc)
            pp_fuzz_fail("scenario", "a failed parse returned a scenario");
        pp_fuzz_check_error(rc, &d, "scenario");
    }
    pp_fuzz_sets_free(&sets);
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_scenario)
