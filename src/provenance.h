/* provenance.h - what produced an output: ppsim's version, the SHA-256 of
 * every input file, the seed and the effective scenario after overrides.
 * Every machine-readable output carries it (a JSON "meta" object, or a
 * FILE.meta.json sidecar beside a CSV), so a figure can be traced back and
 * re-made. Nothing in it depends on the time or the machine: two runs of the
 * same inputs give the same bytes. */
#ifndef PP_PROVENANCE_H
#define PP_PROVENANCE_H

#include <stddef.h>
#include <stdint.h>

struct pp_buf;
struct pp_scenario;

/* SHA-256 (FIPS 180-4) of data[0..len), as 64 lowercase hex digits + NUL. */
void pp_sha256_hex(const void *data, size_t len, char out[65]);

struct pp_provenance {
    const char *command;          /* "simulate", "sweep", ... */
    const struct pp_scenario *sc; /* its files and effective document, or NULL */
    const char *const *files;     /* further input files (NULL-terminated), or NULL */
    int has_seed;
    uint64_t seed;
};

/* Append `"meta": {...}` (no leading comma) to a JSON object being written. */
void pp_provenance_json(struct pp_buf *b, const struct pp_provenance *p);
/* Make the meta object the first member of the JSON object in json (which
 * must start with '{'); used where a library renderer wrote the object. */
void pp_provenance_insert(struct pp_buf *json, const struct pp_provenance *p);
/* A whole JSON document {"meta": {...}} for a sidecar file. */
void pp_provenance_sidecar(struct pp_buf *b, const struct pp_provenance *p);

#endif
