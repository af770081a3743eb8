/*  audit_proof -- `nrm-audit checkpoint`, `prove`, `check-proof`,
    `consistency`, `check-consistency`: the broker's signed checkpoints and
    RFC 9162 proofs against them, written to small JSON files that an
    auditor checks offline with nothing but the file and the broker's public
    key (formats in docs/audit-log.md, section 9). */
#include "audit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_auditlog.h"
#include "nrm_checkpoint.h"
#include "nrm_crypto.h"
#include "nrm_merkle.h"
#include "nrm_util.h"

#define S_INCLUSION   "nrmbus inclusion proof v1"
#define S_CONSISTENCY "nrmbus consistency proof v1"

/* The CHECKPOINT record for tree size `size` is record size + 1 (a
   checkpoint signs every record before it). Copies its note. */
static int
s_checkpoint_for(nrm_store_t *store, MDB_txn *txn, uint64_t size, uint8_t **note, size_t *len,
                 nrm_checkpoint_t *c, nrm_err_t *err)
{
    nrm_bytes_t bytes;
    nrm_record_t rec;
    *note = NULL;
    int rc = nrm_auditlog_get(store, txn, size + 1, &bytes, err);
    if (rc == NRM_ENOTFOUND || (rc == 0 && nrm_record_decode(bytes.data, bytes.len, &rec, err) != 0))
        return nrm_err_set(err, NRM_ENOTFOUND, "no checkpoint of a tree of %llu records "
                           "(record %llu is not a CHECKPOINT)", (unsigned long long) size,
                           (unsigned long long) size + 1);
    if (rc)
        return rc;
    if (rec.kind != NRM_REC_CHECKPOINT) {
        nrm_record_clear(&rec);
        return nrm_err_set(err, NRM_ENOTFOUND, "no checkpoint of a tree of %llu records "
                           "(record %llu is %s)", (unsigned long long) size,
                           (unsigned long long) size + 1, nrm_record_kind_name(rec.kind));
    }
    rc = nrm_checkpoint_parse(rec.subject, rec.subject_len, c, err);
    if (rc == 0 && c->size != size)
        rc = nrm_err_set(err, NRM_ECORRUPT, "record %llu signs a tree of %llu records",
                         (unsigned long long) size + 1, (unsigned long long) c->size);
    if (rc == 0 && !(*note = malloc(rec.subject_len)))
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (rc == 0) {
        memcpy(*note, rec.subject, rec.subject_len);
        *len = rec.subject_len;
    }
    nrm_record_clear(&rec);
    return rc;
}

/* The genesis from record 1 of the log (an imported folder has no
   registry). */
static int
s_genesis(nrm_store_t *store, MDB_txn *txn, nrm_genesis_t *g, nrm_err_t *err)
{
    nrm_bytes_t bytes;
    nrm_record_t rec;
    int rc = nrm_auditlog_get(store, txn, 1, &bytes, err);
    if (rc == 0)
        rc = nrm_record_decode(bytes.data, bytes.len, &rec, err);
    if (rc)
        return rc;
    rc = rec.kind == NRM_REC_GENESIS ? nrm_genesis_decode(rec.subject, rec.subject_len, g, err)
                                     : nrm_err_set(err, NRM_ECORRUPT, "record 1 is not GENESIS");
    nrm_record_clear(&rec);
    return rc;
}

/* Tree size of the latest checkpoint (0 if none). */
static int
s_latest_size(nrm_store_t *store, MDB_txn *txn, uint64_t *size, nrm_err_t *err)
{
    uint64_t seq;
    int rc = nrm_auditlog_checkpoint(store, txn, &seq, err);
    *size = seq ? seq - 1 : 0;
    if (rc == 0 && seq == 0)
        rc = nrm_err_set(err, NRM_ENOTFOUND, "the broker has signed no checkpoint yet");
    return rc;
}

static json_t *
s_path_json(const nrm_hash_t *path, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, audit_json_hex(path[i], NRM_HASH_BYTES)) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static int
s_path_parse(const json_t *a, nrm_hash_t *path, size_t *n, nrm_err_t *err)
{
    *n = 0;
    if (!json_is_array(a) || json_array_size(a) > NRM_MERKLE_PATH_MAX)
        return nrm_err_set(err, NRM_EINVAL, "\"path\" must be an array of at most %d hashes",
                           NRM_MERKLE_PATH_MAX);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *h = json_string_value(json_array_get(a, i));
        if (!h || strlen(h) != 64 || nrm_hex_decode(h, path[i], NRM_HASH_BYTES) != 0)
            return nrm_err_set(err, NRM_EINVAL, "\"path\"[%zu] is not 64 hex digits", i);
    }
    *n = json_array_size(a);
    return 0;
}

