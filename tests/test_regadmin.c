/*  Unit tests of registry administration: the rules of nrm_regadmin (the
    broker and nrm-admin offline) and of nrm_replay (nrm-audit verify) on
    hostile input. A network of three administrators with a quorum of two;
    each case either applies signed actions through nrm_regadmin_apply and
    checks the refusal, or writes records past it, as an attacker with the
    store would, and checks that the verifier refuses them. */
#include "nrm_auditlog.h"
#include "nrm_crypto.h"
#include "nrm_regadmin.h"
#include "nrm_util.h"
#include "testutil.h"
#include <stdint.h>

#define NADMINS 3
#define MIN_MS  (60ull * 1000ull)

static const char *const s_dbs[] = { NRM_AUDITLOG_DBS, NRM_REGISTRY_DBS, NULL };

typedef struct {
    char dir[64];
    nrm_store_t *store;
    nrm_keys_t *admin[NADMINS];
    nrm_genesis_t g;
} world_t;

/* A signed command, kept so that a case can send its bytes again. */
typedef struct {
    uint8_t *body;
    size_t len;
    uint8_t sig[NRM_SIG_BYTES];
} cmd_t;

static void
s_cmd_clear(cmd_t *c)
{
    free(c->body);
    memset(c, 0, sizeof *c);
}

/* ---- the network ---- */

static int
s_genesis_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    world_t *w = ctx;
    nrm_record_t rec;
    uint8_t *body = NULL, *signed_g = NULL, leaf[32];
    size_t len = 0, signed_len = 0;
    uint64_t seq;
    int rc = nrm_genesis_encode(&w->g, &body, &len, err);
    if (rc)
        return rc;
    memset(&rec, 0, sizeof rec);
    rec.kind = NRM_REC_GENESIS;
    rec.time_ms = nrm_now_ms();
    snprintf(rec.actor, sizeof rec.actor, "admin");
    rec.subject = body;
    rec.subject_len = len;
    rec.has_signature = true;
    if (nrm_sign(w->admin[0], NRM_CTX_GENESIS, body, len, rec.signature) != 0)
        rc = NRM_ECRYPTO;
    if (rc == 0)
        rc = nrm_auditlog_append(store, txn, &rec, &seq, leaf, err);
    if (rc == 0)
        rc = nrm_signed_encode(body, len, rec.signature, &signed_g, &signed_len, err);
    if (rc == 0)
        rc = nrm_registry_set_genesis(store, txn, signed_g, signed_len, err);
    free(signed_g);
    free(body);
    return rc;
}

static void
s_world_new(world_t *w)
{
    nrm_err_t err;
    memset(w, 0, sizeof *w);
    t_tmpdir(w->dir, sizeof w->dir);
    snprintf(w->g.network, sizeof w->g.network, "test");
    for (int i = 0; i < NADMINS; i++) {
        w->admin[i] = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
        memcpy(w->g.admin_sign_pks[i], nrm_keys_sign_pk(w->admin[i]), 32);
        memcpy(w->g.admin_curve_pks[i], nrm_keys_curve_pk(w->admin[i]), 32);
    }
    memcpy(w->g.admin_pk, w->g.admin_sign_pks[0], 32);
    nrm_random(w->g.broker_sign_pk, 32);
    nrm_random(w->g.broker_curve_pk, 32);
    w->g.created_ms = nrm_now_ms();
    w->g.nadmins = NADMINS;
    w->g.quorum = 2;
    if (nrm_store_open(w->dir, s_dbs, 0, &w->store, &err) != 0
        || nrm_store_write(w->store, s_genesis_fn, w, &err) != 0) {
        fprintf(stderr, "world: %s\n", err.msg);
        exit(2);
    }
}

static void
s_world_destroy(world_t *w)
{
    nrm_store_destroy(&w->store);
    for (int i = 0; i < NADMINS; i++)
        nrm_keys_destroy(&w->admin[i]);
    t_rmdir(w->dir);
}

/* ---- applying commands ---- */

typedef struct {
    const cmd_t *cmd;
    uint64_t now;
    nrm_regadmin_result_t res;
} apply_t;

static int
s_apply_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    apply_t *a = ctx;
    return nrm_regadmin_apply(store, txn, a->cmd->body, a->cmd->len, a->cmd->sig, NRM_SIG_BYTES, a->now,
                              &a->res, err);
}

/* Applies cmd at broker time now. Returns 0 or the refusal's NRM_R_*
   code (-1 for another failure); the reason text goes to why. */
static int
s_apply_at(world_t *w, const cmd_t *cmd, uint64_t now, nrm_regadmin_result_t *res, char *why,
           size_t why_size)
{
    apply_t a = { cmd, now, { 0 } };
    nrm_err_t err = { 0, 0, "" };
    int rc = nrm_store_write(w->store, s_apply_fn, &a, &err);
    if (why)
        snprintf(why, why_size, "%s", err.msg);
    if (res)
        *res = a.res;
    return rc == 0 ? 0 : rc == NRM_EINVAL || rc == NRM_ETOOBIG ? (int) err.reason : -1;
}

