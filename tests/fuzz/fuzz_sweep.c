/* fuzz_sweep.c - sweep grids, two ways in:
 *  - the input as a scenario with a `sweep:` block (pp_ydoc_parse, "#set"
 *    overrides, pp_sweep_add_yaml), as `ppsim sweep` builds it;
 *  - every line of the input as a --grid argument (pp_sweep_add_grid) and
 *    as a --where filter (pp_sweep_add_where), each a NUL-terminated copy
 *    (argv strings end at their NUL).
 * A grid that passes pp_sweep_check must give its size, CSV header and the
 * description of its first and last configurations. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "fuzz.h"
#include "fuzz_sets.h"
#include "sweep.h"
#include "yamlutil.h"

static void use(struct pp_sweep *s, int rc, struct pp_diag *d)
{
    if (rc != 0)
        return; /* checked where it failed */
    if ((rc = pp_sweep_check(s, d)) != 0) {
        pp_fuzz_check_error(rc, d, "sweep");
        return;
    }
    uint64_t n = pp_sweep_size(s);
    if (n == 0 && s->n_axes)
        pp_fuzz_fail("sweep", "a checked grid has no configurations");
    struct pp_buf b;
    pp_buf_init(&b);
    pp_sweep_csv_header(&b, s);
    if (n && n <= PP_SWEEP_MAX) {
        pp_sweep_describe(s, 0, &b);
        pp_sweep_describe(s, n - 1, &b);
    }
    pp_buf_free(&b);
}

int pp_fuzz_sweep(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct pp_diag d = {{0}, 0, 0, {0}};

    struct pp_fuzz_sets sets;
    pp_fuzz_sets_read(buf, size, &sets);
    struct pp_sweep s;
    memset(&s, 0, sizeof s);
    struct pp_ydoc *doc = NULL;
    int rc = pp_ydoc_parse(buf, size, PP_FUZZ_FILE, &doc, &d);
    for (size_t i = 0; i < sets.n && rc == 0; i++)
        rc = pp_ydoc_set(doc, sets.ptr[i], &d);
    const struct pp_ynode *blk = rc == 0 && doc->root ? pp_ymap_get(doc->root, "sweep") : NULL;
    if (blk)
        rc = pp_sweep_add_yaml(&s, blk, &d);
    if (rc)
        pp_fuzz_check_error(rc, &d, "sweep");
    else if (blk)
        use(&s, rc, &d);
    pp_ydoc_free(doc);
    pp_sweep_free(&s);
    pp_fuzz_sets_free(&sets);

    /* Lines as command-line arguments. */
    struct pp_sweep g;
    memset(&g, 0, sizeof g);
    rc = 0;
    size_t i = 0, lines = 0;
    while (i < size && lines < 16) {
        const char *nl = memchr(buf + i, '\n', size - i);
        size_t end = nl ? (size_t)(nl - buf) : size, n = end - i;
        char *arg = malloc(n + 1);
        if (!arg)
            abort();
        memcpy(arg, buf + i, n);
        arg[n] = '\0';
        int filter = strstr(arg, "==") || strpbrk(arg, "<>!") || !strchr(arg, '=');
        int r = filter ? pp_sweep_add_where(&g, arg, &d) : pp_sweep_add_grid(&g, arg, &d);
        if (r)
            pp_fuzz_check_error(r, &d, "sweep");
        rc = rc ? rc : r;
        free(arg);
        i = end + 1;
        lines++;
    }
    use(&g, rc, &d);
    pp_sweep_free(&g);
    return 0;
}

PP_FUZZ_TARGET(pp_fuzz_sweep)
