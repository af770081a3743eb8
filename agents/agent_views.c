/*  agent_views -- the outbox and inbox as JSON (see agent_views.h). */
#include "agent_views.h"
#include "agent_docs.h"
#include "agent_hooks.h"
#include "agent_verify.h"
#include "nrm_util.h"

#include <stdlib.h>
#include <string.h>

int
agent_keyring_load(const char *dir, agent_keyring_t *kr, nrm_err_t *err)
{
    size_t nretired = 0;
    int rc;

    memset(kr, 0, sizeof *kr);
    rc = nrm_crypto_init();
    if (rc != 0)
        return nrm_err_set(err, rc, "libsodium could not be initialised");
    /* Bodies sealed before a rotation open with a retired set; those
       sealed to new keys about to take effect, with secret.keys.next. */
    rc = agent_keys_load(dir, &kr->keys[0], err);
    if (rc == 0)
        rc = agent_keys_next(dir, &kr->keys[1], err);
    kr->n = kr->keys[1] != NULL ? 2 : 1;
    if (rc == 0)
        rc = agent_keys_retired(dir, kr->keys + kr->n, AGENT_RETIRED_MAX, &nretired, err);
    kr->n += nretired;
    if (rc != 0)
        agent_keyring_clear(kr);
    return rc;
}

void
agent_keyring_clear(agent_keyring_t *kr)
{
    for (size_t i = 0; i < 2 + AGENT_RETIRED_MAX; i++)
        nrm_keys_destroy(&kr->keys[i]);
    kr->n = 0;
}

static void
s_reply_to(json_t *o, const nrm_envelope_t *env)
{
    agent_hex_t hex;

    if (env->has_reply_to) {
        nrm_hex_encode(env->in_reply_to, NRM_MSGID_BYTES, hex);
        json_object_set_new(o, "reply_to", json_string(hex));
    } else {
        json_object_set_new(o, "reply_to", json_null());
    }
}

/* {"msg_id": ..., "error": ...} for an entry that cannot be shown. */
static json_t *
s_bad(const uint8_t msg_id[NRM_MSGID_BYTES], uint64_t key, const char *why)
{
    agent_hex_t hex;
    nrm_hex_encode(msg_id, NRM_MSGID_BYTES, hex);
    return json_pack("{s:s, s:I, s:s}", "msg_id", hex, "key", (json_int_t) key, "error", why);
}

/* The broker's receipt kept with an entry, so that anyone can match it to
   the audit record it names: "receipt": {"seq", "record_hash", "status"},
   and "batch": {"index", "size"} when it was signed in a batch.
   A stored receipt that does not decode is shown as "receipt_error". */
static void
s_receipt(json_t *o, const agent_out_t *rec)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t len = 0;
    nrm_receipt_t r;
    nrm_batch_proof_t proof;
    nrm_err_t derr = { 0 };
    char hash[2 * NRM_HASH_BYTES + 1];
    int rc = nrm_signed_decode_batch(rec->receipt.data, rec->receipt.len, 1024, &body, &len, sig,
                                     &proof, &derr);
    if (rc == 0)
        rc = nrm_receipt_decode(body, len, &r, &derr);
    free(body);
    if (rc != 0) {
        json_object_set_new(o, "receipt_error", json_string(derr.msg));
        return;
    }
    nrm_hex_encode(r.record_hash, NRM_HASH_BYTES, hash);
    json_t *v = json_pack("{s:I, s:s, s:i}", "seq", (json_int_t) r.seq, "record_hash", hash,
                          "status", (int) r.status);
    /* a receipt the broker signed with others of its commit */
    if (v != NULL && proof.size)
        json_object_set_new(v, "batch", json_pack("{s:i, s:i}", "index", (int) proof.index,
                                                  "size", (int) proof.size));
    json_object_set_new(o, "receipt", v);
}