/* Signs action a (made at created) by administrator i into cmd. */
static void
s_sign(world_t *w, int i, nrm_action_t *a, uint64_t created, cmd_t *cmd)
{
    nrm_err_t err;
    memset(cmd, 0, sizeof *cmd);
    memcpy(a->admin_pk, nrm_keys_sign_pk(w->admin[i]), 32);
    a->created_ms = created;
    if (nrm_action_encode(a, &cmd->body, &cmd->len, &err) != 0
        || nrm_sign(w->admin[i], NRM_CTX_ADMIN, cmd->body, cmd->len, cmd->sig) != 0) {
        fprintf(stderr, "sign: %s\n", err.msg);
        exit(2);
    }
}

/* Signs and applies, now; keeps the command in keep when not NULL. */
static int
s_do(world_t *w, int i, nrm_action_t *a, cmd_t *keep, char *why, size_t why_size)
{
    cmd_t cmd;
    s_sign(w, i, a, nrm_now_ms(), &cmd);
    int rc = s_apply_at(w, &cmd, nrm_now_ms(), NULL, why, why_size);
    if (keep)
        *keep = cmd;
    else
        s_cmd_clear(&cmd);
    return rc;
}

static int
s_status_cmd(world_t *w, int i, int kind, const char *org, cmd_t *keep)
{
    nrm_action_t a;
    memset(&a, 0, sizeof a);
    a.action = kind;
    snprintf(a.org_id, sizeof a.org_id, "%s", org);
    snprintf(a.reason, sizeof a.reason, "test");
    return s_do(w, i, &a, keep, NULL, 0);
}

/* The Signed{EnrollRequest} of k for id; with old, a rotation request
   countersigned by the key in force. Caller frees. */
static uint8_t *
s_request_curve(nrm_keys_t *k, nrm_keys_t *old, const char *id, const char *type,
                const nrm_keys_t *curve, size_t *len);

static uint8_t *
s_request(nrm_keys_t *k, nrm_keys_t *old, const char *id, const char *type, size_t *len)
{
    return s_request_curve(k, old, id, type, k, len);
}

/* Same, with the CURVE key of another key set. */
static uint8_t *
s_request_curve(nrm_keys_t *k, nrm_keys_t *old, const char *id, const char *type,
                const nrm_keys_t *curve, size_t *len)
{
    nrm_cert_t c;
    nrm_err_t err;
    uint8_t *req = NULL, *out = NULL, sig[64];
    size_t req_len = 0;
    nrm_cosig_t cosig;
    memset(&c, 0, sizeof c);
    snprintf(c.org_id, sizeof c.org_id, "%s", id);
    snprintf(c.org_type, sizeof c.org_type, "%s", type);
    snprintf(c.name, sizeof c.name, "Org %s", id);
    memcpy(c.sign_pk, nrm_keys_sign_pk(k), 32);
    memcpy(c.curve_pk, nrm_keys_curve_pk(curve), 32);
    memcpy(c.box_pk, nrm_keys_box_pk(k), 32);
    c.created_ms = nrm_now_ms();
    if (nrm_request_encode(&c, &req, &req_len, &err) != 0 || nrm_sign(k, NRM_CTX_REQUEST, req, req_len, sig) != 0)
        exit(2);
    if (old) {
        memcpy(cosig.signer_pk, nrm_keys_sign_pk(old), 32);
        if (nrm_sign(old, NRM_CTX_ROTATE, req, req_len, cosig.sig) != 0)
            exit(2);
    }
    if (nrm_signed_encode_cosigs(req, req_len, sig, old ? &cosig : NULL, old ? 1 : 0, &out, len, &err) != 0)
        exit(2);
    free(req);
    return out;
}

static int
s_request_cmd(world_t *w, int i, int kind, const char *id, const uint8_t *req, size_t len, char *why,
              size_t why_size)
{
    nrm_action_t a;
    memset(&a, 0, sizeof a);
    a.action = kind;
    snprintf(a.org_id, sizeof a.org_id, "%s", id);
    a.request = (uint8_t *) req;
    a.request_len = len;
    return s_do(w, i, &a, NULL, why, why_size);
}

/* The certificate a first approval proposes for the pending request of
   id, issued by administrator i, valid [nb, na). */
