/*  Unit tests of nrm_config: known keys load; unknown keys and sections,
    bad values, missing keys, duplicates and missing files are refused with
    the file, line and reason. */
#include "nrm_config.h"
#include "nrm_util.h"
#include "testutil.h"

static char s_dir[64];

static int
s_load(const char *text, nrm_err_t *err, uint64_t *n, char *name, uint8_t *key)
{
    char path[128];
    snprintf(path, sizeof path, "%s/t.ini", s_dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    nrm_config_field_t fields[] = {
        { "a", "n", NRM_CFG_U64, n, 0, true, 1, 100, NULL, false },
        { "a", "name", NRM_CFG_ID, name, 0, false, 0, 0, NULL, false },
        { "b", "key", NRM_CFG_KEY_HEX, key, 0, false, 0, 0, NULL, false },
    };
    return nrm_config_load(path, fields, 3, err);
}

int
main(void)
{
    nrm_err_t err;
    uint64_t n = 0;
    char name[NRM_ID_MAX + 1] = "";
    uint8_t key[32];
    t_tmpdir(s_dir, sizeof s_dir);
    CHECK_RC(s_load("[a]\nn = 42\nname = police\n; comment\n[b]\nkey = "
                    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
                    &err, &n, name, key), 0);
    CHECK(n == 42 && strcmp(name, "police") == 0 && key[1] == 0x11);
    CHECK(s_load("[a]\nn = 42\nbogus = 1\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, "t.ini:3: unknown key 'bogus' in [a]");
    CHECK(s_load("[a]\nn = 42\n[c]\nx = 1\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, ":4: unknown section [c]");
    CHECK(s_load("[a]\nn = 420\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, ":2: 'n' must be between 1 and 100");
    CHECK(s_load("[a]\nn = -1\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, "'n' must be a number");
    CHECK(s_load("[a]\nn = 12abc\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, "'n' must be a number");
    CHECK(s_load("[a]\nname = police\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, "missing 'n' in [a]");
    CHECK(s_load("[a]\nn = 1\nn = 2\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, ":3: 'n' given twice");
    CHECK(s_load("[a]\nn = 1\nname = Not An Id\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, "'name' must be");
    CHECK(s_load("[a]\nn = 1\n[b]\nkey = zz\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, "64-character hex key");
    CHECK(s_load("[a\nn = 1\n", &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, ":1: syntax error");
    /* inih's limit: 198 characters a line pass, 199 are refused. */
    char line[300];
    snprintf(line, sizeof line, "[a]\nn = 1\n;%0197d\n", 0);
    CHECK_RC(s_load(line, &err, &n, name, key), 0);
    snprintf(line, sizeof line, "[a]\nn = 1\n;%0198d\n", 0);
    CHECK(s_load(line, &err, &n, name, key) != 0);
    CHECK_STR_HAS(err.msg, ":3: line longer than 198 characters");
    nrm_config_field_t none[] = { { "a", "n", NRM_CFG_U64, &n, 0, true, 0, 10, NULL, false } };
    CHECK(nrm_config_load("/nonexistent/x.ini", none, 1, &err) != 0);
    CHECK_STR_HAS(err.msg, "/nonexistent/x.ini: No such file");
    t_rmdir(s_dir);
    TEST_DONE();
}