int
agent_view_out(const agent_out_t *rec, json_t **out, nrm_err_t *err)
{
    nrm_envelope_t env;
    agent_hex_t hex;
    char when[40];
    json_t *o;

    *out = NULL;
    if (nrm_envelope_decode(rec->envelope.data, rec->envelope.len, &env, err) != 0) {
        nrm_err_prefix(err, "envelope does not decode");
        return NRM_ECORRUPT;
    }
    nrm_hex_encode(rec->msg_id, NRM_MSGID_BYTES, hex);
    nrm_time_format(env.created_ms, when, sizeof when);
    o = json_object();
    if (o == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    json_object_set_new(o, "msg_id", json_string(hex));
    json_object_set_new(o, "key", json_integer((json_int_t) rec->key));
    json_object_set_new(o, "to", json_string(env.recipient));
    json_object_set_new(o, "type", json_string(env.type));
    json_object_set_new(o, "case", json_string(env.case_ref));
    json_object_set_new(o, "priority", json_integer(env.priority));
    s_reply_to(o, &env);
    json_object_set_new(o, "created_ms", json_integer((json_int_t) env.created_ms));
    json_object_set_new(o, "created", json_string(when));
    json_object_set_new(o, "state", json_string(agent_out_state_name(rec->state)));
    if (rec->accepted_seq != 0)
        json_object_set_new(o, "accepted_seq", json_integer((json_int_t) rec->accepted_seq));
    if (rec->delivered_seq != 0)
        json_object_set_new(o, "delivered_seq", json_integer((json_int_t) rec->delivered_seq));
    if (rec->receipt.len > 0)
        s_receipt(o, rec);
    if (rec->state == AGENT_OUT_REFUSED || rec->state == AGENT_OUT_PURGED) {
        json_object_set_new(o, "reason_code", json_integer(rec->reason_code));
        json_object_set_new(o, "reason_name", json_string(nrm_reason_name(rec->reason_code)));
        json_object_set_new(o, "reason", json_string(rec->reason));
    }
    *out = o;
    return 0;
}

/* Opens and parses the document of one inbox entry. */
static int
s_inbox_doc(const agent_keyring_t *kr, const agent_in_t *rec, const nrm_envelope_t *env,
            json_t **doc, nrm_err_t *err)
{
    size_t len;
    uint8_t *plain;
    int rc = 0;

    *doc = NULL;
    rc = nrm_seal_plain_len(rec->sealed_body.data, rec->sealed_body.len, &len, err);
    if (rc != 0)
        return rc;
    plain = malloc(len + 1);
    if (plain == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    rc = agent_seal_open((const nrm_keys_t *const *) kr->keys, kr->n, NULL,
                         rec->sealed_body.data, rec->sealed_body.len, plain, err);
    if (rc != 0) {
        nrm_err_prefix(err, "secret.keys and the key sets a rotation replaced do not "
                       "open the body");
        goto out;
    }
    rc = agent_doc_json(env, plain, len, doc, err);
out:
    explicit_bzero(plain, len + 1);
    free(plain);
    return rc;
}

int
agent_view_in(nrm_store_t *store, MDB_txn *txn, const agent_keyring_t *kr,
              const agent_in_t *rec, json_t **out, nrm_err_t *err)
{
    nrm_envelope_t env;
    agent_hex_t hex;
    char when[40], bh[2 * NRM_HASH_BYTES + 1];
    json_t *o, *doc = NULL, *hand;
    uint64_t taken_ms = 0;
    int rc;

    *out = NULL;
    if (nrm_envelope_decode(rec->envelope.data, rec->envelope.len, &env, err) != 0) {
        nrm_err_prefix(err, "envelope does not decode");
        return NRM_ECORRUPT;
    }
    rc = agent_intake_get(store, txn, rec->key, &taken_ms, err);
    if (rc != 0)
        return rc;
    if (kr != NULL) {
        if (rec->purged_ms)
            doc = json_string("(body purged by retention)");
        else if ((rc = s_inbox_doc(kr, rec, &env, &doc, err)) != 0)
            return rc;
        if (doc == NULL)
            return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    }
    nrm_hex_encode(rec->msg_id, NRM_MSGID_BYTES, hex);
    nrm_time_format(rec->received_ms, when, sizeof when);
    nrm_hex_encode(env.body_hash, NRM_HASH_BYTES, bh);
    o = json_object();
    if (o == NULL) {
        json_decref(doc);
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    }
    json_object_set_new(o, "msg_id", json_string(hex));
    json_object_set_new(o, "key", json_integer((json_int_t) rec->key));
    json_object_set_new(o, "from", json_string(env.sender));
    json_object_set_new(o, "type", json_string(env.type));
    json_object_set_new(o, "case", json_string(env.case_ref));
    s_reply_to(o, &env);
    json_object_set_new(o, "priority", json_integer(env.priority));
    json_object_set_new(o, "created_ms", json_integer((json_int_t) env.created_ms));
    json_object_set_new(o, "received_ms", json_integer((json_int_t) rec->received_ms));
    json_object_set_new(o, "received", json_string(when));
    json_object_set_new(o, "accepted_seq", json_integer((json_int_t) rec->accepted_seq));
    json_object_set_new(o, "body_hash", json_string(bh));
    json_object_set_new(o, "state", json_string(taken_ms ? "taken" : "new"));
    if (taken_ms)
        json_object_set_new(o, "taken_ms", json_integer((json_int_t) taken_ms));
    if (rec->purged_ms)
        json_object_set_new(o, "purged_ms", json_integer((json_int_t) rec->purged_ms));
    hand = agent_handoff_view(store, txn, rec->key);
    if (hand != NULL)
        json_object_set_new(o, "handoff", hand);
    if (doc != NULL)
        json_object_set_new(o, "document", doc);
    *out = o;
    return 0;
}

typedef struct {
    nrm_store_t           *store;
    MDB_txn               *txn;
    const agent_keyring_t *kr;
    const char            *state;
    uint64_t               after, last;
    size_t                 max;
    json_t                *arr;
} s_list_t;

static int
s_add(s_list_t *l, json_t *o, uint64_t key, nrm_err_t *err)
{
    if (o == NULL || json_array_append_new(l->arr, o) != 0)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    l->last = key;
    return json_array_size(l->arr) >= l->max ? 1 : 0;
}

static int
s_out_one(void *ctx, const agent_out_t *rec, nrm_err_t *err)
{
    s_list_t *l = ctx;
    nrm_err_t why = { 0, 0, "" };
    json_t *o = NULL;

    if (rec->key <= l->after)
        return 0;
    if (agent_view_out(rec, &o, &why) != 0)
        o = s_bad(rec->msg_id, rec->key, why.msg);
    return s_add(l, o, rec->key, err);
}

int
agent_view_outbox(nrm_store_t *store, MDB_txn *txn, uint64_t after, size_t max, json_t **arr,
                  uint64_t *next, nrm_err_t *err)
{
    s_list_t l = { store, txn, NULL, NULL, after, 0, max, json_array() };
    int rc;

    *arr = NULL;
    *next = 0;
    if (l.arr == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    rc = agent_out_each(store, txn, after + 1, s_out_one, &l, err);
    if (rc < 0) {
        json_decref(l.arr);
        return rc;
    }
    *arr = l.arr;
    *next = l.last;
    return 0;
}

static int
s_in_one(void *ctx, const agent_in_t *rec, nrm_err_t *err)
{
    s_list_t *l = ctx;
    nrm_err_t why = { 0, 0, "" };
    json_t *o = NULL;
    int rc;

    if (rec->key <= l->after)
        return 0;
    if (l->state != NULL) {
        uint64_t taken = 0;
        rc = agent_intake_get(l->store, l->txn, rec->key, &taken, err);
        if (rc != 0)
            return rc;
        if ((strcmp(l->state, "taken") == 0) != (taken != 0))
            return 0;
    }
    rc = agent_view_in(l->store, l->txn, l->kr, rec, &o, &why);
    if (rc == NRM_ENOMEM)
        return nrm_err_set(err, rc, "out of memory");
    if (rc != 0)
        o = s_bad(rec->msg_id, rec->key, why.msg);
    return s_add(l, o, rec->key, err);
}

int
agent_view_inbox(nrm_store_t *store, MDB_txn *txn, const agent_keyring_t *kr,
                 const char *state, uint64_t after, size_t max, json_t **arr, uint64_t *next,
                 nrm_err_t *err)
{
    s_list_t l = { store, txn, kr, state, after, 0, max, json_array() };
    int rc;

    *arr = NULL;
    *next = 0;
    if (l.arr == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    rc = agent_in_each_from(store, txn, after + 1, s_in_one, &l, err);
    if (rc < 0) {
        json_decref(l.arr);
        return rc;
    }
    *arr = l.arr;
    *next = l.last;
    return 0;
}