static void
s_cert_for(world_t *w, int i, const char *id, uint64_t nb, uint64_t na, uint8_t **body, size_t *len)
{
    MDB_txn *txn = NULL;
    nrm_pending_t p;
    nrm_cert_t c;
    nrm_err_t err;
    uint8_t hash[32];
    if (nrm_store_read_begin(w->store, &txn, &err) != 0 || nrm_pending_get(w->store, txn, id, &p, &err) != 0
        || nrm_request_verify(p.request, p.request_len, &c, hash, &err) != 0) {
        fprintf(stderr, "cert_for %s: %s\n", id, err.msg);
        exit(2);
    }
    c.not_before_ms = nb;
    c.not_after_ms = na;
    c.serial = p.request_seq;
    memcpy(c.issuer_pk, nrm_keys_sign_pk(w->admin[i]), 32);
    memcpy(c.request_hash, hash, 32);
    if (nrm_cert_encode(&c, body, len, &err) != 0)
        exit(2);
    nrm_pending_clear(&p);
    nrm_store_read_end(&txn);
}

/* Approval of the certificate body by administrator i. */
static int
s_approve_body(world_t *w, int i, const char *id, const uint8_t *body, size_t len, cmd_t *keep, char *why,
               size_t why_size)
{
    nrm_action_t a;
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_APPROVED;
    snprintf(a.org_id, sizeof a.org_id, "%s", id);
    a.cert_body = (uint8_t *) body;
    a.cert_len = len;
    a.has_cert_sig = true;
    if (nrm_sign(w->admin[i], NRM_CTX_CERT, body, len, a.cert_sig) != 0)
        exit(2);
    return s_do(w, i, &a, keep, why, why_size);
}

/* Enrolls (or, with old, rotates) id: request by administrator 0, then
   approvals by 0 and 1. */
static int
s_enroll(world_t *w, nrm_keys_t *k, nrm_keys_t *old, const char *id, const char *type)
{
    size_t len = 0, clen = 0;
    uint8_t *req = s_request(k, old, id, type, &len), *cert = NULL;
    uint64_t now = nrm_now_ms();
    char why[300];
    int rc = s_request_cmd(w, 0, old ? NRM_REC_ROTATE_REQUESTED : NRM_REC_REQUESTED, id, req, len, why,
                           sizeof why);
    if (rc == 0) {
        s_cert_for(w, 0, id, now, now + 365 * NRM_DAY_MS, &cert, &clen);
        rc = s_approve_body(w, 0, id, cert, clen, NULL, why, sizeof why);
    }
    if (rc == 0)
        rc = s_approve_body(w, 1, id, cert, clen, NULL, why, sizeof why);
    if (rc)
        fprintf(stderr, "enroll %s: %s\n", id, why);
    free(req);
    free(cert);
    return rc;
}

static int
s_status_of(world_t *w, const char *id)
{
    MDB_txn *txn = NULL;
    nrm_err_t err;
    nrm_orgstatus_t st;
    int rc = nrm_store_read_begin(w->store, &txn, &err);
    if (rc == 0)
        rc = nrm_registry_status(w->store, txn, id, &st, &err);
    nrm_store_read_end(&txn);
    return rc ? -1 : st.status;
}

/* ---- the verifier ---- */

/* 0 when the log verifies, else the record it fails at (why says why). */
static uint64_t
s_verify(world_t *w, char *why, size_t size)
{
    nrm_verify_opts_t opts = { .threads = 1 };
    nrm_verify_result_t res;
    nrm_err_t err = { 0, 0, "" };
    int rc = nrm_auditlog_verify(w->store, &opts, &res, &err);
    snprintf(why, size, "%s", err.msg);
    return rc == 0 ? 0 : res.bad_seq ? res.bad_seq : (uint64_t) -1;
}

typedef struct {
    nrm_record_t rec;
    uint64_t seq;
} raw_t;

static int
s_raw_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    raw_t *r = ctx;
    uint8_t leaf[32];
    return nrm_auditlog_append(store, txn, &r->rec, &r->seq, leaf, err);
}

/* Appends an administrator's record past nrm_regadmin, as whoever holds
   the store could: kind, the command's bytes and signature, at time t.
   Returns its seq. */
static uint64_t
s_raw_action(world_t *w, int kind, int admin, const cmd_t *cmd, uint64_t t)
{
    raw_t r;
    nrm_err_t err;
    memset(&r, 0, sizeof r);
    r.rec.kind = kind;
    r.rec.time_ms = t;
    nrm_admin_actor(nrm_keys_sign_pk(w->admin[admin]), r.rec.actor);
    r.rec.subject = cmd->body;
    r.rec.subject_len = cmd->len;
    r.rec.has_signature = true;
    memcpy(r.rec.signature, cmd->sig, NRM_SIG_BYTES);
    if (nrm_store_write(w->store, s_raw_fn, &r, &err) != 0) {
        fprintf(stderr, "raw append: %s\n", err.msg);
        exit(2);
    }
    return r.seq;
}

