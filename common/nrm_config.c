/*  nrm_config -- INI files read with inih against a table of known keys. */
#include "nrm_config.h"
#include "nrm_crypto.h"
#include "nrm_util.h"
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    nrm_config_field_t *fields;
    size_t count;
    const nrm_config_check_t *checks;
    size_t ncheck;
    char problem[300];      /* first problem seen, without the line number */
} s_ctx_t;

static int
s_set(nrm_config_field_t *f, const char *value, char *problem, size_t psize)
{
    switch (f->type) {
    case NRM_CFG_STR:
        if (strlen(value) >= f->size) {
            snprintf(problem, psize, "value of '%s' longer than %zu bytes", f->key, f->size - 1);
            return -1;
        }
        if (!nrm_text_valid(value, f->size - 1)) {
            snprintf(problem, psize, "value of '%s' is not valid UTF-8 text", f->key);
            return -1;
        }
        memcpy(f->dst, value, strlen(value) + 1);
        return 0;
    case NRM_CFG_ID:
        if (!nrm_id_valid(value)) {
            snprintf(problem, psize,
                     "'%s' must be 1-%d characters of a-z 0-9 . _ - (got '%.70s')",
                     f->key, NRM_ID_MAX, value);
            return -1;
        }
        memcpy(f->dst, value, strlen(value) + 1);
        return 0;
    case NRM_CFG_U64: {
        char *end = NULL;
        errno = 0;
        if (value[0] == '-' || value[0] == '\0') {
            snprintf(problem, psize, "'%s' must be a number (got '%.70s')", f->key, value);
            return -1;
        }
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || !end || *end) {
            snprintf(problem, psize, "'%s' must be a number (got '%.70s')", f->key, value);
            return -1;
        }
        if (v < f->min || v > f->max) {
            snprintf(problem, psize, "'%s' must be between %llu and %llu (got %llu)",
                     f->key, (unsigned long long) f->min, (unsigned long long) f->max, v);
            return -1;
        }
        *(uint64_t *) f->dst = (uint64_t) v;
        return 0;
    }
    case NRM_CFG_KEY_Z85:
        if (nrm_z85_decode(value, f->dst) != 0) {
            snprintf(problem, psize, "'%s' must be a 40-character Z85 key", f->key);
            return -1;
        }
        return 0;
    case NRM_CFG_KEY_HEX:
        if (nrm_hex_decode(value, f->dst, 32) != 0) {
            snprintf(problem, psize, "'%s' must be a 64-character hex key", f->key);
            return -1;
        }
        return 0;
    case NRM_CFG_HEXBLOB: {
        /* Long blobs continue on indented lines; each piece is appended. */
        size_t n = strlen(value), have = f->seen_ ? *f->len_out : 0;
        if (n % 2 || n == 0 || have + n / 2 > f->size) {
            snprintf(problem, psize, "'%s' must be hex of at most %zu bytes", f->key, f->size);
            return -1;
        }
        uint8_t *buf = realloc(*(uint8_t **) f->dst, have + n / 2);
        if (!buf) {
            snprintf(problem, psize, "out of memory reading '%s'", f->key);
            return -1;
        }
        *(uint8_t **) f->dst = buf;
        if (nrm_hex_decode(value, buf + have, n / 2) != 0) {
            snprintf(problem, psize, "'%s' is not valid hex", f->key);
            return -1;
        }
        *f->len_out = have + n / 2;
        return 0;
    }
    default:
        snprintf(problem, psize, "internal: bad field type for '%s'", f->key);
        return -1;
    }
}

