/*  nrm_replay -- the registry rebuilt from the log (see nrm_replay.h). */
#include "nrm_replay.h"
#include "nrm_crypto.h"
#include "nrm_regadmin.h"
#include "nrm_util.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One organisation id: enrolled or only requested. */
typedef struct {
    char             id[NRM_ID_MAX + 1];   /* "" marks a free slot */
    bool             enrolled;
    nrm_replay_org_t org;
    int              pend_kind;           /* 0: nothing pending */
    uint64_t         pend_seq;
    nrm_cert_t       req;                 /* the pending request */
    uint8_t          req_hash[NRM_HASH_BYTES];
    uint8_t          cert_hash[NRM_HASH_BYTES]; /* certificate approved so far */
    nrm_cert_t       pcert;
    uint8_t          issuer_sig[NRM_SIG_BYTES];
    size_t           napprovals;
    uint8_t          approvers[NRM_MAX_ADMINS][NRM_PK_BYTES];
} s_slot_t;

struct nrm_replay {
    bool           have_genesis;
    nrm_genesis_t  genesis;
    s_slot_t      *slots;
    size_t         cap, used;
    nrm_policy_t  *policy;
    uint64_t       policy_version;
    s_slot_t      *owed;                  /* quorum met: its effect is next */
    uint64_t       owed_seq;
    uint8_t      (*seen)[NRM_HASH_BYTES];  /* SHA-256 of every applied action */
    size_t         seen_cap, seen_used;   /* open addressing; all-zero = free */
};

static uint64_t
s_fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t) *s) * 1099511628211ull;
    return h;
}

static s_slot_t *
s_find(const nrm_replay_t *self, const char *id)
{
    if (!self->cap)
        return NULL;
    for (size_t i = s_fnv(id) & (self->cap - 1);; i = (i + 1) & (self->cap - 1)) {
        if (!self->slots[i].id[0])
            return NULL;
        if (strcmp(self->slots[i].id, id) == 0)
            return &self->slots[i];
    }
}

/* The slot of id, made if new; NULL when out of memory. Growing moves the
   slots, so pointers into the table die here (owed is re-found). */
static s_slot_t *
s_get(nrm_replay_t *self, const char *id)
{
    s_slot_t *s = s_find(self, id);
    if (s)
        return s;
    if ((self->used + 1) * 2 > self->cap) {
        char owed[NRM_ID_MAX + 1] = "";
        if (self->owed)
            snprintf(owed, sizeof owed, "%s", self->owed->id);
        size_t cap = self->cap ? self->cap * 2 : 64;
        s_slot_t *slots = calloc(cap, sizeof *slots), *old = self->slots;
        if (!slots)
            return NULL;
        size_t old_cap = self->cap;
        self->slots = slots;
        self->cap = cap;
        for (size_t i = 0; i < old_cap; i++) {
            if (!old[i].id[0])
                continue;
            size_t j = s_fnv(old[i].id) & (cap - 1);
            while (slots[j].id[0])
                j = (j + 1) & (cap - 1);
            slots[j] = old[i];
        }
        free(old);
        self->owed = owed[0] ? s_find(self, owed) : NULL;
    }
    size_t i = s_fnv(id) & (self->cap - 1);
    while (self->slots[i].id[0])
        i = (i + 1) & (self->cap - 1);
    s = &self->slots[i];
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    self->used++;
    return s;
}

nrm_replay_t *
nrm_replay_new(void)
{
    return calloc(1, sizeof(nrm_replay_t));
}

void
nrm_replay_destroy(nrm_replay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    nrm_policy_free(&(*self_p)->policy);
    free((*self_p)->slots);
    free((*self_p)->seen);
    free(*self_p);
    *self_p = NULL;
}

const nrm_replay_org_t *
nrm_replay_org(const nrm_replay_t *self, const char *org_id)
{
    const s_slot_t *s = s_find(self, org_id);
    return s && s->enrolled ? &s->org : NULL;
}