/* The verifier must fail at record want with a reason holding text. */
#define CHECK_VERIFY_FAILS(w, want, text) do { char why_[600]; uint64_t bad_ = s_verify((w), why_, \
    sizeof why_); t_checks++; if (bad_ != (want) || !strstr(why_, (text))) { t_failures++; \
    fprintf(stderr, "%s:%d: verify: %llu '%s', expected %llu '%s'\n", __FILE__, __LINE__, \
    (unsigned long long) bad_, why_, (unsigned long long) (want), (text)); } } while (0)
#define CHECK_VERIFIES(w) do { char why_[600]; t_checks++; if (s_verify((w), why_, sizeof why_) != 0) { \
    t_failures++; fprintf(stderr, "%s:%d: verify failed: %s\n", __FILE__, __LINE__, why_); } } while (0)

/* ---- cases ---- */

/* A signed command is applied once, and only within its time window:
   a RESUMED replayed after a new suspension is refused, by the broker's
   rules and by the verifier. */
static void
t_replayed_action(void)
{
    world_t w;
    cmd_t resume, old;
    char why[300];
    nrm_action_t a;
    s_world_new(&w);
    nrm_keys_t *police = nrm_keys_generate(NRM_KEYS_ALL);
    CHECK_RC(s_enroll(&w, police, NULL, "police", "police"), 0);
    CHECK_RC(s_status_cmd(&w, 0, NRM_REC_SUSPENDED, "police", NULL), 0);
    CHECK_RC(s_status_cmd(&w, 1, NRM_REC_RESUMED, "police", &resume), 0);
    CHECK_RC(s_status_cmd(&w, 2, NRM_REC_SUSPENDED, "police", NULL), 0);
    CHECK_RC(s_apply_at(&w, &resume, nrm_now_ms(), NULL, why, sizeof why), NRM_R_DUPLICATE);
    CHECK_STR_HAS(why, "already applied");
    CHECK(s_status_of(&w, "police") == NRM_ORG_SUSPENDED);
    /* Too old, or from the future beyond the clock skew; within it, fine. */
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_RESUMED;
    snprintf(a.org_id, sizeof a.org_id, "police");
    s_sign(&w, 1, &a, nrm_now_ms() - NRM_ADMIN_ACTION_TTL_MS - MIN_MS, &old);
    CHECK_RC(s_apply_at(&w, &old, nrm_now_ms(), NULL, why, sizeof why), NRM_R_INVALID_FIELD);
    CHECK_STR_HAS(why, "good for 10 minutes");
    s_cmd_clear(&old);
    s_sign(&w, 1, &a, nrm_now_ms() + NRM_ADMIN_SKEW_MS + MIN_MS, &old);
    CHECK_RC(s_apply_at(&w, &old, nrm_now_ms(), NULL, why, sizeof why), NRM_R_INVALID_FIELD);
    s_cmd_clear(&old);
    CHECK(s_status_of(&w, "police") == NRM_ORG_SUSPENDED);
    s_sign(&w, 1, &a, nrm_now_ms() + MIN_MS, &old);
    CHECK_RC(s_apply_at(&w, &old, nrm_now_ms(), NULL, why, sizeof why), 0);
    CHECK(s_status_of(&w, "police") == NRM_ORG_ACTIVE);
    CHECK_VERIFIES(&w);

    /* Written past the broker: the verifier refuses the same replay... */
    CHECK_RC(s_status_cmd(&w, 0, NRM_REC_SUSPENDED, "police", NULL), 0);
    uint64_t seq = s_raw_action(&w, NRM_REC_RESUMED, 1, &resume, nrm_now_ms());
    CHECK_VERIFY_FAILS(&w, seq, "applied before");
    s_cmd_clear(&resume);
    s_cmd_clear(&old);
    s_world_destroy(&w);

    /* ...and a command recorded long after it was signed. */
    s_world_new(&w);
    CHECK_RC(s_enroll(&w, police, NULL, "police", "police"), 0);
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_SUSPENDED;
    snprintf(a.org_id, sizeof a.org_id, "police");
    s_sign(&w, 2, &a, nrm_now_ms() - NRM_ADMIN_ACTION_TTL_MS - MIN_MS, &old);
    seq = s_raw_action(&w, NRM_REC_SUSPENDED, 2, &old, nrm_now_ms());
    CHECK_VERIFY_FAILS(&w, seq, "out of its time window");
    s_cmd_clear(&old);
    s_world_destroy(&w);
    nrm_keys_destroy(&police);
}

/* The first approval fixes the validity: it must start at the approval
   and last at most 3650 days, whatever the numbers (no wrap-around). */
