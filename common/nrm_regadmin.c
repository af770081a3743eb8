/*  nrm_regadmin -- administrators' registry and policy changes, decided and
    applied in one write transaction. Every check comes before the first
    write, so a refused action leaves the store as it was. */
#include "nrm_regadmin.h"
#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_policy.h"
#include "nrm_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* netmeta key of an applied action: "action/" || SHA-256(AdminAction
   bytes) -> BE seq of its record. */
#define S_SEEN_PREFIX     "action/"
#define S_SEEN_PREFIX_LEN 7

void
nrm_admin_actor(const uint8_t pk[NRM_PK_BYTES], char out[NRM_ID_MAX + 1])
{
    char fp[17];
    nrm_fingerprint(pk, fp);
    snprintf(out, NRM_ID_MAX + 1, "admin:%s", fp);
}

/* ---- pending requests: kind | request_seq | time | u32 len | request |
        u32 len | cert | u8 n | n x (pk | sig) ---- */

void
nrm_pending_clear(nrm_pending_t *p)
{
    if (!p)
        return;
    free(p->request);
    free(p->cert);
    memset(p, 0, sizeof *p);
}

static int
s_take(const uint8_t **at, const uint8_t *end, size_t n, void *dst)
{
    if ((size_t) (end - *at) < n)
        return -1;
    memcpy(dst, *at, n);
    *at += n;
    return 0;
}

static int
s_take_blob(const uint8_t **at, const uint8_t *end, uint8_t **dst, size_t *len)
{
    uint8_t b[4];
    if (s_take(at, end, 4, b) != 0)
        return -1;
    size_t n = (size_t) b[0] << 24 | (size_t) b[1] << 16 | (size_t) b[2] << 8 | b[3];
    if (n > NRM_MAX_CERT_BYTES || (size_t) (end - *at) < n)
        return -1;
    *len = n;
    if (n == 0)
        return 0;
    *dst = malloc(n);
    if (!*dst)
        return -1;
    return s_take(at, end, n, *dst);
}

static int
s_pending_decode(const MDB_val *v, nrm_pending_t *p)
{
    const uint8_t *at = v->mv_data, *end = at + v->mv_size;
    uint8_t kind, seq[8], time[8], n;
    memset(p, 0, sizeof *p);
    if (s_take(&at, end, 1, &kind) || s_take(&at, end, 8, seq) || s_take(&at, end, 8, time)
        || s_take_blob(&at, end, &p->request, &p->request_len)
        || s_take_blob(&at, end, &p->cert, &p->cert_len) || s_take(&at, end, 1, &n)
        || n >= NRM_MAX_ADMINS || (kind != NRM_REC_REQUESTED && kind != NRM_REC_ROTATE_REQUESTED))
        goto bad;
    for (size_t i = 0; i < n; i++)
        if (s_take(&at, end, NRM_PK_BYTES, p->approvals[i].signer_pk)
            || s_take(&at, end, NRM_SIG_BYTES, p->approvals[i].sig))
            goto bad;
    if (at != end || p->request_len == 0)
        goto bad;
    p->kind = kind;
    p->request_seq = nrm_be64_get(seq);
    p->time_ms = nrm_be64_get(time);
    p->napprovals = n;
    return 0;
bad:
    nrm_pending_clear(p);
    return NRM_ECORRUPT;
}

static void
s_put_blob(uint8_t **at, const uint8_t *data, size_t n)
{
    (*at)[0] = (uint8_t) (n >> 24);
    (*at)[1] = (uint8_t) (n >> 16);
    (*at)[2] = (uint8_t) (n >> 8);
    (*at)[3] = (uint8_t) n;
    if (n)
        memcpy(*at + 4, data, n);
    *at += 4 + n;
}

