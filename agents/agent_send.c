/*  agent_send -- seal, sign and queue outgoing messages (see agent_send.h). */
#include "agent_send.h"
#include "agent_store.h"
#include "agent_verify.h"
#include "agent_wake.h"
#include "nrm_codec.h"
#include "nrm_registry.h"
#include "nrm_util.h"

#include <stdlib.h>
#include <string.h>

struct agent_sender_t {
    char            dir[AGENT_PATH_MAX];
    agent_org_t     org;
    agent_connect_t conn;
    nrm_keys_t     *keys;
    nrm_store_t    *store;
    bool            own_store;  /* false: borrowed (agent_sender_open_store) */
    nrm_policy_t   *policy;     /* ORG/policy.ini, or NULL (defaults) */
    agent_certcache_t *certs;   /* recipients' certificates verified   */
    nrm_sealer_t   *sealer;     /* one ephemeral key per recipient of a
                                   signature batch (docs/protocol.md 3.2) */
};

/* Recipients whose certificates a sender keeps verified: an organisation
   sends to a handful; more only costs a verification now and then. */
#define S_CERTS_CACHED 16

/* A message made ready to store: everything owned. */
typedef struct {
    agent_out_t rec;
    uint8_t    *env_bytes;
    uint8_t    *sealed;
    size_t      sealed_len;
    uint8_t     sig[NRM_SIG_BYTES];
    bool        hit;            /* idempotency key already stored */
} s_ready_t;

typedef struct {
    s_ready_t *msgs;
    size_t     count;
    const agent_send_req_t *reqs;
} s_batch_t;

int
agent_sender_open(const char *dir, agent_sender_t **out, nrm_err_t *err)
{
    return agent_sender_open_store(dir, NULL, out, err);
}

int
agent_sender_open_store(const char *dir, nrm_store_t *store, agent_sender_t **out,
                        nrm_err_t *err)
{
    agent_sender_t *self;
    int rc;

    *out = NULL;
    rc = nrm_crypto_init();
    if (rc != 0)
        return nrm_err_set(err, rc, "libsodium could not be initialised");
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    rc = nrm_path(self->dir, sizeof self->dir, "%s", dir);
    if (rc != 0)
        rc = nrm_err_set(err, rc, "organisation folder path is too long: %s", dir);
    if (rc == 0)
        rc = agent_org_load(dir, &self->org, err);
    if (rc == 0)
        rc = agent_identity_load(dir, &self->org, &self->keys, &self->conn, err);
    if (rc == 0 && store != NULL)
        self->store = store;
    else if (rc == 0) {
        rc = agent_store_open(dir, 0, &self->store, err);
        self->own_store = true;
    }
    if (rc == 0)
        rc = agent_policy_load(dir, &self->policy, err);
    if (rc == 0 && (self->certs = agent_certcache_new(S_CERTS_CACHED)) == NULL)
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (rc == 0 && (self->sealer = nrm_sealer_new(NRM_BATCH_MAX)) == NULL)
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (rc != 0) {
        agent_sender_destroy(&self);
        return rc;
    }
    *out = self;
    return 0;
}

void
agent_sender_destroy(agent_sender_t **self_p)
{
    agent_sender_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    if (self->own_store)
        nrm_store_destroy(&self->store);
    nrm_policy_free(&self->policy);
    agent_certcache_destroy(&self->certs);
    nrm_sealer_destroy(&self->sealer);
    agent_connect_clear(&self->conn);
    nrm_keys_destroy(&self->keys);
    free(self);
    *self_p = NULL;
}

nrm_store_t *
agent_sender_store(agent_sender_t *self)
{
    return self->store;
}

/* Finds the recipient's certificate in the directory, inside read txn,
   verifies it (once per exact certificate: self->certs) and checks that it
   is valid now (every time). The directory is the broker's last Welcome
   (a revoked organisation is not in it), read at every send; the broker
   decides about a suspended one when the message arrives. */
