/*  audit_export -- `nrm-audit export --format jsonl`: every audit record,
    in order, as one JSON object a line: the exact stored bytes (base64),
    their RFC 6962 leaf hash, every field, and a decoded view of the
    subject. An auditor can recompute the chain from `record` alone; the
    other fields are there to be read. */
#include "audit.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nrm_auditlog.h"
#include "nrm_checkpoint.h"
#include "nrm_crypto.h"
#include "nrm_util.h"

typedef struct {
    FILE     *out;
    char     *b64;          /* reused between records */
    size_t    b64_cap;
    uint64_t  count;
    nrm_err_t walk_err;
} s_export_t;

/* Base64 (RFC 4648, with padding) of data, in the reused buffer. */
static json_t *
s_base64(s_export_t *x, const uint8_t *data, size_t len)
{
    size_t need = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    if (need > x->b64_cap) {
        char *p = realloc(x->b64, need);
        if (p == NULL)
            return NULL;
        x->b64 = p;
        x->b64_cap = need;
    }
    sodium_bin2base64(x->b64, x->b64_cap, data, len, sodium_base64_VARIANT_ORIGINAL);
    return json_string_nocheck(x->b64);
}

/* The decoded view of the subject, by kind. A subject that does not decode
   is reported in "subject_error"; nrm-audit verify says whether that is
   allowed (a REJECTED frame need not be an envelope). */
static int
s_subject_view(json_t *o, const nrm_record_t *rec)
{
    nrm_err_t derr;
    memset(&derr, 0, sizeof derr);
    const uint8_t *s = rec->subject;
    size_t n = rec->subject_len;
    json_t *view = NULL;
    const char *name = NULL;

    switch (rec->kind) {
    case NRM_REC_ACCEPTED:
    case NRM_REC_REJECTED: {
        nrm_envelope_t env;
        name = "envelope";
        if (nrm_envelope_decode(s, n, &env, &derr) == 0)
            view = audit_json_envelope(&env);
        break;
    }
    case NRM_REC_DELIVERED:
    case NRM_REC_DELIVERY_REFUSED: {
        nrm_ack_t ack;
        name = "ack";
        if (nrm_ack_decode(s, n, &ack, &derr) == 0)
            view = audit_json_ack(&ack);
        break;
    }
    case NRM_REC_ENROLLED: {
        nrm_cert_t cert;
        name = "certificate";
        if (nrm_cert_decode(s, n, &cert, &derr) == 0)
            view = audit_json_cert(&cert);
        break;
    }
    case NRM_REC_GENESIS: {
        nrm_genesis_t g;
        name = "genesis";
        if (nrm_genesis_decode(s, n, &g, &derr) == 0)
            view = audit_json_genesis(&g);
        break;
    }
    case NRM_REC_CHECKPOINT: {
        nrm_checkpoint_t c;
        name = "checkpoint";
        if (nrm_checkpoint_parse(s, n, &c, &derr) == 0)
            view = audit_json_checkpoint(&c);
        break;
    }
    default:
        return 0;
    }
    if (view != NULL)
        return audit_json_set(o, name, view);
    if (derr.code == 0)
        return -1;                  /* the view itself ran out of memory */
    if (n == 0 && rec->kind == NRM_REC_REJECTED)
        return 0;                   /* nothing to decode */
    return audit_json_set(o, "subject_error", audit_json_text(derr.msg));
}

