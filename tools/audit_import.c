/*  audit_import -- `nrm-audit import --dir FRESH EXPORT.jsonl`: rebuilds a
    log store from an export, byte for byte (the "record" of each line under
    its key), in a folder that has no broker, no keys and no registry, so
    that verify, case, prove and consistency run on what the exporter handed
    over and nothing else. The tree and the tip are recomputed from the
    bytes; a record that was tampered with stays tampered with, and verify
    reports it. */
#include "audit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nrm_auditlog.h"
#include "nrm_util.h"

/* Longest export line: a record of NRM_MAX_RECORD_BYTES in base64 and its
   decoded views. */
#define S_LINE_MAX ((size_t) 4 * NRM_MAX_RECORD_BYTES)
#define S_CHUNK 20000          /* lines per write transaction */

typedef struct {
    FILE    *in;
    const char *path;
    char    *line;
    uint64_t lineno, count;
    bool     eof;
} s_import_t;

/* Reads one line (without its newline) of at most S_LINE_MAX bytes.
   Returns 1 if one was read, 0 at the end, < 0 on error. */
static int
s_read_line(s_import_t *x, nrm_err_t *err)
{
    size_t n = 0;
    int c;
    while ((c = getc_unlocked(x->in)) != EOF && c != '\n') {
        if (n == S_LINE_MAX)
            return nrm_err_set(err, NRM_ETOOBIG, "%s:%llu: line longer than %zu bytes", x->path,
                               (unsigned long long) x->lineno + 1, S_LINE_MAX);
        x->line[n++] = (char) c;
    }
    if (c == EOF && n == 0) {
        if (ferror(x->in))
            return nrm_err_set(err, NRM_EIO, "%s: %s", x->path, strerror(errno));
        return 0;
    }
    x->line[n] = '\0';
    x->lineno++;
    return 1;
}

static int
s_import_line(nrm_store_t *store, MDB_txn *txn, s_import_t *x, nrm_err_t *err)
{
    json_error_t jerr;
    json_t *o = json_loads(x->line, JSON_REJECT_DUPLICATES, &jerr);
    uint8_t *raw = NULL;
    size_t len = 0;
    int rc = 0;
    json_t *key = json_object_get(o, "key_seq");
    if (!key)
        key = json_object_get(o, "seq");
    if (!json_is_object(o) || !json_is_integer(key) || json_integer_value(key) <= 0)
        rc = nrm_err_set(err, NRM_EINVAL, "%s:%llu: not an export line with a seq", x->path,
                         (unsigned long long) x->lineno);
    else if ((rc = audit_json_base64_decode(json_object_get(o, "record"), NRM_MAX_RECORD_BYTES,
                                            &raw, &len, err)) == 0)
        rc = nrm_auditlog_import(store, txn, (uint64_t) json_integer_value(key), raw, len, err);
    if (rc)
        nrm_err_prefix(err, "%s:%llu", x->path, (unsigned long long) x->lineno);
    free(raw);
    json_decref(o);
    return rc;
}

/* One write transaction of up to S_CHUNK lines. If LMDB retries it after
   growing the map, it starts again from the same place in the file. */
static int
s_chunk_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_import_t *x = ctx;
    long start = ftell(x->in);
    uint64_t lineno = x->lineno, count = x->count;
    int rc = 0;
    for (int i = 0; i < S_CHUNK && rc == 0; i++) {
        rc = s_read_line(x, err);
        if (rc == 0) {
            x->eof = true;
            break;
        }
        if (rc > 0 && x->line[0] != '\0') {
            rc = s_import_line(store, txn, x, err);
            x->count++;
        } else if (rc > 0) {
            rc = 0;
        }
    }
    if (rc) {
        /* Undo the read position so a retry reads the same lines. */
        if (fseek(x->in, start, SEEK_SET) != 0)
            return nrm_err_set(err, NRM_EIO, "%s: cannot seek", x->path);
        x->lineno = lineno;
        x->count = count;
        x->eof = false;
    }
    return rc;
}

#define S_USAGE \
    "usage: nrm-audit import --dir FRESH EXPORT.jsonl\n" \
    "  builds FRESH/data from an export of nrm-audit export, so that verify, case,\n" \
    "  prove and consistency run without the broker's folder; FRESH must not hold\n" \
    "  a log yet\n"

int
audit_cmd_import(int argc, char **argv)
{
    const char *dir = NULL;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { NULL, NULL, NULL } };
    const char *pos[1];
    const tool_cmdline_t cl = { "nrm-audit", "import", S_USAGE, opts, pos, 1 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    s_import_t x;
    char path[TOOL_PATH_MAX];
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    memset(&x, 0, sizeof x);
    x.path = pos[0];
    code = TOOL_EXIT_USAGE;
    if (!(x.in = fopen(pos[0], "r"))) {
        nrm_err_set(&err, NRM_EIO, "cannot open %s: %s", pos[0], strerror(errno));
        goto fail;
    }
    if (!(x.line = malloc(S_LINE_MAX + 1))) {
        nrm_err_set(&err, NRM_ENOMEM, "out of memory");
        goto fail;
    }
    if (nrm_path(path, sizeof path, "%s/data", dir) != 0 || nrm_mkdirs(path, 0700, &err) != 0
        || tool_store_open(dir, 0, 0, &store, &err) != 0)
        goto fail;
    uint64_t tip;
    uint8_t leaf[32];
    if (nrm_store_read_begin(store, &txn, &err) != 0 || nrm_auditlog_tip(store, txn, &tip, leaf, &err) != 0)
        goto fail;
    nrm_store_read_end(&txn);
    if (tip) {
        nrm_err_set(&err, NRM_EEXIST, "%s already holds a log of %llu records", dir,
                    (unsigned long long) tip);
        goto fail;
    }
    code = TOOL_EXIT_FAIL;
    while (!x.eof)
        if (nrm_store_write(store, s_chunk_fn, &x, &err) != 0)
            goto fail;
    if (x.count == 0) {
        nrm_err_set(&err, NRM_EINVAL, "%s holds no records", pos[0]);
        goto fail;
    }
    fprintf(stderr, "imported %llu records into %s/data\n", (unsigned long long) x.count, dir);
    code = TOOL_EXIT_OK;
    goto out;
fail:
    audit_fail(&err);
out:
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    if (x.in)
        fclose(x.in);
    free(x.line);
    return code;
}