static void
t_cert_validity(void)
{
    world_t w;
    char why[300];
    uint8_t *cert = NULL;
    size_t clen = 0, len = 0;
    s_world_new(&w);
    nrm_keys_t *ngo = nrm_keys_generate(NRM_KEYS_ALL);
    uint8_t *req = s_request(ngo, NULL, "ngo", "ngo", &len);
    CHECK_RC(s_request_cmd(&w, 0, NRM_REC_REQUESTED, "ngo", req, len, why, sizeof why), 0);
    uint64_t now = nrm_now_ms();
    const struct { uint64_t nb, na; } bad[] = {
        { now - NRM_DAY_MS, now + NRM_DAY_MS },                 /* dated back      */
        { now + NRM_DAY_MS, now + 2 * NRM_DAY_MS },             /* starts later    */
        { now, now - 1 },                                       /* ends first      */
        { now, now },                                           /* empty           */
        { now, now + NRM_CERT_MAX_VALID_MS + 1 },               /* too long        */
        { now, UINT64_MAX },                                    /* too long        */
        { UINT64_MAX - 5, 3 },                                  /* wraps around    */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_cert_for(&w, 1, "ngo", bad[i].nb, bad[i].na, &cert, &clen);
        CHECK_RC(s_approve_body(&w, 1, "ngo", cert, clen, NULL, why, sizeof why), NRM_R_INVALID_FIELD);
        CHECK_STR_HAS(why, "validity");
        free(cert);
    }
    s_cert_for(&w, 1, "ngo", now, now + NRM_CERT_MAX_VALID_MS, &cert, &clen);
    CHECK_RC(s_approve_body(&w, 1, "ngo", cert, clen, NULL, why, sizeof why), 0);
    free(cert);
    CHECK_VERIFIES(&w);
    s_world_destroy(&w);

    /* The verifier refuses a dated-back certificate written past the broker. */
    s_world_new(&w);
    CHECK_RC(s_request_cmd(&w, 0, NRM_REC_REQUESTED, "ngo", req, len, why, sizeof why), 0);
    s_cert_for(&w, 1, "ngo", now - 30 * NRM_DAY_MS, now + NRM_DAY_MS, &cert, &clen);
    nrm_action_t a;
    cmd_t cmd;
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_APPROVED;
    snprintf(a.org_id, sizeof a.org_id, "ngo");
    a.cert_body = cert;
    a.cert_len = clen;
    a.has_cert_sig = true;
    if (nrm_sign(w.admin[1], NRM_CTX_CERT, cert, clen, a.cert_sig) != 0)
        exit(2);
    s_sign(&w, 1, &a, nrm_now_ms(), &cmd);
    uint64_t seq = s_raw_action(&w, NRM_REC_APPROVED, 1, &cmd, nrm_now_ms());
    CHECK_VERIFY_FAILS(&w, seq, "not from its approval");
    s_cmd_clear(&cmd);
    free(cert);
    free(req);
    s_world_destroy(&w);
    nrm_keys_destroy(&ngo);
}

/* Signs a request action by administrator 0 and appends it past the
   broker; returns its seq. */
static uint64_t
s_raw_request(world_t *w, int kind, const char *id, const uint8_t *req, size_t len)
{
    nrm_action_t a;
    cmd_t cmd;
    memset(&a, 0, sizeof a);
    a.action = kind;
    snprintf(a.org_id, sizeof a.org_id, "%s", id);
    a.request = (uint8_t *) req;
    a.request_len = len;
    s_sign(w, 0, &a, nrm_now_ms(), &cmd);
    uint64_t seq = s_raw_action(w, kind, 0, &cmd, nrm_now_ms());
    s_cmd_clear(&cmd);
    return seq;
}

/* Requests that the broker refuses must fail verification too when
   written past it: a rotation that changes the type or keeps the signing
   key, a key another organisation holds (at the request, and when the
   quorum is met after another certificate took the key meanwhile). */
