/*  audit_case -- `nrm-audit case`: the timeline of one case from the audit
    log. A record belongs to case REF when
      - it is ACCEPTED or REJECTED and its subject is an envelope whose
        case_ref is REF, or
      - it is DELIVERED or DELIVERY_REFUSED and refers_to names an ACCEPTED
        record of the case (its subject is the recipient's Ack).
    Only clear metadata is shown: bodies are sealed and not in the log. */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

#include "nrm_auditlog.h"
#include "nrm_checkpoint.h"
#include "nrm_merkle.h"
#include "nrm_registry.h"
#include "nrm_replay.h"
#include "nrm_crypto.h"
#include "nrm_util.h"

typedef struct {
    const char *ref;
    audit_row_t    *rows;       /* in log order, so sorted by seq */
    size_t      count, cap;
    nrm_err_t   walk_err;   /* why the walk stopped, if it did */
    nrm_replay_t *reg;      /* the registry as of the record walked */
} s_case_t;

static audit_row_t *
s_row_new(s_case_t *c)
{
    if (c->count == c->cap) {
        if (c->cap >= AUDIT_CASE_MAX_ROWS) {
            nrm_err_set(&c->walk_err, NRM_ETOOBIG, "case %s has more than %d records; "
                        "use nrm-audit export", c->ref, AUDIT_CASE_MAX_ROWS);
            return NULL;
        }
        size_t cap = c->cap ? c->cap * 2 : 32;
        if (cap > AUDIT_CASE_MAX_ROWS)
            cap = AUDIT_CASE_MAX_ROWS;
        audit_row_t *rows = realloc(c->rows, cap * sizeof *rows);
        if (rows == NULL) {
            nrm_err_set(&c->walk_err, NRM_ENOMEM, "out of memory");
            return NULL;
        }
        c->rows = rows;
        c->cap = cap;
    }
    audit_row_t *r = &c->rows[c->count++];
    memset(r, 0, sizeof *r);
    return r;
}

/* The ACCEPTED row of the case with this seq, or NULL. O(log n). */
static const audit_row_t *
s_accepted(const s_case_t *c, uint64_t seq)
{
    size_t lo = 0, hi = c->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->rows[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->count && c->rows[lo].seq == seq && c->rows[lo].kind == NRM_REC_ACCEPTED)
        return &c->rows[lo];
    return NULL;
}

/* Checks a step's signature with the key of org at this point of the
   replayed registry (during a rotation, the old key too). */
static void
s_check_sig(const s_case_t *c, audit_row_t *r, const nrm_record_t *rec, const char *org,
            const char *ctx)
{
    const nrm_replay_org_t *o = nrm_replay_org(c->reg, org);
    r->sig_checked = true;
    r->sig_ok = o && rec->has_signature
                && (nrm_batch_verify(o->cert.sign_pk, ctx, rec->subject, rec->subject_len,
                                     rec->signature, &rec->batch, NULL) == 0
                    || (o->has_old && nrm_batch_verify(o->old.sign_pk, ctx, rec->subject,
                                                       rec->subject_len, rec->signature,
                                                       &rec->batch, NULL) == 0));
}

/* Proves each step's record in the latest checkpoint: the note verified
   with the broker key of GENESIS, the record's inclusion path to its root. */
