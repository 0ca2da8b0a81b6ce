/* test_diag.c - diagnostics stay one line (issue 8): pp_diag_set escapes
 * control characters and bytes that are not UTF-8 in the message and the
 * file name (\n, \t, \r, \xHH), keeps valid UTF-8 as it is, is idempotent,
 * and truncates only between whole characters or escapes. The expected
 * strings are written out by hand from the escaping rules. */
#include "diag.h"
#include "testutil.h"

static const char *msg_of(const char *value)
{
    static struct pp_diag d;
    CHECK_INT(pp_diag_set(&d, PP_EPARSE, "f.yaml", 3, 7, "key: '%s'", value), -PP_EPARSE);
    return d.msg;
}

static void test_controls(void)
{
    CHECK_STR(msg_of("a\nb"), "key: 'a\\nb'");
    CHECK_STR(msg_of("a\tb\rc"), "key: 'a\\tb\\rc'");
    CHECK_STR(msg_of("\x1b[31mred"), "key: '\\x1b[31mred'");
    CHECK_STR(msg_of("\x01\x1f\x7f"), "key: '\\x01\\x1f\\x7f'");
    CHECK_STR(msg_of("plain ~ text \\n"), "key: 'plain ~ text \\n'"); /* a backslash stays */
}

static void test_utf8(void)
{
    /* 2, 3 and 4 bytes, and the edges of the ranges: kept as they are */
    CHECK_STR(msg_of("caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80"),
              "key: 'caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80'");
    CHECK_STR(msg_of("\xc2\x80\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf"),
              "key: '\xc2\x80\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf'");
    /* not UTF-8: Latin-1, a lone continuation byte, overlong forms, a
     * surrogate, past U+10FFFF, a sequence cut short by an ASCII byte */
    CHECK_STR(msg_of("caf\xe9"), "key: 'caf\\xe9'");
    CHECK_STR(msg_of("\x80x\xff"), "key: '\\x80x\\xff'");
    CHECK_STR(msg_of("\xc0\xaf\xe0\x80\xaf"), "key: '\\xc0\\xaf\\xe0\\x80\\xaf'");
    CHECK_STR(msg_of("\xed\xa0\x80"), "key: '\\xed\\xa0\\x80'");
    CHECK_STR(msg_of("\xf4\x90\x80\x80\xf5"), "key: '\\xf4\\x90\\x80\\x80\\xf5'");
    CHECK_STR(msg_of("\xe4\xb8x"), "key: '\\xe4\\xb8x'");
    CHECK_STR(msg_of("end\xe4\xb8"), "key: 'end\\xe4\\xb8'"); /* not truncation: escaped */
}

static void test_file_and_format(void)
{
    struct pp_diag d;
    char line[1024];
    pp_diag_set(&d, PP_EIO, "dir/a\nb\x1b.yaml", 2, 0, "cannot open: %s", "No such file");
    CHECK_STR(d.file, "dir/a\\nb\\x1b.yaml");
    CHECK_STR(pp_diag_format(&d, line, sizeof line),
              "dir/a\\nb\\x1b.yaml:2:1: error: cannot open: No such file");
    /* the file argument may be d's own file (some callers re-wrap) */
    pp_diag_set(&d, PP_EINVAL, d.file, 0, 0, "again");
    CHECK_STR(pp_diag_format(&d, line, sizeof line), "dir/a\\nb\\x1b.yaml: error: again");
    /* callers that fill the record themselves are escaped when formatted */
    snprintf(d.file, sizeof d.file, "%s", "");
    snprintf(d.msg, sizeof d.msg, "%s", "two\nlines\t\xff");
    CHECK_STR(pp_diag_format(&d, line, sizeof line), "error: two\\nlines\\t\\xff");
    CHECK_INT(pp_diag_set(NULL, -PP_EINTR, NULL, 0, 0, "x"), -PP_EINTR);
}

static void test_idempotent(void)
{
    struct pp_diag d;
    pp_diag_set(&d, PP_EPARSE, "f", 1, 1, "bad '%s'", "\t\xe9\xc3\xa9\x1b");
    CHECK_STR(d.msg, "bad '\\t\\xe9\xc3\xa9\\x1b'");
    /* a message built from another message is not escaped twice */
    pp_diag_set(&d, PP_EINVAL, "f", 1, 1, "%s", d.msg);
    CHECK_STR(d.msg, "bad '\\t\\xe9\xc3\xa9\\x1b'");
    pp_diag_set(&d, PP_EINVAL, "f", 1, 1, "outer: %s", d.msg);
    CHECK_STR(d.msg, "outer: bad '\\t\\xe9\xc3\xa9\\x1b'");
}

static void test_truncation(void)
{
    struct pp_diag d;
    char big[2000];
    /* 600 control bytes: as many whole escapes as fit, never a piece of one */
    memset(big, '\x01', 600);
    big[600] = '\0';
    pp_diag_set(&d, PP_EPARSE, "f", 1, 1, "%s", big);
    size_t n = strlen(d.msg);
    CHECK_INT(n, 508); /* 127 escapes of 4 bytes in 511 */
    CHECK_INT(strncmp(d.msg + n - 4, "\\x01", 4), 0);
    for (size_t i = 0; i < n; i += 4)
        CHECK_INT(strncmp(d.msg + i, "\\x01", 4), 0);
    /* the formatting cut a UTF-8 letter in half: the half is dropped, not escaped */
    memset(big, 'a', 510);
    memcpy(big + 510, "\xc3\xa9tail", 7);
    pp_diag_set(&d, PP_EPARSE, "f", 1, 1, "%s", big);
    CHECK_INT(strlen(d.msg), 510);
    CHECK_INT(d.msg[509], 'a');
    /* a long file name is cut the same way */
    memset(big, 'b', 254);
    memcpy(big + 254, "\xe4\xb8\xad.yaml", 9);
    pp_diag_set(&d, PP_EPARSE, big, 1, 1, "x");
    CHECK_INT(strlen(d.file), 254);
    /* an escape that would not fit is left out whole */
    memset(big, 'c', 510);
    memcpy(big + 510, "\n", 2);
    pp_diag_set(&d, PP_EPARSE, "f", 1, 1, "%s", big);
    CHECK_INT(strlen(d.msg), 510);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"control characters", test_controls},
        {"UTF-8 kept, other bytes escaped", test_utf8},
        {"file names and pp_diag_format", test_file_and_format},
        {"idempotent", test_idempotent},
        {"truncation", test_truncation},
        {NULL, NULL},
    };
    return pp_test_main("diag", tests);
}