static void
t_replay_agrees(void)
{
    enum { TYPE, SAME_KEY, CURVE_TAKEN, N_CASES };
    const char *broker_says[] = { "cannot change the type", "keeps the same signing key",
                                  "CURVE key is already enrolled" };
    const char *verify_says[] = { "changes its type", "keeps its signing key", "reuses a key of police" };
    char why[300];
    for (int c = 0; c < N_CASES; c++) {
        world_t w;
        size_t len = 0;
        s_world_new(&w);
        nrm_keys_t *police = nrm_keys_generate(NRM_KEYS_ALL), *fresh = nrm_keys_generate(NRM_KEYS_ALL);
        CHECK_RC(s_enroll(&w, police, NULL, "police", "police"), 0);
        uint8_t *req = c == TYPE       ? s_request(fresh, police, "police", "ngo", &len)
                     : c == SAME_KEY   ? s_request(police, police, "police", "police", &len)
                                       : s_request_curve(fresh, NULL, "ngo", "ngo", police, &len);
        int kind = c == CURVE_TAKEN ? NRM_REC_REQUESTED : NRM_REC_ROTATE_REQUESTED;
        const char *id = c == CURVE_TAKEN ? "ngo" : "police";
        t_checks++;
        if (s_request_cmd(&w, 1, kind, id, req, len, why, sizeof why) == 0 || !strstr(why, broker_says[c])) {
            t_failures++;
            fprintf(stderr, "case %d: broker said '%s', expected '%s'\n", c, why, broker_says[c]);
        }
        uint64_t seq = s_raw_request(&w, kind, id, req, len);
        CHECK_VERIFY_FAILS(&w, seq, verify_says[c]);
        free(req);
        nrm_keys_destroy(&police);
        nrm_keys_destroy(&fresh);
        s_world_destroy(&w);
    }

    /* Two pending requests with one CURVE key: the first enrolled takes
       it; the second's quorum is refused, by both. */
    world_t w;
    size_t la = 0, lb = 0, clen = 0;
    uint8_t *cert = NULL;
    cmd_t cmd;
    s_world_new(&w);
    nrm_keys_t *ka = nrm_keys_generate(NRM_KEYS_ALL), *kb = nrm_keys_generate(NRM_KEYS_ALL);
    uint8_t *ra = s_request(ka, NULL, "ngo-a", "ngo", &la), *rb = s_request_curve(kb, NULL, "ngo-b", "ngo", ka, &lb);
    CHECK_RC(s_request_cmd(&w, 0, NRM_REC_REQUESTED, "ngo-b", rb, lb, why, sizeof why), 0);
    CHECK_RC(s_enroll(&w, ka, NULL, "ngo-a", "ngo"), 0);
    uint64_t now = nrm_now_ms();
    s_cert_for(&w, 0, "ngo-b", now, now + NRM_DAY_MS, &cert, &clen);
    CHECK_RC(s_approve_body(&w, 0, "ngo-b", cert, clen, NULL, why, sizeof why), 0);
    CHECK_RC(s_approve_body(&w, 1, "ngo-b", cert, clen, &cmd, why, sizeof why), NRM_R_REGISTRY);
    CHECK_STR_HAS(why, "CURVE key is already enrolled (organisation 'ngo-a')");
    CHECK_VERIFIES(&w);
    uint64_t seq = s_raw_action(&w, NRM_REC_APPROVED, 1, &cmd, nrm_now_ms());
    CHECK_VERIFY_FAILS(&w, seq, "takes effect with a key of ngo-a");
    s_cmd_clear(&cmd);
    free(cert);
    free(ra);
    free(rb);
    nrm_keys_destroy(&ka);
    nrm_keys_destroy(&kb);
    s_world_destroy(&w);
}

static int
s_cancel(world_t *w, int i, const char *id, uint64_t request_seq, const char *reason, cmd_t *keep,
         char *why, size_t why_size)
{
    nrm_action_t a;
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_CANCELLED;
    snprintf(a.org_id, sizeof a.org_id, "%s", id);
    snprintf(a.reason, sizeof a.reason, "%s", reason);
    a.request_seq = request_seq;
    return s_do(w, i, &a, keep, why, why_size);
}

static uint64_t
s_pending_seq(world_t *w, const char *id)
{
    MDB_txn *txn = NULL;
    nrm_pending_t p;
    nrm_err_t err;
    uint64_t seq = 0;
    if (nrm_store_read_begin(w->store, &txn, &err) == 0 && nrm_pending_get(w->store, txn, id, &p, &err) == 0)
        seq = p.request_seq;
    nrm_pending_clear(&p);
    nrm_store_read_end(&txn);
    return seq;
}

/* CANCELLED withdraws the pending request it names, with its approvals;
   a new request may follow, and the old approvals do not count for it. */