static int
s_pending_put(nrm_store_t *store, MDB_txn *txn, const char *org_id, const nrm_pending_t *p,
              nrm_err_t *err)
{
    size_t len = 1 + 8 + 8 + 4 + p->request_len + 4 + p->cert_len + 1
                 + p->napprovals * (NRM_PK_BYTES + NRM_SIG_BYTES);
    uint8_t *buf = malloc(len), *at = buf;
    if (!buf)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    *at++ = (uint8_t) p->kind;
    nrm_be64_put(at, p->request_seq);
    nrm_be64_put(at + 8, p->time_ms);
    at += 16;
    s_put_blob(&at, p->request, p->request_len);
    s_put_blob(&at, p->cert, p->cert_len);
    *at++ = (uint8_t) p->napprovals;
    for (size_t i = 0; i < p->napprovals; i++) {
        memcpy(at, p->approvals[i].signer_pk, NRM_PK_BYTES);
        memcpy(at + NRM_PK_BYTES, p->approvals[i].sig, NRM_SIG_BYTES);
        at += NRM_PK_BYTES + NRM_SIG_BYTES;
    }
    int rc = nrm_store_put(store, txn, "pending", org_id, strlen(org_id), buf, len, 0, err);
    free(buf);
    return rc;
}

int
nrm_pending_get(nrm_store_t *store, MDB_txn *txn, const char *org_id, nrm_pending_t *p,
                nrm_err_t *err)
{
    MDB_val v;
    memset(p, 0, sizeof *p);
    int rc = nrm_store_get(store, txn, "pending", org_id, strlen(org_id), &v, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_set(err, rc, "nothing is pending for '%s'", org_id);
    if (rc)
        return rc;
    if (s_pending_decode(&v, p) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "pending entry of '%s' is damaged", org_id);
    return 0;
}

int
nrm_pending_each(nrm_store_t *store, MDB_txn *txn, nrm_pending_fn *fn, void *ctx, nrm_err_t *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    char id[NRM_ID_MAX + 1];
    int rc = 0;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "pending"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "pending cursor", err);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && rc == 0;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        nrm_pending_t p;
        if (k.mv_size == 0 || k.mv_size > NRM_ID_MAX || s_pending_decode(&v, &p) != 0)
            continue;
        memcpy(id, k.mv_data, k.mv_size);
        id[k.mv_size] = '\0';
        rc = fn(ctx, id, &p);
        nrm_pending_clear(&p);
    }
    mdb_cursor_close(cur);
    if (rc)
        return rc < 0 ? rc : 0;
    if (mrc != MDB_NOTFOUND)
        return nrm_store_lmdb_error(mrc, "pending walk", err);
    return 0;
}

/* ---- policy in netmeta: version | record seq | text ---- */

int
nrm_regadmin_policy(nrm_store_t *store, MDB_txn *txn, uint64_t *version, uint64_t *seq,
                    nrm_bytes_t *text, nrm_err_t *err)
{
    MDB_val v;
    *version = *seq = 0;
    text->data = NULL;
    text->len = 0;
    int rc = nrm_store_get(store, txn, "netmeta", "policy", 6, &v, err);
    if (rc == NRM_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (v.mv_size < 17)
        return nrm_err_set(err, NRM_ECORRUPT, "the stored routing policy is damaged");
    *version = nrm_be64_get(v.mv_data);
    *seq = nrm_be64_get((uint8_t *) v.mv_data + 8);
    text->data = (uint8_t *) v.mv_data + 16;
    text->len = v.mv_size - 16;
    return 0;
}

static int
s_policy_put(nrm_store_t *store, MDB_txn *txn, uint64_t version, uint64_t seq,
             const uint8_t *text, size_t len, nrm_err_t *err)
{
    uint8_t *buf = malloc(16 + len);
    if (!buf)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    nrm_be64_put(buf, version);
    nrm_be64_put(buf + 8, seq);
    memcpy(buf + 16, text, len);
    int rc = nrm_store_put(store, txn, "netmeta", "policy", 6, buf, 16 + len, 0, err);
    free(buf);
    return rc;
}

/* ---- requests ---- */

int
nrm_rotate_request_verify(const uint8_t *signed_bytes, size_t len,
                          const uint8_t old_sign_pk[NRM_PK_BYTES], nrm_cert_t *req,
                          uint8_t req_hash[NRM_HASH_BYTES], nrm_err_t *err)
{
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    nrm_cosig_t cosigs[NRM_MAX_ADMINS];
    size_t body_len = 0, n = 0;
    int rc = nrm_request_verify(signed_bytes, len, req, req_hash, err);
    if (rc == 0)
        rc = nrm_signed_decode_cosigs(signed_bytes, len, NRM_MAX_CERT_BYTES, &body, &body_len, sig,
                                      cosigs, &n, err);
    if (rc)
        return rc;
    if (n != 1 || memcmp(cosigs[0].signer_pk, old_sign_pk, NRM_PK_BYTES) != 0)
        rc = nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "rotation request of '%s' is not signed by "
                            "its current signing key", req->org_id);
    else if (nrm_verify(old_sign_pk, NRM_CTX_ROTATE, body, body_len, cosigs[0].sig) != 0)
        rc = nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "rotation request of '%s': the signature of "
                            "its current key does not verify", req->org_id);
    free(body);
    return rc;
}

