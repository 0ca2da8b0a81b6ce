/* provenance.c - input hashes and the "meta" object (provenance.h). */
#include "provenance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "pp_config.h"
#include "scenario.h"

/* ---- SHA-256, FIPS 180-4 §6.2 ---------------------------------------------- */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

static uint32_t rotr(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t h[8], const unsigned char blk[64])
{
    uint32_t w[64], a[8];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)blk[4 * t] << 24 | (uint32_t)blk[4 * t + 1] << 16 |
               (uint32_t)blk[4 * t + 2] << 8 | blk[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    memcpy(a, h, sizeof a);
    for (int t = 0; t < 64; t++) {
        uint32_t S1 = rotr(a[4], 6) ^ rotr(a[4], 11) ^ rotr(a[4], 25);
        uint32_t ch = (a[4] & a[5]) ^ (~a[4] & a[6]);
        uint32_t t1 = a[7] + S1 + ch + K256[t] + w[t];
        uint32_t S0 = rotr(a[0], 2) ^ rotr(a[0], 13) ^ rotr(a[0], 22);
        uint32_t mj = (a[0] & a[1]) ^ (a[0] & a[2]) ^ (a[1] & a[2]);
        memmove(a + 1, a, 7 * sizeof *a);
        a[4] += t1;
        a[0] = t1 + S0 + mj;
    }
    for (int i = 0; i < 8; i++)
        h[i] += a[i];
}

void pp_sha256_hex(const void *data, size_t len, char out[65])
{
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    const unsigned char *p = data;
    size_t n = len;
    for (; n >= 64; n -= 64, p += 64)
        compress(h, p);
    unsigned char tail[128] = {0};
    memcpy(tail, p, n);
    tail[n] = 0x80;
    size_t tl = n + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tl - 1 - i] = (unsigned char)(bits >> (8 * i));
    compress(h, tail);
    if (tl == 128)
        compress(h, tail + 64);
    for (int i = 0; i < 8; i++)
        snprintf(out + 8 * i, 9, "%08x", h[i]);
}

/* ---- the meta object -------------------------------------------------------- */

static void file_entry(struct pp_buf *b, const char *role, const char *path, int *first)
{
    char *buf = NULL, hex[65] = "";
    size_t len = 0;
    struct pp_diag d;
    int readable = pp_read_file(path, (size_t)1 << 31, &buf, &len, &d) == 0;
    if (readable)
        pp_sha256_hex(buf, len, hex);
    free(buf);
    pp_buf_puts(b, *first ? "{\"role\": " : ", {\"role\": ");
    *first = 0;
    pp_buf_json_str(b, role);
    pp_buf_puts(b, ", \"path\": ");
    pp_buf_json_str(b, path);
    pp_buf_printf(b, ", \"bytes\": %zu, \"sha256\": ", len);
    if (readable)
        pp_buf_json_str(b, hex);
    else
        pp_buf_puts(b, "null");
    pp_buf_puts(b, "}");
}

void pp_provenance_json(struct pp_buf *b, const struct pp_provenance *p)
{
    pp_buf_puts(b, "\"meta\": {\"ppsim_version\": ");
    pp_buf_json_str(b, PP_VERSION);
    pp_buf_puts(b, ", \"command\": ");
    pp_buf_json_str(b, p->command ? p->command : "");
    pp_buf_puts(b, ", \"inputs\": [");
    int first = 1;
    const struct pp_scenario *sc = p->sc;
    if (sc && sc->file && strcmp(sc->file, "<stdin>") != 0)
        file_entry(b, "scenario", sc->file, &first);
    if (sc && sc->model_path)
        file_entry(b, "model", sc->model_path, &first);
    if (sc && sc->schedule_file)
        file_entry(b, "schedule_file", sc->schedule_file, &first);
    for (const char *const *f = p->files; f && *f; f++)
        file_entry(b, "input", *f, &first);
    pp_buf_puts(b, "], \"seed\": ");
    if (p->has_seed)
        pp_buf_printf(b, "%llu", (unsigned long long)p->seed);
    else
        pp_buf_puts(b, "null");
    pp_buf_puts(b, ", \"scenario\": ");
    pp_buf_puts(b, sc && sc->effective_json ? sc->effective_json : "null");
    pp_buf_puts(b, "}");
}

void pp_provenance_sidecar(struct pp_buf *b, const struct pp_provenance *p)
{
    pp_buf_puts(b, "{");
    pp_provenance_json(b, p);
    pp_buf_puts(b, "}\n");
}

void pp_provenance_insert(struct pp_buf *json, const struct pp_provenance *p)
{
    if (!json->data || json->data[0] != '{')
        return;
    struct pp_buf out;
    pp_buf_init(&out);
    pp_buf_puts(&out, "{");
    pp_provenance_json(&out, p);
    const char *rest = json->data + 1;
    while (*rest == ' ' || *rest == '\n')
        rest++;
    if (*rest != '}')
        pp_buf_puts(&out, ", ");
    pp_buf_puts(&out, rest);
    pp_buf_free(json);
    *json = out;
}
