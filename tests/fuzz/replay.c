/* replay.c - feed every committed corpus file to its fuzz target, without
 * libFuzzer (SQLite's test/fuzzcheck.c pattern), so `meson test` checks the
 * seeds and the minimised crashers with any compiler, and under ASan/UBSan
 * in tests/run_all.sh.
 *
 *   fuzz_replay CORPUS_DIR [TARGET]
 *
 * Target t reads CORPUS_DIR/t/ and CORPUS_DIR/regressions/t/ (all files, in
 * name order). Each input is copied into a buffer of exactly its size, so a
 * read past the end is a heap overflow ASan reports. A target aborts on a
 * broken invariant; a directory with no inputs is a failure too. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} targets[] = {
    {"scenario", pp_fuzz_scenario},   {"costmodel_yaml", pp_fuzz_costmodel_yaml},
    {"graph", pp_fuzz_graph},         {"schedcsv", pp_fuzz_schedcsv},
    {"converge", pp_fuzz_converge},   {"sweep", pp_fuzz_sweep},
    {"csvtab", pp_fuzz_csvtab},       {"meas", pp_fuzz_meas},
    {"calib", pp_fuzz_calib},
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(int (*fn)(const uint8_t *, size_t), const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
        return -1;
    }
    size_t cap = 1 << 16, len = 0, n;
    char *all = malloc(cap);
    while (all && (n = fread(all + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            char *more = realloc(all, cap *= 2);
            if (!more)
                abort();
            all = more;
        }
    }
    fclose(f);
    if (!all)
        abort();
    /* exactly len bytes: nothing after the input to lean on */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact)
        abort();
    memcpy(exact, all, len);
    free(all);
    fprintf(stderr, "%s\n", path); /* the last line names the culprit of a crash */
    fn(exact, len);
    free(exact);
    return 0;
}

/* Inputs in dir (regular files, not dot files); -1 when it cannot be read. */
static long run_dir(int (*fn)(const uint8_t *, size_t), const char *dir, int required)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        if (required)
            fprintf(stderr, "fuzz_replay: cannot read %s\n", dir);
        return required ? -1 : 0;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char **more = realloc(names, (n + 1) * sizeof *names);
        if (!more || !(more[n] = strdup(e->d_name)))
            abort();
        names = more;
        n++;
    }
    closedir(dp);
    if (n) /* qsort's array must not be NULL, even when empty */
        qsort(names, n, sizeof *names, cmp_str);
    long count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(fn, path) != 0)
                count = -1;
            else if (count >= 0)
                count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: fuzz_replay CORPUS_DIR [TARGET]\n");
        return 2;
    }
    int status = 0, matched = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        if (argc == 3 && strcmp(argv[2], targets[t].name) != 0)
            continue;
        matched = 1;
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", argv[1], targets[t].name);
        long seeds = run_dir(targets[t].fn, dir, 1);
        snprintf(dir, sizeof dir, "%s/regressions/%s", argv[1], targets[t].name);
        long regs = run_dir(targets[t].fn, dir, 0);
        printf("%s: %ld corpus inputs, %ld regressions\n", targets[t].name, seeds, regs);
        if (seeds <= 0 || regs < 0)
            status = 1;
    }
    if (!matched) {
        fprintf(stderr, "fuzz_replay: unknown target '%s'\n", argv[2]);
        return 2;
    }
    return status;
}