/* A key of the request that the network already uses. */
static int
s_keys_free(nrm_store_t *store, MDB_txn *txn, const nrm_genesis_t *g, const nrm_cert_t *req,
            nrm_err_t *err)
{
    char other[NRM_ID_MAX + 1];
    if (memcmp(req->curve_pk, g->broker_curve_pk, NRM_PK_BYTES) == 0
        || memcmp(req->sign_pk, g->broker_sign_pk, NRM_PK_BYTES) == 0
        || nrm_genesis_admin(g, req->sign_pk) >= 0 || nrm_genesis_admin_curve(g, req->curve_pk) >= 0)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "the request reuses a key of the broker or an "
                              "administrator");
    int rc = nrm_registry_find_curve(store, txn, req->curve_pk, other, err);
    if (rc == 0)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "the request's CURVE key is already enrolled "
                              "(organisation '%s')", other);
    return rc == NRM_ENOTFOUND ? 0 : rc;
}

static int
s_check_request(nrm_store_t *store, MDB_txn *txn, const nrm_genesis_t *g, const nrm_action_t *a,
                nrm_err_t *err)
{
    nrm_cert_t req, cur;
    nrm_pending_t p;
    nrm_orgstatus_t st;
    uint8_t hash[NRM_HASH_BYTES];
    bool rotate = a->action == NRM_REC_ROTATE_REQUESTED;
    int rc = nrm_registry_find(store, txn, a->org_id, &cur, NULL, err);
    if (rc && rc != NRM_ENOTFOUND)
        return rc;
    if (!rotate && rc == 0)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "organisation '%s' is already enrolled", a->org_id);
    if (!rotate) {
        /* Every certificate goes out in the Welcome, which carries at most
           NRM_MAX_CERTS: one more would be left out of every directory. */
        MDB_stat enrolled, pending;
        int mrc = mdb_stat(txn, nrm_store_dbi(store, "registry"), &enrolled);
        if (mrc == 0)
            mrc = mdb_stat(txn, nrm_store_dbi(store, "pending"), &pending);
        if (mrc)
            return nrm_store_lmdb_error(mrc, "registry size", err);
        if (enrolled.ms_entries + pending.ms_entries >= NRM_MAX_CERTS)
            return nrm_err_refuse(err, NRM_R_REGISTRY, "the network holds %zu organisations and %zu "
                                  "pending requests: at most %d in all", (size_t) enrolled.ms_entries,
                                  (size_t) pending.ms_entries, NRM_MAX_CERTS);
    }
    if (rotate && rc == NRM_ENOTFOUND)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "organisation '%s' is not enrolled: nothing to rotate",
                              a->org_id);
    rc = rotate ? nrm_rotate_request_verify(a->request, a->request_len, cur.sign_pk, &req, hash, err)
                : nrm_request_verify(a->request, a->request_len, &req, hash, err);
    if (rc)
        return rc;
    if (strcmp(req.org_id, a->org_id) != 0)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the request is for '%s', the command names '%s'",
                              req.org_id, a->org_id);
    if (rotate) {
        if (strcmp(req.org_type, cur.org_type) != 0)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "a rotation cannot change the type "
                                  "('%s' to '%s')", cur.org_type, req.org_type);
        if ((rc = nrm_registry_status(store, txn, a->org_id, &st, err)))
            return rc;
        if (st.status != NRM_ORG_ACTIVE)
            return nrm_err_refuse(err, NRM_R_REGISTRY, "organisation '%s' is %s", a->org_id,
                                  nrm_org_status_name(st.status));
        if (memcmp(req.sign_pk, cur.sign_pk, NRM_PK_BYTES) == 0)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the rotation keeps the same signing key");
    }
    rc = nrm_pending_get(store, txn, a->org_id, &p, NULL);
    nrm_pending_clear(&p);
    if (rc == 0)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "a request of '%s' is already pending", a->org_id);
    if (rc != NRM_ENOTFOUND)
        return nrm_err_set(err, rc, "reading the pending requests");
    return s_keys_free(store, txn, g, &req, err);
}

