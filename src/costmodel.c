/* costmodel.c - what both cost-model readers share: loading a file and picking
 * the reader by content, freeing, totals, and writing ppsim's per-layer YAML.
 *
 * The writer emits one flow mapping per layer so a converted profile stays
 * diffable line by line, and every number with pp_buf_double so that reading the
 * file back gives bit-identical values. */
#include "costmodel.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "xalloc.h"
#include "yamlutil.h"

#define MAX_MODEL_BYTES ((size_t)256 << 20)

void pp_costmodel_free(struct pp_costmodel *cm)
{
    if (!cm)
        return;
    for (size_t i = 0; i < cm->n_layers; i++) {
        free(cm->layers[i].name);
        free(cm->layers[i].desc);
    }
    free(cm->layers);
    free(cm->edges);
    free(cm->source);
    free(cm->name);
    free(cm);
}

double pp_costmodel_compute_ms(const struct pp_costmodel *cm, size_t first, size_t last)
{
    if (last > cm->n_layers)
        last = cm->n_layers;
    double sum = 0;
    for (size_t i = first; i < last; i++) {
        const struct pp_layer *L = &cm->layers[i];
        sum += L->forward_ms + L->backward_input_ms + L->backward_weight_ms;
    }
    return sum;
}

/* PipeDream's writer puts a node line first; YAML cannot start that way. */
static int looks_like_graph(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < le) {
            size_t n = (size_t)(le - p);
            int sep = 0, key = 0;
            for (size_t i = 0; i + 4 <= n && !sep; i++)
                sep = memcmp(p + i, " -- ", 4) == 0;
            static const char fct[] = "forward_compute_time=";
            for (size_t i = 0; i + sizeof fct - 1 <= n && !key; i++)
                key = memcmp(p + i, fct, sizeof fct - 1) == 0;
            /* An edge line ("<TAB>a -- b") first: a graph whose nodes are missing,
             * which the graph reader names; YAML cannot start with a tab. */
            return sep && (key || *p == '\t');
        }
        p = nl ? nl + 1 : end;
    }
    return 0;
}

int pp_costmodel_load(const char *path, struct pp_costmodel **out, struct pp_diag *d)
{
    char *buf;
    size_t len;
    int rc = pp_read_file(path, MAX_MODEL_BYTES, &buf, &len, d);
    if (rc)
        return rc;
    const char *file = strcmp(path, "-") == 0 ? "<stdin>" : path;
    if (looks_like_graph(buf, len))
        rc = pp_costmodel_parse_graph(buf, len, file, out, d);
    else
        rc = pp_costmodel_parse_yaml(buf, len, file, out, d);
    free(buf);
    return rc;
}

/* Plain YAML scalars that read back as the same string everywhere a name goes:
 * no flow indicators, no leading indicator, nothing pp_ystr treats as empty. */
static int plain_safe(const char *s)
{
    if (!*s || strcmp(s, "null") == 0 || strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
        return 0;
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
          *s == '_'))
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')' || c == '+'))
            return 0;
    }
    return 1;
}

