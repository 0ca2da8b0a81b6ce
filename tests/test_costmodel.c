/* test_costmodel.c - both cost-model readers and the YAML writer.
 *
 * The PipeDream facts come from pipedream-optimizer.md §1 (its table of shipped
 * profiles: fwd+bwd totals and parameter bytes after the Input node is zeroed)
 * and from the profiles themselves in models/pipedream/profiles/ (copies of
 * msr-fiddle/pipedream@7db6a1c, MIT). Every error is checked with its exact
 * file:line:col, as a user would see it. */
#include <dirent.h>
#include <stdint.h>

#include "buf.h"
#include "costmodel.h"
#include "diag.h"
#include "testutil.h"
#include "yamlutil.h"

#define PROFILES "../models/pipedream/profiles"

static char msg[1024];

static struct pp_costmodel *load_ok(const char *path)
{
    struct pp_costmodel *cm = NULL;
    struct pp_diag d;
    if (pp_costmodel_load(path, &cm, &d)) {
        pp_diag_format(&d, msg, sizeof msg);
        CU_FAIL(msg);
        return NULL;
    }
    return cm;
}

static double total_params(const struct pp_costmodel *cm)
{
    double s = 0;
    for (size_t i = 0; i < cm->n_layers; i++)
        s += cm->layers[i].parameter_bytes;
    return s;
}

static const struct pp_layer *find(const struct pp_costmodel *cm, const char *name)
{
    for (size_t i = 0; i < cm->n_layers; i++)
        if (strcmp(cm->layers[i].name, name) == 0)
            return &cm->layers[i];
    return NULL;
}

typedef int (*parse_fn)(const char *, size_t, const char *, struct pp_costmodel **,
                        struct pp_diag *);

/* Text -> model, or the formatted error in msg. */
static int parse_with(parse_fn fn, const char *file, const char *text, struct pp_costmodel **out)
{
    struct pp_diag d;
    struct pp_costmodel *cm = NULL;
    int rc = fn(text, strlen(text), file, &cm, &d);
    if (rc)
        pp_diag_format(&d, msg, sizeof msg);
    if (out)
        *out = cm;
    else
        pp_costmodel_free(cm);
    return rc;
}

static int graph(const char *text, struct pp_costmodel **out)
{
    return parse_with(pp_costmodel_parse_graph, "g.txt", text, out);
}

static int yaml(const char *text, struct pp_costmodel **out)
{
    return parse_with(pp_costmodel_parse_yaml, "m.yaml", text, out);
}

/* A well-formed node line with the given numbers (text, so tests can break them). */
#define NODE(id, desc, f, b, a, p)                                                           \
    id " -- " desc " -- forward_compute_time=" f ", backward_compute_time=" b                \
       ", activation_size=" a ", parameter_size=" p "\n"

/* ---- PipeDream graph.txt ---------------------------------------------------------- */

static int is_profile(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".txt") == 0;
}

/* Every shipped profile loads: 14 models, resnet18's second run, the 5 test graphs. */
static void test_all_profiles_load(void)
{
    DIR *top = opendir(PROFILES);
    CU_ASSERT_PTR_NOT_NULL_FATAL(top);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(top))) {
        if (e->d_name[0] == '.')
            continue;
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", PROFILES, e->d_name);
        DIR *sub = opendir(dir);
        if (!sub)
            continue;
        struct dirent *f;
        while ((f = readdir(sub))) {
            if (!is_profile(f->d_name))
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, f->d_name);
            struct pp_costmodel *cm = load_ok(path);
            if (!cm)
                continue;
            files++;
            CHECK_INT(cm->format, PP_MODEL_PIPEDREAM_GRAPH);
            CHECK_STR(cm->source, path);
            CU_ASSERT(cm->n_layers > 0);
            /* Edges point forward in the linear order and are sorted. */
            for (size_t i = 0; i < cm->n_edges; i++) {
                CU_ASSERT(cm->edges[i].src < cm->edges[i].dst);
                CU_ASSERT(cm->edges[i].dst < cm->n_layers);
                if (i)
                    CU_ASSERT(cm->edges[i - 1].src < cm->edges[i].src ||
                              (cm->edges[i - 1].src == cm->edges[i].src &&
                               cm->edges[i - 1].dst < cm->edges[i].dst));
            }
            /* Nothing crosses a cut after the last layer. */
            CHECK_CLOSE(cm->layers[cm->n_layers - 1].output_bytes, 0, 0);
            pp_costmodel_free(cm);
        }
        closedir(sub);
    }
    closedir(top);
    CHECK_INT(files, 20);
}

struct fact {
    const char *model;
    size_t raw_nodes, removed; /* table "nodes" = the file's node lines */
    size_t raw_edges, removed_edges;
    double total_ms, params_bytes;
};

/* pipedream-optimizer.md §1 table. Its "nodes"/"edges" columns count the file's
 * node and edge lines (alexnet: 23 node lines, one of them Input); the layers
 * left are those minus the Input sources and the __getitem__ sinks (gnmt: 3
 * Inputs + 8 of its 20 __getitem__ nodes are sinks). Totals are rounded there. */