/* ---- approvals ---- */

bool
nrm_cert_validity_ok(const nrm_cert_t *c, uint64_t now)
{
    /* A certificate starts when it is approved: one dated back would make
       messages signed before the approval look covered by it. */
    return c->not_before_ms <= now + NRM_ADMIN_SKEW_MS && c->not_before_ms + NRM_ADMIN_SKEW_MS >= now
           && c->not_after_ms > c->not_before_ms
           && c->not_after_ms - c->not_before_ms <= NRM_CERT_MAX_VALID_MS;
}

/* The approved certificate must answer the pending request exactly. */
static int
s_cert_answers(const nrm_cert_t *c, const nrm_pending_t *p, uint64_t now, nrm_err_t *err)
{
    nrm_cert_t req;
    uint8_t hash[NRM_HASH_BYTES];
    nrm_err_t ignore;
    if (nrm_request_verify(p->request, p->request_len, &req, hash, &ignore) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "the pending request of '%s' is damaged", c->org_id);
    if (strcmp(c->org_id, req.org_id) || strcmp(c->org_type, req.org_type) || strcmp(c->name, req.name)
        || strcmp(c->jurisdiction, req.jurisdiction)
        || memcmp(c->sign_pk, req.sign_pk, NRM_PK_BYTES) || memcmp(c->curve_pk, req.curve_pk, NRM_PK_BYTES)
        || memcmp(c->box_pk, req.box_pk, NRM_PK_BYTES))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the certificate does not carry the pending "
                              "request's id, type, name, jurisdiction and keys");
    if (memcmp(c->request_hash, hash, NRM_HASH_BYTES) != 0)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the certificate answers another request");
    if (c->serial != p->request_seq)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "certificate serial %llu, expected %llu "
                              "(the record of the request)", (unsigned long long) c->serial,
                              (unsigned long long) p->request_seq);
    if (!nrm_cert_validity_ok(c, now))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "certificate validity out of range: it must "
                              "start now (within 10 minutes) and last at most 3650 days");
    return 0;
}

static int
s_check_approval(const nrm_genesis_t *g, const nrm_action_t *a, const nrm_pending_t *p,
                 uint64_t now, nrm_cert_t *cert, nrm_err_t *err)
{
    char fp[17];
    int rc = nrm_cert_decode(a->cert_body, a->cert_len, cert, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < p->napprovals; i++)
        if (memcmp(p->approvals[i].signer_pk, a->admin_pk, NRM_PK_BYTES) == 0) {
            nrm_fingerprint(a->admin_pk, fp);
            return nrm_err_refuse(err, NRM_R_REGISTRY, "administrator %s already approved '%s' "
                                  "(%zu of %u approvals)", fp, a->org_id, p->napprovals, g->quorum);
        }
    if (p->napprovals == 0) {
        if (memcmp(cert->issuer_pk, a->admin_pk, NRM_PK_BYTES) != 0)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the first approval's certificate must "
                                  "name its administrator as issuer");
        if ((rc = s_cert_answers(cert, p, now, err)))
            return rc;
    } else if (p->cert_len != a->cert_len || memcmp(p->cert, a->cert_body, a->cert_len) != 0) {
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the certificate differs from the one the "
                              "first administrator approved for '%s'", a->org_id);
    }
    if (nrm_verify(a->admin_pk, NRM_CTX_CERT, a->cert_body, a->cert_len, a->cert_sig) != 0)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "the administrator's certificate signature "
                              "does not verify");
    return 0;
}

