/* test_yamlutil.c - the strict YAML reader: every refusal with its exact
 * message and position, BOM/CRLF input, the typed getters, "did you mean" and
 * --set overrides. Expected libyaml wordings are the ones ecosystem.md §2 lists
 * as verified for libyaml 0.2.5. */
#include <stdint.h>

#include "diag.h"
#include "testutil.h"
#include "yamlutil.h"

static char msg[1024];

/* Parse text (len bytes) expecting failure; the formatted diagnostic goes to msg. */
static int parse_fail(const char *text, size_t len)
{
    struct pp_ydoc *doc = NULL;
    struct pp_diag d;
    int rc = pp_ydoc_parse(text, len, "t.yaml", &doc, &d);
    if (rc == 0) {
        pp_ydoc_free(doc);
        snprintf(msg, sizeof msg, "(parsed)");
        return 0;
    }
    pp_diag_format(&d, msg, sizeof msg);
    return rc;
}
#define FAIL(lit) parse_fail(lit, sizeof(lit) - 1)

static struct pp_ydoc *parse_ok(const char *text, size_t len)
{
    struct pp_ydoc *doc = NULL;
    struct pp_diag d;
    int rc = pp_ydoc_parse(text, len, "t.yaml", &doc, &d);
    if (rc) {
        pp_diag_format(&d, msg, sizeof msg);
        CU_FAIL(msg);
        return NULL;
    }
    return doc;
}
#define OK(lit) parse_ok(lit, sizeof(lit) - 1)