static void
s_prove_rows(s_case_t *c, nrm_store_t *store, MDB_txn *txn)
{
    uint64_t ckpt;
    nrm_bytes_t bytes;
    nrm_record_t rec;
    nrm_checkpoint_t cp;
    nrm_err_t err;
    const nrm_genesis_t *g = nrm_replay_genesis(c->reg);
    if (!g || nrm_auditlog_checkpoint(store, txn, &ckpt, &err) != 0 || ckpt == 0
        || nrm_auditlog_get(store, txn, ckpt, &bytes, &err) != 0
        || nrm_record_decode(bytes.data, bytes.len, &rec, &err) != 0)
        return;
    char origin[NRM_CHECKPOINT_ORIGIN_MAX + 1];
    nrm_checkpoint_origin(g->network, origin);
    int rc = nrm_checkpoint_open(rec.subject, rec.subject_len, g->broker_sign_pk, origin,
                                 &cp, &err);
    nrm_record_clear(&rec);
    if (rc)
        return;
    for (size_t i = 0; i < c->count; i++) {
        audit_row_t *r = &c->rows[i];
        nrm_hash_t path[NRM_MERKLE_PATH_MAX];
        uint8_t leaf[NRM_HASH_BYTES];
        size_t n = 0;
        if (r->seq > cp.size || nrm_auditlog_get(store, txn, r->seq, &bytes, &err) != 0
            || nrm_logtree_inclusion(store, txn, r->seq, cp.size, path, &n, &err) != 0)
            continue;
        nrm_leaf_hash(bytes.data, bytes.len, leaf);
        r->in_checkpoint = nrm_merkle_inclusion_verify(r->seq - 1, cp.size, leaf, path, n,
                                                       cp.root, &err) == 0;
        r->checkpoint_size = cp.size;
    }
}

const char *
audit_row_proof(const audit_row_t *r)
{
    if (r->sig_checked && !r->sig_ok)
        return "SIGNATURE DOES NOT VERIFY";
    if (!r->in_checkpoint)
        return r->sig_checked ? "signed, not yet in a signed checkpoint"
                              : "logged, not yet in a signed checkpoint";
    return r->sig_checked ? "verified: signed, in the signed checkpoint"
                          : "verified: in the signed checkpoint";
}

static int
s_each(void *vctx, uint64_t key_seq, nrm_bytes_t bytes, const nrm_record_t *rec,
       nrm_err_t *err)
{
    s_case_t *c = vctx;
    nrm_err_t derr;
    (void) bytes;
    (void) err;
    if (rec == NULL) {
        /* Not ours to judge here; `nrm-audit verify` reports it. */
        fprintf(stderr, "nrm-audit: warning: record %llu does not decode; skipped "
                "(run nrm-audit verify)\n", (unsigned long long) key_seq);
        return 0;
    }
    memset(&derr, 0, sizeof derr);
    char why[400];
    /* A registry record that does not replay is for verify to report; the
       keys of later steps are then those before it. */
    if (nrm_replay_apply(c->reg, rec, why, sizeof why) == NRM_ENOMEM) {
        nrm_err_set(&c->walk_err, NRM_ENOMEM, "out of memory");
        return -1;
    }
    if (rec->kind == NRM_REC_ACCEPTED || rec->kind == NRM_REC_REJECTED) {
        nrm_envelope_t env;
        if (nrm_envelope_decode(rec->subject, rec->subject_len, &env, &derr) != 0)
            return 0;       /* a refused frame that never was an envelope */
        if (strcmp(env.case_ref, c->ref) != 0)
            return 0;
        audit_row_t *r = s_row_new(c);
        if (r == NULL)
            return -1;
        r->seq = rec->seq;
        r->time_ms = rec->time_ms;
        r->kind = rec->kind;
        memcpy(r->sender, env.sender, sizeof r->sender);
        memcpy(r->recipient, env.recipient, sizeof r->recipient);
        memcpy(r->type, env.type, sizeof r->type);
        memcpy(r->msg_id, env.msg_id, NRM_MSGID_BYTES);
        r->has_reply_to = env.has_reply_to;
        memcpy(r->reply_to, env.in_reply_to, NRM_MSGID_BYTES);
        r->priority = env.priority;
        r->reason_code = rec->reason_code;
        memcpy(r->reason, rec->reason, sizeof r->reason);
        if (rec->kind == NRM_REC_ACCEPTED)
            s_check_sig(c, r, rec, env.sender, NRM_CTX_ENVELOPE);
        return 0;
    }
    if (rec->kind == NRM_REC_DELIVERED || rec->kind == NRM_REC_DELIVERY_REFUSED) {
        const audit_row_t *acc = s_accepted(c, rec->refers_to);
        if (acc == NULL)
            return 0;
        nrm_ack_t ack;
        bool have_ack = nrm_ack_decode(rec->subject, rec->subject_len, &ack, &derr) == 0;
        /* acc points into rows, which s_row_new may move: copy it first. */
        audit_row_t copy = *acc;
        audit_row_t *r = s_row_new(c);
        if (r == NULL)
            return -1;
        *r = copy;
        r->seq = rec->seq;
        r->time_ms = rec->time_ms;
        r->kind = rec->kind;
        r->refers_to = rec->refers_to;
        r->reason_code = rec->reason_code;
        memcpy(r->reason, rec->reason, sizeof r->reason);
        if (have_ack) {
            memcpy(r->msg_id, ack.msg_id, NRM_MSGID_BYTES);
            if (r->reason_code == 0)
                r->reason_code = ack.status;
            if (r->reason[0] == '\0')
                memcpy(r->reason, ack.reason, sizeof r->reason);
            s_check_sig(c, r, rec, ack.recipient, NRM_CTX_ACK);
        }
        r->sig_checked = true;
        return 0;
    }
    return 0;
}