/* ---- records ---- */

static int
s_append(nrm_store_t *store, MDB_txn *txn, int kind, const char *actor, const uint8_t *subject,
         size_t len, const uint8_t *sig, const char *reason, uint64_t now, uint64_t *seq,
         uint8_t leaf[NRM_HASH_BYTES], nrm_err_t *err)
{
    nrm_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.time_ms = now;
    rec.kind = kind;
    snprintf(rec.actor, sizeof rec.actor, "%s", actor);
    rec.subject = (uint8_t *) subject;        /* borrowed by the encoder */
    rec.subject_len = len;
    if (sig) {
        rec.has_signature = true;
        memcpy(rec.signature, sig, NRM_SIG_BYTES);
    }
    if (reason)
        snprintf(rec.reason, sizeof rec.reason, "%s", reason);
    return nrm_auditlog_append(store, txn, &rec, seq, leaf, err);
}

int
nrm_regadmin_refused(nrm_store_t *store, MDB_txn *txn, const char *actor, const uint8_t *body,
                     size_t len, const uint8_t *sig, size_t sig_len, uint32_t reason,
                     const char *why, uint64_t now, uint64_t *seq, uint8_t leaf[NRM_HASH_BYTES],
                     nrm_err_t *err)
{
    nrm_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.time_ms = now;
    rec.kind = NRM_REC_ADMIN_REFUSED;
    snprintf(rec.actor, sizeof rec.actor, "%s", actor[0] ? actor : "unknown");
    rec.subject = (uint8_t *) body;
    rec.subject_len = len;
    if (sig && sig_len == NRM_SIG_BYTES) {
        rec.has_signature = true;
        memcpy(rec.signature, sig, NRM_SIG_BYTES);
    }
    rec.reason_code = reason ? reason : NRM_R_MALFORMED;
    snprintf(rec.reason, sizeof rec.reason, "%s", why);
    return nrm_auditlog_append(store, txn, &rec, seq, leaf, err);
}

/* Quorum met: the certificate with every approval's signature takes
   effect, and an ENROLLED (or ROTATED) record says so. */
static int
s_take_effect(nrm_store_t *store, MDB_txn *txn, const nrm_pending_t *p, const nrm_cert_t *cert,
              uint64_t now, nrm_regadmin_result_t *res, nrm_err_t *err)
{
    uint8_t *signed_bytes = NULL, leaf[NRM_HASH_BYTES];
    size_t signed_len = 0;
    bool rotate = p->kind == NRM_REC_ROTATE_REQUESTED;
    int rc = nrm_signed_encode_cosigs(p->cert, p->cert_len, p->approvals[0].sig, p->approvals + 1,
                                      p->napprovals - 1, &signed_bytes, &signed_len, err);
    if (rc)
        return rc;
    rc = rotate ? nrm_registry_replace(store, txn, cert, signed_bytes, signed_len, err)
                : nrm_registry_add(store, txn, cert, signed_bytes, signed_len, err);
    free(signed_bytes);
    if (rc)
        return rc;
    res->effect = rotate ? NRM_REC_ROTATED : NRM_REC_ENROLLED;
    char why[96];
    snprintf(why, sizeof why, "quorum of %zu approvals met", p->napprovals);
    rc = s_append(store, txn, res->effect, "admin", p->cert, p->cert_len, p->approvals[0].sig, why,
                  now, &res->effect_seq, leaf, err);
    if (rc == 0)
        rc = nrm_store_del(store, txn, "pending", cert->org_id, strlen(cert->org_id), err);
    return rc;
}

