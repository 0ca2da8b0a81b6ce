/* csvtab.h - a small RFC 4180 CSV table reader: one header row, then rows of
 * strings, columns looked up by name. Plots read sweep CSVs through it.
 *
 * Accepted: comma separators, LF or CRLF line ends, quoted fields ("" is a
 * quote; quoted fields may hold commas and line breaks), a UTF-8 byte-order
 * mark, a missing final line end. Blank lines are skipped. Refused, with
 * file:line:col: a quote inside an unquoted field, text after a closing
 * quote, an unterminated quote, NUL bytes, a row whose field count differs
 * from the header's, an empty or duplicate header name, an empty file. */
#ifndef PP_CSVTAB_H
#define PP_CSVTAB_H

#include <stddef.h>

struct pp_diag;

struct pp_csvpos {
    unsigned line, col; /* 1-based, where the field starts */
};

struct pp_csvtab {
    char *file;              /* as given, for diagnostics */
    size_t n_cols, n_rows;
    char **header;           /* [n_cols] */
    char **cells;            /* [n_rows * n_cols], row-major, never NULL */
    struct pp_csvpos *pos;   /* [n_rows * n_cols] */
};

/* Parse len bytes of CSV; `file` names it in diagnostics. On success *out is
 * owned (pp_csvtab_free). */
int pp_csvtab_parse(const char *buf, size_t len, const char *file, struct pp_csvtab **out,
                    struct pp_diag *d);
/* Read and parse a file ("-" for standard input). */
int pp_csvtab_load(const char *path, struct pp_csvtab **out, struct pp_diag *d);
void pp_csvtab_free(struct pp_csvtab *t);

/* The column named `name`, or -1. */
int pp_csvtab_col(const struct pp_csvtab *t, const char *name);
/* The column named `name`, or -PP_EINVAL naming the file, the missing column
 * and the closest header name ("did you mean"). `what` says what the column
 * was asked for (e.g. "--x"), or NULL. */
int pp_csvtab_need(const struct pp_csvtab *t, const char *name, const char *what,
                   struct pp_diag *d);

const char *pp_csvtab_cell(const struct pp_csvtab *t, size_t row, size_t col);
/* The cell as a finite decimal number; -PP_EPARSE at the cell's file:line:col
 * otherwise (an empty cell included). */
int pp_csvtab_number(const struct pp_csvtab *t, size_t row, size_t col, double *out,
                     struct pp_diag *d);
/* "file:line:col: error: column 'NAME': message" at the cell (row, col),
 * NAME its header; returns -code (a PP_E* value). */
int pp_csvtab_cell_error(const struct pp_csvtab *t, size_t row, size_t col, int code,
                         struct pp_diag *d, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
/* Is the cell a finite decimal number? */
int pp_csvtab_is_number(const struct pp_csvtab *t, size_t row, size_t col);

#endif
