/* fuzz_util.c - invariants shared by the fuzz targets (fuzz.h). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "costmodel.h"
#include "diag.h"
#include "fuzz_sets.h"

void pp_fuzz_report(const char *target, const char *what)
{
    fprintf(stderr, "fuzz_%s: %s\n", target, what);
}

void pp_fuzz_check_error(int rc, const struct pp_diag *d, const char *target)
{
    if (rc >= 0 || -rc > PP_EINTR)
        pp_fuzz_fail(target, "a failed parse returned no negative PP_E* code");
    if (!d->msg[0])
        pp_fuzz_fail(target, "a failed parse left no message");
    /* PP_FUZZ_ONE_LINE=1 also insists on one-line messages (the CLI prints
     * d->msg as is); off by default because the value quoted in a message
     * is the user's text. */
    const char *one = getenv("PP_FUZZ_ONE_LINE");
    if (one && *one == '1' && (strchr(d->msg, '\n') || strchr(d->file, '\n'))) {
        fprintf(stderr, "fuzz_%s: message spans lines: %s\n", target, d->msg);
        abort();
    }
}

void pp_fuzz_sets_read(const char *buf, size_t len, struct pp_fuzz_sets *s)
{
    memset(s, 0, sizeof *s);
    size_t i = 0;
    while (i < len && s->n < PP_FUZZ_MAX_SETS) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        if (end - i > 5 && memcmp(buf + i, "#set ", 5) == 0) {
            /* a NUL inside the line ends the argument, as it would in argv */
            size_t n = end - i - 5;
            char *t = malloc(n + 1);
            if (!t)
                abort();
            memcpy(t, buf + i + 5, n);
            t[n] = '\0';
            s->text[s->n] = t;
            s->ptr[s->n] = t;
            s->n++;
        }
        i = end + 1;
    }
}

void pp_fuzz_sets_free(struct pp_fuzz_sets *s)
{
    for (size_t k = 0; k < s->n; k++)
        free(s->text[k]);
    memset(s, 0, sizeof *s);
}

static int same(double a, double b)
{
    return a == b || (a != a && b != b);
}

void pp_fuzz_costmodel_roundtrip(const struct pp_costmodel *cm, const char *target)
{
    struct pp_buf b;
    pp_buf_init(&b);
    pp_costmodel_write_yaml(&b, cm);
    struct pp_costmodel *back = NULL;
    struct pp_diag d = {{0}, 0, 0, {0}};
    if (pp_costmodel_parse_yaml(b.data, b.len, "<written>", &back, &d) != 0) {
        char line[1024];
        pp_diag_format(&d, line, sizeof line);
        pp_fuzz_fail(target, line);
    }
    if (back->n_layers != cm->n_layers)
        pp_fuzz_fail(target, "the written model reads back with another layer count");
    for (size_t i = 0; i < cm->n_layers; i++) {
        const struct pp_layer *x = &cm->layers[i], *y = &back->layers[i];
        if (!same(x->forward_ms, y->forward_ms) ||
            !same(x->backward_input_ms + x->backward_weight_ms,
                  y->backward_input_ms + y->backward_weight_ms) ||
            !same(x->activation_bytes, y->activation_bytes) ||
            !same(x->bw_activation_bytes, y->bw_activation_bytes) ||
            !same(x->output_bytes, y->output_bytes) ||
            !same(x->parameter_bytes, y->parameter_bytes))
            pp_fuzz_fail(target, "the written model reads back with other numbers");
        if (x->name && *x->name && strcmp(x->name, y->name) != 0)
            pp_fuzz_fail(target, "the written model reads back with another layer name");
    }
    pp_costmodel_free(back);
    pp_buf_free(&b);
}