static int
s_approve(nrm_store_t *store, MDB_txn *txn, const nrm_genesis_t *g, const nrm_action_t *a,
          const char *actor, const uint8_t *body, size_t len, const uint8_t *sig, uint64_t now,
          nrm_regadmin_result_t *res, nrm_err_t *err)
{
    nrm_pending_t p;
    nrm_cert_t cert;
    char why[96];
    int rc = nrm_pending_get(store, txn, a->org_id, &p, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "no request of '%s' is pending approval", a->org_id);
    if (rc)
        return rc;
    if ((rc = s_check_approval(g, a, &p, now, &cert, err)))
        goto out;
    /* Another request may have taken a key since this one was made. */
    if (p.napprovals + 1 >= g->quorum && (rc = s_keys_free(store, txn, g, &cert, err)))
        goto out;
    if (p.napprovals == 0) {
        p.cert = malloc(a->cert_len);
        if (!p.cert) {
            rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(p.cert, a->cert_body, a->cert_len);
        p.cert_len = a->cert_len;
    }
    memcpy(p.approvals[p.napprovals].signer_pk, a->admin_pk, NRM_PK_BYTES);
    memcpy(p.approvals[p.napprovals].sig, a->cert_sig, NRM_SIG_BYTES);
    p.napprovals++;
    res->approvals = (uint32_t) p.napprovals;
    snprintf(why, sizeof why, "approval %zu of %u", p.napprovals, g->quorum);
    rc = s_append(store, txn, NRM_REC_APPROVED, actor, body, len, sig, why, now, &res->seq, res->leaf, err);
    if (rc == 0)
        rc = p.napprovals >= g->quorum ? s_take_effect(store, txn, &p, &cert, now, res, err)
                                       : s_pending_put(store, txn, a->org_id, &p, err);
out:
    nrm_pending_clear(&p);
    return rc;
}

static int
s_status_change(nrm_store_t *store, MDB_txn *txn, const nrm_action_t *a, nrm_orgstatus_t *st,
                nrm_err_t *err)
{
    int rc = nrm_registry_find(store, txn, a->org_id, NULL, NULL, err);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "organisation '%s' is not enrolled", a->org_id);
    if (rc == 0)
        rc = nrm_registry_status(store, txn, a->org_id, st, err);
    if (rc)
        return rc;
    int from = st->status;
    if (from == NRM_ORG_REVOKED)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "organisation '%s' is revoked (record %llu); "
                              "revocation is final", a->org_id, (unsigned long long) st->seq);
    if (a->action == NRM_REC_SUSPENDED && from == NRM_ORG_SUSPENDED)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "organisation '%s' is already suspended", a->org_id);
    if (a->action == NRM_REC_RESUMED && from != NRM_ORG_SUSPENDED)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "organisation '%s' is not suspended", a->org_id);
    st->status = a->action == NRM_REC_REVOKED ? NRM_ORG_REVOKED
               : a->action == NRM_REC_SUSPENDED ? NRM_ORG_SUSPENDED : NRM_ORG_ACTIVE;
    snprintf(st->reason, sizeof st->reason, "%s", a->reason);
    return 0;
}

static int
s_check_policy(nrm_store_t *store, MDB_txn *txn, const nrm_action_t *a, nrm_err_t *err)
{
    uint64_t version, seq;
    nrm_bytes_t text;
    nrm_policy_t *pol = NULL;
    int rc = nrm_regadmin_policy(store, txn, &version, &seq, &text, err);
    if (rc)
        return rc;
    nrm_err_t perr = { 0, 0, "" };
    if (nrm_policy_parse((const char *) a->policy_text, a->policy_len, "policy", &pol, &perr) != 0)
        return nrm_err_refuse(err, NRM_R_BAD_POLICY, "%s", perr.msg);
    uint64_t v = nrm_policy_version(pol);
    nrm_policy_free(&pol);
    if (v != a->policy_version)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the command says version %llu, the policy "
                              "text says %llu", (unsigned long long) a->policy_version,
                              (unsigned long long) v);
    if (v <= version)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "policy version %llu is not newer than the one in "
                              "force (%llu)", (unsigned long long) v, (unsigned long long) version);
    return 0;
}