/* ---- checkpoint ---- */

#define S_CKPT_USAGE \
    "usage: nrm-audit checkpoint --dir NET [--json] [--size N]\n" \
    "  prints the latest signed checkpoint (or the one of a tree of N records)\n" \
    "  as a C2SP signed note; --json adds the broker key and the record\n"

int
audit_cmd_checkpoint(int argc, char **argv)
{
    const char *dir = NULL, *size_arg = NULL;
    bool as_json = false;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { "json", NULL, &as_json },
                                { "size", &size_arg, NULL }, { NULL, NULL, NULL } };
    const tool_cmdline_t cl = { "nrm-audit", "checkpoint", S_CKPT_USAGE, opts, NULL, 0 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    uint8_t *note = NULL;
    size_t len = 0;
    uint64_t size = 0;
    nrm_checkpoint_t c;
    nrm_genesis_t g;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    code = TOOL_EXIT_USAGE;
    if (size_arg && tool_u64_parse(size_arg, 0, NRM_MERKLE_SIZE_MAX, &size, "--size", &err) != 0)
        goto fail;
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0
        || nrm_store_read_begin(store, &txn, &err) != 0)
        goto fail;
    code = TOOL_EXIT_FAIL;
    if ((!size_arg && s_latest_size(store, txn, &size, &err) != 0)
        || s_checkpoint_for(store, txn, size, &note, &len, &c, &err) != 0
        || s_genesis(store, txn, &g, &err) != 0)
        goto fail;
    if (!as_json) {
        fwrite(note, 1, len, stdout);
    } else {
        char vkey[NRM_CHECKPOINT_VKEY_MAX];
        nrm_checkpoint_vkey(c.origin, g.broker_sign_pk, vkey);
        json_t *o = json_object();
        int rc = o ? 0 : -1;
        rc |= audit_json_set(o, "origin", json_string(c.origin));
        rc |= audit_json_set(o, "tree_size", audit_json_u64(c.size));
        rc |= audit_json_set(o, "root", audit_json_hex(c.root, NRM_HASH_BYTES));
        rc |= audit_json_set(o, "record", audit_json_u64(c.size + 1));
        rc |= audit_json_set(o, "broker_key", audit_json_hex(g.broker_sign_pk, NRM_PK_BYTES));
        rc |= audit_json_set(o, "verifier_key", json_string(vkey));
        rc |= audit_json_set(o, "note", json_stringn((const char *) note, len));
        if (rc || json_dumpf(o, stdout, JSON_INDENT(2)) != 0) {
            json_decref(o);
            nrm_err_set(&err, NRM_ENOMEM, "cannot write the checkpoint");
            goto fail;
        }
        json_decref(o);
        printf("\n");
    }
    code = TOOL_EXIT_OK;
    goto out;
fail:
    audit_fail(&err);
out:
    free(note);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return code;
}

/* ---- prove / check-proof ---- */

#define S_PROVE_USAGE \
    "usage: nrm-audit prove --dir NET SEQ [--size N] [--out FILE]\n" \
    "  writes a proof that record SEQ is in the log signed by the latest checkpoint\n" \
    "  (or the checkpoint of a tree of N records); check it with check-proof\n"