static int
s_handler(void *user, const char *section, const char *name, const char *value)
{
    s_ctx_t *ctx = user;
    if (ctx->problem[0])
        return 0;
    for (size_t i = 0; i < ctx->count; i++) {
        nrm_config_field_t *f = &ctx->fields[i];
        if (strcmp(f->section, section) == 0 && strcmp(f->key, name) == 0) {
            if (f->type == NRM_CFG_HEXBLOB) {
                int ok = s_set(f, value, ctx->problem, sizeof ctx->problem) == 0;
                f->seen_ = true;
                return ok;
            }
            if (f->seen_) {
                snprintf(ctx->problem, sizeof ctx->problem, "'%s' given twice in [%s]", name, section);
                return 0;
            }
            f->seen_ = true;
            for (size_t k = 0; k < ctx->ncheck; k++) {
                const nrm_config_check_t *c = &ctx->checks[k];
                char why[240] = "";
                if (strcmp(c->section, section) != 0 || strcmp(c->key, name) != 0
                    || c->fn(value, why, sizeof why))
                    continue;
                snprintf(ctx->problem, sizeof ctx->problem, "bad value of '%s' in [%s]: %s",
                         name, section, why);
                return 0;
            }
            return s_set(f, value, ctx->problem, sizeof ctx->problem) == 0;
        }
    }
    bool known_section = false;
    for (size_t i = 0; i < ctx->count; i++)
        if (strcmp(ctx->fields[i].section, section) == 0)
            known_section = true;
    if (known_section)
        snprintf(ctx->problem, sizeof ctx->problem, "unknown key '%.60s' in [%s]", name, section);
    else
        snprintf(ctx->problem, sizeof ctx->problem, "unknown section [%.60s]", section);
    return 0;
}

/* inih reports the line of the first error but keeps parsing, so a later
   problem seen by the handler could be reported with an earlier line. We
   find syntax errors ourselves first, with their own line numbers. */
static int
s_syntax(FILE *f, const char *path, nrm_err_t *err)
{
    char line[1024];
    int lineno = 0;
    bool after_key = false;     /* an indented line continues a value */
    while (fgets(line, sizeof line, f)) {
        lineno++;
        /* inih's buffer is 200 bytes with the newline and the NUL. */
        size_t n = strcspn(line, "\r\n");
        if (n > 198 || (n == strlen(line) && !feof(f)))
            return nrm_err_set(err, NRM_EINVAL, "%s:%d: line longer than 198 characters", path, lineno);
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '\n' || *p == '\r' || *p == ';' || *p == '#')
            continue;
        if (p != line && after_key)
            continue;
        if (*p == '[' ? !strchr(p, ']') : !strchr(p, '='))
            return nrm_err_set(err, NRM_EINVAL,
                               "%s:%d: syntax error (expected [section] or key = value)", path, lineno);
        after_key = *p != '[';
    }
    rewind(f);
    return 0;
}

int
nrm_config_load(const char *path, nrm_config_field_t *fields, size_t count, nrm_err_t *err)
{
    return nrm_config_load_checked(path, fields, count, NULL, 0, err);
}

int
nrm_config_load_checked(const char *path, nrm_config_field_t *fields, size_t count,
                        const nrm_config_check_t *checks, size_t ncheck, nrm_err_t *err)
{
    s_ctx_t ctx = { fields, count, checks, ncheck, "" };
    for (size_t i = 0; i < count; i++)
        fields[i].seen_ = false;
    FILE *f = fopen(path, "r");
    if (!f)
        return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
    int rc = s_syntax(f, path, err);
    if (rc) {
        fclose(f);
        return rc;
    }
    int line = ini_parse_file(f, s_handler, &ctx);
    fclose(f);
    if (line != 0) {
        if (ctx.problem[0])
            return nrm_err_set(err, NRM_EINVAL, "%s:%d: %s", path, line, ctx.problem);
        return nrm_err_set(err, NRM_EINVAL, "%s:%d: not accepted by the INI reader",
                           path, line);
    }
    for (size_t i = 0; i < count; i++)
        if (fields[i].required && !fields[i].seen_)
            return nrm_err_set(err, NRM_EINVAL, "%s: missing '%s' in [%s]", path,
                               fields[i].key, fields[i].section);
    return 0;
}
