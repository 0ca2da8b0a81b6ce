/* buf.c - growable buffer, round-trip number formatting, whole-file I/O. */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "xalloc.h"

void pp_buf_init(struct pp_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void pp_buf_free(struct pp_buf *b)
{
    free(b->data);
    pp_buf_init(b);
}

void pp_buf_append(struct pp_buf *b, const char *s, size_t n)
{
    b->data = pp_xgrow(b->data, &b->cap, b->len + n + 1, 1);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void pp_buf_puts(struct pp_buf *b, const char *s)
{
    pp_buf_append(b, s, strlen(s));
}

void pp_buf_printf(struct pp_buf *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        b->data = pp_xgrow(b->data, &b->cap, b->len + (size_t)n + 1, 1);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void pp_buf_double(struct pp_buf *b, double x)
{
    char s[48], f[48];
    /* The shortest %.Ng that reads back exactly: stable, and readable for round numbers. */
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(s, sizeof s, "%.*g", prec, x);
        if (strtod(s, NULL) == x)
            break;
    }
    /* %g switches to an exponent as soon as the digits run out (1230 with 3
     * digits is 1.23e+03); plain notation reads better for times and counts,
     * so use it whenever it is no longer and still reads back exactly. */
    double ax = fabs(x);
    if (strchr(s, 'e') && ax >= 1e-4 && ax < 1e15) {
        int e10 = (int)floor(log10(ax));
        int decimals = prec - 1 - e10 > 0 ? prec - 1 - e10 : 0;
        snprintf(f, sizeof f, "%.*f", decimals, x);
        if (strtod(f, NULL) == x)
            snprintf(s, sizeof s, "%s", f);
    }
    if (strcmp(s, "-0") == 0)
        strcpy(s, "0");
    pp_buf_puts(b, s);
}

void pp_buf_json_str(struct pp_buf *b, const char *s)
{
    pp_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            pp_buf_append(b, e, 2);
        } else if (*p < 0x20) {
            pp_buf_printf(b, "\\u%04x", *p);
        } else {
            pp_buf_append(b, (const char *)p, 1);
        }
    }
    pp_buf_append(b, "\"", 1);
}

void pp_buf_csv_str(struct pp_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        pp_buf_puts(b, s);
        return;
    }
    pp_buf_append(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            pp_buf_append(b, "\"", 1);
        pp_buf_append(b, p, 1);
    }
    pp_buf_append(b, "\"", 1);
}

int pp_read_file(const char *path, size_t max_bytes, char **out, size_t *len, struct pp_diag *d)
{
    FILE *f;
    struct stat st;
    int is_stdin = strcmp(path, "-") == 0;
    const char *shown = is_stdin ? "<stdin>" : path;

    if (is_stdin) {
        f = stdin;
    } else {
        if (stat(path, &st) != 0)
            return pp_diag_set(d, PP_EIO, shown, 0, 0, "cannot open file: %s", strerror(errno));
        if (S_ISDIR(st.st_mode))
            return pp_diag_set(d, PP_EIO, shown, 0, 0, "is a directory, expected a file");
        f = fopen(path, "rb");
        if (!f)
            return pp_diag_set(d, PP_EIO, shown, 0, 0, "cannot open file: %s", strerror(errno));
    }
    struct pp_buf b;
    pp_buf_init(&b);
    char chunk[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (b.len + n > max_bytes) {
            rc = pp_diag_set(d, PP_ENOMEM, shown, 0, 0, "file is larger than %zu bytes", max_bytes);
            break;
        }
        pp_buf_append(&b, chunk, n);
    }
    if (rc == 0 && ferror(f))
        rc = pp_diag_set(d, PP_EIO, shown, 0, 0, "read error: %s", strerror(errno));
    if (!is_stdin)
        fclose(f);
    if (rc) {
        pp_buf_free(&b);
        return rc;
    }
    if (!b.data)
        pp_buf_append(&b, "", 0);
    *out = b.data;
    *len = b.len;
    return 0;
}

int pp_write_file_atomic(const char *path, const char *data, size_t len, struct pp_diag *d)
{
    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0)
            return pp_diag_set(d, PP_EIO, "<stdout>", 0, 0, "write error: %s", strerror(errno));
        return 0;
    }
    /* A device or a pipe (/dev/null, a FIFO, /dev/stdout) is written in
     * place: renaming a temporary file over it would replace the device. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        FILE *f = fopen(path, "wb");
        int ok = f && fwrite(data, 1, len, f) == len;
        ok = (f ? fclose(f) == 0 : 0) && ok;
        return ok ? 0 : pp_diag_set(d, PP_EIO, path, 0, 0, "cannot write: %s", strerror(errno));
    }
    size_t plen = strlen(path);
    char *tmp = pp_xmalloc(plen + 16);
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = pp_diag_set(d, PP_EIO, path, 0, 0, "cannot create file: %s", strerror(errno));
        free(tmp);
        return rc;
    }
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    ok = (f ? fclose(f) == 0 : (close(fd), 0)) && ok;
    /* mkstemp makes 0600 files; results are ordinary user files. */
    if (ok)
        chmod(tmp, 0644 & ~(mode_t)0);
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        free(tmp);
        return pp_diag_set(d, PP_EIO, path, 0, 0, "cannot write file: %s", strerror(e));
    }
    free(tmp);
    return 0;
}
