/* fuzz.h - the parser fuzz targets (docs/robustness.md).
 *
 * Each target is a plain function over (data, size): libFuzzer calls it through
 * LLVMFuzzerTestOneInput (built with -Dfuzz=true and clang), and the replay
 * driver (replay.c, any compiler) calls every target on every file of the
 * committed corpus inside `meson test`. A target returns 0 and abort()s on a
 * broken invariant, so both see the same failures. The data is never
 * NUL-terminated: every parser entry point takes (buffer, length). */
#ifndef PP_FUZZ_H
#define PP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct pp_diag;

int pp_fuzz_scenario(const uint8_t *data, size_t size);
int pp_fuzz_costmodel_yaml(const uint8_t *data, size_t size);
int pp_fuzz_graph(const uint8_t *data, size_t size);
int pp_fuzz_schedcsv(const uint8_t *data, size_t size);
int pp_fuzz_converge(const uint8_t *data, size_t size);
int pp_fuzz_sweep(const uint8_t *data, size_t size);
int pp_fuzz_csvtab(const uint8_t *data, size_t size);
int pp_fuzz_meas(const uint8_t *data, size_t size);
int pp_fuzz_calib(const uint8_t *data, size_t size);

/* A failed parse must say why: a negative PP_E* code and a message. Aborts
 * (with the message on stderr) when it does not. */
void pp_fuzz_check_error(int rc, const struct pp_diag *d, const char *target);
/* A model that parsed must survive pp_costmodel_write_yaml and read back
 * with the same layers and numbers (costmodel.h promises the round trip;
 * `ppsim model convert` relies on it). */
struct pp_costmodel;
void pp_fuzz_costmodel_roundtrip(const struct pp_costmodel *cm, const char *target);
/* Abort with a message: an invariant the parser promises does not hold. */
void pp_fuzz_report(const char *target, const char *what);
#define pp_fuzz_fail(target, what) (pp_fuzz_report((target), (what)), abort())

/* The scenario's name in messages: a directory that does not exist, so that
 * relative model.file and schedule_file paths in fuzzed input never open a
 * real file (and "-" is never standard input). */
#define PP_FUZZ_FILE "/nonexistent-ppsim-fuzz/input"

#ifdef PP_LIBFUZZER
#define PP_FUZZ_TARGET(fn)                                                     \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);              \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)               \
    {                                                                          \
        return fn(data, size);                                                 \
    }
#else
#define PP_FUZZ_TARGET(fn)
#endif

#endif
