/* diag.c - diagnostic records and error names. */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The length a UTF-8 lead byte announces (2-4), else 0. */
static size_t utf8_want(unsigned char c)
{
    return c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
}

/* Length of the valid UTF-8 sequence (2-4 bytes, no overlong forms, no
 * surrogates, nothing past U+10FFFF) at s[0..n), else 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len = utf8_want(c);
    if (len == 0)
        return 0;
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF)
            return 0;
    return len;
}

/* Copy src[0..n) to dst (cap bytes, NUL-terminated) with control characters
 * and bytes that are not UTF-8 written as \n, \t, \r or \xHH, so that a value
 * quoted in a message cannot break it over lines or send a terminal escape
 * sequence. Backslashes are kept: escaping is idempotent, so a message built
 * from another message's text is not escaped twice. A sequence that does not
 * fit is dropped whole, as is one cut short by `cut` (the end of a truncated
 * string). */
static size_t escape(char *dst, size_t cap, const char *src, size_t n, int cut)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        char tmp[5];
        size_t len = 1, k = utf8_len(s + i, n - i);
        const char *out = tmp;
        if (k) {
            len = k;
            out = src + i;
        } else if (cut && utf8_want(s[i]) > n - i) {
            break; /* the start of a character the truncation cut off */
        } else if (s[i] == '\n' || s[i] == '\t' || s[i] == '\r') {
            tmp[0] = '\\';
            tmp[1] = s[i] == '\n' ? 'n' : s[i] == '\t' ? 't' : 'r';
            len = 2;
        } else if (s[i] < 0x20 || s[i] >= 0x7F) {
            snprintf(tmp, sizeof tmp, "\\x%02x", s[i]);
            len = 4;
        } else {
            tmp[0] = (char)s[i];
        }
        if (o + len >= cap)
            break;
        memcpy(dst + o, out, len);
        o += len;
        i += k ? k : 1;
    }
    if (cap)
        dst[o] = '\0';
    return o;
}

int pp_diag_set(struct pp_diag *d, int code, const char *file, unsigned line, unsigned col,
                const char *fmt, ...)
{
    if (d) {
        /* Format first, escape into d: `file` or an argument may be d's own text. */
        char raw[sizeof d->msg], fraw[sizeof d->file];
        va_list ap;
        int nf = snprintf(fraw, sizeof fraw, "%s", file ? file : "");
        escape(d->file, sizeof d->file, fraw, strlen(fraw), nf >= (int)sizeof fraw);
        d->line = line;
        d->col = col;
        va_start(ap, fmt);
        int n = vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        size_t len = n < 0 ? 0 : strlen(raw);
        escape(d->msg, sizeof d->msg, raw, len, n >= (int)sizeof raw);
    }
    return code < 0 ? code : -code;
}

char *pp_diag_format(const struct pp_diag *d, char *buf, size_t len)
{
    /* Escape again: some callers fill d->file or d->msg themselves. */
    char file[sizeof d->file * 4], msg[sizeof d->msg * 4];
    escape(file, sizeof file, d->file, strnlen(d->file, sizeof d->file), 0);
    escape(msg, sizeof msg, d->msg, strnlen(d->msg, sizeof d->msg), 0);
    if (!file[0])
        snprintf(buf, len, "error: %s", msg);
    else if (d->line == 0)
        snprintf(buf, len, "%s: error: %s", file, msg);
    else
        snprintf(buf, len, "%s:%u:%u: error: %s", file, d->line, d->col ? d->col : 1, msg);
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