static void
t_cancel(void)
{
    world_t w;
    char why[300];
    uint8_t *cert = NULL, *cert2 = NULL;
    size_t len = 0, clen = 0, clen2 = 0;
    cmd_t first;
    s_world_new(&w);
    nrm_keys_t *ngo = nrm_keys_generate(NRM_KEYS_ALL);
    uint8_t *req = s_request(ngo, NULL, "ngo", "ngo", &len);
    CHECK_RC(s_cancel(&w, 0, "ngo", 2, "no such request", NULL, why, sizeof why), NRM_R_REGISTRY);
    CHECK_STR_HAS(why, "nothing is pending for 'ngo'");
    CHECK_RC(s_request_cmd(&w, 0, NRM_REC_REQUESTED, "ngo", req, len, why, sizeof why), 0);
    uint64_t first_seq = s_pending_seq(&w, "ngo");
    CHECK(first_seq == 2);
    uint64_t now = nrm_now_ms();
    s_cert_for(&w, 0, "ngo", now, now + NRM_DAY_MS, &cert, &clen);
    CHECK_RC(s_approve_body(&w, 0, "ngo", cert, clen, NULL, why, sizeof why), 0);
    CHECK_RC(s_cancel(&w, 1, "ngo", first_seq + 7, "wrong one", NULL, why, sizeof why), NRM_R_REGISTRY);
    CHECK_STR_HAS(why, "is record 2, the command withdraws record 9");
    CHECK_RC(s_cancel(&w, 1, "ngo", first_seq, "", NULL, why, sizeof why), NRM_R_INVALID_FIELD);
    CHECK_STR_HAS(why, "reason missing");
    CHECK_RC(s_cancel(&w, 1, "ngo", first_seq, "the organisation asked", &first, why, sizeof why), 0);
    CHECK(s_pending_seq(&w, "ngo") == 0);
    CHECK_RC(s_approve_body(&w, 1, "ngo", cert, clen, NULL, why, sizeof why), NRM_R_REGISTRY);
    CHECK_STR_HAS(why, "no request of 'ngo' is pending");
    /* A new request; the first one's certificate does not answer it. */
    CHECK_RC(s_request_cmd(&w, 2, NRM_REC_REQUESTED, "ngo", req, len, why, sizeof why), 0);
    CHECK(s_pending_seq(&w, "ngo") > first_seq);
    CHECK_RC(s_approve_body(&w, 0, "ngo", cert, clen, NULL, why, sizeof why), NRM_R_INVALID_FIELD);
    CHECK_STR_HAS(why, "serial 2");
    CHECK_RC(s_apply_at(&w, &first, nrm_now_ms(), NULL, why, sizeof why), NRM_R_DUPLICATE);
    s_cert_for(&w, 1, "ngo", now, now + NRM_DAY_MS, &cert2, &clen2);
    CHECK_RC(s_approve_body(&w, 1, "ngo", cert2, clen2, NULL, why, sizeof why), 0);
    CHECK_RC(s_approve_body(&w, 2, "ngo", cert2, clen2, NULL, why, sizeof why), 0);
    CHECK(s_status_of(&w, "ngo") == NRM_ORG_ACTIVE);
    CHECK_VERIFIES(&w);
    s_cmd_clear(&first);
    free(cert2);
    s_world_destroy(&w);

    /* Past the broker: a CANCELLED of another request, or of nothing. */
    for (int c = 0; c < 2; c++) {
        cmd_t cmd;
        nrm_action_t a;
        s_world_new(&w);
        if (c == 0)
            CHECK_RC(s_request_cmd(&w, 0, NRM_REC_REQUESTED, "ngo", req, len, why, sizeof why), 0);
        memset(&a, 0, sizeof a);
        a.action = NRM_REC_CANCELLED;
        snprintf(a.org_id, sizeof a.org_id, "ngo");
        snprintf(a.reason, sizeof a.reason, "x");
        a.request_seq = 5;
        s_sign(&w, 1, &a, nrm_now_ms(), &cmd);
        uint64_t seq = s_raw_action(&w, NRM_REC_CANCELLED, 1, &cmd, nrm_now_ms());
        CHECK_VERIFY_FAILS(&w, seq, c == 0 ? "was record 2, not 5" : "nothing was pending");
        s_cmd_clear(&cmd);
        s_world_destroy(&w);
    }
    free(cert);
    free(req);
    nrm_keys_destroy(&ngo);
}

typedef struct {
    world_t *w;
    nrm_keys_t *k;
    size_t n;
    int last_rc;
    nrm_err_t why;
} fill_t;

/* n enrollment requests in one transaction (one fsync). The keys are the
   same for all: pending requests do not hold keys. */
static int
s_fill_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    fill_t *f = ctx;
    for (size_t i = 0; i < f->n; i++) {
        char id[32];
        size_t len = 0;
        nrm_action_t a;
        cmd_t cmd;
        nrm_regadmin_result_t res;
        snprintf(id, sizeof id, "org-%05zu", i);
        uint8_t *req = s_request(f->k, NULL, id, "ngo", &len);
        memset(&a, 0, sizeof a);
        a.action = NRM_REC_REQUESTED;
        snprintf(a.org_id, sizeof a.org_id, "%s", id);
        a.request = req;
        a.request_len = len;
        s_sign(f->w, (int) (i % NADMINS), &a, nrm_now_ms(), &cmd);
        f->last_rc = nrm_regadmin_apply(store, txn, cmd.body, cmd.len, cmd.sig, NRM_SIG_BYTES, nrm_now_ms(),
                                        &res, &f->why);
        s_cmd_clear(&cmd);
        free(req);
        if (f->last_rc == NRM_EINVAL)
            return 0;       /* keep what was applied; the refusal is the result */
        if (f->last_rc)
            return nrm_err_set(err, f->last_rc, "%s", f->why.msg);
    }
    return 0;
}

/* At most NRM_MAX_CERTS organisations and pending requests: the Welcome
   carries that many certificates, a network with more would leave some
   out of every directory. */