/* A signed command is good for NRM_ADMIN_ACTION_TTL_MS from its
   created_ms, and once: otherwise anyone holding its bytes (an audit-log
   export, an administrator's transport key) could apply it again, say a
   RESUMED after a later suspension. *seen_key is set for s_seen_put. */
static int
s_fresh(nrm_store_t *store, MDB_txn *txn, const nrm_action_t *a, const uint8_t *body, size_t len,
        uint64_t now, uint8_t seen_key[S_SEEN_PREFIX_LEN + NRM_HASH_BYTES], nrm_err_t *err)
{
    MDB_val v;
    char made[32], at[32];
    memcpy(seen_key, S_SEEN_PREFIX, S_SEEN_PREFIX_LEN);
    nrm_sha256(body, len, seen_key + S_SEEN_PREFIX_LEN);
    if (a->created_ms > now + NRM_ADMIN_SKEW_MS
        || (a->created_ms < now && now - a->created_ms > NRM_ADMIN_ACTION_TTL_MS)) {
        nrm_time_format(a->created_ms, made, sizeof made);
        nrm_time_format(now, at, sizeof at);
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "admin command made at %s, the broker's time "
                              "is %s: a command is good for %llu minutes from when it was signed "
                              "(a replay, or a clock that is wrong)", made, at,
                              (unsigned long long) (NRM_ADMIN_ACTION_TTL_MS / 60000));
    }
    int rc = nrm_store_get(store, txn, "netmeta", seen_key, S_SEEN_PREFIX_LEN + NRM_HASH_BYTES, &v, NULL);
    if (rc == 0)
        return nrm_err_refuse(err, NRM_R_DUPLICATE, "this admin command was already applied (record "
                              "%llu); sign a new one", v.mv_size == 8
                              ? (unsigned long long) nrm_be64_get(v.mv_data) : 0ull);
    if (rc != NRM_ENOTFOUND)
        return nrm_err_set(err, rc, "reading the admin commands applied");
    return 0;
}

/* CANCELLED: an administrator withdraws the pending request it names
   (by its record, so the command cannot withdraw a later request). */
static int
s_check_cancel(nrm_store_t *store, MDB_txn *txn, const nrm_action_t *a, nrm_err_t *err)
{
    nrm_pending_t p;
    int rc = nrm_pending_get(store, txn, a->org_id, &p, NULL);
    uint64_t seq = p.request_seq;
    nrm_pending_clear(&p);
    if (rc == NRM_ENOTFOUND)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "nothing is pending for '%s'", a->org_id);
    if (rc)
        return nrm_err_set(err, rc, "reading the pending requests");
    if (seq != a->request_seq)
        return nrm_err_refuse(err, NRM_R_REGISTRY, "the pending request of '%s' is record %llu, the "
                              "command withdraws record %llu", a->org_id, (unsigned long long) seq,
                              (unsigned long long) a->request_seq);
    return 0;
}