static void test_aliases_and_anchors(void)
{
    CHECK_INT(FAIL("a: &x 1\nb: *x\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: YAML anchors and aliases are not supported (anchor '&x')");
    /* An alias to an undefined anchor is refused as an alias, not by libyaml. */
    CHECK_INT(FAIL("a: 1\nb: *x\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:2:4: error: YAML anchors and aliases are not supported (alias '*x')");
    /* "Billion laughs": nine levels of ten aliases each would expand to 10^9
     * strings in a naive tree builder; the first anchor stops it. */
    const char *laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\","
                         "\"lol\"]\n"
                         "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                         "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                         "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                         "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                         "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                         "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                         "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                         "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    CHECK_INT(parse_fail(laughs, strlen(laughs)), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: YAML anchors and aliases are not supported (anchor '&a')");
    /* An anchor on a collection, too. */
    CHECK_INT(FAIL("base: &b {x: 1}\n"), -PP_EPARSE);
    CHECK_CONTAINS(msg, "t.yaml:1:7: error: YAML anchors and aliases are not supported");
}

static void test_tags(void)
{
    CHECK_INT(FAIL("a: !!str 1\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: YAML tags are not supported (tag 'tag:yaml.org,2002:str')");
    CHECK_INT(FAIL("a: !foo {x: 1}\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: YAML tags are not supported (tag '!foo')");
    CHECK_INT(FAIL("--- !!map\na: 1\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:5: error: YAML tags are not supported (tag 'tag:yaml.org,2002:map')");
    CHECK_INT(FAIL("- !!python/object:os.system [ls]\n"), -PP_EPARSE);
    CHECK_CONTAINS(msg, "YAML tags are not supported");
}

static void test_documents_and_duplicates(void)
{
    CHECK_INT(FAIL("a: 1\n---\nb: 2\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:2:1: error: expected a single YAML document, found a second one");
    CHECK_INT(FAIL("a: 1\nb: 2\na: 3\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:3:1: error: duplicate key 'a' (first at line 1)");
    /* Nested and flow maps are checked too (libyaml itself does not: ecosystem.md §2). */
    CHECK_INT(FAIL("top:\n  x: {k: 1, k: 2}\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:2:13: error: duplicate key 'k' (first at line 2)");
    CHECK_INT(FAIL("? [a]\n: 1\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:3: error: mapping keys must be plain scalars");
    /* Past 16 keys a mapping's keys are hashed (src/nameset.c; the pairwise scan
     * took minutes on a file of 200,000 keys). Same verdicts, same lines; two
     * sibling mappings with the same 40 keys are no duplicates. */
    char big[40000];
    size_t n = 0;
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "k%d: %d\n", i, i);
    struct pp_ydoc *many = parse_ok(big, n);
    CU_ASSERT_TRUE(many && many->root && many->root->n == 1000);
    pp_ydoc_free(many);
    snprintf(big + n, sizeof big - n, "k617: 0\n");
    CHECK_INT(parse_fail(big, strlen(big)), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1001:1: error: duplicate key 'k617' (first at line 618)");
    n = 0;
    for (int m = 0; m < 2; m++) {
        n += (size_t)snprintf(big + n, sizeof big - n, "m%d:\n", m);
        for (int i = 0; i < 40; i++)
            n += (size_t)snprintf(big + n, sizeof big - n, "  k%d: %d\n", i, i);
    }
    many = parse_ok(big, n);
    CU_ASSERT_PTR_NOT_NULL(many);
    pp_ydoc_free(many);
    /* A document end marker with nothing after it is one document. */
    struct pp_ydoc *doc = OK("---\na: 1\n...\n");
    CU_ASSERT_PTR_NOT_NULL(doc);
    pp_ydoc_free(doc);
}

static void test_depth(void)
{
    char deep[200];
    size_t n = 0;
    for (int i = 0; i < 65; i++)
        deep[n++] = '[';
    for (int i = 0; i < 65; i++)
        deep[n++] = ']';
    CHECK_INT(parse_fail(deep, n), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:65: error: document is nested more than 64 levels deep");
    /* Exactly PP_YAML_MAX_DEPTH levels is fine. */
    struct pp_ydoc *doc = parse_ok(deep + 1, n - 2);
    CU_ASSERT_PTR_NOT_NULL(doc);
    int depth = 0;
    for (const struct pp_ynode *x = doc ? doc->root : NULL; x; x = x->n ? x->kids[0] : NULL)
        depth++;
    CHECK_INT(depth, 64);
    pp_ydoc_free(doc);
}

static void test_syntax_errors(void)
{
    /* ecosystem.md §2: "a tab as indentation gives `found character that cannot
     * start any token`". */
    CHECK_INT(FAIL("a:\n\tb: 1\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:2:1: error: malformed YAML: found character that cannot start any "
                   "token (while scanning for the next token at line 2, column 1)");
    CHECK_INT(FAIL("a:\n  b: 1\n c: 2\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:3:2: error: malformed YAML: did not find expected key (while parsing "
                   "a block mapping at line 1, column 1)");
    CHECK_INT(FAIL("a: \"abc\nb: 1\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:3:1: error: malformed YAML: found unexpected end of stream (while "
                   "scanning a quoted scalar at line 1, column 4)");
    CHECK_INT(FAIL("a: b: c\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:5: error: malformed YAML: mapping values are not allowed in this "
                   "context");
    CHECK_INT(FAIL("a: [1, 2\n"), -PP_EPARSE);
    CHECK_CONTAINS(msg, "t.yaml:2:1: error: malformed YAML: did not find expected ',' or ']'");
}

static void test_binary_and_utf8(void)
{
    CHECK_INT(FAIL("a: \x01\x02\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: not valid UTF-8 text: control characters are not allowed "
                   "(byte 0x01)");
    CHECK_INT(FAIL("a: b\xff\xfe\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:5: error: not valid UTF-8 text: invalid leading UTF-8 octet (byte "
                   "0xff)");
    CHECK_INT(FAIL("a: \xc3\x28\n"), -PP_EPARSE);
    CHECK_CONTAINS(msg, "not valid UTF-8 text: invalid trailing UTF-8 octet");
    /* An embedded NUL: the length, not a terminator, bounds the input. */
    CHECK_INT(FAIL("a: b\0c\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:5: error: not valid UTF-8 text: control characters are not allowed "
                   "(byte 0x00)");
    /* The second line reports its own line number. */
    CHECK_INT(FAIL("ok: 1\nx: \x7f\n"), -PP_EPARSE);
    CHECK_CONTAINS(msg, "t.yaml:2:4: error: not valid UTF-8 text");
}

static void test_empty_input(void)
{
    struct pp_ydoc *doc = parse_ok("", 0);
    CU_ASSERT_PTR_NOT_NULL(doc);
    if (doc)
        CU_ASSERT_PTR_NULL(doc->root);
    pp_ydoc_free(doc);
    doc = OK("  \n\n# only a comment\n");
    CU_ASSERT_PTR_NOT_NULL(doc);
    if (doc)
        CU_ASSERT_PTR_NULL(doc->root);
    pp_ydoc_free(doc);
}

static void test_bom_crlf(void)
{
    struct pp_ydoc *doc = OK("\xEF\xBB\xBF# c\r\na: 1\r\nb:\r\n  - x\r\n  - y\r\nc: end\r\n");
    CU_ASSERT_PTR_NOT_NULL(doc);
    if (!doc)
        return;
    const struct pp_ynode *r = doc->root;
    CHECK_INT(r->kind, PP_Y_MAP);
    CHECK_INT(r->n, 3);
    const struct pp_ynode *a = pp_ymap_get(r, "a"), *b = pp_ymap_get(r, "b");
    CHECK_STR(a->value, "1");
    CHECK_INT(a->line, 2);
    CHECK_INT(a->col, 4);
    CHECK_INT(b->kind, PP_Y_SEQ);
    CHECK_INT(b->kids[1]->line, 5);
    CHECK_INT(b->kids[1]->col, 5);
    CHECK_STR(b->kids[1]->value, "y");
    CHECK_INT(pp_ymap_get(r, "c")->line, 6);
    CHECK_STR(pp_ymap_get(r, "c")->value, "end");
    pp_ydoc_free(doc);
    /* An error after CRLF lines is still placed on the right line. */
    CHECK_INT(FAIL("\xEF\xBB\xBF" "a: 1\r\nb: 2\r\na: 3\r\n"), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:3:1: error: duplicate key 'a' (first at line 1)");
}

static void test_not_nul_terminated(void)
{
    /* Only the first 5 bytes are the document; "junk" must not be read. */
    const char text[] = "a: 12junk: [";
    struct pp_ydoc *doc = parse_ok(text, 5);
    CU_ASSERT_PTR_NOT_NULL(doc);
    if (doc)
        CHECK_STR(pp_ymap_get(doc->root, "a")->value, "12");
    pp_ydoc_free(doc);
}

/* Run a getter on the value of `v: TEXT`; msg gets the diagnostic. */
static int num_of(const char *text, double *out)
{
    char buf[200];
    snprintf(buf, sizeof buf, "v: %s\n", text);
    struct pp_ydoc *doc = parse_ok(buf, strlen(buf));
    if (!doc)
        return 99;
    struct pp_diag d;
    int rc = pp_ynum_nonneg(pp_ymap_get(doc->root, "v"), "x.v", out, &d);
    if (rc)
        pp_diag_format(&d, msg, sizeof msg);
    pp_ydoc_free(doc);
    return rc;
}

static void test_numbers(void)
{
    double v = -1;
    CHECK_INT(num_of("80e9", &v), 0);
    CHECK_CLOSE(v, 80e9, 0);
    CHECK_INT(num_of("1.5e-3", &v), 0);
    CHECK_CLOSE(v, 1.5e-3, 0);
    CHECK_INT(num_of("-0", &v), 0);
    CU_ASSERT(v == 0 && !signbit(v));
    CHECK_INT(num_of("42", &v), 0);
    CHECK_CLOSE(v, 42, 0);
    /* YAML 1.1 spellings are refused and named (ecosystem.md §2 pitfall 2). */
    CHECK_INT(num_of("yes", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: expected a decimal number, got 'yes'");
    CHECK_INT(num_of("~", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: expected a decimal number, got '~'");
    CHECK_INT(num_of("0x10", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: expected a decimal number, got '0x10'");
    CHECK_INT(num_of(".nan", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: expected a decimal number, got '.nan'");
    CHECK_INT(num_of(".inf", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: expected a decimal number, got '.inf'");
    CHECK_INT(num_of("1e400", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: number '1e400' is out of range");
    CHECK_INT(num_of("eight", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: expected a decimal number, got 'eight'");
    CHECK_INT(num_of("\"4\"", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: expected a number, got the string \"4\"");
    CHECK_INT(num_of("-1.5", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: must be >= 0, got '-1.5'");
    CHECK_INT(num_of("[1]", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: x.v: expected a number, got a list");
    CHECK_INT(num_of("", &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:3: error: x.v: expected a decimal number, got ''");

    /* The strict converter shared with the graph reader. */
    double x;
    CHECK_INT(pp_parse_decimal("1e400", &x), 2);
    CHECK_INT(pp_parse_decimal("-1e400", &x), 2);
    CHECK_INT(pp_parse_decimal("1e", &x), 1);
    CHECK_INT(pp_parse_decimal(".", &x), 1);
    CHECK_INT(pp_parse_decimal("", &x), 1);
    CHECK_INT(pp_parse_decimal(" 1", &x), 1);
    CHECK_INT(pp_parse_decimal("1 ", &x), 1);
    CHECK_INT(pp_parse_decimal("nan", &x), 1);
    CHECK_INT(pp_parse_decimal("inf", &x), 1);
    CHECK_INT(pp_parse_decimal("1_000", &x), 1);
    CHECK_INT(pp_parse_decimal("+.5E+2", &x), 0);
    CHECK_CLOSE(x, 50, 0);
    CHECK_INT(pp_parse_decimal("5.", &x), 0);
    CHECK_CLOSE(x, 5, 0);
    CHECK_INT(pp_parse_decimal("1e-400", &x), 0); /* underflow to 0 is harmless */
    CHECK_CLOSE(x, 0, 0);
}

static int int_of(const char *text, int64_t lo, int64_t hi, int64_t *out)
{
    char buf[200];
    snprintf(buf, sizeof buf, "v: %s\n", text);
    struct pp_ydoc *doc = parse_ok(buf, strlen(buf));
    if (!doc)
        return 99;
    struct pp_diag d;
    int rc = pp_yint(pp_ymap_get(doc->root, "v"), "v", lo, hi, out, &d);
    if (rc)
        pp_diag_format(&d, msg, sizeof msg);
    pp_ydoc_free(doc);
    return rc;
}

static void test_integers(void)
{
    int64_t v = 0;
    CHECK_INT(int_of("8", 1, 100, &v), 0);
    CHECK_INT(v, 8);
    CHECK_INT(int_of("1e3", 1, 10000, &v), 0); /* integral exponent notation is fine */
    CHECK_INT(v, 1000);
    CHECK_INT(int_of("2.5", 1, 100, &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: v: expected an integer, got '2.5'");
    CHECK_INT(int_of("0", 1, 100, &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: v: must be >= 1, got '0'");
    CHECK_INT(int_of("101", 1, 100, &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: v: must be between 1 and 100, got '101'");
    CHECK_INT(int_of("1e12", 1, 1000000, &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: v: must be between 1 and 1000000, got '1e12'");
    /* 2^63 rounds to (double)INT64_MAX; it must not reach the int64 conversion. */
    CHECK_INT(int_of("9223372036854775808", 0, INT64_MAX, &v), -PP_EPARSE);
    CHECK_INT(int_of("yes", 0, 10, &v), -PP_EPARSE);
    CHECK_STR(msg, "t.yaml:1:4: error: v: expected a decimal number, got 'yes'");
}

static void test_strings_and_bools(void)
{
    struct pp_ydoc *doc = OK("s: hello\nq: \"\"\nt: ~\ne:\nb1: true\nb2: false\nb3: yes\n"
                             "b4: \"true\"\nl: [a]\n");
    if (!doc)
        return;
    const struct pp_ynode *r = doc->root;
    struct pp_diag d;
    const char *s;
    CHECK_INT(pp_ystr(pp_ymap_get(r, "s"), "s", &s, &d), 0);
    CHECK_STR(s, "hello");
    CHECK_INT(pp_ystr(pp_ymap_get(r, "q"), "q", &s, &d), 0); /* quoted empty is a string */
    CHECK_STR(s, "");
    CHECK_INT(pp_ystr(pp_ymap_get(r, "t"), "t", &s, &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "t.yaml:3:4: error: t: expected a string, got an empty value");
    CHECK_INT(pp_ystr(pp_ymap_get(r, "e"), "e", &s, &d), -PP_EPARSE);
    CHECK_INT(pp_ystr(pp_ymap_get(r, "l"), "l", &s, &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "t.yaml:9:4: error: l: expected a string, got a list");
    int b = -1;
    CHECK_INT(pp_ybool(pp_ymap_get(r, "b1"), "b1", &b, &d), 0);
    CHECK_INT(b, 1);
    CHECK_INT(pp_ybool(pp_ymap_get(r, "b2"), "b2", &b, &d), 0);
    CHECK_INT(b, 0);
    CHECK_INT(pp_ybool(pp_ymap_get(r, "b3"), "b3", &b, &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "t.yaml:7:5: error: b3: expected true or false, got 'yes'");
    CHECK_INT(pp_ybool(pp_ymap_get(r, "b4"), "b4", &b, &d), -PP_EPARSE);
    pp_ydoc_free(doc);
}

static void test_did_you_mean(void)
{
    static const char *const keys[] = {"schedule", "stages", "chunks", "microbatches", NULL};
    struct pp_ydoc *doc = OK("stages: 4\nmicrobatch: 8\n");
    if (!doc)
        return;
    struct pp_diag d;
    CHECK_INT(pp_ymap_check(doc->root, "pipeline", keys, &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "t.yaml:2:1: error: unknown key 'pipeline.microbatch' (did you mean "
              "'microbatches'?)");
    pp_ydoc_free(doc);
    doc = OK("stagse: 4\n");
    CHECK_INT(pp_ymap_check(doc->root, "", keys, &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "t.yaml:1:1: error: unknown key 'stagse' (did you mean 'stages'?)");
    pp_ydoc_free(doc);
    doc = OK("x: 1\ncolour: red\n");
    CHECK_INT(pp_ymap_check(doc->root, "", keys, &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg), "t.yaml:1:1: error: unknown key 'x'");
    pp_ydoc_free(doc);
    doc = OK("[1, 2]\n");
    CHECK_INT(pp_ymap_check(doc->root, "pipeline", keys, &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "t.yaml:1:1: error: pipeline: expected a mapping, got a list");
    pp_ydoc_free(doc);

    CHECK_INT(pp_edit_distance("kitten", "sitting"), 3);
    CHECK_INT(pp_edit_distance("", "abc"), 3);
    CHECK_INT(pp_edit_distance("same", "same"), 0);
    static const char *const names[] = {"gpipe", "1f1b", NULL};
    CHECK_STR(pp_suggest("ifib", names), "1f1b");
    CHECK_STR(pp_suggest("gpip", names), "gpipe");
    CU_ASSERT_PTR_NULL(pp_suggest("zero-bubble", names));
}

static void test_set_overrides(void)
{
    struct pp_ydoc *doc = OK("pipeline:\n  stages: 4\n  schedule: 1f1b\n");
    if (!doc)
        return;
    struct pp_diag d;
    /* Replace a value; the new node names its origin and has no line. */
    CHECK_INT(pp_ydoc_set(doc, "pipeline.stages=8", &d), 0);
    const struct pp_ynode *p = pp_ymap_get(doc->root, "pipeline");
    const struct pp_ynode *st = pp_ymap_get(p, "stages");
    CHECK_STR(st->value, "8");
    CHECK_STR(st->file, "--set pipeline.stages=8");
    CHECK_INT(st->line, 0);
    CHECK_INT(p->n, 2);
    /* Create missing intermediate maps; list values parse as YAML. */
    CHECK_INT(pp_ydoc_set(doc, "cluster.link.latency_ms=0.5", &d), 0);
    CHECK_STR(pp_ymap_get(pp_ymap_get(pp_ymap_get(doc->root, "cluster"), "link"), "latency_ms")
                  ->value,
              "0.5");
    CHECK_INT(pp_ydoc_set(doc, "pipeline.partition=[4, 4]", &d), 0);
    const struct pp_ynode *part = pp_ymap_get(p, "partition");
    CHECK_INT(part->kind, PP_Y_SEQ);
    CHECK_INT(part->n, 2);
    CHECK_STR(part->kids[1]->file, "--set pipeline.partition=[4, 4]");
    /* An empty value is an empty plain scalar, which the getters then refuse. */
    CHECK_INT(pp_ydoc_set(doc, "name=", &d), 0);
    CHECK_STR(pp_ymap_get(doc->root, "name")->value, "");

    /* Refusals, all naming the override. */
    CHECK_INT(pp_ydoc_set(doc, "pipeline.stages", &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "--set pipeline.stages: error: expected KEY.PATH=VALUE");
    CHECK_INT(pp_ydoc_set(doc, "pipeline..stages=1", &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "--set pipeline..stages=1: error: empty component in key path 'pipeline..stages'");
    CHECK_INT(pp_ydoc_set(doc, "pipeline.stages.x=1", &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "--set pipeline.stages.x=1: error: 'pipeline.stages' is not a mapping");
    CHECK_INT(pp_ydoc_set(doc, "a=[1", &d), -PP_EPARSE);
    CHECK_CONTAINS(pp_diag_format(&d, msg, sizeof msg), "--set a=[1:");
    CHECK_INT(pp_ydoc_set(doc, "a=&x 1", &d), -PP_EPARSE);
    CHECK_CONTAINS(pp_diag_format(&d, msg, sizeof msg), "anchors and aliases are not supported");
    pp_ydoc_free(doc);

    /* On an empty document the first override creates the top-level map... */
    doc = parse_ok("", 0);
    CHECK_INT(pp_ydoc_set(doc, "a.b=1", &d), 0);
    CHECK_STR(pp_ymap_get(pp_ymap_get(doc->root, "a"), "b")->value, "1");
    pp_ydoc_free(doc);
    /* ...but a list at the top cannot take a key. */
    doc = OK("[1]\n");
    CHECK_INT(pp_ydoc_set(doc, "a=1", &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "--set a=1: error: the document's top level is not a mapping");
    pp_ydoc_free(doc);
}

static void test_load(void)
{
    struct pp_ydoc *doc = NULL;
    struct pp_diag d;
    CHECK_INT(pp_ydoc_load("no/such/file.yaml", &doc, &d), -PP_EIO);
    CHECK_CONTAINS(pp_diag_format(&d, msg, sizeof msg), "no/such/file.yaml: error: cannot open");
    doc = NULL;
    CHECK_INT(pp_ydoc_load("../scenarios/quickstart.yaml", &doc, &d), 0);
    if (doc) {
        CHECK_STR(doc->file, "../scenarios/quickstart.yaml");
        CU_ASSERT_PTR_NOT_NULL(pp_ymap_get(doc->root, "pipeline"));
        pp_ydoc_free(doc);
    }
}

static void test_error_node(void)
{
    struct pp_ydoc *doc = OK("a:\n  b: 7\n");
    struct pp_diag d;
    const struct pp_ynode *b = pp_ymap_get(pp_ymap_get(doc->root, "a"), "b");
    CHECK_INT(pp_ynode_error(b, PP_EINVAL, "a.b", &d, "too big (%d)", 7), -PP_EINVAL);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg), "t.yaml:2:6: error: a.b: too big (7)");
    CHECK_INT(pp_ynode_error(b, PP_EINVAL, "", &d, "plain"), -PP_EINVAL);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg), "t.yaml:2:6: error: plain");
    /* A NULL diag is allowed everywhere. */
    CHECK_INT(pp_ynode_error(b, PP_EINVAL, "a.b", NULL, "x"), -PP_EINVAL);
    pp_ydoc_free(doc);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"aliases and anchors (billion laughs)", test_aliases_and_anchors},
        {"tags", test_tags},
        {"documents, duplicate and complex keys", test_documents_and_duplicates},
        {"nesting depth", test_depth},
        {"syntax errors", test_syntax_errors},
        {"binary bytes and invalid UTF-8", test_binary_and_utf8},
        {"empty input", test_empty_input},
        {"BOM and CRLF", test_bom_crlf},
        {"length-bounded input", test_not_nul_terminated},
        {"numbers", test_numbers},
        {"integers", test_integers},
        {"strings and booleans", test_strings_and_bools},
        {"did you mean", test_did_you_mean},
        {"--set overrides", test_set_overrides},
        {"load", test_load},
        {"node errors", test_error_node},
        {NULL, NULL},
    };
    return pp_test_main("yamlutil", tests);
}