static int
s_recipient(agent_sender_t *self, MDB_txn *txn, const char *to, uint64_t now,
            nrm_cert_t *cert, nrm_err_t *err)
{
    nrm_bytes_t signed_cert;
    int rc;

    rc = agent_dir_get(self->store, txn, to, &signed_cert, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, NRM_ENOTFOUND, "the directory has no organisation '%s' "
                           "(it holds the certificates of the last broker Welcome: start "
                           "`nrm-agent run --dir %s` to refresh it)", to, self->dir);
    if (rc != 0)
        return rc;
    rc = agent_cert_verify_signed(self->certs, signed_cert.data, signed_cert.len,
                                  &self->conn.genesis, cert, err);
    if (rc != 0) {
        nrm_err_prefix(err, "certificate of '%s' in the directory does not verify", to);
        return rc;
    }
    if (strcmp(cert->org_id, to) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "directory entry '%s' holds the certificate "
                           "of '%s'", to, cert->org_id);
    if ((cert->not_before_ms != 0 && now < cert->not_before_ms)
        || (cert->not_after_ms != 0 && now > cert->not_after_ms))
        return nrm_err_set(err, NRM_EINVAL, "the certificate of '%s' is not valid now "
                           "(expired or not yet valid)", to);
    return 0;
}

/* Checks the fields of one request that come from the caller. */
static int
s_req_check(const agent_send_req_t *r, nrm_err_t *err)
{
    if (r->to == NULL || !nrm_id_valid(r->to))
        return nrm_err_set(err, NRM_EINVAL, "recipient is not a valid organisation id");
    if (r->type == NULL || !nrm_msg_type_valid(r->type))
        return nrm_err_set(err, NRM_EINVAL, "'%s' is not a known message type",
                           r->type != NULL ? r->type : "");
    if (r->case_ref == NULL || !nrm_id_valid(r->case_ref))
        return nrm_err_set(err, NRM_EINVAL, "case reference is not valid (1-%d of a-z, "
                           "0-9, '.', '_', '-')", NRM_ID_MAX);
    if (r->priority > 3)
        return nrm_err_set(err, NRM_EINVAL, "priority %u is not 0..3", r->priority);
    if (r->doc == NULL || r->doc_len > NRM_MAX_DOC_BYTES)
        return nrm_err_set(err, NRM_ETOOBIG, "the document is larger than %u bytes, the "
                           "cap on a document", NRM_MAX_DOC_BYTES);
    return 0;
}

/* Validates and minimises the document (agent_doc_prepare fills the clear
   metadata: type, created_ms, priority, consent, deadline, ...), seals the
   protobuf body with self->sealer (to cert's box key) and builds the envelope into m (s_sign signs it). */
static int
s_prepare(agent_sender_t *self, const agent_send_req_t *r, const nrm_cert_t *cert,
          s_ready_t *m, nrm_err_t *err)
{
    agent_doc_report_t report;
    nrm_envelope_t env;
    uint8_t *body = NULL;
    size_t body_len = 0, env_len = 0;
    int rc;

    memset(&env, 0, sizeof env);
    agent_doc_req_t dreq = { r->type, (const char *) r->doc, r->doc_len,
                             r->doc_name != NULL ? r->doc_name : "(document)",
                             r->purpose, r->destination, r->priority };
    rc = agent_doc_prepare(&dreq, self->policy, cert, &env, &body, &body_len, &report, err);
    if (rc != 0)
        goto out;
    m->sealed_len = body_len + NRM_SEAL2_OVERHEAD;
    m->sealed = malloc(m->sealed_len);
    if (m->sealed == NULL) {
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory sealing the document");
        goto out;
    }
    rc = nrm_sealer_seal(self->sealer, cert->box_pk, body, body_len, m->sealed);
    if (rc != 0) {
        rc = nrm_err_set(err, rc, "sealing the document to '%s' failed%s", r->to,
                         rc == NRM_ECRYPTO ? ": its box key is not a usable X25519 key" : "");
        goto out;
    }
    env.version = NRM_ENVELOPE_VERSION;
    nrm_random(env.msg_id, NRM_MSGID_BYTES);
    snprintf(env.sender, sizeof env.sender, "%s", self->org.id);
    snprintf(env.recipient, sizeof env.recipient, "%s", r->to);
    snprintf(env.case_ref, sizeof env.case_ref, "%s", r->case_ref);
    env.has_reply_to = r->has_reply_to;
    if (r->has_reply_to)
        memcpy(env.in_reply_to, r->reply_to, NRM_MSGID_BYTES);
    nrm_sha256(m->sealed, m->sealed_len, env.body_hash);
    env.body_size = (uint32_t) m->sealed_len;
    rc = nrm_envelope_encode(&env, &m->env_bytes, &env_len, err);
    if (rc != 0)
        goto out;
    m->rec.state = AGENT_OUT_QUEUED;
    m->rec.created_ms = env.created_ms;
    m->rec.updated_ms = env.created_ms;
    memcpy(m->rec.msg_id, env.msg_id, NRM_MSGID_BYTES);
    m->rec.envelope.data = m->env_bytes;
    m->rec.envelope.len = env_len;
    m->rec.signature.data = m->sig;
    m->rec.signature.len = NRM_SIG_BYTES;
    if (r->report != NULL)
        *r->report = report;
    if (r->env_out != NULL)
        *r->env_out = env;
    if (r->cert_out != NULL)
        *r->cert_out = *cert;
out:
    if (body != NULL)
        explicit_bzero(body, body_len);
    free(body);
    return rc;
}