static bool
s_is_refusal(const audit_row_t *r)
{
    return r->kind == NRM_REC_REJECTED || r->kind == NRM_REC_DELIVERY_REFUSED;
}

static void
s_print_text(const s_case_t *c)
{
    char when[32], id[2 * NRM_MSGID_BYTES + 1], reply[2 * NRM_MSGID_BYTES + 1];
    printf("case %s: %zu record%s\n", c->ref, c->count, c->count == 1 ? "" : "s");
    printf("%-24s %6s  %-16s %-28s %-10s %-32s %s\n", "TIME", "SEQ", "KIND",
           "FROM -> TO", "TYPE", "MSG ID", "REPLY TO");
    for (size_t i = 0; i < c->count; i++) {
        const audit_row_t *r = &c->rows[i];
        char route[2 * NRM_ID_MAX + 8];
        nrm_time_format(r->time_ms, when, sizeof when);
        tool_msgid_hex(r->msg_id, id);
        if (r->has_reply_to)
            tool_msgid_hex(r->reply_to, reply);
        else
            snprintf(reply, sizeof reply, "-");
        snprintf(route, sizeof route, "%s -> %s", r->sender, r->recipient);
        printf("%-24s %6llu  %-16s %-28s %-10s %-32s %s", when,
               (unsigned long long) r->seq, nrm_record_kind_name(r->kind), route,
               r->type, id, reply);
        if (s_is_refusal(r)) {
            printf("  reason: %s", nrm_reason_name(r->reason_code));
            if (r->reason[0] != '\0') {
                printf(": ");
                tool_print_safe(stdout, r->reason);
            }
        }
        printf("  [%s]\n", audit_row_proof(r));
    }
}