static const struct fact facts[] = {
    {"alexnet", 23, 1, 23, 1, 85.3, 2.44e8},
    {"vgg16", 41, 1, 41, 1, 672.5, 5.53e8},
    {"resnet18", 71, 1, 79, 1, 259.7, 4.68e7},
    {"resnet50", 177, 1, 193, 1, 443.4, 1.02e8},
    {"resnet101", 347, 1, 380, 1, 411.1, 1.78e8},
    {"resnext50", 177, 1, 193, 1, 590.8, 1.00e8},
    {"resnext101", 347, 1, 380, 1, 557.4, 1.77e8},
    {"squeezenet1_0", 68, 1, 76, 1, 285.4, 5.0e6},
    {"densenet121", 429, 1, 487, 1, 326.2, 3.19e7},
    {"gnmt", 48, 11, 58, 12, 89.4, 7.75e8},
    {"gnmt_large", 96, 19, 122, 20, 520.5, 1.11e9},
};

static void test_profile_facts(void)
{
    for (size_t i = 0; i < sizeof facts / sizeof facts[0]; i++) {
        const struct fact *f = &facts[i];
        char path[256];
        snprintf(path, sizeof path, "%s/%s/graph.txt", PROFILES, f->model);
        struct pp_costmodel *cm = load_ok(path);
        if (!cm)
            continue;
        CHECK_INT(cm->n_layers, f->raw_nodes - f->removed);
        CHECK_INT(cm->n_edges, f->raw_edges - f->removed_edges);
        CHECK_CLOSE(pp_costmodel_compute_ms(cm, 0, cm->n_layers), f->total_ms, 0.05 / f->total_ms);
        CHECK_CLOSE(total_params(cm), f->params_bytes, 0.006);
        pp_costmodel_free(cm);
    }
}

static void test_alexnet_input_removed(void)
{
    struct pp_costmodel *cm = load_ok(PROFILES "/alexnet/graph.txt");
    if (!cm)
        return;
    /* `node1 -- Input -- forward_compute_time=635.902, ...` is the data loader. */
    CU_ASSERT_PTR_NULL(find(cm, "node1"));
    CHECK_STR(cm->layers[0].name, "node2");
    CHECK_STR(cm->layers[0].desc,
              "Conv2d(3, 64, kernel_size=(11, 11), stride=(4, 4), padding=(2, 2))");
    /* The excerpt in pipedream-optimizer.md §1: node2's numbers. */
    CHECK_CLOSE(cm->layers[0].forward_ms, 22.316, 0);
    CHECK_CLOSE(cm->layers[0].backward_input_ms, 6.405, 0);
    CHECK_CLOSE(cm->layers[0].backward_weight_ms, 0, 0);
    CHECK_INT(cm->layers[0].split_backward, 0);
    CHECK_CLOSE(cm->layers[0].activation_bytes, 198246400, 0);
    CHECK_CLOSE(cm->layers[0].bw_activation_bytes, 198246400, 0);
    CHECK_CLOSE(cm->layers[0].parameter_bytes, 93184, 0);
    CHECK_CLOSE(cm->layers[0].output_bytes, 198246400, 0);
    /* The 635.902 ms of data loading is not in the total (85.3, not 721.2). */
    CU_ASSERT(pp_costmodel_compute_ms(cm, 0, cm->n_layers) < 86);
    /* `node15 -- Size(0)` stays, with 0 time. */
    const struct pp_layer *size = find(cm, "node15");
    CU_ASSERT_PTR_NOT_NULL(size);
    if (size)
        CHECK_CLOSE(size->forward_ms, 0, 0);
    pp_costmodel_free(cm);
}

/* gnmt: multi-output LSTMs and skip edges. Reference values from an independent
 * Python transcription of PipeDream's parser (graph.py Graph.from_str) plus the
 * same linearisation and cut rule. */
static void test_gnmt_outputs(void)
{
    struct pp_costmodel *cm = load_ok(PROFILES "/gnmt/graph.txt");
    if (!cm)
        return;
    CHECK_INT(cm->n_layers, 37);
    CHECK_STR(cm->layers[0].name, "node4");
    CHECK_STR(cm->layers[14].name, "node20"); /* `hidden`, a second source, stays */
    CHECK_STR(cm->layers[36].name, "node48");
    /* `node7 -- LSTM(2048, 1024) -- ... activation_size=[6291456.0; 131072.0; 131072.0]` */
    const struct pp_layer *l7 = find(cm, "node7");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l7);
    CHECK_CLOSE(l7->activation_bytes, 6291456.0 + 131072.0 + 131072.0, 0);
    CHECK_CLOSE(l7->parameter_bytes, 50364416, 0);
    static const double out_ref[] = {6291456,  12582912, 12582912, 6553600,  6291456,
                                     12582912, 12845056, 12582912, 6291456,  12582912,
                                     12845056, 12582912, 6291456,  12582912, 12582912,
                                     12582912, 12871680, 19032064, 6291456};
    for (size_t k = 0; k < sizeof out_ref / sizeof out_ref[0]; k++)
        CHECK_CLOSE(cm->layers[k].output_bytes, out_ref[k], 0);
    CHECK_CLOSE(cm->layers[35].output_bytes, 6160384, 0);
    pp_costmodel_free(cm);
}