/* Signs the envelopes of the batch (those not stored already): one
   signature per NRM_BATCH_MAX of them, each with its inclusion proof
   (nrm_batchsig); a single envelope is signed directly, as before. */
static int
s_sign(agent_sender_t *self, s_batch_t *b, nrm_err_t *err)
{
    nrm_batch_item_t items[NRM_BATCH_MAX];
    nrm_batch_proof_t proofs[NRM_BATCH_MAX];
    s_ready_t *which[NRM_BATCH_MAX];
    uint8_t sig[NRM_SIG_BYTES];
    size_t i = 0;

    while (i < b->count) {
        size_t n = 0;
        for (; i < b->count && n < NRM_BATCH_MAX; i++) {
            s_ready_t *m = &b->msgs[i];
            if (m->hit)
                continue;
            items[n].data = m->rec.envelope.data;
            items[n].len = m->rec.envelope.len;
            which[n++] = m;
        }
        if (n == 0)
            break;
        int rc = nrm_batch_sign(self->keys, NRM_CTX_ENVELOPE, items, n, sig, proofs, err);
        if (rc != 0) {
            nrm_err_prefix(err, "signing the envelopes failed");
            return rc;
        }
        for (size_t j = 0; j < n; j++) {
            memcpy(which[j]->sig, sig, NRM_SIG_BYTES);
            which[j]->rec.batch = proofs[j];
            /* Fault injection for the integration tests only: a signature
               the broker must refuse, so that a refusal can be followed to
               the outbox. */
            if (getenv("NRM_TEST_CORRUPT_SIGNATURE"))
                which[j]->sig[0] ^= 0x01;
        }
    }
    return 0;
}