/* {"index", "size", "path": [hex, ...]} of a batch signature's proof. */
static json_t *
s_batch(const nrm_batch_proof_t *p)
{
    json_t *o = json_object(), *path = json_array();
    int rc = o == NULL || path == NULL;
    for (uint32_t i = 0; rc == 0 && i < p->npath; i++)
        rc |= json_array_append_new(path, audit_json_hex(p->path[i], NRM_HASH_BYTES));
    if (rc == 0) {
        rc |= audit_json_set(o, "index", json_integer(p->index));
        rc |= audit_json_set(o, "size", json_integer(p->size));
        rc |= json_object_set_new(o, "path", path);
        path = NULL;
    }
    json_decref(path);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int
s_export_one(void *vctx, uint64_t key_seq, nrm_bytes_t bytes, const nrm_record_t *rec,
             nrm_err_t *err)
{
    s_export_t *x = vctx;
    uint8_t leaf[NRM_HASH_BYTES];
    int rc = 0;
    json_t *o = json_object();
    if (o == NULL)
        goto oom;
    nrm_leaf_hash(bytes.data, bytes.len, leaf);
    if (rec == NULL) {
        /* Still exported, exactly, with why it does not decode. */
        rc |= audit_json_set(o, "seq", audit_json_u64(key_seq));
        rc |= audit_json_set(o, "record", s_base64(x, bytes.data, bytes.len));
        rc |= audit_json_set(o, "leaf_hash", audit_json_hex(leaf, sizeof leaf));
        rc |= audit_json_set(o, "error", audit_json_text(err && err->msg[0]
                                                         ? err->msg : "does not decode"));
    } else {
        rc |= audit_json_set(o, "seq", audit_json_u64(rec->seq));
        if (rec->seq != key_seq)
            rc |= audit_json_set(o, "key_seq", audit_json_u64(key_seq));
        rc |= audit_json_set(o, "time_ms", audit_json_u64(rec->time_ms));
        rc |= audit_json_set(o, "kind", json_string(nrm_record_kind_name(rec->kind)));
        rc |= audit_json_set(o, "actor", audit_json_text(rec->actor));
        rc |= audit_json_set(o, "record", s_base64(x, bytes.data, bytes.len));
        rc |= audit_json_set(o, "leaf_hash", audit_json_hex(leaf, sizeof leaf));
        rc |= audit_json_set(o, "prev_hash", audit_json_hex(rec->prev_hash, NRM_HASH_BYTES));
        rc |= audit_json_set(o, "subject", s_base64(x, rec->subject, rec->subject_len));
        if (rec->has_signature)
            rc |= audit_json_set(o, "signature", audit_json_hex(rec->signature, NRM_SIG_BYTES));
        if (rec->batch.size)
            rc |= audit_json_set(o, "batch", s_batch(&rec->batch));
        if (rec->has_msg_id)
            rc |= audit_json_set(o, "msg_id", audit_json_hex(rec->msg_id, NRM_MSGID_BYTES));
        rc |= audit_json_set(o, "reason_code", json_integer(rec->reason_code));
        rc |= audit_json_set(o, "reason", audit_json_text(rec->reason));
        if (rec->has_frame_hash)
            rc |= audit_json_set(o, "frame_hash", audit_json_hex(rec->frame_hash, NRM_HASH_BYTES));
        rc |= audit_json_set(o, "frame_size", audit_json_u64(rec->frame_size));
        rc |= audit_json_set(o, "refers_to", audit_json_u64(rec->refers_to));
        if (rc == 0)
            rc = s_subject_view(o, rec);
    }
    if (rc != 0)
        goto oom;
    if (json_dumpf(o, x->out, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0
        || fputc('\n', x->out) == EOF) {
        json_decref(o);
        nrm_err_set(&x->walk_err, NRM_EIO, "cannot write record %llu: %s",
                    (unsigned long long) key_seq, strerror(errno));
        return -1;
    }
    json_decref(o);
    x->count++;
    return 0;
oom:
    json_decref(o);
    nrm_err_set(&x->walk_err, NRM_ENOMEM, "out of memory at record %llu",
                (unsigned long long) key_seq);
    return -1;
}

#define S_USAGE \
    "usage: nrm-audit export --dir NET --format jsonl [--out FILE]\n" \
    "  every audit record, one JSON object a line (stdout by default; read-only)\n"

int
audit_cmd_export(int argc, char **argv)
{
    const char *dir, *format, *out_path;
    const tool_opt_t opts[] = {
        { "dir", &dir, NULL }, { "format", &format, NULL }, { "out", &out_path, NULL },
        { NULL, NULL, NULL },
    };
    const tool_cmdline_t cl = { "nrm-audit", "export", S_USAGE, opts, NULL, 0 };
    char tmp[TOOL_PATH_MAX];
    nrm_err_t err;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    s_export_t x;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    code = TOOL_EXIT_FAIL;

    memset(&err, 0, sizeof err);
    memset(&x, 0, sizeof x);
    tmp[0] = '\0';
    if (format == NULL)
        format = "jsonl";
    if (strcmp(format, "jsonl") != 0) {
        fprintf(stderr, "nrm-audit export: unknown format '%s' (known: jsonl)\n", format);
        return TOOL_EXIT_USAGE;
    }
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0) {
        code = TOOL_EXIT_USAGE;
        goto fail;
    }
    if (out_path != NULL) {
        /* Written beside, then renamed: a reader never sees half an export. */
        if (nrm_path(tmp, sizeof tmp, "%s.part", out_path) != 0) {
            nrm_err_set(&err, NRM_ETOOBIG, "--out: file name too long");
            tmp[0] = '\0';
            goto fail;
        }
        x.out = fopen(tmp, "w");
        if (x.out == NULL) {
            nrm_err_set(&err, NRM_EIO, "cannot create %s: %s", tmp, strerror(errno));
            tmp[0] = '\0';
            goto fail;
        }
    } else {
        x.out = stdout;
    }
    if (nrm_store_read_begin(store, &txn, &err) != 0)
        goto fail;
    if (nrm_auditlog_each(store, txn, 1, s_export_one, &x, &err) != 0) {
        if (x.walk_err.msg[0] != '\0')
            err = x.walk_err;
        goto fail;
    }
    nrm_store_read_end(&txn);
    if (fflush(x.out) != 0 || ferror(x.out)) {
        nrm_err_set(&err, NRM_EIO, "cannot write the export: %s", strerror(errno));
        goto fail;
    }
    if (out_path != NULL) {
        FILE *f = x.out;
        x.out = NULL;
        if (fsync(fileno(f)) != 0 || fclose(f) != 0) {
            nrm_err_set(&err, NRM_EIO, "cannot write %s: %s", tmp, strerror(errno));
            goto fail;
        }
        if (rename(tmp, out_path) != 0) {
            nrm_err_set(&err, NRM_EIO, "cannot rename %s to %s: %s", tmp, out_path,
                        strerror(errno));
            goto fail;
        }
        tmp[0] = '\0';
        fprintf(stderr, "exported %llu records to %s\n", (unsigned long long) x.count,
                out_path);
    }
    code = TOOL_EXIT_OK;
    goto out;
fail:
    audit_fail(&err);
out:
    nrm_store_read_end(&txn);
    if (x.out != NULL && x.out != stdout)
        fclose(x.out);
    if (tmp[0] != '\0')
        (void) unlink(tmp);
    nrm_store_destroy(&store);
    free(x.b64);
    return code;
}