static void
t_registry_cap(void)
{
    world_t w;
    nrm_err_t err;
    s_world_new(&w);
    fill_t f = { &w, nrm_keys_generate(NRM_KEYS_ALL), NRM_MAX_CERTS, 0, { 0, 0, "" } };
    CHECK_RC(nrm_store_write(w.store, s_fill_fn, &f, &err), 0);
    CHECK_RC(f.last_rc, 0);
    char why[300];
    size_t len = 0;
    uint8_t *req = s_request(f.k, NULL, "one-more", "ngo", &len);
    CHECK_RC(s_request_cmd(&w, 0, NRM_REC_REQUESTED, "one-more", req, len, why, sizeof why), NRM_R_REGISTRY);
    CHECK_STR_HAS(why, "0 organisations and 4096 pending requests: at most 4096");
    CHECK_VERIFIES(&w);
    uint64_t seq = s_raw_request(&w, NRM_REC_REQUESTED, "one-more", req, len);
    CHECK_VERIFY_FAILS(&w, seq, "beyond 4096");
    free(req);
    nrm_keys_destroy(&f.k);
    s_world_destroy(&w);
}

/* Appends an ACCEPTED record of a message from -> to signed by k, past
   the broker; with retire, the KEY_RETIRED record the broker writes
   before it. Returns the ACCEPTED record's seq. */
static uint64_t
s_raw_accepted(world_t *w, nrm_keys_t *k, const char *from, const char *to, bool retire)
{
    nrm_envelope_t e;
    raw_t r;
    nrm_err_t err;
    uint8_t *body = NULL, sig[64];
    size_t len = 0;
    memset(&e, 0, sizeof e);
    e.version = 1;
    nrm_random(e.msg_id, 16);
    snprintf(e.type, sizeof e.type, "referral");
    snprintf(e.sender, sizeof e.sender, "%s", from);
    snprintf(e.recipient, sizeof e.recipient, "%s", to);
    snprintf(e.case_ref, sizeof e.case_ref, "case-1");
    e.created_ms = nrm_now_ms();
    e.response_due_ms = e.created_ms + 3600000;     /* a referral has a response deadline */
    nrm_random(e.body_hash, 32);
    e.body_size = 100;
    if (nrm_envelope_encode(&e, &body, &len, &err) != 0 || nrm_sign(k, NRM_CTX_ENVELOPE, body, len, sig) != 0)
        exit(2);
    for (int i = retire ? 0 : 1; i < 2; i++) {
        memset(&r, 0, sizeof r);
        r.rec.kind = i == 0 ? NRM_REC_KEY_RETIRED : NRM_REC_ACCEPTED;
        r.rec.time_ms = nrm_now_ms();
        snprintf(r.rec.actor, sizeof r.rec.actor, "%s", from);
        r.rec.subject = body;
        r.rec.subject_len = len;
        r.rec.has_signature = true;
        memcpy(r.rec.signature, sig, 64);
        r.rec.has_msg_id = i == 1;
        memcpy(r.rec.msg_id, e.msg_id, 16);
        if (nrm_store_write(w->store, s_raw_fn, &r, &err) != 0)
            exit(2);
    }
    free(body);
    return r.seq;
}

/* After a rotation the first message under the new key retires the old
   one (KEY_RETIRED right before it); a log where the new key signs while
   the old one stays accepted is not one the broker writes. */
static void
t_retire_order(void)
{
    for (int retire = 0; retire < 2; retire++) {
        world_t w;
        s_world_new(&w);
        nrm_keys_t *old = nrm_keys_generate(NRM_KEYS_ALL), *fresh = nrm_keys_generate(NRM_KEYS_ALL),
                   *msdhs = nrm_keys_generate(NRM_KEYS_ALL);
        CHECK_RC(s_enroll(&w, old, NULL, "police", "police"), 0);
        CHECK_RC(s_enroll(&w, msdhs, NULL, "msdhs", "msdhs"), 0);
        s_raw_accepted(&w, old, "police", "msdhs", false);
        CHECK_RC(s_enroll(&w, fresh, old, "police", "police"), 0);
        s_raw_accepted(&w, old, "police", "msdhs", false);      /* old key, still accepted */
        uint64_t seq = s_raw_accepted(&w, fresh, "police", "msdhs", retire);
        if (retire)
            CHECK_VERIFIES(&w);
        else
            CHECK_VERIFY_FAILS(&w, seq, "no KEY_RETIRED before it");
        nrm_keys_destroy(&old);
        nrm_keys_destroy(&fresh);
        nrm_keys_destroy(&msdhs);
        s_world_destroy(&w);
    }
}

int
main(void)
{
    if (nrm_crypto_init() != 0)
        return 2;
    t_replayed_action();
    t_cert_validity();
    t_replay_agrees();
    t_cancel();
    t_registry_cap();
    t_retire_order();
    TEST_DONE();
}