static void test_graph_linearisation(void)
{
    /* A diamond with a skip edge, nodes listed out of order:
     *   in -> a -> {c, b} -> d ; a -> d.  Ties between b and c go by file order
     * (c is listed first). */
    const char *text = NODE("d", "Add", "1", "1", "40", "0")
        NODE("c", "Conv c", "2", "2", "30", "7")
        NODE("b", "Conv b", "3", "3", "20", "5")
        NODE("a", "Conv a", "4", "4", "10", "3")
        NODE("in", "Input", "100", "0", "1000", "0")
        NODE("z", "__getitem__(1)", "0", "0", "5", "0")
        "\ta -- b\n\ta -- c\n\tb -- d\n\tc -- d\n\ta -- d\n\tin -- a\n\ta -- z\n\ta -- b\n";
    struct pp_costmodel *cm;
    CHECK_INT(graph(text, &cm), 0);
    if (!cm)
        return;
    CHECK_INT(cm->n_layers, 4);
    CHECK_STR(cm->layers[0].name, "a");
    CHECK_STR(cm->layers[1].name, "c");
    CHECK_STR(cm->layers[2].name, "b");
    CHECK_STR(cm->layers[3].name, "d");
    CHECK_STR(cm->layers[1].desc, "Conv c");
    /* Cut after a: a's output (to c, b, d) = 10. After c: a (to b, d) + c = 40.
     * After b: a (to d) + c + b = 60. The Input's 1000 bytes are free. */
    CHECK_CLOSE(cm->layers[0].output_bytes, 10, 0);
    CHECK_CLOSE(cm->layers[1].output_bytes, 40, 0);
    CHECK_CLOSE(cm->layers[2].output_bytes, 60, 0);
    CHECK_CLOSE(cm->layers[3].output_bytes, 0, 0);
    /* Edges (duplicate a->b once, Input and sink edges gone), sorted. */
    CHECK_INT(cm->n_edges, 5);
    static const size_t want[5][2] = {{0, 1}, {0, 2}, {0, 3}, {1, 3}, {2, 3}};
    for (size_t i = 0; i < 5 && i < cm->n_edges; i++) {
        CHECK_INT(cm->edges[i].src, want[i][0]);
        CHECK_INT(cm->edges[i].dst, want[i][1]);
    }
    CHECK_CLOSE(pp_costmodel_compute_ms(cm, 0, 4), 20, 0);
    CHECK_CLOSE(pp_costmodel_compute_ms(cm, 1, 3), 10, 0);
    CHECK_CLOSE(pp_costmodel_compute_ms(cm, 2, 99), 8, 0); /* clamped */
    CHECK_INT(cm->layers[3].line, 1);
    CHECK_INT(cm->layers[0].line, 4);
    pp_costmodel_free(cm);

    /* __getitem__ removal is one pass: a __getitem__ that becomes a sink only
     * after another is removed stays. Also an Input that is not a source stays. */
    text = NODE("x", "Linear", "1", "1", "1", "1")
        NODE("g1", "__getitem__(0)", "0", "0", "1", "0")
        NODE("g2", "__getitem__(1)", "0", "0", "1", "0")
        NODE("i2", "Input-like", "0", "0", "1", "0")
        "\tx -- g1\n\tg1 -- g2\n\tx -- i2\n";
    CHECK_INT(graph(text, &cm), 0);
    if (cm) {
        CHECK_INT(cm->n_layers, 3);
        CU_ASSERT_PTR_NOT_NULL(find(cm, "g1"));
        CU_ASSERT_PTR_NULL(find(cm, "g2"));
        CU_ASSERT_PTR_NOT_NULL(find(cm, "i2"));
    }
    pp_costmodel_free(cm);
}