static int
s_print_json(const s_case_t *c, nrm_err_t *err)
{
    char when[32];
    int rc = 0;
    json_t *arr = json_array();
    if (arr == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->count && rc == 0; i++) {
        const audit_row_t *r = &c->rows[i];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            rc = -1;
            break;
        }
        nrm_time_format(r->time_ms, when, sizeof when);
        rc |= audit_json_set(o, "time", json_string(when));
        rc |= audit_json_set(o, "time_ms", audit_json_u64(r->time_ms));
        rc |= audit_json_set(o, "seq", audit_json_u64(r->seq));
        rc |= audit_json_set(o, "kind", json_string(nrm_record_kind_name(r->kind)));
        rc |= audit_json_set(o, "sender", audit_json_text(r->sender));
        rc |= audit_json_set(o, "recipient", audit_json_text(r->recipient));
        rc |= audit_json_set(o, "type", audit_json_text(r->type));
        rc |= audit_json_set(o, "msg_id", audit_json_hex(r->msg_id, NRM_MSGID_BYTES));
        rc |= audit_json_set(o, "reply_to", r->has_reply_to
                             ? audit_json_hex(r->reply_to, NRM_MSGID_BYTES) : json_null());
        rc |= audit_json_set(o, "priority", json_integer(r->priority));
        if (r->refers_to != 0)
            rc |= audit_json_set(o, "refers_to", audit_json_u64(r->refers_to));
        if (r->sig_checked)
            rc |= audit_json_set(o, "signature_ok", json_boolean(r->sig_ok));
        rc |= audit_json_set(o, "in_checkpoint", r->in_checkpoint
                             ? audit_json_u64(r->checkpoint_size) : json_null());
        rc |= audit_json_set(o, "proof", json_string(audit_row_proof(r)));
        if (s_is_refusal(r)) {
            rc |= audit_json_set(o, "reason_code", json_integer(r->reason_code));
            rc |= audit_json_set(o, "reason_name",
                                 json_string(nrm_reason_name(r->reason_code)));
            rc |= audit_json_set(o, "reason", audit_json_text(r->reason));
        }
    }
    if (rc != 0) {
        json_decref(arr);
        return nrm_err_set(err, NRM_ENOMEM, "out of memory building JSON");
    }
    rc = json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(arr);
    if (rc != 0 || fputc('\n', stdout) == EOF)
        return nrm_err_set(err, NRM_EIO, "cannot write JSON");
    return 0;
}

#define S_USAGE \
    "usage: nrm-audit case --dir NET REF [--json] [--svg FILE]\n" \
    "  the timeline of case REF from the audit log (read-only), each step with\n" \
    "  its signature checked and its inclusion in the latest signed checkpoint\n" \
    "  proved; --svg also draws it: a lane per organisation, time to the right\n"

int
audit_cmd_case(int argc, char **argv)
{
    const char *dir = NULL, *svg = NULL;
    bool json = false;
    s_case_t c;
    memset(&c, 0, sizeof c);
    const tool_opt_t opts[] = {
        { "dir", &dir, NULL }, { "json", NULL, &json }, { "svg", &svg, NULL },
        { NULL, NULL, NULL },
    };
    const tool_cmdline_t cl = { "nrm-audit", "case", S_USAGE, opts, &c.ref, 1 };
    nrm_err_t err;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    code = TOOL_EXIT_FAIL;

    memset(&err, 0, sizeof err);
    if (!nrm_id_valid(c.ref)) {
        fprintf(stderr, "nrm-audit case: '%s' is not a case reference "
                "(1..%d of a-z 0-9 . _ -)\n", c.ref, NRM_ID_MAX);
        return TOOL_EXIT_USAGE;
    }
    if (tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, &err) != 0) {
        code = TOOL_EXIT_USAGE;
        goto fail;
    }
    if (!(c.reg = nrm_replay_new())) {
        nrm_err_set(&err, NRM_ENOMEM, "out of memory");
        goto fail;
    }
    if (nrm_store_read_begin(store, &txn, &err) != 0)
        goto fail;
    if (nrm_auditlog_each(store, txn, 1, s_each, &c, &err) != 0) {
        if (c.walk_err.msg[0] != '\0')
            err = c.walk_err;
        goto fail;
    }
    s_prove_rows(&c, store, txn);
    nrm_store_read_end(&txn);
    if (c.count == 0) {
        nrm_err_set(&err, NRM_ENOTFOUND, "no records for case %s in %s/data", c.ref, dir);
        goto fail;
    }
    if (json) {
        if (s_print_json(&c, &err) != 0)
            goto fail;
    } else {
        s_print_text(&c);
    }
    if (svg && audit_case_svg(svg, c.ref, c.rows, c.count, &err) != 0)
        goto fail;
    code = TOOL_EXIT_OK;
    goto out;
fail:
    audit_fail(&err);
out:
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    free(c.rows);
    nrm_replay_destroy(&c.reg);
    return code;
}
