/* report.h - rendering a run as a table, CSV or JSON (stage 5).
 * Numbers in CSV/JSON are printed in the C locale with round-trip precision.
 * The renderers append to a buffer; the caller writes it out in one piece. */
#ifndef PP_REPORT_H
#define PP_REPORT_H

struct pp_buf;
struct pp_run;

enum pp_format { PP_FMT_TABLE, PP_FMT_CSV, PP_FMT_JSON };

/* -1 when unknown. */
int pp_format_from_name(const char *name);

void pp_report_table(struct pp_buf *b, const struct pp_run *r);
void pp_report_csv(struct pp_buf *b, const struct pp_run *r);
void pp_report_json(struct pp_buf *b, const struct pp_run *r);
void pp_report(struct pp_buf *b, const struct pp_run *r, enum pp_format f);

#endif