/* Checks signer and signature of the action, then decides it. */
static int
s_apply(nrm_store_t *store, MDB_txn *txn, const nrm_genesis_t *g, const nrm_action_t *a,
        const uint8_t *body, size_t len, const uint8_t *sig, uint64_t now,
        uint8_t seen[S_SEEN_PREFIX_LEN + NRM_HASH_BYTES], nrm_regadmin_result_t *res, nrm_err_t *err)
{
    char actor[NRM_ID_MAX + 1], fp[17];
    nrm_orgstatus_t st;
    int rc;
    nrm_fingerprint(a->admin_pk, fp);
    if (nrm_genesis_admin(g, a->admin_pk) < 0)
        return nrm_err_refuse(err, NRM_R_NOT_ADMIN, "key %s is not an administrator of network %s",
                              fp, g->network);
    if (nrm_verify(a->admin_pk, NRM_CTX_ADMIN, body, len, sig) != 0)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "the signature of administrator %s does not "
                              "verify", fp);
    if ((rc = s_fresh(store, txn, a, body, len, now, seen, err)))
        return rc;
    nrm_admin_actor(a->admin_pk, actor);
    res->kind = a->action;
    res->quorum = g->quorum;
    snprintf(res->org_id, sizeof res->org_id, "%s", a->org_id);
    switch (a->action) {
    case NRM_REC_REQUESTED:
    case NRM_REC_ROTATE_REQUESTED: {
        if ((rc = s_check_request(store, txn, g, a, err)))
            return rc;
        rc = s_append(store, txn, a->action, actor, body, len, sig, a->reason, now, &res->seq,
                      res->leaf, err);
        nrm_pending_t p = { .kind = a->action, .request_seq = res->seq, .time_ms = now,
                            .request = a->request, .request_len = a->request_len };
        return rc ? rc : s_pending_put(store, txn, a->org_id, &p, err);
    }
    case NRM_REC_APPROVED:
        return s_approve(store, txn, g, a, actor, body, len, sig, now, res, err);
    case NRM_REC_REVOKED:
    case NRM_REC_SUSPENDED:
    case NRM_REC_RESUMED:
        if ((rc = s_status_change(store, txn, a, &st, err)))
            return rc;
        if ((rc = s_append(store, txn, a->action, actor, body, len, sig, a->reason, now, &res->seq,
                           res->leaf, err)))
            return rc;
        st.seq = res->seq;
        if (a->action == NRM_REC_REVOKED) {
            /* A revoked organisation's pending rotation goes with it. */
            rc = nrm_store_del(store, txn, "pending", a->org_id, strlen(a->org_id), err);
            if (rc && rc != NRM_ENOTFOUND)
                return rc;
        }
        return nrm_registry_set_status(store, txn, a->org_id, &st, err);
    case NRM_REC_CANCELLED:
        if ((rc = s_check_cancel(store, txn, a, err)))
            return rc;
        if ((rc = s_append(store, txn, a->action, actor, body, len, sig, a->reason, now, &res->seq,
                           res->leaf, err)))
            return rc;
        return nrm_store_del(store, txn, "pending", a->org_id, strlen(a->org_id), err);
    case NRM_REC_POLICY:
        if ((rc = s_check_policy(store, txn, a, err)))
            return rc;
        if ((rc = s_append(store, txn, a->action, actor, body, len, sig, a->reason, now, &res->seq,
                           res->leaf, err)))
            return rc;
        res->policy_version = a->policy_version;
        return s_policy_put(store, txn, a->policy_version, res->seq, a->policy_text, a->policy_len, err);
    default:
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "unknown admin action %d", a->action);
    }
}

int
nrm_regadmin_apply(nrm_store_t *store, MDB_txn *txn, const uint8_t *body, size_t len,
                   const uint8_t *sig, size_t sig_len, uint64_t now, nrm_regadmin_result_t *res,
                   nrm_err_t *err)
{
    nrm_genesis_t g;
    nrm_action_t a;
    memset(res, 0, sizeof *res);
    int rc = nrm_registry_genesis(store, txn, &g, err);
    if (rc)
        return rc;
    if (sig_len != NRM_SIG_BYTES)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "admin command: signature of %zu bytes", sig_len);
    if ((rc = nrm_action_decode(body, len, &a, err)))
        return rc;
    uint8_t seen[S_SEEN_PREFIX_LEN + NRM_HASH_BYTES], seq[8];
    rc = s_apply(store, txn, &g, &a, body, len, sig, now, seen, res, err);
    nrm_action_clear(&a);
    if (rc == 0) {
        nrm_be64_put(seq, res->seq);
        rc = nrm_store_put(store, txn, "netmeta", seen, sizeof seen, seq, 8, MDB_NOOVERWRITE, err);
    }
    return rc;
}