/* nrm_store_fn: stores the whole batch (may run again after map growth). */
static int
s_store(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_batch_t *b = ctx;
    size_t i;
    int rc;

    for (i = 0; i < b->count; i++) {
        s_ready_t *m = &b->msgs[i];
        const uint8_t *key = b->reqs[i].idem_key;
        MDB_val v;
        m->hit = false;
        if (key != NULL) {
            rc = nrm_store_get(store, txn, "outidem", key, AGENT_IDEM_BYTES, &v, err);
            if (rc == 0 && v.mv_size == NRM_MSGID_BYTES) {
                memcpy(m->rec.msg_id, v.mv_data, NRM_MSGID_BYTES);
                m->hit = true;
                continue;
            }
            if (rc != NRM_ENOTFOUND)
                return rc == 0 ? nrm_err_set(err, NRM_ECORRUPT, "outidem value of %zu bytes",
                                             v.mv_size) : rc;
            rc = nrm_store_put(store, txn, "outidem", key, AGENT_IDEM_BYTES, m->rec.msg_id,
                               NRM_MSGID_BYTES, 0, err);
            if (rc != 0)
                return rc;
        }
        rc = agent_out_add(store, txn, &m->rec, m->sealed, m->sealed_len, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Inside a read txn: the message id already stored with idem_key. */
static bool
s_idem_find(nrm_store_t *store, MDB_txn *txn, const uint8_t *key, uint8_t id[NRM_MSGID_BYTES])
{
    MDB_val v;
    if (key == NULL || nrm_store_get(store, txn, "outidem", key, AGENT_IDEM_BYTES, &v, NULL) != 0
        || v.mv_size != NRM_MSGID_BYTES)
        return false;
    memcpy(id, v.mv_data, NRM_MSGID_BYTES);
    return true;
}

int
agent_sender_send(agent_sender_t *self, const agent_send_req_t *reqs, size_t count,
                  uint8_t (*ids)[NRM_MSGID_BYTES], nrm_err_t *err)
{
    s_batch_t b = { NULL, 0, reqs };
    nrm_cert_t *certs = NULL;
    MDB_txn *txn = NULL;
    uint64_t now = nrm_now_ms();
    size_t i, n;
    int rc = 0;

    if (count == 0 || count > AGENT_SEND_MAX)
        return nrm_err_set(err, NRM_EINVAL, "%zu messages in one send: 1..%u allowed",
                           count, AGENT_SEND_MAX);
    b.msgs = calloc(count, sizeof *b.msgs);
    certs = calloc(count, sizeof *certs);
    if (b.msgs == NULL || certs == NULL) {
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < count; i++) {
        rc = s_req_check(&reqs[i], err);
        if (rc != 0)
            goto bad;
    }
    rc = nrm_store_read_begin(self->store, &txn, err);
    if (rc != 0)
        goto out;
    for (i = 0; i < count; i++) {
        if (reqs[i].idem_hit != NULL)
            *reqs[i].idem_hit = false;
        /* A repeated send: its message is queued already (checked again
           in the write txn, which decides). */
        if (s_idem_find(self->store, txn, reqs[i].idem_key, b.msgs[i].rec.msg_id)) {
            b.msgs[i].hit = true;
            continue;
        }
        rc = s_recipient(self, txn, reqs[i].to, now, &certs[i], err);
        if (rc != 0)
            break;
    }
    nrm_store_read_end(&txn);       /* one txn per thread: end before writing */
    if (rc != 0)
        goto bad;
    /* s_sign signs the messages not stored already, NRM_BATCH_MAX at a
       time in this order: new ephemeral keys for each such batch, so that
       one never covers messages under two signatures. */
    for (i = 0, n = 0; i < count; i++) {
        if (b.msgs[i].hit)
            continue;
        if (n++ % NRM_BATCH_MAX == 0)
            nrm_sealer_end_batch(self->sealer);
        rc = s_prepare(self, &reqs[i], &certs[i], &b.msgs[i], err);
        if (rc != 0)
            goto bad;
    }
    nrm_sealer_end_batch(self->sealer);     /* wipes the shared keys */
    /* Every one a repeat: nothing to write. */
    for (i = 0; i < count && b.msgs[i].hit; i++)
        ;
    if (i == count)
        goto done;
    b.count = count;
    rc = s_sign(self, &b, err);
    if (rc != 0)
        goto out;
    rc = nrm_store_write(self->store, s_store, &b, err);
    if (rc != 0) {
        nrm_err_prefix(err, "storing the message in the outbox failed (nothing was queued)");
        goto out;
    }
    /* Committed: tell the daemon, which submits it at once. Whether the
       poke arrives does not matter for the message (agent_wake.h). */
    (void) agent_wake_poke(self->dir);
done:
    for (i = 0; i < count; i++) {
        memcpy(ids[i], b.msgs[i].rec.msg_id, NRM_MSGID_BYTES);
        if (reqs[i].idem_hit != NULL)
            *reqs[i].idem_hit = b.msgs[i].hit;
    }
    goto out;
bad:
    if (count > 1)
        nrm_err_prefix(err, "message %zu of %zu", i + 1, count);
out:
    for (i = 0; b.msgs != NULL && i < count; i++) {
        free(b.msgs[i].sealed);
        free(b.msgs[i].env_bytes);
    }
    nrm_sealer_end_batch(self->sealer);
    free(b.msgs);
    free(certs);
    return rc;
}