const nrm_policy_t *nrm_replay_policy(const nrm_replay_t *self) { return self->policy; }

const nrm_genesis_t *
nrm_replay_genesis(const nrm_replay_t *self)
{
    return self->have_genesis ? &self->genesis : NULL;
}

static int
s_why(char *why, size_t size, const char *fmt, ...) NRM_PRINTF(3, 4);

static int
s_why(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- genesis and certificates ---- */

static int
s_genesis(nrm_replay_t *self, const nrm_record_t *rec, char *why, size_t n)
{
    nrm_err_t derr;
    if (rec->seq != 1 || self->have_genesis)
        return s_why(why, n, "GENESIS record at %llu: only record 1 may be one",
                     (unsigned long long) rec->seq);
    if (nrm_genesis_decode(rec->subject, rec->subject_len, &self->genesis, &derr) != 0)
        return s_why(why, n, "GENESIS: %s", derr.msg);
    if (!rec->has_signature
        || nrm_verify(self->genesis.admin_pk, NRM_CTX_GENESIS, rec->subject, rec->subject_len,
                      rec->signature) != 0)
        return s_why(why, n, "GENESIS: administrator signature does not verify");
    self->have_genesis = true;
    return 0;
}

/* ENROLLED or ROTATED: the certificate whose quorum the APPROVED record
   just before met, with its issuer's signature. */
static int
s_effect(nrm_replay_t *self, const nrm_record_t *rec, char *why, size_t n)
{
    const char *kind = nrm_record_kind_name(rec->kind);
    uint8_t hash[NRM_HASH_BYTES];
    s_slot_t *s = self->owed;
    if (!s || s->pend_kind != (rec->kind == NRM_REC_ROTATED ? NRM_REC_ROTATE_REQUESTED
                                                             : NRM_REC_REQUESTED))
        return s_why(why, n, "%s without a quorum of approvals before it", kind);
    nrm_sha256(rec->subject, rec->subject_len, hash);
    if (memcmp(hash, s->cert_hash, NRM_HASH_BYTES) != 0)
        return s_why(why, n, "%s: certificate differs from the one the administrators approved", kind);
    if (!rec->has_signature || memcmp(rec->signature, s->issuer_sig, NRM_SIG_BYTES) != 0)
        return s_why(why, n, "%s: signature is not the issuer's approval signature", kind);
    if (rec->kind == NRM_REC_ROTATED) {
        s->org.old = s->org.cert;
        s->org.has_old = true;
    }
    s->org.cert = s->pcert;
    s->enrolled = true;
    s->pend_kind = 0;
    s->napprovals = 0;
    self->owed = NULL;
    return 0;
}

int
nrm_replay_owed(const nrm_replay_t *self, const nrm_record_t *next, char *why, size_t n)
{
    if (!self->owed)
        return 0;
    int want = self->owed->pend_kind == NRM_REC_ROTATE_REQUESTED ? NRM_REC_ROTATED : NRM_REC_ENROLLED;
    if (next && next->kind == want)
        return 0;
    return s_why(why, n, "record %llu met the quorum of '%s', but record %llu is not its %s",
                 (unsigned long long) self->owed_seq, self->owed->id,
                 (unsigned long long) (self->owed_seq + 1), nrm_record_kind_name(want));
}

/* ---- administrators' actions ---- */

static bool
s_zero_hash(const uint8_t h[NRM_HASH_BYTES])
{
    for (size_t i = 0; i < NRM_HASH_BYTES; i++)
        if (h[i])
            return false;
    return true;
}

static size_t
s_seen_slot(uint8_t (*tab)[NRM_HASH_BYTES], size_t cap, const uint8_t h[NRM_HASH_BYTES])
{
    size_t i = (size_t) nrm_be64_get(h) & (cap - 1);
    while (!s_zero_hash(tab[i]) && memcmp(tab[i], h, NRM_HASH_BYTES) != 0)
        i = (i + 1) & (cap - 1);
    return i;
}

/* Remembers the hash of an applied action: 1 if it was applied before,
   0 if new, NRM_ENOMEM. */
static int
s_seen_add(nrm_replay_t *self, const uint8_t h[NRM_HASH_BYTES])
{
    if ((self->seen_used + 1) * 2 > self->seen_cap) {
        size_t cap = self->seen_cap ? self->seen_cap * 2 : 256;
        uint8_t (*tab)[NRM_HASH_BYTES] = calloc(cap, NRM_HASH_BYTES);
        if (!tab)
            return NRM_ENOMEM;
        for (size_t i = 0; i < self->seen_cap; i++)
            if (!s_zero_hash(self->seen[i]))
                memcpy(tab[s_seen_slot(tab, cap, self->seen[i])], self->seen[i], NRM_HASH_BYTES);
        free(self->seen);
        self->seen = tab;
        self->seen_cap = cap;
    }
    size_t i = s_seen_slot(self->seen, self->seen_cap, h);
    if (!s_zero_hash(self->seen[i]))
        return 1;
    memcpy(self->seen[i], h, NRM_HASH_BYTES);
    self->seen_used++;
    return 0;
}

/* The rule of nrm_regadmin: a request's keys must not be the broker's or
   an administrator's, nor a CURVE key an organisation still has (its
   current one, or during a rotation its old one). NULL if free, else what
   holds it. */
static const char *
s_key_taken(const nrm_replay_t *self, const nrm_cert_t *req)
{
    const nrm_genesis_t *g = &self->genesis;
    if (!memcmp(req->curve_pk, g->broker_curve_pk, NRM_PK_BYTES)
        || !memcmp(req->sign_pk, g->broker_sign_pk, NRM_PK_BYTES)
        || nrm_genesis_admin(g, req->sign_pk) >= 0 || nrm_genesis_admin_curve(g, req->curve_pk) >= 0)
        return "the broker or an administrator";
    for (size_t i = 0; i < self->cap; i++) {
        const s_slot_t *o = &self->slots[i];
        if (o->id[0] && o->enrolled
            && (!memcmp(o->org.cert.curve_pk, req->curve_pk, NRM_PK_BYTES)
                || (o->org.has_old && !memcmp(o->org.old.curve_pk, req->curve_pk, NRM_PK_BYTES))))
            return o->id;
    }
    return NULL;
}

static int
s_request(nrm_replay_t *self, const nrm_action_t *a, uint64_t seq, char *why, size_t n)
{
    nrm_err_t derr;
    nrm_cert_t req;
    uint8_t hash[NRM_HASH_BYTES];
    s_slot_t *s = s_find(self, a->org_id);
    bool rotate = a->action == NRM_REC_ROTATE_REQUESTED;
    if (s && s->pend_kind)
        return s_why(why, n, "a request of '%s' was already pending", a->org_id);
    if (!rotate && s && s->enrolled)
        return s_why(why, n, "'%s' was already enrolled", a->org_id);
    if (!rotate) {
        size_t count = 0;
        for (size_t i = 0; i < self->cap; i++)
            /* As the broker counts: certificates, plus pending requests
               (a pending rotation counts apart from its certificate). */
            count += (size_t) (self->slots[i].id[0] && self->slots[i].enrolled)
                     + (size_t) (self->slots[i].id[0] && self->slots[i].pend_kind);
        if (count >= NRM_MAX_CERTS)
            return s_why(why, n, "request of '%s' beyond %d organisations and pending requests",
                         a->org_id, NRM_MAX_CERTS);
    }
    if (rotate && (!s || !s->enrolled || s->org.status != NRM_ORG_ACTIVE))
        return s_why(why, n, "rotation of '%s', which was not enrolled and active", a->org_id);
    int rc = rotate ? nrm_rotate_request_verify(a->request, a->request_len, s->org.cert.sign_pk, &req,
                                                hash, &derr)
                    : nrm_request_verify(a->request, a->request_len, &req, hash, &derr);
    if (rc)
        return s_why(why, n, "%s", derr.msg);
    if (strcmp(req.org_id, a->org_id) != 0)
        return s_why(why, n, "the request is for '%s', the action names '%s'", req.org_id, a->org_id);
    if (rotate && strcmp(req.org_type, s->org.cert.org_type) != 0)
        return s_why(why, n, "rotation of '%s' changes its type", a->org_id);
    if (rotate && memcmp(req.sign_pk, s->org.cert.sign_pk, NRM_PK_BYTES) == 0)
        return s_why(why, n, "rotation of '%s' keeps its signing key", a->org_id);
    const char *holder = s_key_taken(self, &req);
    if (holder)
        return s_why(why, n, "the request of '%s' reuses a key of %s", a->org_id, holder);
    if (!(s = s_get(self, a->org_id)))
        return NRM_ENOMEM;
    s->pend_kind = a->action;
    s->pend_seq = seq;
    s->req = req;
    memcpy(s->req_hash, hash, NRM_HASH_BYTES);
    s->napprovals = 0;
    return 0;
}

static bool
s_answers(const nrm_cert_t *c, const s_slot_t *s)
{
    const nrm_cert_t *r = &s->req;
    return !strcmp(c->org_id, r->org_id) && !strcmp(c->org_type, r->org_type)
        && !strcmp(c->name, r->name) && !strcmp(c->jurisdiction, r->jurisdiction)
        && !memcmp(c->sign_pk, r->sign_pk, NRM_PK_BYTES) && !memcmp(c->curve_pk, r->curve_pk, NRM_PK_BYTES)
        && !memcmp(c->box_pk, r->box_pk, NRM_PK_BYTES)
        && !memcmp(c->request_hash, s->req_hash, NRM_HASH_BYTES) && c->serial == s->pend_seq;
}

static int
s_approve(nrm_replay_t *self, const nrm_action_t *a, uint64_t seq, uint64_t time_ms, char *why, size_t n)
{
    nrm_err_t derr;
    nrm_cert_t cert;
    uint8_t hash[NRM_HASH_BYTES];
    s_slot_t *s = s_find(self, a->org_id);
    if (!s || !s->pend_kind)
        return s_why(why, n, "approval of '%s', for which nothing was pending", a->org_id);
    if (nrm_cert_decode(a->cert_body, a->cert_len, &cert, &derr) != 0)
        return s_why(why, n, "approved certificate: %s", derr.msg);
    for (size_t i = 0; i < s->napprovals; i++)
        if (memcmp(s->approvers[i], a->admin_pk, NRM_PK_BYTES) == 0)
            return s_why(why, n, "the same administrator approved '%s' twice", a->org_id);
    nrm_sha256(a->cert_body, a->cert_len, hash);
    if (s->napprovals == 0) {
        if (memcmp(cert.issuer_pk, a->admin_pk, NRM_PK_BYTES) != 0 || !s_answers(&cert, s))
            return s_why(why, n, "the certificate approved for '%s' does not answer its request "
                         "(or names another issuer)", a->org_id);
        if (!nrm_cert_validity_ok(&cert, time_ms))
            return s_why(why, n, "the certificate approved for '%s' is valid from %llu to %llu ms, "
                         "not from its approval for at most 3650 days", a->org_id,
                         (unsigned long long) cert.not_before_ms, (unsigned long long) cert.not_after_ms);
        memcpy(s->cert_hash, hash, NRM_HASH_BYTES);
        memcpy(s->issuer_sig, a->cert_sig, NRM_SIG_BYTES);
        s->pcert = cert;
    } else if (memcmp(hash, s->cert_hash, NRM_HASH_BYTES) != 0) {
        return s_why(why, n, "approval of another certificate than the first for '%s'", a->org_id);
    }
    if (nrm_verify(a->admin_pk, NRM_CTX_CERT, a->cert_body, a->cert_len, a->cert_sig) != 0)
        return s_why(why, n, "the administrator's certificate signature does not verify");
    memcpy(s->approvers[s->napprovals++], a->admin_pk, NRM_PK_BYTES);
    if (s->napprovals >= self->genesis.quorum) {
        /* Another certificate may have taken a key since the request. */
        const char *holder = s_key_taken(self, &s->pcert);
        if (holder)
            return s_why(why, n, "the certificate of '%s' takes effect with a key of %s", a->org_id,
                         holder);
        self->owed = s;
        self->owed_seq = seq;
    }
    return 0;
}

static int
s_status(nrm_replay_t *self, const nrm_action_t *a, char *why, size_t n)
{
    s_slot_t *s = s_find(self, a->org_id);
    const char *what = nrm_record_kind_name(a->action);
    if (!s || !s->enrolled)
        return s_why(why, n, "%s of '%s', which was not enrolled", what, a->org_id);
    int from = s->org.status;
    if (from == NRM_ORG_REVOKED
        || (a->action == NRM_REC_SUSPENDED && from != NRM_ORG_ACTIVE)
        || (a->action == NRM_REC_RESUMED && from != NRM_ORG_SUSPENDED))
        return s_why(why, n, "%s of '%s', which was %s", what, a->org_id, nrm_org_status_name(from));
    s->org.status = a->action == NRM_REC_REVOKED ? NRM_ORG_REVOKED
                  : a->action == NRM_REC_SUSPENDED ? NRM_ORG_SUSPENDED : NRM_ORG_ACTIVE;
    if (a->action == NRM_REC_REVOKED)
        s->pend_kind = 0;
    return 0;
}

static int
s_cancel(nrm_replay_t *self, const nrm_action_t *a, char *why, size_t n)
{
    s_slot_t *s = s_find(self, a->org_id);
    if (!s || !s->pend_kind)
        return s_why(why, n, "CANCELLED: nothing was pending for '%s'", a->org_id);
    if (s->pend_seq != a->request_seq)
        return s_why(why, n, "CANCELLED: the pending request of '%s' was record %llu, not %llu", a->org_id,
                     (unsigned long long) s->pend_seq, (unsigned long long) a->request_seq);
    s->pend_kind = 0;
    s->napprovals = 0;
    return 0;
}

static int
s_policy(nrm_replay_t *self, const nrm_action_t *a, char *why, size_t n)
{
    nrm_policy_t *p = NULL;
    nrm_err_t perr = { 0, 0, "" };
    if (nrm_policy_parse((const char *) a->policy_text, a->policy_len, "policy", &p, &perr) != 0)
        return perr.code == NRM_ENOMEM ? NRM_ENOMEM : s_why(why, n, "POLICY: %s", perr.msg);
    uint64_t v = nrm_policy_version(p);
    if (v != a->policy_version || v <= self->policy_version) {
        nrm_policy_free(&p);
        return s_why(why, n, "POLICY: version %llu is not newer than %llu (or not the text's)",
                     (unsigned long long) a->policy_version, (unsigned long long) self->policy_version);
    }
    nrm_policy_free(&self->policy);
    self->policy = p;
    self->policy_version = v;
    return 0;
}

/* An administrator's record: subject is its AdminAction, signed by it. */
static int
s_action(nrm_replay_t *self, const nrm_record_t *rec, char *why, size_t n)
{
    nrm_action_t a;
    nrm_err_t derr;
    char actor[NRM_ID_MAX + 1];
    uint8_t hash[NRM_HASH_BYTES];
    const char *kind = nrm_record_kind_name(rec->kind);
    if (nrm_action_decode(rec->subject, rec->subject_len, &a, &derr) != 0)
        return s_why(why, n, "%s: %s", kind, derr.msg);
    nrm_sha256(rec->subject, rec->subject_len, hash);
    int rc = 0;
    nrm_admin_actor(a.admin_pk, actor);
    if (a.action != rec->kind)
        rc = s_why(why, n, "%s record holds a %s action", kind, nrm_record_kind_name(a.action));
    else if (nrm_genesis_admin(&self->genesis, a.admin_pk) < 0)
        rc = s_why(why, n, "%s: signed by a key that is not an administrator", kind);
    else if (!rec->has_signature
             || nrm_verify(a.admin_pk, NRM_CTX_ADMIN, rec->subject, rec->subject_len, rec->signature) != 0)
        rc = s_why(why, n, "%s: administrator signature does not verify", kind);
    else if (strcmp(actor, rec->actor) != 0)
        rc = s_why(why, n, "%s: actor '%s' is not the signing administrator", kind, rec->actor);
    else if (a.created_ms > rec->time_ms + NRM_ADMIN_SKEW_MS
             || (a.created_ms < rec->time_ms && rec->time_ms - a.created_ms > NRM_ADMIN_ACTION_TTL_MS))
        rc = s_why(why, n, "%s: the action was made at %llu ms, out of its time window at record time "
                   "%llu", kind, (unsigned long long) a.created_ms, (unsigned long long) rec->time_ms);
    else if ((rc = s_seen_add(self, hash)) != 0)
        rc = rc == 1 ? s_why(why, n, "%s: the same signed action was applied before (a replay)", kind) : rc;
    else if (a.action == NRM_REC_REQUESTED || a.action == NRM_REC_ROTATE_REQUESTED)
        rc = s_request(self, &a, rec->seq, why, n);
    else if (a.action == NRM_REC_APPROVED)
        rc = s_approve(self, &a, rec->seq, rec->time_ms, why, n);
    else if (a.action == NRM_REC_POLICY)
        rc = s_policy(self, &a, why, n);
    else if (a.action == NRM_REC_CANCELLED)
        rc = s_cancel(self, &a, why, n);
    else
        rc = s_status(self, &a, why, n);
    nrm_action_clear(&a);
    return rc;
}

/* KEY_RETIRED: the first message under the new key; subject and signature
   are that envelope's. */
static int
s_retired(nrm_replay_t *self, const nrm_record_t *rec, char *why, size_t n)
{
    s_slot_t *s = s_find(self, rec->actor);
    if (!s || !s->enrolled || !s->org.has_old)
        return s_why(why, n, "KEY_RETIRED for '%s', which had no key to retire", rec->actor);
    if (!rec->has_signature
        || nrm_batch_verify(s->org.cert.sign_pk, NRM_CTX_ENVELOPE, rec->subject, rec->subject_len,
                            rec->signature, &rec->batch, NULL) != 0)
        return s_why(why, n, "KEY_RETIRED: the envelope is not signed by the new key of '%s'", rec->actor);
    s->org.has_old = false;
    return 0;
}

int
nrm_replay_apply(nrm_replay_t *self, const nrm_record_t *rec, char *why, size_t n)
{
    if (rec->kind == NRM_REC_GENESIS)
        return s_genesis(self, rec, why, n);
    if (!self->have_genesis)
        return s_why(why, n, "record 1 is not the network's GENESIS");
    switch (rec->kind) {
    case NRM_REC_ENROLLED:
    case NRM_REC_ROTATED:
        return s_effect(self, rec, why, n);
    case NRM_REC_REQUESTED:
    case NRM_REC_ROTATE_REQUESTED:
    case NRM_REC_APPROVED:
    case NRM_REC_REVOKED:
    case NRM_REC_SUSPENDED:
    case NRM_REC_RESUMED:
    case NRM_REC_POLICY:
    case NRM_REC_CANCELLED:
        return s_action(self, rec, why, n);
    case NRM_REC_KEY_RETIRED:
        return s_retired(self, rec, why, n);
    case NRM_REC_ADMIN_REFUSED:
        return rec->reason_code ? 0 : s_why(why, n, "ADMIN_REFUSED record without a reason code");
    default:
        return 0;
    }
}
