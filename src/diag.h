/* diag.h - error codes and the diagnostic record every fallible call fills.
 *
 * Library functions return 0 or a negative PP_E* code and, when given a
 * struct pp_diag, say where and why: "file:line:col: error: message".
 * Nothing in the library prints; the CLI formats the record. */
#ifndef PP_DIAG_H
#define PP_DIAG_H

#include <stddef.h>

/* Return codes (negated when returned). The CLI maps them to exit statuses. */
enum {
    PP_OK = 0,
    PP_EIO = 1,         /* cannot read or write a file */
    PP_EPARSE = 2,      /* malformed input: syntax, types, unknown keys */
    PP_EINVAL = 3,      /* well-formed but semantically invalid input */
    PP_EINFEASIBLE = 4, /* valid request with no feasible answer (e.g. memory) */
    PP_ENOMEM = 5,      /* a resource limit (size cap) was hit */
    PP_EINTR = 6,       /* stopped by SIGINT or SIGTERM */
};

struct pp_diag {
    char file[256];
    unsigned line, col; /* 1-based; 0 = unknown */
    char msg[512];
};

/* Fill d (if not NULL) with a location and a printf-style message; returns -code
 * so callers can write `return pp_diag_set(d, -PP_EPARSE, ...)`. code is a PP_E* value. */
int pp_diag_set(struct pp_diag *d, int code, const char *file, unsigned line, unsigned col,
                const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;

/* Format d as one line without a trailing newline:
 * "file:line:col: error: msg", "file: error: msg" when line is 0, or "error: msg"
 * when there is no file. Returns buf. */
char *pp_diag_format(const struct pp_diag *d, char *buf, size_t len);

/* A short name for a PP_E* code ("i/o error", ...). */
const char *pp_strerror(int code);

#endif
