/* diag.c - diagnostic records and error names. */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pp_diag_set(struct pp_diag *d, int code, const char *file, unsigned line, unsigned col,
                const char *fmt, ...)
{
    if (d) {
        va_list ap;
        snprintf(d->file, sizeof d->file, "%s", file ? file : "");
        d->line = line;
        d->col = col;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return code < 0 ? code : -code;
}

char *pp_diag_format(const struct pp_diag *d, char *buf, size_t len)
{
    if (!d->file[0])
        snprintf(buf, len, "error: %s", d->msg);
    else if (d->line == 0)
        snprintf(buf, len, "%s: error: %s", d->file, d->msg);
    else
        snprintf(buf, len, "%s:%u:%u: error: %s", d->file, d->line, d->col ? d->col : 1, d->msg);
    return buf;
}

const char *pp_strerror(int code)
{
    switch (code < 0 ? -code : code) {
    case PP_OK: return "success";
    case PP_EIO: return "i/o error";
    case PP_EPARSE: return "parse error";
    case PP_EINVAL: return "invalid input";
    case PP_EINFEASIBLE: return "infeasible";
    case PP_ENOMEM: return "resource limit";
    case PP_EINTR: return "interrupted";
    }
    return "unknown error";
}
