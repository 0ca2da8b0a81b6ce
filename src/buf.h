/* buf.h - a growable byte buffer; reports are rendered into one and written out
 * in one piece, so a failed run never leaves half a file behind. */
#ifndef PP_BUF_H
#define PP_BUF_H

#include <stddef.h>

struct pp_buf {
    char *data; /* always NUL-terminated once anything was appended */
    size_t len, cap;
};

void pp_buf_init(struct pp_buf *b);
void pp_buf_free(struct pp_buf *b);
void pp_buf_append(struct pp_buf *b, const char *s, size_t n);
void pp_buf_puts(struct pp_buf *b, const char *s);
void pp_buf_printf(struct pp_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Append a double so that strtod reads back the same value, in the C locale
 * ("%.17g" trimmed to the shortest form that round-trips). Never NaN/Inf: those
 * are written as `null` (JSON) by the callers, who check first. */
void pp_buf_double(struct pp_buf *b, double x);
/* Append s as a JSON string literal, quotes included. */
void pp_buf_json_str(struct pp_buf *b, const char *s);
/* Append s as a CSV field (RFC 4180: quoted when it holds , " or a newline). */
void pp_buf_csv_str(struct pp_buf *b, const char *s);

/* Read a whole file (or stdin for "-") into *out (NUL-terminated, length in *len).
 * Refuses directories and files over max_bytes. Returns 0 or -PP_EIO/-PP_ENOMEM. */
struct pp_diag;
int pp_read_file(const char *path, size_t max_bytes, char **out, size_t *len, struct pp_diag *d);

/* Write data to path atomically: a temporary file in the same directory, then
 * rename(2). "-" writes to stdout. Returns 0 or -PP_EIO with d filled. */
int pp_write_file_atomic(const char *path, const char *data, size_t len, struct pp_diag *d);

#endif