/* YAML's printable set (what libyaml accepts unescaped). */
static int yaml_printable(uint32_t cp)
{
    return cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) || cp == 0x85 ||
           (cp >= 0xA0 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

/* Decode one UTF-8 sequence at p; returns its length, or 0 when malformed. */
static size_t utf8_next(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];
    size_t n = c < 0x80 ? 1 : c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0)
        return 0;
    if (n == 1) {
        *cp = c;
        return 1;
    }
    uint32_t v = c & (0x3F >> (n - 1));
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_cp[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* Code points a double-quoted YAML scalar cannot hold raw: the unprintable ones
 * (DEL, C1 controls) and the line breaks YAML 1.1 would fold (NEL, LS, PS). */
static int must_escape(uint32_t cp)
{
    return cp < 0x20 || !yaml_printable(cp) || cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

/* A JSON string is a YAML double-quoted scalar, except for must_escape() code
 * points above 0x1F, which JSON passes raw; escape those, and any stray byte. */
static void put_quoted(struct pp_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    int simple = 1;
    while (*p && simple) {
        uint32_t cp;
        size_t n = utf8_next(p, &cp);
        simple = n > 0 && (cp < 0x20 || !must_escape(cp));
        p += n ? n : 1;
    }
    if (simple) {
        pp_buf_json_str(b, s);
        return;
    }
    pp_buf_puts(b, "\"");
    for (p = (const unsigned char *)s; *p;) {
        uint32_t cp;
        size_t n = utf8_next(p, &cp);
        if (n == 0) {
            pp_buf_printf(b, "\\x%02x", *p); /* cannot come from a reader; keep it visible */
            p++;
            continue;
        }
        if (cp == '"' || cp == '\\')
            pp_buf_printf(b, "\\%c", (char)cp);
        else if (must_escape(cp))
            pp_buf_printf(b, cp > 0xFFFF ? "\\U%08x" : "\\u%04x", (unsigned)cp);
        else
            pp_buf_append(b, (const char *)p, n);
        p += n;
    }
    pp_buf_puts(b, "\"");
}

static void put_name(struct pp_buf *b, const char *s)
{
    if (plain_safe(s))
        pp_buf_puts(b, s);
    else
        put_quoted(b, s);
}

/* A description becomes a trailing comment only when nothing in it can end the
 * comment or upset the reader: printable ASCII on one line. */
static int comment_safe(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p > 0x7E)
            return 0;
    return *s != '\0';
}

/* Byte counts read better as integers than as pp_buf_double's "1.3238272e+08";
 * below 1e16 "%.0f" of an integral double is exact, so it round-trips too. */
static void put_num(struct pp_buf *b, const char *key, double v)
{
    pp_buf_printf(b, ", %s: ", key);
    if (v == floor(v) && fabs(v) < 1e16)
        pp_buf_printf(b, "%.0f", v == 0 ? 0.0 : v);
    else
        pp_buf_double(b, v);
}

void pp_costmodel_write_yaml(struct pp_buf *b, const struct pp_costmodel *cm)
{
    pp_buf_printf(b, "# ppsim per-layer cost model: %zu layers (times in ms, sizes in bytes)\n",
                  cm->n_layers);
    if (cm->name) {
        pp_buf_puts(b, "name: ");
        put_name(b, cm->name);
        pp_buf_puts(b, "\n");
    }
    if (cm->source) {
        pp_buf_puts(b, "source: ");
        put_quoted(b, cm->source);
        pp_buf_puts(b, "\n");
    }
    pp_buf_puts(b, "layers:\n");
    for (size_t i = 0; i < cm->n_layers; i++) {
        const struct pp_layer *L = &cm->layers[i];
        pp_buf_puts(b, "  - {name: ");
        if (L->name && *L->name)
            put_name(b, L->name);
        else
            pp_buf_printf(b, "layer%zu", i);
        put_num(b, "forward_ms", L->forward_ms);
        if (L->split_backward) {
            put_num(b, "backward_input_ms", L->backward_input_ms);
            put_num(b, "backward_weight_ms", L->backward_weight_ms);
            if (L->has_fused)
                put_num(b, "fused_backward_ms", L->fused_backward_ms);
        } else {
            /* A layer read with backward_ms has everything in the input part. */
            put_num(b, "backward_ms", L->backward_input_ms + L->backward_weight_ms);
        }
        put_num(b, "activation_bytes", L->activation_bytes);
        if (L->bw_activation_bytes != L->activation_bytes)
            put_num(b, "backward_weight_activation_bytes", L->bw_activation_bytes);
        put_num(b, "output_bytes", L->output_bytes);
        put_num(b, "parameter_bytes", L->parameter_bytes);
        pp_buf_puts(b, "}");
        if (L->desc && comment_safe(L->desc))
            pp_buf_printf(b, "  # %s", L->desc);
        pp_buf_puts(b, "\n");
    }
}