static void test_graph_stage_id_crlf_bom(void)
{
    /* The optimizer's output format (`-- stage_id=K`), CRLF, a BOM, blank lines,
     * surrounding whitespace, and a final line without a newline. */
    const char *text = "\xEF\xBB\xBF\r\n"
                       "n1 -- Conv -- forward_compute_time=1.5, backward_compute_time=2.5, "
                       "activation_size=[1.0; 2.0], parameter_size=4 -- stage_id=0\r\n"
                       "\r\n"
                       "n2 -- ReLU -- forward_compute_time=1e-1, backward_compute_time=0, "
                       "activation_size=8, parameter_size=0 -- stage_id=1  \r\n"
                       "\tn1 -- n2";
    struct pp_costmodel *cm;
    CHECK_INT(graph(text, &cm), 0);
    if (cm) {
        CHECK_INT(cm->n_layers, 2);
        CHECK_CLOSE(cm->layers[0].activation_bytes, 3, 0);
        CHECK_CLOSE(cm->layers[0].output_bytes, 3, 0);
        CHECK_CLOSE(cm->layers[1].forward_ms, 0.1, 0);
        CHECK_INT(cm->layers[1].line, 4);
        CHECK_INT(cm->n_edges, 1);
    }
    pp_costmodel_free(cm);
    /* Errors after CRLF lines keep the right line and column. */
    CHECK_INT(graph("\xEF\xBB\xBF" NODE("a", "x", "1", "1", "1", "1") "\r\n"
                    "b -- y -- forward_compute_time=1, backward_compute_time=x, "
                    "activation_size=1, parameter_size=1\r\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:3:57: error: backward_compute_time: bad number 'x'");
    /* The length bounds the input: no NUL needed, and bytes past it are not read. */
    const char full[] = NODE("a", "x", "1", "1", "1", "1") "garbage";
    struct pp_diag d;
    CHECK_INT(pp_costmodel_parse_graph(full, sizeof full - 1 - 7, "g.txt", &cm, &d), 0);
    if (cm)
        CHECK_INT(cm->n_layers, 1);
    pp_costmodel_free(cm);
}

static void test_graph_errors(void)
{
    /* Column arithmetic: "a -- x -- " is 10 characters, "forward_compute_time=" 21,
     * so the first value is at column 32. */
    CHECK_INT(graph(NODE("a", "x", "-1.0", "1", "1", "1"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:32: error: forward_compute_time: must be >= 0, got '-1.0'");
    CHECK_INT(graph(NODE("a", "x", "nan", "1", "1", "1"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:32: error: forward_compute_time: non-finite number 'nan'");
    CHECK_INT(graph(NODE("a", "x", "1", "-inf", "1", "1"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:57: error: backward_compute_time: non-finite number '-inf'");
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1e400", "1"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:76: error: activation_size: number '1e400' is out of range");
    CHECK_INT(graph(NODE("a", "x", "1", "1", "[1.0; oops]", "1"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:82: error: activation_size: bad number 'oops'");
    CHECK_INT(graph(NODE("a", "x", "1", "1", "[1.0; 2.0", "1"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:76: error: activation_size: unterminated list (expected ']')");
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", ""), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:94: error: parameter_size: missing number");
    /* Unknown and missing metadata keys. */
    CHECK_INT(graph("a -- x -- forward_compute_time=1, backward_time=1, activation_size=1, "
                    "parameter_size=1\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:35: error: unknown metadata key 'backward_time'");
    CHECK_INT(graph("a -- x -- forward_compute_tme=1, backward_compute_time=1, "
                    "activation_size=1, parameter_size=1\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:11: error: unknown metadata key 'forward_compute_tme' (did you "
                   "mean 'forward_compute_time'?)");
    CHECK_INT(graph("a -- x -- forward_compute_time=1, backward_compute_time=1, "
                    "activation_size=1\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:11: error: missing metadata key 'parameter_size'");
    CHECK_INT(graph("a -- x -- forward_compute_time=1, forward_compute_time=1, "
                    "activation_size=1, parameter_size=1\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:35: error: duplicate metadata key 'forward_compute_time'");
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", "1") "b -- y -- forward_compute_time=1\n"
                    "c -- z\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:2:11: error: missing metadata key 'backward_compute_time'");
    /* Malformed lines. */
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", "1") "  just some text\n", NULL), -PP_EPARSE);
    CHECK_CONTAINS(msg, "g.txt:2:3: error: malformed node line: expected 'ID -- DESC -- ");
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", "1") "\ta - b\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:2:2: error: malformed edge line: expected '<TAB>SRC -- DST'");
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", "1") "\ta -- b -- c\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:2:2: error: malformed edge line: expected '<TAB>SRC -- DST'");
    CHECK_INT(graph("a -- x -- forward_compute_time=1, backward_compute_time=1, "
                    "activation_size=1, parameter_size=1 -- stage=2\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:99: error: unknown metadata key 'stage=2': expected stage_id=K");
    CHECK_INT(graph("a -- x -- forward_compute_time=1, backward_compute_time=1, "
                    "activation_size=1, parameter_size=1 -- stage_id=1.5\n",
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:108: error: stage_id: expected an integer, got '1.5'");
    CHECK_INT(graph(NODE("a", "x\x01", "1", "1", "1", "1"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:7: error: not a text profile: byte 0x01 is not printable UTF-8 text");
    CHECK_INT(graph(NODE("a", "x\xff", "1", "1", "1", "1"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:7: error: not a text profile: byte 0xff is not printable UTF-8 text");
    /* Duplicate node ids. */
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", "1") NODE("b", "y", "1", "1", "1", "1")
                        NODE("a", "z", "1", "1", "1", "1"),
                    NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "g.txt:3:1: error: duplicate node id 'a' (first at line 1)");
    /* Dangling edges, at either end. */
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", "1") "\ta -- nope\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:2:7: error: edge names undeclared node 'nope'");
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", "1") "\tghost -- a\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:2:2: error: edge names undeclared node 'ghost'");
    /* Self-loop and cycle. */
    CHECK_INT(graph(NODE("a", "x", "1", "1", "1", "1") "\ta -- a\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:2:7: error: self-loop: edge from node 'a' to itself");
    CHECK_INT(graph(NODE("s", "x", "1", "1", "1", "1") NODE("p", "x", "1", "1", "1", "1")
                        NODE("q", "x", "1", "1", "1", "1") NODE("r", "x", "1", "1", "1", "1")
                            NODE("t", "x", "1", "1", "1", "1")
                    "\ts -- p\n\tp -- q\n\tq -- r\n\tr -- p\n\tr -- t\n",
                    NULL),
              -PP_EPARSE);
    CHECK_CONTAINS(msg, "error: the graph has a cycle through node '");
    /* The node named is on the cycle (not s or t), reported at its own line. */
    CHECK_STR(msg, "g.txt:3:1: error: the graph has a cycle through node 'q': "
                   "'q' -> 'r' -> 'p' -> 'q'");
    /* No nodes at all, or none left after pre-processing. */
    CHECK_INT(graph("\n  \n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:1: error: no nodes: expected lines 'ID -- DESC -- "
                   "forward_compute_time=...'");
    CHECK_INT(graph("\ta -- b\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:2: error: edge names undeclared node 'a'");
    CHECK_INT(graph(NODE("in", "Input", "1", "0", "1", "0"), NULL), -PP_EPARSE);
    CHECK_STR(msg, "g.txt:1:1: error: no layers left after removing Input and __getitem__ nodes");
}

/* ---- ppsim per-layer YAML --------------------------------------------------------- */

static void test_yaml_layers(void)
{
    struct pp_costmodel *cm;
    int rc = yaml("name: tiny\n"
                   "source: hand-made\n"
                   "layers:\n"
                   "  - {name: emb, forward_ms: 1, backward_ms: 2, activation_bytes: 10,\n"
                   "     output_bytes: 5, parameter_bytes: 100}\n"
                   "  - name: attn\n"
                   "    forward_ms: 1.5e-3\n"
                   "    backward_input_ms: 3\n"
                   "    backward_weight_ms: 4\n"
                   "    activation_bytes: 80e9\n"
                   "    backward_weight_activation_bytes: 1e9\n"
                   "    output_bytes: 0\n"
                   "    parameter_bytes: 7\n"
                   "  - uniform: {count: 2, forward_ms: 1, backward_ms: 1, activation_bytes: 1,\n"
                   "              output_bytes: 1, parameter_bytes: 1}\n"
                   "  - uniform: {count: 2, name: mlp, forward_ms: 1, backward_ms: 1,\n"
                   "              activation_bytes: 1, output_bytes: 1, parameter_bytes: 1}\n",
                   &cm);
    CHECK_INT(rc, 0);
    if (!cm)
        return;
    CHECK_INT(cm->n_layers, 6);
    CHECK_INT(cm->format, PP_MODEL_YAML);
    CHECK_STR(cm->source, "m.yaml");
    CHECK_STR(cm->name, "tiny");
    CHECK_INT(cm->n_edges, 0);
    const struct pp_layer *L = cm->layers;
    CHECK_STR(L[0].name, "emb");
    CHECK_INT(L[0].split_backward, 0);
    CHECK_CLOSE(L[0].backward_input_ms, 2, 0);
    CHECK_CLOSE(L[0].backward_weight_ms, 0, 0);
    CHECK_CLOSE(L[0].bw_activation_bytes, 10, 0);
    CHECK_INT(L[0].line, 4);
    CHECK_INT(L[0].col, 5);
    CHECK_STR(L[1].name, "attn");
    CHECK_INT(L[1].split_backward, 1);
    CHECK_CLOSE(L[1].forward_ms, 1.5e-3, 0);
    CHECK_CLOSE(L[1].backward_input_ms, 3, 0);
    CHECK_CLOSE(L[1].backward_weight_ms, 4, 0);
    CHECK_CLOSE(L[1].activation_bytes, 80e9, 0);
    CHECK_CLOSE(L[1].bw_activation_bytes, 1e9, 0);
    CHECK_INT(L[1].line, 6);
    /* Unnamed uniform layers are layer<global index>; named ones <name>.<j>. */
    CHECK_STR(L[2].name, "layer2");
    CHECK_STR(L[3].name, "layer3");
    CHECK_STR(L[4].name, "mlp.0");
    CHECK_STR(L[5].name, "mlp.1");
    CHECK_INT(L[5].line, 16);
    CHECK_INT(L[5].col, 14);
    CU_ASSERT_PTR_NULL(L[0].desc);
    pp_costmodel_free(cm);

    /* A top-level uniform alone; then layers and uniform together, in file order. */
    CHECK_INT(yaml("uniform:\n  count: 3\n  forward_ms: 1\n  backward_ms: 2\n"
                   "  activation_bytes: 0\n  output_bytes: 0\n  parameter_bytes: 0\n",
                   &cm),
              0);
    if (cm) {
        CHECK_INT(cm->n_layers, 3);
        CHECK_STR(cm->layers[2].name, "layer2");
        CU_ASSERT_PTR_NULL(cm->name);
    }
    pp_costmodel_free(cm);
    CHECK_INT(yaml("uniform: {count: 2, forward_ms: 1, backward_ms: 2, activation_bytes: 0,\n"
                   "          output_bytes: 0, parameter_bytes: 0}\n"
                   "layers:\n"
                   "  - {name: head, forward_ms: 9, backward_ms: 9, activation_bytes: 0,\n"
                   "     output_bytes: 0, parameter_bytes: 0}\n",
                   &cm),
              0);
    if (cm) {
        CHECK_INT(cm->n_layers, 3);
        CHECK_STR(cm->layers[0].name, "layer0");
        CHECK_STR(cm->layers[2].name, "head");
    }
    pp_costmodel_free(cm);
    /* A bare list of layers. */
    CHECK_INT(yaml("- {name: a, forward_ms: 1, backward_ms: 1, activation_bytes: 1,"
                   " output_bytes: 1, parameter_bytes: 1}\n",
                   &cm),
              0);
    if (cm)
        CHECK_INT(cm->n_layers, 1);
    pp_costmodel_free(cm);
}

#define L1 "forward_ms: 1, backward_ms: 1, activation_bytes: 1, output_bytes: 1, parameter_bytes: 1"

static void test_yaml_errors(void)
{
    /* Missing field: at the layer mapping, naming the key. */
    CHECK_INT(yaml("layers:\n"
                   "  - {name: a, " L1 "}\n"
                   "  - {name: b, " L1 "}\n"
                   "  - {name: c, backward_ms: 1, activation_bytes: 1, output_bytes: 1,\n"
                   "     parameter_bytes: 1}\n",
                   NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:4:5: error: layers[2]: missing key 'forward_ms'");
    CHECK_INT(yaml("layers:\n  - {forward_ms: 1}\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:5: error: layers[0]: missing key 'name'");
    CHECK_INT(yaml("layers:\n  - {name: a, forward_ms: 1, activation_bytes: 1, output_bytes: 1,"
                   " parameter_bytes: 1}\n",
                   NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:5: error: layers[0]: missing key 'backward_ms' (or "
                   "backward_input_ms + backward_weight_ms)");
    /* Unknown key with a suggestion. */
    CHECK_INT(yaml("layers:\n  - {name: a, " L1 ", activation_byte: 3}\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:104: error: unknown key 'layers[0].activation_byte' (did you mean "
                   "'activation_bytes'?)");
    CHECK_INT(yaml("layrs: []\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:1: error: unknown key 'layrs' (did you mean 'layers'?)");
    /* Negative and non-finite numbers. */
    CHECK_INT(yaml("layers:\n  - {name: a, forward_ms: -2, backward_ms: 1, activation_bytes: 1,"
                   " output_bytes: 1, parameter_bytes: 1}\n",
                   NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:27: error: layers[0].forward_ms: must be >= 0, got '-2'");
    CHECK_INT(yaml("layers:\n  - {name: a, forward_ms: .inf, backward_ms: 1, activation_bytes: 1,"
                   " output_bytes: 1, parameter_bytes: 1}\n",
                   NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:27: error: layers[0].forward_ms: expected a decimal number, got "
                   "'.inf'");
    CHECK_INT(yaml("uniform: {count: 2, forward_ms: 1, backward_ms: 1e400, activation_bytes: 1,"
                   " output_bytes: 1, parameter_bytes: 1}\n",
                   NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:49: error: uniform.backward_ms: number '1e400' is out of range");
    /* The two backward forms. */
    CHECK_INT(yaml("layers:\n  - {name: a, " L1 ", backward_input_ms: 1, backward_weight_ms: 1}\n",
                   NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:123: error: layers[0]: give either backward_ms or the pair "
                   "backward_input_ms + backward_weight_ms, not both");
    CHECK_INT(yaml("layers:\n  - {name: a, forward_ms: 1, backward_input_ms: 1,"
                   " activation_bytes: 1, output_bytes: 1, parameter_bytes: 1}\n",
                   NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:5: error: layers[0]: missing key 'backward_weight_ms' "
                   "(backward_input_ms needs it)");
    CHECK_INT(yaml("layers:\n  - {name: a, forward_ms: 1, backward_weight_ms: 1,"
                   " activation_bytes: 1, output_bytes: 1, parameter_bytes: 1}\n",
                   NULL),
              -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:5: error: layers[0]: missing key 'backward_input_ms' "
                   "(backward_weight_ms needs it)");
    /* M_W is part of the activations. */
    CHECK_INT(yaml("layers:\n  - {name: a, " L1 ", backward_weight_activation_bytes: 2}\n", NULL),
              -PP_EINVAL);
    CHECK_STR(msg, "m.yaml:2:138: error: layers[0].backward_weight_activation_bytes: must be <= "
                   "activation_bytes (1), got '2'");
    /* count. */
    CHECK_INT(yaml("uniform: {count: 0, " L1 "}\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:18: error: uniform.count: must be >= 1, got '0'");
    CHECK_INT(yaml("uniform: {count: 2.5, " L1 "}\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:18: error: uniform.count: expected an integer, got '2.5'");
    CHECK_INT(yaml("uniform: {count: 1e12, " L1 "}\n", NULL), -PP_ENOMEM); /* exit 3 */
    CHECK_STR(msg, "m.yaml:1:18: error: uniform.count: more than the limit of 10000000, got "
                   "'1e12'");
    CHECK_INT(yaml("uniform: {" L1 "}\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:10: error: uniform: missing key 'count'");
    /* The 10M cap is on the total, not per block (checked before allocating). */
    CHECK_INT(yaml("layers:\n  - uniform: {count: 6e6, " L1 "}\n  - uniform: {count: 5e6, " L1
                   "}\n",
                   NULL),
              -PP_ENOMEM);
    CHECK_STR(msg, "m.yaml:3:22: error: layers[1].uniform.count: 5000000 more layers would make "
                   "the model larger than 10000000 layers");
    CHECK_INT(yaml("layers:\n  - uniform: {count: 2, " L1 "}\n    name: x\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:3:5: error: unknown key 'layers[0].name'");
    /* Shapes. */
    CHECK_INT(yaml("layers: []\n", NULL), -PP_EINVAL);
    CHECK_STR(msg, "m.yaml:1:1: error: the model has no layers");
    CHECK_INT(yaml("layers:\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:8: error: layers: expected a list of layers, got a scalar");
    CHECK_INT(yaml("layers:\n  - 3\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:2:5: error: layers[0]: expected a mapping, got a scalar");
    CHECK_INT(yaml("name: x\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:1: error: missing key 'layers' (or 'uniform')");
    CHECK_INT(yaml("hello\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:1: error: expected a model: a mapping with 'layers:' or "
                   "'uniform:', or a list of layers, got 'hello'");
    CHECK_INT(yaml("", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml: error: empty model: expected a mapping with 'layers:' or 'uniform:'");
    CHECK_INT(yaml("name: ~\nuniform: {count: 1, " L1 "}\n", NULL), -PP_EPARSE);
    CHECK_STR(msg, "m.yaml:1:7: error: name: expected a string, got an empty value");
    /* YAML-level refusals come through unchanged. */
    CHECK_INT(yaml("layers: &l []\n", NULL), -PP_EPARSE);
    CHECK_CONTAINS(msg, "m.yaml:1:9: error: YAML anchors and aliases are not supported");
}

/* Inside a scenario, paths carry the caller's prefix. */
static void test_from_node_prefix(void)
{
    const char *text = "model:\n  layers:\n    - {name: a, forward_ms: x, backward_ms: 1,"
                       " activation_bytes: 1, output_bytes: 1, parameter_bytes: 1}\n";
    struct pp_ydoc *doc;
    struct pp_diag d;
    CHECK_INT(pp_ydoc_parse(text, strlen(text), "s.yaml", &doc, &d), 0);
    struct pp_costmodel *cm = NULL;
    CHECK_INT(pp_costmodel_from_node(pp_ymap_get(doc->root, "model"), "model", "s.yaml", &cm, &d),
              -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "s.yaml:3:29: error: model.layers[0].forward_ms: expected a decimal number, got "
              "'x'");
    pp_ydoc_free(doc);
    text = "model:\n  - {name: a}\n";
    CHECK_INT(pp_ydoc_parse(text, strlen(text), "s.yaml", &doc, &d), 0);
    CHECK_INT(pp_costmodel_from_node(pp_ymap_get(doc->root, "model"), "model", "s.yaml", &cm, &d),
              -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "s.yaml:2:5: error: model[0]: missing key 'forward_ms'");
    pp_ydoc_free(doc);
    CHECK_INT(pp_costmodel_from_node(NULL, "model", "s.yaml", &cm, &d), -PP_EPARSE);
    CHECK_STR(pp_diag_format(&d, msg, sizeof msg),
              "s.yaml: error: model: empty model: expected a mapping with 'layers:' or "
              "'uniform:'");
}

/* ---- loading, the shipped models, and the writer ---------------------------------- */

static void test_load_and_sniff(void)
{
    struct pp_costmodel *cm = load_ok("../models/gpt-1.5b-zb.yaml");
    if (cm) {
        /* schedules.md §7.1: ZB Table 9, 1.5B, p=8 m=24; 3 layers per stage. */
        CHECK_INT(cm->format, PP_MODEL_YAML);
        CHECK_INT(cm->n_layers, 24);
        CHECK_STR(cm->name, "gpt-1.5b-zb");
        CHECK_STR(cm->layers[23].name, "block.23");
        CHECK_CLOSE(cm->layers[0].forward_ms * 3, 18.522, 1e-12);
        CHECK_CLOSE(cm->layers[0].backward_input_ms * 3, 18.086, 1e-12);
        CHECK_CLOSE(cm->layers[0].backward_weight_ms * 3, 9.337, 1e-12);
        CHECK_INT(cm->layers[0].split_backward, 1);
        CHECK_CLOSE(pp_costmodel_compute_ms(cm, 0, 3), 18.522 + 18.086 + 9.337, 1e-12);
        /* ZB Table 1 with s=1024, b=6, h=2304, a=24. */
        double s = 1024, b = 6, h = 2304, a = 24;
        CHECK_CLOSE(cm->layers[5].activation_bytes, s * b * (34 * h + 5 * a * s), 0);
        CHECK_CLOSE(cm->layers[5].bw_activation_bytes, 32 * s * b * h, 0);
        CHECK_CLOSE(cm->layers[5].output_bytes, 2 * s * b * h, 0);
        CHECK_CLOSE(cm->layers[5].parameter_bytes, 2 * 12 * h * h, 0);
        pp_costmodel_free(cm);
    }
    static const char *const converted[] = {"alexnet", "vgg16", "resnet50", "gnmt", NULL};
    for (const char *const *m = converted; *m; m++) {
        char yp[256], gp[256];
        snprintf(yp, sizeof yp, "../models/pipedream/%s.yaml", *m);
        snprintf(gp, sizeof gp, PROFILES "/%s/graph.txt", *m);
        struct pp_costmodel *y = load_ok(yp), *g = load_ok(gp);
        if (y && g) {
            CHECK_INT(y->format, PP_MODEL_YAML);
            CHECK_STR(y->name, *m);
            CHECK_INT(y->n_layers, g->n_layers);
            for (size_t i = 0; i < y->n_layers && i < g->n_layers; i++) {
                CHECK_STR(y->layers[i].name, g->layers[i].name);
                CU_ASSERT(y->layers[i].output_bytes == g->layers[i].output_bytes);
                CU_ASSERT(y->layers[i].forward_ms == g->layers[i].forward_ms);
            }
        }
        pp_costmodel_free(y);
        pp_costmodel_free(g);
    }
    struct pp_diag d;
    CHECK_INT(pp_costmodel_load("../models/none.yaml", &cm, &d), -PP_EIO);
    CHECK_CONTAINS(pp_diag_format(&d, msg, sizeof msg), "../models/none.yaml: error: cannot open");
    /* Errors name the file they are in. */
    CHECK_INT(pp_costmodel_load(PROFILES "/SOURCE.md", &cm, &d), -PP_EPARSE);
    CHECK_CONTAINS(pp_diag_format(&d, msg, sizeof msg), PROFILES "/SOURCE.md:");
}

static void check_same(const struct pp_costmodel *a, const struct pp_costmodel *b)
{
    CHECK_INT(b->n_layers, a->n_layers);
    for (size_t i = 0; i < a->n_layers && i < b->n_layers; i++) {
        const struct pp_layer *x = &a->layers[i], *y = &b->layers[i];
        CHECK_STR(y->name, x->name);
        /* Bit-identical, not merely close. */
        CU_ASSERT(y->forward_ms == x->forward_ms);
        CU_ASSERT(y->backward_input_ms == x->backward_input_ms);
        CU_ASSERT(y->backward_weight_ms == x->backward_weight_ms);
        CHECK_INT(y->split_backward, x->split_backward);
        CU_ASSERT(y->activation_bytes == x->activation_bytes);
        CU_ASSERT(y->bw_activation_bytes == x->bw_activation_bytes);
        CU_ASSERT(y->output_bytes == x->output_bytes);
        CU_ASSERT(y->parameter_bytes == x->parameter_bytes);
    }
}

static void test_round_trip(void)
{
    struct pp_costmodel *g = load_ok(PROFILES "/vgg16/graph.txt");
    if (!g)
        return;
    struct pp_buf b;
    pp_buf_init(&b);
    pp_costmodel_write_yaml(&b, g);
    /* The format promised in the brief: one flow mapping per layer, desc as comment. */
    CHECK_CONTAINS(b.data, "layers:\n  - {name: node2, forward_ms: 22.307, backward_ms: 24.613, "
                           "activation_bytes: 1644167168, output_bytes: 1644167168, "
                           "parameter_bytes: 7168}  # Conv2d(3, 64, kernel_size=(3, 3), "
                           "stride=(1, 1), padding=(1, 1))\n");
    struct pp_costmodel *y = NULL;
    struct pp_diag d;
    CHECK_INT(pp_costmodel_parse_yaml(b.data, b.len, "rt.yaml", &y, &d), 0);
    if (y)
        check_same(g, y);
    pp_costmodel_free(y);
    pp_buf_free(&b);
    pp_costmodel_free(g);

    /* Awkward names and numbers: quoting, escapes, split backward, M_W, tiny and
     * huge values, names YAML would misread. */
    const char *text =
        "name: \"odd: name\"\n"
        "layers:\n"
        "  - {name: \"a: b, [c] #d\", forward_ms: 0.1, backward_input_ms: 0.30000000000000004,"
        " backward_weight_ms: 1e-300, activation_bytes: 1.5e300,"
        " backward_weight_activation_bytes: 3, output_bytes: 1234567890123457,"
        " parameter_bytes: 2.5}\n"
        "  - {name: \"quote\\\" back\\\\ tab\\t nl\\n del\\x7f nel\\x85 \\u2028 \\u00e9\","
        " forward_ms: 1, backward_ms: 2, activation_bytes: 1, output_bytes: 1,"
        " parameter_bytes: 1}\n"
        "  - {name: \"null\", forward_ms: 1, backward_ms: 2, activation_bytes: 1,"
        " output_bytes: 1, parameter_bytes: 1}\n"
        "  - {name: \"~\", forward_ms: 1, backward_ms: 2, activation_bytes: 1,"
        " output_bytes: 1, parameter_bytes: 1}\n"
        "  - {name: \"-x\", forward_ms: 1, backward_ms: 2, activation_bytes: 1,"
        " output_bytes: 1, parameter_bytes: 1}\n"
        "  - {name: 007, forward_ms: 1, backward_ms: 2, activation_bytes: 1,"
        " output_bytes: 1, parameter_bytes: 1}\n";
    struct pp_costmodel *a = NULL;
    CHECK_INT(yaml(text, &a), 0);
    if (!a)
        return;
    pp_buf_init(&b);
    pp_costmodel_write_yaml(&b, a);
    CHECK_CONTAINS(b.data, "name: \"odd: name\"\n");
    CHECK_CONTAINS(b.data, "  - {name: 007, ");
    CHECK_CONTAINS(b.data, "backward_input_ms: 0.30000000000000004, backward_weight_ms: 1e-300");
    CHECK_CONTAINS(b.data, "output_bytes: 1234567890123457,");
    CHECK_CONTAINS(b.data, "backward_weight_activation_bytes: 3, ");
    CHECK_INT(pp_costmodel_parse_yaml(b.data, b.len, "rt.yaml", &y, &d), 0);
    if (y) {
        check_same(a, y);
        CHECK_STR(y->name, "odd: name");
    } else {
        CU_FAIL(pp_diag_format(&d, msg, sizeof msg));
    }
    pp_costmodel_free(y);
    pp_costmodel_free(a);
    pp_buf_free(&b);

    /* A description that could break the line is left out, not mangled. */
    const char *gtext = NODE("a", "caf\xc3\xa9 # not safe", "1", "1", "1", "1")
        NODE("b", "fine (ok) # also fine", "1", "1", "1", "1") "\ta -- b\n";
    CHECK_INT(graph(gtext, &g), 0);
    if (g) {
        pp_buf_init(&b);
        pp_costmodel_write_yaml(&b, g);
        CU_ASSERT_PTR_NULL(strstr(b.data, "caf"));
        CHECK_CONTAINS(b.data, "parameter_bytes: 1}  # fine (ok) # also fine\n");
        CHECK_INT(pp_costmodel_parse_yaml(b.data, b.len, "rt.yaml", &y, &d), 0);
        if (y)
            check_same(g, y);
        pp_costmodel_free(y);
        pp_buf_free(&b);
    }
    pp_costmodel_free(g);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"every shipped PipeDream profile loads", test_all_profiles_load},
        {"profile facts (pipedream-optimizer.md table)", test_profile_facts},
        {"alexnet: Input node removed", test_alexnet_input_removed},
        {"gnmt: list activations, cut sizes", test_gnmt_outputs},
        {"graph linearisation and pre-processing", test_graph_linearisation},
        {"graph: stage_id, CRLF, BOM, length-bounded", test_graph_stage_id_crlf_bom},
        {"graph errors with positions", test_graph_errors},
        {"YAML layers, uniform, lists", test_yaml_layers},
        {"YAML errors with positions", test_yaml_errors},
        {"inline model path prefix", test_from_node_prefix},
        {"load, sniffing, shipped models", test_load_and_sniff},
        {"YAML writer round trip", test_round_trip},
        {NULL, NULL},
    };
    return pp_test_main("costmodel", tests);
}
