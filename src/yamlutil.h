/* yamlutil.h - a strict YAML reader for scenarios and cost models.
 *
 * libyaml's event stream is turned into a small owned tree whose every node
 * keeps its 1-based line and column, so schema errors point at the offending
 * value. The reader refuses what a configuration file has no business holding:
 * aliases and anchors (the "billion laughs" blow-up), explicit tags, several
 * documents, duplicate keys and very deep nesting. Scalars stay strings until a
 * typed getter converts them, accepting only decimal numbers (exponents allowed)
 * and true/false: YAML 1.1 spellings such as yes, ~, 0x10, .nan and .inf are
 * refused where a number or a boolean is expected. */
#ifndef PP_YAMLUTIL_H
#define PP_YAMLUTIL_H

#include <stddef.h>
#include <stdint.h>

struct pp_diag;

enum pp_ykind { PP_Y_SCALAR, PP_Y_MAP, PP_Y_SEQ };

struct pp_ynode {
    enum pp_ykind kind;
    const char *file;     /* borrowed from the owning document */
    unsigned line, col;   /* 1-based */
    char *value;          /* scalars: NUL-terminated text */
    int quoted;           /* scalars: written with quotes or as a block */
    size_t n;             /* sequences: items; maps: pairs */
    struct pp_ynode **kids; /* sequences: n items; maps: 2n nodes, key then value */
};

struct pp_ydoc {
    struct pp_ynode *root; /* NULL for an empty document */
    char *file;            /* name used in messages */
    char **extra_files;    /* names of --set sources, owned */
    size_t n_extra;
};

/* Limits that keep hostile input from exhausting memory. */
#define PP_YAML_MAX_DEPTH 64
#define PP_YAML_MAX_NODES 20000000u

/* Parse buf[0..len) (need not be NUL-terminated). `file` names the input in
 * messages. On success *out is owned by the caller (pp_ydoc_free). */
int pp_ydoc_parse(const char *buf, size_t len, const char *file, struct pp_ydoc **out,
                  struct pp_diag *d);
/* Read and parse a file ("-" = stdin). */
int pp_ydoc_load(const char *path, struct pp_ydoc **out, struct pp_diag *d);
void pp_ydoc_free(struct pp_ydoc *doc);

/* Apply a command-line override "a.b.c=VALUE": VALUE is parsed as YAML (so
 * lists such as [4,4] work) and replaces or creates the node at a.b.c; missing
 * intermediate maps are created. The new nodes report their origin as
 * "--set a.b.c=VALUE" so later schema errors name the override. */
int pp_ydoc_set(struct pp_ydoc *doc, const char *assignment, struct pp_diag *d);

/* Map lookup; NULL when absent (or when m is not a map). */
const struct pp_ynode *pp_ymap_get(const struct pp_ynode *m, const char *key);

/* Check that m is a map whose keys are all in `allowed` (NULL-terminated).
 * An unknown key is reported at its position with a "did you mean" when a known
 * key is close. `path` is the dotted path of m ("" at top level). */
int pp_ymap_check(const struct pp_ynode *m, const char *path, const char *const *allowed,
                  struct pp_diag *d);

/* Typed getters. `path` is the dotted key path used in messages. They fail
 * with -PP_EPARSE on a wrong type and name the offending value. */
int pp_ynum(const struct pp_ynode *n, const char *path, double *out, struct pp_diag *d);
/* A non-negative finite number (times, bytes). */
int pp_ynum_nonneg(const struct pp_ynode *n, const char *path, double *out, struct pp_diag *d);
/* An integer in [lo, hi]; exponent notation is fine when the value is integral. */
int pp_yint(const struct pp_ynode *n, const char *path, int64_t lo, int64_t hi, int64_t *out,
            struct pp_diag *d);
/* A count or size in [lo, hi] where hi is the most ppsim takes on (stages,
 * microbatches, layers): as pp_yint, but a well-formed whole number above hi
 * is a valid request that is too large, -PP_ENOMEM (exit 3), "more than the
 * limit of HI, got 'V'". */
int pp_ycount(const struct pp_ynode *n, const char *path, int64_t lo, int64_t hi, int64_t *out,
              struct pp_diag *d);
int pp_ystr(const struct pp_ynode *n, const char *path, const char **out, struct pp_diag *d);
int pp_ybool(const struct pp_ynode *n, const char *path, int *out, struct pp_diag *d);

/* Report a problem at node n: "file:line:col: error: <path>: <message>". */
int pp_ynode_error(const struct pp_ynode *n, int code, const char *path, struct pp_diag *d,
                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Strict decimal number conversion shared with the other text parsers:
 * [+-]digits[.digits][e[+-]digits], fully consumed, finite. Returns 0 on
 * success, 1 for a malformed string, 2 when out of range (e.g. 1e400). */
int pp_parse_decimal(const char *s, double *out);

/* --- schema helpers (yamlopt.c) ---
 * The child map at parent[key], checked against `allowed`; absent is fine
 * unless `required` (then reported at the parent). */
int pp_yget_map(const struct pp_ynode *parent, const char *key, const char *const *allowed,
                int required, const struct pp_ynode **out, struct pp_diag *d);
/* map[key], reported at the map as "missing key" when absent. */
int pp_yneed(const struct pp_ynode *map, const char *path, const char *key,
             const struct pp_ynode **out, struct pp_diag *d);
/* Optional number >= 0 (unchanged when absent); positive = 1 refuses 0,
 * positive = 2 also says "leave it out for no limit". */
int pp_yopt_num(const struct pp_ynode *map, const char *key, const char *path, int positive,
                double *out, struct pp_diag *d);
/* Optional integer in [lo, hi] (unchanged when absent). */
int pp_yopt_int(const struct pp_ynode *map, const char *key, const char *path, int64_t lo,
                int64_t hi, int64_t *out, struct pp_diag *d);
/* Optional count (pp_ycount) in [lo, hi] (unchanged when absent). */
int pp_yopt_count(const struct pp_ynode *map, const char *key, const char *path, int64_t lo,
                  int64_t hi, int64_t *out, struct pp_diag *d);
/* Optional word from the NULL-terminated `words`; *out = its index. */
int pp_yopt_word(const struct pp_ynode *map, const char *key, const char *path,
                 const char *const *words, int *out, struct pp_diag *d);

/* The node as JSON (numbers and booleans typed, the rest strings). */
struct pp_buf;
void pp_ynode_json(struct pp_buf *b, const struct pp_ynode *n);

/* Levenshtein distance, capped; used for "did you mean" suggestions. */
size_t pp_edit_distance(const char *a, const char *b);
/* The closest candidate to word, or NULL when none is close enough. */
const char *pp_suggest(const char *word, const char *const *candidates);

#endif