int
audit_cmd_prove(int argc, char **argv)
{
    const char *dir = NULL, *seq_arg = NULL, *size_arg = NULL, *out = NULL;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { "size", &size_arg, NULL },
                                { "out", &out, NULL }, { NULL, NULL, NULL } };
    const char *pos[1];
    const tool_cmdline_t cl = { "nrm-audit", "prove", S_PROVE_USAGE, opts, pos, 1 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    uint8_t *note = NULL;
    size_t len = 0, n = 0;
    uint64_t seq = 0, size = 0;
    nrm_checkpoint_t c;
    nrm_hash_t path[NRM_MERKLE_PATH_MAX];
    nrm_bytes_t rec;
    json_t *o = NULL;
    char *text = NULL;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    seq_arg = pos[0];
    memset(&err, 0, sizeof err);
    code = TOOL_EXIT_USAGE;
    if (tool_u64_parse(seq_arg, 1, NRM_MERKLE_SIZE_MAX, &seq, "SEQ", &err) != 0
        || (size_arg && tool_u64_parse(size_arg, 1, NRM_MERKLE_SIZE_MAX, &size, "--size", &err) != 0))
        goto fail;
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0
        || nrm_store_read_begin(store, &txn, &err) != 0)
        goto fail;
    code = TOOL_EXIT_FAIL;
    if (!size_arg && s_latest_size(store, txn, &size, &err) != 0)
        goto fail;
    if (seq > size) {
        nrm_err_set(&err, NRM_ENOTFOUND, "record %llu is not covered by the %s checkpoint "
                    "(a tree of %llu records); the broker signs the next one within "
                    "checkpoint_seconds", (unsigned long long) seq,
                    size_arg ? "given" : "latest", (unsigned long long) size);
        goto fail;
    }
    if (s_checkpoint_for(store, txn, size, &note, &len, &c, &err) != 0
        || nrm_auditlog_get(store, txn, seq, &rec, &err) != 0
        || nrm_logtree_inclusion(store, txn, seq, size, path, &n, &err) != 0)
        goto fail;
    uint8_t leaf[NRM_HASH_BYTES];
    nrm_leaf_hash(rec.data, rec.len, leaf);
    o = json_object();
    int rc = o ? 0 : -1;
    rc |= audit_json_set(o, "type", json_string(S_INCLUSION));
    rc |= audit_json_set(o, "seq", audit_json_u64(seq));
    rc |= audit_json_set(o, "leaf_index", audit_json_u64(seq - 1));
    rc |= audit_json_set(o, "tree_size", audit_json_u64(size));
    rc |= audit_json_set(o, "record", audit_json_base64(rec.data, rec.len));
    rc |= audit_json_set(o, "leaf_hash", audit_json_hex(leaf, NRM_HASH_BYTES));
    rc |= audit_json_set(o, "path", s_path_json(path, n));
    rc |= audit_json_set(o, "checkpoint", json_stringn((const char *) note, len));
    if (rc || !(text = json_dumps(o, JSON_INDENT(2)))) {
        nrm_err_set(&err, NRM_ENOMEM, "cannot build the proof");
        goto fail;
    }
    if (audit_output(out, text, &err) != 0)
        goto fail;
    if (out)
        fprintf(stderr, "proof that record %llu is in the tree of %llu records written to %s\n",
                (unsigned long long) seq, (unsigned long long) size, out);
    code = TOOL_EXIT_OK;
    goto done;
fail:
    audit_fail(&err);
done:
    free(text);
    json_decref(o);
    free(note);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return code;
}

/* A u64 member of a proof file. */
static int
s_u64(const json_t *o, const char *key, uint64_t *v, nrm_err_t *err)
{
    const json_t *j = json_object_get(o, key);
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return nrm_err_set(err, NRM_EINVAL, "\"%s\" must be a non-negative integer", key);
    *v = (uint64_t) json_integer_value(j);
    return 0;
}

/* A check that failed says so on stdout ("FAILED: why"); a usage error or
   an unreadable file on stderr. */
static void
s_failed(int code, const nrm_err_t *err)
{
    if (code != TOOL_EXIT_FAIL) {
        audit_fail(err);
        return;
    }
    printf("FAILED: ");
    tool_print_safe(stdout, err->msg);
    printf("\n");
}

/* Parses the key and loads a proof file of the given type. Returns
   TOOL_EXIT_FAIL to go on (later failures are failed checks), or
   TOOL_EXIT_USAGE with err set. */
static int
s_load(const char *path, const char *key_arg, const char *type, uint8_t pk[NRM_PK_BYTES],
       json_t **o, nrm_err_t *err)
{
    if (!key_arg) {
        nrm_err_set(err, NRM_EINVAL, "--broker-key is required");
        return TOOL_EXIT_USAGE;
    }
    if (audit_key_arg(key_arg, pk, err) != 0 || audit_json_load(path, o, err) != 0)
        return TOOL_EXIT_USAGE;
    const char *t = json_string_value(json_object_get(*o, "type"));
    if (!t || strcmp(t, type) != 0) {
        nrm_err_set(err, NRM_EINVAL, "%s is not an \"%s\"", path, type);
        return TOOL_EXIT_USAGE;
    }
    return TOOL_EXIT_FAIL;
}

/* Opens a checkpoint note from a proof file with the broker key. */
static int
s_open_note(const json_t *o, const char *key, const uint8_t pk[NRM_PK_BYTES],
            nrm_checkpoint_t *c, nrm_err_t *err)
{
    const json_t *j = json_object_get(o, key);
    if (!json_is_string(j))
        return nrm_err_set(err, NRM_EINVAL, "\"%s\" must be the checkpoint's signed note", key);
    int rc = nrm_checkpoint_open((const uint8_t *) json_string_value(j), json_string_length(j), pk,
                                 NULL, c, err);
    if (rc)
        nrm_err_prefix(err, "%s", key);
    return rc;
}

