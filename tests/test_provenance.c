/* test_provenance.c - SHA-256 against FIPS 180-4's published examples (the
 * NIST "SHA256.pdf" example values and the FIPS 180-2 appendix B), and the
 * meta object's fields. */
#include "buf.h"
#include "provenance.h"
#include "testutil.h"

static void test_sha256_vectors(void)
{
    char hex[65];
    pp_sha256_hex("", 0, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    pp_sha256_hex("abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 448 bits */
    pp_sha256_hex(two, strlen(two), hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    pp_sha256_hex(million, 1000000, hex);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
    /* 55 and 56 bytes: the padding spills into a second block at 56 */
    char b55[56], b56[57];
    memset(b55, 'a', 55);
    memset(b56, 'a', 56);
    pp_sha256_hex(b55, 55, hex);
    CHECK_STR(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    pp_sha256_hex(b56, 56, hex);
    CHECK_STR(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

static void test_meta_fields(void)
{
    struct pp_buf b;
    pp_buf_init(&b);
    const char *files[] = {"/nonexistent/input", NULL};
    struct pp_provenance p = {"sweep", NULL, files, 1, 42};
    pp_provenance_sidecar(&b, &p);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"ppsim_version\": "));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"command\": \"sweep\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"path\": \"/nonexistent/input\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"sha256\": null")); /* unreadable: no hash */
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "\"seed\": 42"));
    pp_buf_free(&b);
    /* inserted as the first member of an object */
    pp_buf_init(&b);
    pp_buf_puts(&b, "{\"x\": 1}");
    struct pp_provenance q = {"bound", NULL, NULL, 0, 0};
    pp_provenance_insert(&b, &q);
    CU_ASSERT(strncmp(b.data, "{\"meta\": {", 10) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(b.data, "}, \"x\": 1}"));
    pp_buf_free(&b);
}

int main(void)
{
    static const struct pp_test tests[] = {
        {"SHA-256 FIPS 180-4 examples", test_sha256_vectors},
        {"meta fields and insertion", test_meta_fields},
        {NULL, NULL},
    };
    return pp_test_main("provenance", tests);
}