#define S_CHECK_USAGE \
    "usage: nrm-audit check-proof PROOF --broker-key KEY\n" \
    "  checks an inclusion proof offline: the checkpoint's signature by KEY (64 hex\n" \
    "  digits, 40 Z85 characters, or a file holding one, e.g. a connect.ini), the\n" \
    "  record's leaf hash and its path to the signed root\n"

int
audit_cmd_check_proof(int argc, char **argv)
{
    const char *key_arg = NULL;
    const tool_opt_t opts[] = { { "broker-key", &key_arg, NULL }, { NULL, NULL, NULL } };
    const char *pos[1];
    const tool_cmdline_t cl = { "nrm-audit", "check-proof", S_CHECK_USAGE, opts, pos, 1 };
    nrm_err_t err;
    uint8_t pk[NRM_PK_BYTES], leaf[NRM_HASH_BYTES], *raw = NULL;
    size_t rawlen = 0, n = 0;
    uint64_t seq = 0, index = 0, size = 0;
    nrm_hash_t path[NRM_MERKLE_PATH_MAX];
    nrm_checkpoint_t c;
    nrm_record_t rec;
    json_t *o = NULL;
    bool have_rec = false;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    if ((code = s_load(pos[0], key_arg, S_INCLUSION, pk, &o, &err)) != TOOL_EXIT_FAIL)
        goto fail;
    if (s_u64(o, "seq", &seq, &err) || s_u64(o, "leaf_index", &index, &err)
        || s_u64(o, "tree_size", &size, &err)
        || s_path_parse(json_object_get(o, "path"), path, &n, &err)
        || audit_json_base64_decode(json_object_get(o, "record"), NRM_MAX_RECORD_BYTES, &raw,
                                    &rawlen, &err))
        goto fail;
    if (index != seq - 1 || seq == 0) {
        nrm_err_set(&err, NRM_EINVAL, "leaf_index %llu is not seq - 1", (unsigned long long) index);
        goto fail;
    }
    if (s_open_note(o, "checkpoint", pk, &c, &err) != 0)
        goto fail;
    if (c.size != size) {
        nrm_err_set(&err, NRM_ECRYPTO, "the proof is for a tree of %llu records, the checkpoint "
                    "signs %llu", (unsigned long long) size, (unsigned long long) c.size);
        goto fail;
    }
    nrm_leaf_hash(raw, rawlen, leaf);
    if (nrm_merkle_inclusion_verify(index, size, leaf, path, n, c.root, &err) != 0) {
        nrm_err_prefix(&err, "record %llu is not proved to be in the signed log",
                       (unsigned long long) seq);
        goto fail;
    }
    if (nrm_record_decode(raw, rawlen, &rec, &err) != 0) {
        nrm_err_prefix(&err, "the proved record does not decode");
        goto fail;
    }
    have_rec = true;
    if (rec.seq != seq) {
        nrm_err_set(&err, NRM_EINVAL, "the proved record says it is record %llu, not %llu",
                    (unsigned long long) rec.seq, (unsigned long long) seq);
        goto fail;
    }
    printf("OK: record %llu (%s by ", (unsigned long long) seq, nrm_record_kind_name(rec.kind));
    tool_print_safe(stdout, rec.actor);
    printf(") is in the log %s signed at %llu records\n", c.origin, (unsigned long long) c.size);
    code = TOOL_EXIT_OK;
    goto out;
fail:
    s_failed(code, &err);
out:
    if (have_rec)
        nrm_record_clear(&rec);
    free(raw);
    json_decref(o);
    return code;
}

/* ---- consistency / check-consistency ---- */

#define S_CONS_USAGE \
    "usage: nrm-audit consistency --dir NET OLD_SIZE NEW_SIZE [--out FILE]\n" \
    "  writes a proof that the checkpoint of NEW_SIZE records extends the one of\n" \
    "  OLD_SIZE (both must be checkpoint sizes); check it with check-consistency\n"

int
audit_cmd_consistency(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { "out", &out, NULL }, { NULL, NULL, NULL } };
    const char *pos[2];
    const tool_cmdline_t cl = { "nrm-audit", "consistency", S_CONS_USAGE, opts, pos, 2 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    uint8_t *old_note = NULL, *new_note = NULL;
    size_t old_len = 0, new_len = 0, n = 0;
    uint64_t old_size = 0, new_size = 0;
    nrm_checkpoint_t oc, nc;
    nrm_hash_t path[NRM_MERKLE_PATH_MAX];
    json_t *o = NULL;
    char *text = NULL;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    code = TOOL_EXIT_USAGE;
    if (tool_u64_parse(pos[0], 1, NRM_MERKLE_SIZE_MAX, &old_size, "OLD_SIZE", &err) != 0
        || tool_u64_parse(pos[1], old_size, NRM_MERKLE_SIZE_MAX, &new_size, "NEW_SIZE", &err) != 0)
        goto fail;
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0
        || nrm_store_read_begin(store, &txn, &err) != 0)
        goto fail;
    code = TOOL_EXIT_FAIL;
    if (s_checkpoint_for(store, txn, old_size, &old_note, &old_len, &oc, &err) != 0
        || s_checkpoint_for(store, txn, new_size, &new_note, &new_len, &nc, &err) != 0
        || nrm_logtree_consistency(store, txn, old_size, new_size, path, &n, &err) != 0)
        goto fail;
    o = json_object();
    int rc = o ? 0 : -1;
    rc |= audit_json_set(o, "type", json_string(S_CONSISTENCY));
    rc |= audit_json_set(o, "old_size", audit_json_u64(old_size));
    rc |= audit_json_set(o, "new_size", audit_json_u64(new_size));
    rc |= audit_json_set(o, "path", s_path_json(path, n));
    rc |= audit_json_set(o, "old_checkpoint", json_stringn((const char *) old_note, old_len));
    rc |= audit_json_set(o, "new_checkpoint", json_stringn((const char *) new_note, new_len));
    if (rc || !(text = json_dumps(o, JSON_INDENT(2)))) {
        nrm_err_set(&err, NRM_ENOMEM, "cannot build the proof");
        goto fail;
    }
    if (audit_output(out, text, &err) != 0)
        goto fail;
    code = TOOL_EXIT_OK;
    goto done;
fail:
    audit_fail(&err);
done:
    free(text);
    json_decref(o);
    free(old_note);
    free(new_note);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return code;
}

#define S_CCHECK_USAGE \
    "usage: nrm-audit check-consistency PROOF --broker-key KEY\n" \
    "  checks offline that the newer signed checkpoint in PROOF extends the older\n" \
    "  one: no record of the older tree was changed, removed or reordered\n"

int
audit_cmd_check_consistency(int argc, char **argv)
{
    const char *key_arg = NULL;
    const tool_opt_t opts[] = { { "broker-key", &key_arg, NULL }, { NULL, NULL, NULL } };
    const char *pos[1];
    const tool_cmdline_t cl = { "nrm-audit", "check-consistency", S_CCHECK_USAGE, opts, pos, 1 };
    nrm_err_t err;
    uint8_t pk[NRM_PK_BYTES];
    uint64_t old_size = 0, new_size = 0;
    size_t n = 0;
    nrm_hash_t path[NRM_MERKLE_PATH_MAX];
    nrm_checkpoint_t oc, nc;
    json_t *o = NULL;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    if ((code = s_load(pos[0], key_arg, S_CONSISTENCY, pk, &o, &err)) != TOOL_EXIT_FAIL)
        goto fail;
    if (s_u64(o, "old_size", &old_size, &err) || s_u64(o, "new_size", &new_size, &err)
        || s_path_parse(json_object_get(o, "path"), path, &n, &err)
        || s_open_note(o, "old_checkpoint", pk, &oc, &err)
        || s_open_note(o, "new_checkpoint", pk, &nc, &err))
        goto fail;
    if (oc.size != old_size || nc.size != new_size || strcmp(oc.origin, nc.origin) != 0) {
        nrm_err_set(&err, NRM_ECRYPTO, "the checkpoints sign trees of %llu and %llu records of "
                    "%s and %s, not %llu and %llu of one log", (unsigned long long) oc.size,
                    (unsigned long long) nc.size, oc.origin, nc.origin,
                    (unsigned long long) old_size, (unsigned long long) new_size);
        goto fail;
    }
    if (nrm_merkle_consistency_verify(old_size, new_size, oc.root, nc.root, path, n, &err) != 0)
        goto fail;
    printf("OK: the log %s of %llu records extends the one of %llu records: no earlier record "
           "was changed\n", nc.origin, (unsigned long long) new_size, (unsigned long long) old_size);
    code = TOOL_EXIT_OK;
    goto out;
fail:
    s_failed(code, &err);
out:
    json_decref(o);
    return code;
}
