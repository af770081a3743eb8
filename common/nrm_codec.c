/*  nrm_codec -- protobuf-c behind our own structs. Every decoder checks the
    input size before unpacking (protobuf-c allocates in proportion to its
    input, so a capped input means capped memory), then every field: ids,
    text, fixed-size keys and hashes, ranges. */
#include "nrm_codec.h"
#include "nrm_iso.h"
#include "nrm_util.h"
#include "nrm.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ---- */

static const char *s_msg_types[] = {
    "tip", "referral", "response", "outcome", "withdrawal", "transfer",
    "status", "consent", "interpreter-request", "info-request", "info-reply",
    NULL
};
static const char *s_org_types[] = {
    "police", "msdhs", "labour", "prosecutor", "ngo", "immigration",
    "interpreter", "foreign", "mdt", NULL
};

static bool
s_in(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

bool nrm_msg_type_valid(const char *type) { return type && s_in(s_msg_types, type); }
bool nrm_org_type_valid(const char *type) { return type && s_in(s_org_types, type); }

const char *
nrm_record_kind_name(int kind)
{
    switch (kind) {
    case NRM_REC_GENESIS:          return "GENESIS";
    case NRM_REC_ENROLLED:         return "ENROLLED";
    case NRM_REC_ACCEPTED:         return "ACCEPTED";
    case NRM_REC_REJECTED:         return "REJECTED";
    case NRM_REC_DELIVERED:        return "DELIVERED";
    case NRM_REC_DELIVERY_REFUSED: return "DELIVERY_REFUSED";
    case NRM_REC_REQUESTED:        return "REQUESTED";
    case NRM_REC_APPROVED:         return "APPROVED";
    case NRM_REC_REVOKED:          return "REVOKED";
    case NRM_REC_SUSPENDED:        return "SUSPENDED";
    case NRM_REC_RESUMED:          return "RESUMED";
    case NRM_REC_POLICY:           return "POLICY";
    case NRM_REC_ADMIN_REFUSED:    return "ADMIN_REFUSED";
    case NRM_REC_ROTATE_REQUESTED: return "ROTATE_REQUESTED";
    case NRM_REC_ROTATED:          return "ROTATED";
    case NRM_REC_KEY_RETIRED:      return "KEY_RETIRED";
    case NRM_REC_CHECKPOINT:       return "CHECKPOINT";
    case NRM_REC_CANCELLED:        return "CANCELLED";
    case NRM_REC_ESCALATED:        return "ESCALATED";
    case NRM_REC_PURGED:           return "PURGED";
    default:                       return "UNKNOWN";
    }
}

/* ---- field helpers ---- */

static int
s_id(char *dst, const char *src, const char *what, nrm_err_t *err)
{
    if (!src || !nrm_id_valid(src))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD,
                              "%s: must be 1-%d characters of a-z 0-9 . _ -", what, NRM_ID_MAX);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static int
s_text(char *dst, size_t cap, const char *src, bool required, const char *what, nrm_err_t *err)
{
    const char *s = src ? src : "";
    if (required && !*s)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "%s: missing", what);
    if (strlen(s) > cap)
        return nrm_err_refuse(err, NRM_R_TOO_BIG, "%s: longer than %zu bytes", what, cap);
    if (!nrm_text_valid(s, cap))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "%s: not valid UTF-8 text", what);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static int
s_fixed(uint8_t *dst, ProtobufCBinaryData b, size_t n, const char *what, nrm_err_t *err)
{
    if (b.len != n)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "%s: must be %zu bytes, got %zu",
                              what, n, b.len);
    memcpy(dst, b.data, n);
    return 0;
}

static ProtobufCBinaryData
s_bin(const void *p, size_t len)
{
    ProtobufCBinaryData b = { len, (uint8_t *) p };
    return b;
}

/* Packs any message into a fresh buffer. */
static int
s_pack(const ProtobufCMessage *m, uint8_t **out, size_t *len, nrm_err_t *err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory encoding %zu bytes", n);
    protobuf_c_message_pack(m, buf);
    *out = buf;
    *len = n;
    return 0;
}

static int
s_toobig(size_t len, size_t cap, const char *what, nrm_err_t *err)
{
    if (len > cap)
        return nrm_err_refuse(err, NRM_R_TOO_BIG, "%s: %zu bytes, over the limit of %zu",
                              what, len, cap);
    return 0;
}

#define UNPACK_OR_REFUSE(var, type, fn, buf, len, what)                              \
    type *var = fn(NULL, len, buf);                                                  \
    if (!var)                                                                        \
        return nrm_err_refuse(err, NRM_R_MALFORMED, "%s: does not decode", what)

/* Signed objects must be in canonical encoding: exactly the bytes our
   encoder makes of what they decode to (fields in number order, no default
   values written, no unknown fields, no NUL inside a string). Then every
   reader, in any language, sees the same values in the signed bytes as we
   do, and nothing rides along unseen. */
static int
s_canonical(const ProtobufCMessage *m, const uint8_t *buf, size_t len, const char *what,
            nrm_err_t *err)
{
    uint8_t stackbuf[4096];
    bool same = false;
    if (m->n_unknown_fields == 0 && protobuf_c_message_get_packed_size(m) == len) {
        uint8_t *tmp = len <= sizeof stackbuf ? stackbuf : malloc(len);
        if (!tmp)
            return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        protobuf_c_message_pack(m, tmp);
        same = len == 0 || memcmp(tmp, buf, len) == 0;  /* buf may be NULL when empty */
        if (tmp != stackbuf)
            free(tmp);
    }
    if (!same)
        return nrm_err_refuse(err, NRM_R_MALFORMED,
                              "%s: not in canonical encoding (fields out of order, default values "
                              "written, unknown fields, or a NUL inside a string)", what);
    return 0;
}

/* ---- envelope ---- */

int
nrm_envelope_encode(const nrm_envelope_t *e, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__Envelope m = NRM__ENVELOPE__INIT;
    m.version = e->version;
    m.msg_id = s_bin(e->msg_id, NRM_MSGID_BYTES);
    m.type = (char *) e->type;
    m.sender = (char *) e->sender;
    m.recipient = (char *) e->recipient;
    m.case_ref = (char *) e->case_ref;
    m.created_ms = e->created_ms;
    m.priority = e->priority;
    if (e->has_reply_to)
        m.in_reply_to = s_bin(e->in_reply_to, NRM_MSGID_BYTES);
    m.body_hash = s_bin(e->body_hash, NRM_HASH_BYTES);
    m.body_size = e->body_size;
    Nrm__ConsentAssertion c = NRM__CONSENT_ASSERTION__INIT;
    char *stripped[NRM_MAX_STRIPPED];
    m.personal_data = e->personal_data;
    if (e->has_consent) {
        c.services = e->consent.services;
        c.sharing = e->consent.sharing;
        c.given_by = (char *) e->consent.given_by;
        c.lawful_basis = (char *) e->consent.lawful_basis;
        c.lawful_basis_ref = (char *) e->consent.lawful_basis_ref;
        c.overridden_by = (char *) e->consent.overridden_by;
        m.consent = &c;
    }
    m.child = e->child;
    m.purpose = (char *) e->purpose;
    m.cross_border = e->cross_border;
    m.destination_country = (char *) e->destination_country;
    m.body_schema = e->body_schema;
    if (e->n_stripped > NRM_MAX_STRIPPED)
        return nrm_err_set(err, NRM_EINVAL, "envelope.stripped: more than %d names", NRM_MAX_STRIPPED);
    for (size_t i = 0; i < e->n_stripped; i++)
        stripped[i] = (char *) e->stripped[i];
    m.n_stripped = e->n_stripped;
    m.stripped = stripped;
    m.response_due_ms = e->response_due_ms;
    m.decision = (char *) e->decision;
    return s_pack(&m.base, out, len, err);
}

/* A name of a body field: letters, digits, '_' and '.'. */
static bool
s_field_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NRM_STRIPPED_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

static bool
s_code_in(const char *s, const char *const *codes)
{
    return !*s || s_in(codes, s);
}

static const char *s_given_by[] = { "victim", "guardian", "responsible_official", NULL };
static const char *s_decisions[] = { "accepted", "declined", NULL };
static const char *s_bases[] = { "vital_interests", "public_task", "legal_obligation", NULL };

/* Envelope fields 12-20: codes and flags only (invariant 5). */
static int
s_envelope_lifecycle(nrm_envelope_t *e, const Nrm__Envelope *m, nrm_err_t *err)
{
    int rc;
    e->personal_data = m->personal_data;
    e->child = m->child;
    e->cross_border = m->cross_border;
    if ((rc = s_text(e->purpose, NRM_TYPE_MAX, m->purpose, false, "envelope.purpose", err)))
        return rc;
    if (e->purpose[0] && !nrm_id_valid(e->purpose))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD,
                              "envelope.purpose: must be 1-%d characters of a-z 0-9 . _ -", NRM_TYPE_MAX);
    const char *dc = m->destination_country ? m->destination_country : "";
    if (*dc && !nrm_iso3166_valid(dc))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD,
                              "envelope.destination_country: '%.8s' is not an ISO 3166-1 alpha-2 code", dc);
    if (m->cross_border != (*dc != '\0'))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD,
                              "envelope.destination_country: given if and only if cross_border is set");
    memcpy(e->destination_country, dc, strlen(dc) + 1);
    if (m->body_schema > 1)
        return nrm_err_refuse(err, NRM_R_BAD_VERSION, "envelope.body_schema: %u is not supported (expected 1)",
                              m->body_schema);
    e->body_schema = m->body_schema;
    if (m->n_stripped > NRM_MAX_STRIPPED)
        return nrm_err_refuse(err, NRM_R_TOO_BIG, "envelope.stripped: %zu names, over the limit of %d",
                              m->n_stripped, NRM_MAX_STRIPPED);
    for (size_t i = 0; i < m->n_stripped; i++) {
        if (!s_field_name_valid(m->stripped[i]))
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.stripped[%zu]: not a field name "
                                  "(1-%d of A-Z a-z 0-9 _ .)", i, NRM_STRIPPED_NAME_MAX);
        memcpy(e->stripped[i], m->stripped[i], strlen(m->stripped[i]) + 1);
    }
    e->n_stripped = m->n_stripped;
    if (m->response_due_ms && m->response_due_ms <= m->created_ms)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.response_due_ms: not after created_ms");
    e->response_due_ms = m->response_due_ms;
    if ((rc = s_text(e->decision, NRM_CODE_MAX, m->decision, false, "envelope.decision", err)))
        return rc;
    if (!s_code_in(e->decision, s_decisions))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.decision: '%s' is not accepted or "
                              "declined", e->decision);
    if ((strcmp(e->type, "response") == 0) != (e->decision[0] != '\0'))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.decision: given if and only if the "
                              "type is response");
    if (!m->consent)
        return 0;
    const Nrm__ConsentAssertion *c = m->consent;
    nrm_consent_t *k = &e->consent;
    e->has_consent = true;
    k->services = c->services;
    k->sharing = c->sharing;
    if ((rc = s_text(k->given_by, NRM_CODE_MAX, c->given_by, false, "envelope.consent.given_by", err))
        || (rc = s_text(k->lawful_basis, NRM_CODE_MAX, c->lawful_basis, false, "envelope.consent.lawful_basis", err))
        || (rc = s_text(k->lawful_basis_ref, NRM_LAWFUL_REF_MAX, c->lawful_basis_ref, false,
                        "envelope.consent.lawful_basis_ref", err))
        || (rc = s_text(k->overridden_by, NRM_ID_MAX, c->overridden_by, false, "envelope.consent.overridden_by", err)))
        return rc;
    if (!s_code_in(k->given_by, s_given_by))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.consent.given_by: '%s' is not victim, "
                              "guardian or responsible_official", k->given_by);
    if (!s_code_in(k->lawful_basis, s_bases))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.consent.lawful_basis: '%s' is not "
                              "vital_interests, public_task or legal_obligation", k->lawful_basis);
    for (const char *q = k->lawful_basis_ref; *q; q++)
        if (*q < 0x20 || *q > 0x7e)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD,
                                  "envelope.consent.lawful_basis_ref: printable ASCII only");
    if (k->overridden_by[0] && !nrm_id_valid(k->overridden_by))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.consent.overridden_by: must be an id "
                              "(1-%d of a-z 0-9 . _ -)", NRM_ID_MAX);
    return 0;
}

int
nrm_envelope_decode(const uint8_t *buf, size_t len, nrm_envelope_t *e, nrm_err_t *err)
{
    int rc = s_toobig(len, NRM_MAX_ENVELOPE_BYTES, "envelope", err);
    if (rc)
        return rc;
    memset(e, 0, sizeof *e);
    UNPACK_OR_REFUSE(m, Nrm__Envelope, nrm__envelope__unpack, buf, len, "envelope");
    if ((rc = s_canonical(&m->base, buf, len, "envelope", err))) {
        nrm__envelope__free_unpacked(m, NULL);
        return rc;
    }
    if (m->version != NRM_ENVELOPE_VERSION) {
        rc = nrm_err_refuse(err, NRM_R_BAD_VERSION, "envelope.version: %u is not supported (expected %d)",
                            m->version, NRM_ENVELOPE_VERSION);
        goto out;
    }
    e->version = m->version;
    if ((rc = s_fixed(e->msg_id, m->msg_id, NRM_MSGID_BYTES, "envelope.msg_id", err))
        || (rc = s_text(e->type, NRM_TYPE_MAX, m->type, true, "envelope.type", err))
        || (rc = s_id(e->sender, m->sender, "envelope.sender", err))
        || (rc = s_id(e->recipient, m->recipient, "envelope.recipient", err))
        || (rc = s_id(e->case_ref, m->case_ref, "envelope.case_ref", err))
        || (rc = s_fixed(e->body_hash, m->body_hash, NRM_HASH_BYTES, "envelope.body_hash", err)))
        goto out;
    if (!nrm_msg_type_valid(e->type)) {
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.type: unknown message type '%s'", e->type);
        goto out;
    }
    if (m->in_reply_to.len) {
        if ((rc = s_fixed(e->in_reply_to, m->in_reply_to, NRM_MSGID_BYTES, "envelope.in_reply_to", err)))
            goto out;
        e->has_reply_to = true;
    }
    if (m->created_ms == 0) {
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.created_ms: missing");
        goto out;
    }
    if (m->priority > 3) {
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "envelope.priority: %u is out of range 0-3", m->priority);
        goto out;
    }
    if (m->body_size > NRM_MAX_BODY_BYTES) {
        rc = nrm_err_refuse(err, NRM_R_TOO_BIG, "envelope.body_size: %u over the limit of %u",
                            m->body_size, NRM_MAX_BODY_BYTES);
        goto out;
    }
    e->created_ms = m->created_ms;
    e->priority = m->priority;
    e->body_size = m->body_size;
    rc = s_envelope_lifecycle(e, m, err);
out:
    nrm__envelope__free_unpacked(m, NULL);
    return rc;
}

/* ---- certificates and requests ---- */

static int
s_cert_fields(nrm_cert_t *c, const char *org_id, const char *org_type, const char *name,
              const char *jur, ProtobufCBinaryData sign_pk, ProtobufCBinaryData curve_pk,
              ProtobufCBinaryData box_pk, const char *what, nrm_err_t *err)
{
    char f[64];
    int rc;
    snprintf(f, sizeof f, "%s.org_id", what);
    if ((rc = s_id(c->org_id, org_id, f, err)))
        return rc;
    snprintf(f, sizeof f, "%s.org_type", what);
    if ((rc = s_text(c->org_type, NRM_TYPE_MAX, org_type, true, f, err)))
        return rc;
    if (!nrm_org_type_valid(c->org_type))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "%s: unknown organisation type '%s'", f, c->org_type);
    snprintf(f, sizeof f, "%s.name", what);
    if ((rc = s_text(c->name, NRM_NAME_MAX, name, true, f, err)))
        return rc;
    snprintf(f, sizeof f, "%s.jurisdiction", what);
    if ((rc = s_text(c->jurisdiction, NRM_NAME_MAX, jur, false, f, err)))
        return rc;
    snprintf(f, sizeof f, "%s.sign_pk", what);
    if ((rc = s_fixed(c->sign_pk, sign_pk, NRM_PK_BYTES, f, err)))
        return rc;
    snprintf(f, sizeof f, "%s.curve_pk", what);
    if ((rc = s_fixed(c->curve_pk, curve_pk, NRM_PK_BYTES, f, err)))
        return rc;
    snprintf(f, sizeof f, "%s.box_pk", what);
    return s_fixed(c->box_pk, box_pk, NRM_PK_BYTES, f, err);
}

int
nrm_cert_encode(const nrm_cert_t *c, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__Certificate m = NRM__CERTIFICATE__INIT;
    m.org_id = (char *) c->org_id;
    m.org_type = (char *) c->org_type;
    m.name = (char *) c->name;
    m.jurisdiction = (char *) c->jurisdiction;
    m.sign_pk = s_bin(c->sign_pk, NRM_PK_BYTES);
    m.curve_pk = s_bin(c->curve_pk, NRM_PK_BYTES);
    m.box_pk = s_bin(c->box_pk, NRM_PK_BYTES);
    m.not_before_ms = c->not_before_ms;
    m.not_after_ms = c->not_after_ms;
    m.serial = c->serial;
    m.issuer_pk = s_bin(c->issuer_pk, NRM_PK_BYTES);
    m.request_hash = s_bin(c->request_hash, NRM_HASH_BYTES);
    return s_pack(&m.base, out, len, err);
}

int
nrm_cert_decode(const uint8_t *buf, size_t len, nrm_cert_t *c, nrm_err_t *err)
{
    int rc = s_toobig(len, NRM_MAX_CERT_BYTES, "certificate", err);
    if (rc)
        return rc;
    memset(c, 0, sizeof *c);
    UNPACK_OR_REFUSE(m, Nrm__Certificate, nrm__certificate__unpack, buf, len, "certificate");
    if ((rc = s_canonical(&m->base, buf, len, "certificate", err))) {
        nrm__certificate__free_unpacked(m, NULL);
        return rc;
    }
    rc = s_cert_fields(c, m->org_id, m->org_type, m->name, m->jurisdiction, m->sign_pk,
                       m->curve_pk, m->box_pk, "certificate", err);
    if (!rc)
        rc = s_fixed(c->issuer_pk, m->issuer_pk, NRM_PK_BYTES, "certificate.issuer_pk", err);
    if (!rc)
        rc = s_fixed(c->request_hash, m->request_hash, NRM_HASH_BYTES, "certificate.request_hash", err);
    if (!rc && (m->not_after_ms <= m->not_before_ms))
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "certificate: validity ends before it starts");
    c->not_before_ms = m->not_before_ms;
    c->not_after_ms = m->not_after_ms;
    c->serial = m->serial;
    nrm__certificate__free_unpacked(m, NULL);
    return rc;
}

int
nrm_request_encode(const nrm_cert_t *c, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__EnrollRequest m = NRM__ENROLL_REQUEST__INIT;
    m.org_id = (char *) c->org_id;
    m.org_type = (char *) c->org_type;
    m.name = (char *) c->name;
    m.jurisdiction = (char *) c->jurisdiction;
    m.sign_pk = s_bin(c->sign_pk, NRM_PK_BYTES);
    m.curve_pk = s_bin(c->curve_pk, NRM_PK_BYTES);
    m.box_pk = s_bin(c->box_pk, NRM_PK_BYTES);
    m.created_ms = c->created_ms;
    return s_pack(&m.base, out, len, err);
}

int
nrm_request_decode(const uint8_t *buf, size_t len, nrm_cert_t *c, nrm_err_t *err)
{
    int rc = s_toobig(len, NRM_MAX_CERT_BYTES, "enrollment request", err);
    if (rc)
        return rc;
    memset(c, 0, sizeof *c);
    UNPACK_OR_REFUSE(m, Nrm__EnrollRequest, nrm__enroll_request__unpack, buf, len, "enrollment request");
    if ((rc = s_canonical(&m->base, buf, len, "enrollment request", err))) {
        nrm__enroll_request__free_unpacked(m, NULL);
        return rc;
    }
    rc = s_cert_fields(c, m->org_id, m->org_type, m->name, m->jurisdiction, m->sign_pk,
                       m->curve_pk, m->box_pk, "request", err);
    c->created_ms = m->created_ms;
    nrm__enroll_request__free_unpacked(m, NULL);
    return rc;
}

/* ---- genesis ---- */

int
nrm_genesis_encode(const nrm_genesis_t *g, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__Genesis m = NRM__GENESIS__INIT;
    m.network = (char *) g->network;
    m.admin_pk = s_bin(g->admin_pk, NRM_PK_BYTES);
    m.broker_sign_pk = s_bin(g->broker_sign_pk, NRM_PK_BYTES);
    m.broker_curve_pk = s_bin(g->broker_curve_pk, NRM_PK_BYTES);
    m.created_ms = g->created_ms;
    ProtobufCBinaryData signs[NRM_MAX_ADMINS], curves[NRM_MAX_ADMINS];
    if (g->nadmins < 1 || g->nadmins > NRM_MAX_ADMINS || g->quorum < 1 || g->quorum > g->nadmins)
        return nrm_err_set(err, NRM_EINVAL, "genesis: %u administrators, quorum %u", g->nadmins,
                           g->quorum);
    for (uint32_t i = 0; i < g->nadmins; i++) {
        signs[i] = s_bin(g->admin_sign_pks[i], NRM_PK_BYTES);
        curves[i] = s_bin(g->admin_curve_pks[i], NRM_PK_BYTES);
    }
    m.n_admin_sign_pks = m.n_admin_curve_pks = g->nadmins;
    m.admin_sign_pks = signs;
    m.admin_curve_pks = curves;
    m.quorum = g->quorum;
    return s_pack(&m.base, out, len, err);
}

static int
s_find_pk(const uint8_t (*pks)[NRM_PK_BYTES], uint32_t n, const uint8_t pk[NRM_PK_BYTES])
{
    for (uint32_t i = 0; i < n; i++)
        if (memcmp(pks[i], pk, NRM_PK_BYTES) == 0)
            return (int) i;
    return -1;
}

int
nrm_genesis_admin(const nrm_genesis_t *g, const uint8_t pk[NRM_PK_BYTES])
{
    return s_find_pk(g->admin_sign_pks, g->nadmins, pk);
}

int
nrm_genesis_admin_curve(const nrm_genesis_t *g, const uint8_t pk[NRM_PK_BYTES])
{
    return s_find_pk(g->admin_curve_pks, g->nadmins, pk);
}

/* The administrators of a decoded genesis: 1..NRM_MAX_ADMINS distinct
   signing keys, the first being admin_pk, a CURVE key each, a quorum. */
static int
s_genesis_admins(nrm_genesis_t *g, const Nrm__Genesis *m, nrm_err_t *err)
{
    if (m->n_admin_sign_pks < 1 || m->n_admin_sign_pks > NRM_MAX_ADMINS)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "genesis.admin_sign_pks: %zu keys, expected 1-%d",
                              m->n_admin_sign_pks, NRM_MAX_ADMINS);
    if (m->n_admin_curve_pks != m->n_admin_sign_pks)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "genesis: %zu signing keys but %zu CURVE keys",
                              m->n_admin_sign_pks, m->n_admin_curve_pks);
    g->nadmins = (uint32_t) m->n_admin_sign_pks;
    for (uint32_t i = 0; i < g->nadmins; i++) {
        int rc = s_fixed(g->admin_sign_pks[i], m->admin_sign_pks[i], NRM_PK_BYTES,
                         "genesis.admin_sign_pks[]", err);
        if (rc == 0)
            rc = s_fixed(g->admin_curve_pks[i], m->admin_curve_pks[i], NRM_PK_BYTES,
                         "genesis.admin_curve_pks[]", err);
        if (rc)
            return rc;
        if (s_find_pk(g->admin_sign_pks, i, g->admin_sign_pks[i]) >= 0
            || s_find_pk(g->admin_curve_pks, i, g->admin_curve_pks[i]) >= 0)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "genesis: administrator %u repeats a key", i + 1);
    }
    if (memcmp(g->admin_sign_pks[0], g->admin_pk, NRM_PK_BYTES) != 0)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "genesis: the first administrator is not admin_pk");
    if (m->quorum < 1 || m->quorum > g->nadmins)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "genesis.quorum: %u, expected 1-%u",
                              m->quorum, g->nadmins);
    g->quorum = m->quorum;
    return 0;
}

int
nrm_genesis_decode(const uint8_t *buf, size_t len, nrm_genesis_t *g, nrm_err_t *err)
{
    int rc = s_toobig(len, NRM_MAX_CERT_BYTES, "genesis", err);
    if (rc)
        return rc;
    memset(g, 0, sizeof *g);
    UNPACK_OR_REFUSE(m, Nrm__Genesis, nrm__genesis__unpack, buf, len, "genesis");
    if ((rc = s_canonical(&m->base, buf, len, "genesis", err))) {
        nrm__genesis__free_unpacked(m, NULL);
        return rc;
    }
    if ((rc = s_id(g->network, m->network, "genesis.network", err))
        || (rc = s_fixed(g->admin_pk, m->admin_pk, NRM_PK_BYTES, "genesis.admin_pk", err))
        || (rc = s_fixed(g->broker_sign_pk, m->broker_sign_pk, NRM_PK_BYTES, "genesis.broker_sign_pk", err))
        || (rc = s_fixed(g->broker_curve_pk, m->broker_curve_pk, NRM_PK_BYTES, "genesis.broker_curve_pk", err))
        || (rc = s_genesis_admins(g, m, err)))
        goto out;
    g->created_ms = m->created_ms;
out:
    nrm__genesis__free_unpacked(m, NULL);
    return rc;
}

/* ---- signed ---- */

/* ---- batch proof ---- */

/* Most bytes a BatchProof message takes: 8 paths of 32 bytes with their
   tags and lengths, and two varints. */
#define S_PROOF_BYTES_MAX (NRM_BATCH_PATH_MAX * (2 + NRM_HASH_BYTES) + 16)

/* The proof message m (NULL: none) into *p, with its caps and shape. */
static int
s_proof_from_pb(const Nrm__BatchProof *m, nrm_batch_proof_t *p, const char *what, nrm_err_t *err)
{
    memset(p, 0, sizeof *p);
    if (!m)
        return 0;
    if (m->size < 2)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "%s.batch: size %u; a batch proof is for "
                              "batches of 2 or more (a single item is signed directly)", what, m->size);
    if (m->n_path > NRM_BATCH_PATH_MAX)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "%s.batch.path: %zu hashes, over the "
                              "limit of %d", what, m->n_path, NRM_BATCH_PATH_MAX);
    for (size_t i = 0; i < m->n_path; i++) {
        if (m->path[i].len != NRM_HASH_BYTES)
            return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "%s.batch.path[%zu]: %zu bytes, "
                                  "must be %d", what, i, m->path[i].len, NRM_HASH_BYTES);
        memcpy(p->path[i], m->path[i].data, NRM_HASH_BYTES);
    }
    p->index = m->index;
    p->size = m->size;
    p->npath = (uint32_t) m->n_path;
    nrm_err_t why = { 0, 0, "" };
    if (nrm_batch_proof_check(p, &why) != 0) {
        memset(p, 0, sizeof *p);
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "%s.batch: %s", what, why.msg);
    }
    return 0;
}

/* The message of proof p into m (paths borrowed from p, room in bins);
   NULL when p is no proof. */
static Nrm__BatchProof *
s_proof_pb(const nrm_batch_proof_t *p, Nrm__BatchProof *m, ProtobufCBinaryData *bins)
{
    if (!p || p->size == 0)
        return NULL;
    Nrm__BatchProof init = NRM__BATCH_PROOF__INIT;
    *m = init;
    m->index = p->index;
    m->size = p->size;
    size_t n = p->npath <= NRM_BATCH_PATH_MAX ? p->npath : NRM_BATCH_PATH_MAX;
    for (size_t i = 0; i < n; i++)
        bins[i] = s_bin(p->path[i], NRM_HASH_BYTES);
    m->n_path = n;
    m->path = n ? bins : NULL;
    return m;
}

int
nrm_batch_proof_encode(const nrm_batch_proof_t *proof, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__BatchProof m;
    ProtobufCBinaryData bins[NRM_BATCH_PATH_MAX];
    *out = NULL;
    *len = 0;
    if (!s_proof_pb(proof, &m, bins))
        return 0;
    return s_pack(&m.base, out, len, err);
}

int
nrm_batch_proof_decode(const uint8_t *buf, size_t len, nrm_batch_proof_t *proof, nrm_err_t *err)
{
    memset(proof, 0, sizeof *proof);
    if (len == 0)
        return 0;
    int rc = s_toobig(len, S_PROOF_BYTES_MAX, "batch proof", err);
    if (rc)
        return rc;
    UNPACK_OR_REFUSE(m, Nrm__BatchProof, nrm__batch_proof__unpack, buf, len, "batch proof");
    rc = s_proof_from_pb(m, proof, "proof", err);
    nrm__batch_proof__free_unpacked(m, NULL);
    return rc;
}

/* ---- signed ---- */

int
nrm_signed_encode(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                  uint8_t **out, size_t *out_len, nrm_err_t *err)
{
    return nrm_signed_encode_batch(body, len, sig, NULL, out, out_len, err);
}

int
nrm_signed_encode_batch(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                        const nrm_batch_proof_t *proof, uint8_t **out, size_t *out_len,
                        nrm_err_t *err)
{
    Nrm__Signed m = NRM__SIGNED__INIT;
    Nrm__BatchProof pm;
    ProtobufCBinaryData bins[NRM_BATCH_PATH_MAX];
    m.body = s_bin(body, len);
    m.signature = s_bin(sig, NRM_SIG_BYTES);
    m.batch = s_proof_pb(proof, &pm, bins);
    return s_pack(&m.base, out, out_len, err);
}

/* proof NULL: a batch proof is refused (objects signed directly only). */
static int
s_signed_decode(const uint8_t *buf, size_t len, size_t max_body, uint8_t **body,
                size_t *body_len, uint8_t sig[NRM_SIG_BYTES], nrm_batch_proof_t *proof,
                nrm_err_t *err)
{
    *body = NULL;
    *body_len = 0;
    int rc = s_toobig(len, max_body + 128 + (proof ? S_PROOF_BYTES_MAX : 0), "signed object", err);
    if (rc)
        return rc;
    UNPACK_OR_REFUSE(m, Nrm__Signed, nrm__signed__unpack, buf, len, "signed object");
    if ((rc = s_fixed(sig, m->signature, NRM_SIG_BYTES, "signed.signature", err)))
        goto out;
    if (m->body.len == 0 || m->body.len > max_body) {
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "signed.body: %zu bytes, expected 1-%zu",
                            m->body.len, max_body);
        goto out;
    }
    if (!proof && m->batch) {
        rc = nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "signed.batch: this object is signed "
                            "directly, never in a batch");
        goto out;
    }
    if (proof && (rc = s_proof_from_pb(m->batch, proof, "signed", err)))
        goto out;
    *body = malloc(m->body.len);
    if (!*body) {
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(*body, m->body.data, m->body.len);
    *body_len = m->body.len;
out:
    nrm__signed__free_unpacked(m, NULL);
    return rc;
}

int
nrm_signed_decode(const uint8_t *buf, size_t len, size_t max_body, uint8_t **body,
                  size_t *body_len, uint8_t sig[NRM_SIG_BYTES], nrm_err_t *err)
{
    return s_signed_decode(buf, len, max_body, body, body_len, sig, NULL, err);
}

int
nrm_signed_decode_batch(const uint8_t *buf, size_t len, size_t max_body, uint8_t **body,
                        size_t *body_len, uint8_t sig[NRM_SIG_BYTES], nrm_batch_proof_t *proof,
                        nrm_err_t *err)
{
    return s_signed_decode(buf, len, max_body, body, body_len, sig, proof, err);
}

int
nrm_signed_encode_cosigs(const uint8_t *body, size_t len, const uint8_t sig[NRM_SIG_BYTES],
                         const nrm_cosig_t *cosigs, size_t ncosigs, uint8_t **out,
                         size_t *out_len, nrm_err_t *err)
{
    Nrm__Signed m = NRM__SIGNED__INIT;
    Nrm__Cosignature cs[NRM_MAX_ADMINS], *csp[NRM_MAX_ADMINS];
    if (ncosigs >= NRM_MAX_ADMINS)
        return nrm_err_set(err, NRM_EINVAL, "%zu cosignatures, at most %d", ncosigs, NRM_MAX_ADMINS - 1);
    for (size_t i = 0; i < ncosigs; i++) {
        Nrm__Cosignature init = NRM__COSIGNATURE__INIT;
        cs[i] = init;
        cs[i].signer_pk = s_bin(cosigs[i].signer_pk, NRM_PK_BYTES);
        cs[i].signature = s_bin(cosigs[i].sig, NRM_SIG_BYTES);
        csp[i] = &cs[i];
    }
    m.body = s_bin(body, len);
    m.signature = s_bin(sig, NRM_SIG_BYTES);
    m.n_cosignatures = ncosigs;
    m.cosignatures = ncosigs ? csp : NULL;
    return s_pack(&m.base, out, out_len, err);
}

static int
s_cosigs(Nrm__Cosignature *const *in, size_t n, nrm_cosig_t *out, const char *what, nrm_err_t *err)
{
    if (n >= NRM_MAX_ADMINS)
        return nrm_err_refuse(err, NRM_R_TOO_BIG, "%s.cosignatures: %zu, at most %d", what, n,
                              NRM_MAX_ADMINS - 1);
    for (size_t i = 0; i < n; i++) {
        int rc = s_fixed(out[i].signer_pk, in[i]->signer_pk, NRM_PK_BYTES, "cosignature.signer_pk", err);
        if (rc == 0)
            rc = s_fixed(out[i].sig, in[i]->signature, NRM_SIG_BYTES, "cosignature.signature", err);
        if (rc)
            return rc;
    }
    return 0;
}

int
nrm_signed_decode_cosigs(const uint8_t *buf, size_t len, size_t max_body, uint8_t **body,
                         size_t *body_len, uint8_t sig[NRM_SIG_BYTES], nrm_cosig_t *cosigs,
                         size_t *ncosigs, nrm_err_t *err)
{
    *ncosigs = 0;
    int rc = nrm_signed_decode(buf, len, max_body + NRM_MAX_ADMINS * 104, body, body_len, sig, err);
    if (rc)
        return rc;
    if (*body_len > max_body) {
        rc = nrm_err_refuse(err, NRM_R_TOO_BIG, "signed.body: %zu bytes, over %zu", *body_len, max_body);
        goto out;
    }
    Nrm__Signed *m = nrm__signed__unpack(NULL, len, buf);
    if (!m) {
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
        goto out;
    }
    rc = s_cosigs(m->cosignatures, m->n_cosignatures, cosigs, "signed", err);
    if (rc == 0)
        *ncosigs = m->n_cosignatures;
    nrm__signed__free_unpacked(m, NULL);
out:
    if (rc) {
        free(*body);
        *body = NULL;
        *body_len = 0;
    }
    return rc;
}

/* ---- admin action ---- */

int
nrm_action_encode(const nrm_action_t *a, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__AdminAction m = NRM__ADMIN_ACTION__INIT;
    m.action = (uint32_t) a->action;
    m.org_id = (char *) a->org_id;
    m.admin_pk = s_bin(a->admin_pk, NRM_PK_BYTES);
    m.created_ms = a->created_ms;
    m.reason = (char *) a->reason;
    m.request = s_bin(a->request, a->request_len);
    m.cert_body = s_bin(a->cert_body, a->cert_len);
    if (a->has_cert_sig)
        m.cert_sig = s_bin(a->cert_sig, NRM_SIG_BYTES);
    m.policy_text = s_bin(a->policy_text, a->policy_len);
    m.policy_version = a->policy_version;
    m.request_seq = a->request_seq;
    return s_pack(&m.base, out, len, err);
}

static int
s_copy_bin(uint8_t **dst, size_t *dst_len, ProtobufCBinaryData b, size_t cap, const char *what,
           nrm_err_t *err)
{
    if (b.len > cap)
        return nrm_err_refuse(err, NRM_R_TOO_BIG, "%s: %zu bytes, over the limit of %zu", what, b.len, cap);
    if (b.len == 0)
        return 0;
    *dst = malloc(b.len);
    if (!*dst)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    memcpy(*dst, b.data, b.len);
    *dst_len = b.len;
    return 0;
}

/* The fields each action needs (docs/administration.md). */
static int
s_action_check(const nrm_action_t *a, nrm_err_t *err)
{
    bool org = a->action != NRM_REC_POLICY;
    bool request = a->action == NRM_REC_REQUESTED || a->action == NRM_REC_ROTATE_REQUESTED;
    if (a->action != NRM_REC_REQUESTED && a->action != NRM_REC_APPROVED
        && a->action != NRM_REC_REVOKED && a->action != NRM_REC_SUSPENDED
        && a->action != NRM_REC_RESUMED && a->action != NRM_REC_POLICY
        && a->action != NRM_REC_ROTATE_REQUESTED && a->action != NRM_REC_CANCELLED)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "admin action: unknown action %d", a->action);
    if (org != (a->org_id[0] != '\0'))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "admin action %s: org_id %s",
                              nrm_record_kind_name(a->action), org ? "missing" : "not expected");
    if (request != (a->request_len > 0))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "admin action %s: request %s",
                              nrm_record_kind_name(a->action), request ? "missing" : "not expected");
    if ((a->action == NRM_REC_APPROVED) != (a->cert_len > 0 && a->has_cert_sig))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "admin action %s: certificate and its signature %s",
                              nrm_record_kind_name(a->action),
                              a->action == NRM_REC_APPROVED ? "missing" : "not expected");
    if ((a->action == NRM_REC_POLICY) != (a->policy_len > 0 && a->policy_version > 0))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "admin action %s: policy text and version %s",
                              nrm_record_kind_name(a->action),
                              a->action == NRM_REC_POLICY ? "missing" : "not expected");
    if ((a->action == NRM_REC_CANCELLED) != (a->request_seq > 0))
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "admin action %s: request_seq %s",
                              nrm_record_kind_name(a->action),
                              a->action == NRM_REC_CANCELLED ? "missing" : "not expected");
    if (a->action == NRM_REC_CANCELLED && a->reason[0] == '\0')
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "admin action CANCELLED: reason missing");
    return 0;
}

int
nrm_action_decode(const uint8_t *buf, size_t len, nrm_action_t *a, nrm_err_t *err)
{
    memset(a, 0, sizeof *a);
    int rc = s_toobig(len, NRM_MAX_ACTION_BYTES, "admin action", err);
    if (rc)
        return rc;
    UNPACK_OR_REFUSE(m, Nrm__AdminAction, nrm__admin_action__unpack, buf, len, "admin action");
    if ((rc = s_canonical(&m->base, buf, len, "admin action", err)))
        goto out;
    a->action = (int) m->action;
    a->created_ms = m->created_ms;
    a->policy_version = m->policy_version;
    a->request_seq = m->request_seq;
    if (m->org_id && m->org_id[0] && (rc = s_id(a->org_id, m->org_id, "admin action.org_id", err)))
        goto out;
    if ((rc = s_fixed(a->admin_pk, m->admin_pk, NRM_PK_BYTES, "admin action.admin_pk", err))
        || (rc = s_text(a->reason, NRM_REASON_MAX, m->reason, false, "admin action.reason", err))
        || (rc = s_copy_bin(&a->request, &a->request_len, m->request, NRM_MAX_CERT_BYTES,
                            "admin action.request", err))
        || (rc = s_copy_bin(&a->cert_body, &a->cert_len, m->cert_body, NRM_MAX_CERT_BYTES,
                            "admin action.cert_body", err))
        || (rc = s_copy_bin(&a->policy_text, &a->policy_len, m->policy_text, NRM_MAX_POLICY_BYTES,
                            "admin action.policy_text", err)))
        goto out;
    if (m->cert_sig.len) {
        if ((rc = s_fixed(a->cert_sig, m->cert_sig, NRM_SIG_BYTES, "admin action.cert_sig", err)))
            goto out;
        a->has_cert_sig = true;
    }
    rc = s_action_check(a, err);
out:
    nrm__admin_action__free_unpacked(m, NULL);
    if (rc)
        nrm_action_clear(a);
    return rc;
}

void
nrm_action_clear(nrm_action_t *a)
{
    if (!a)
        return;
    free(a->request);
    free(a->cert_body);
    free(a->policy_text);
    a->request = a->cert_body = a->policy_text = NULL;
    a->request_len = a->cert_len = a->policy_len = 0;
}

/* ---- ack ---- */

int
nrm_ack_encode(const nrm_ack_t *a, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__Ack m = NRM__ACK__INIT;
    m.msg_id = s_bin(a->msg_id, NRM_MSGID_BYTES);
    m.recipient = (char *) a->recipient;
    m.accepted_seq = a->accepted_seq;
    m.body_hash = s_bin(a->body_hash, NRM_HASH_BYTES);
    m.time_ms = a->time_ms;
    m.status = a->status;
    m.reason = (char *) a->reason;
    return s_pack(&m.base, out, len, err);
}

int
nrm_ack_decode(const uint8_t *buf, size_t len, nrm_ack_t *a, nrm_err_t *err)
{
    int rc = s_toobig(len, 1024, "ack", err);
    if (rc)
        return rc;
    memset(a, 0, sizeof *a);
    UNPACK_OR_REFUSE(m, Nrm__Ack, nrm__ack__unpack, buf, len, "ack");
    if ((rc = s_canonical(&m->base, buf, len, "ack", err))) {
        nrm__ack__free_unpacked(m, NULL);
        return rc;
    }
    if ((rc = s_fixed(a->msg_id, m->msg_id, NRM_MSGID_BYTES, "ack.msg_id", err))
        || (rc = s_id(a->recipient, m->recipient, "ack.recipient", err))
        || (rc = s_fixed(a->body_hash, m->body_hash, NRM_HASH_BYTES, "ack.body_hash", err))
        || (rc = s_text(a->reason, NRM_REASON_MAX, m->reason, false, "ack.reason", err)))
        goto out;
    a->accepted_seq = m->accepted_seq;
    a->time_ms = m->time_ms;
    a->status = m->status;
out:
    nrm__ack__free_unpacked(m, NULL);
    return rc;
}

/* ---- receipt ---- */

int
nrm_receipt_encode(const nrm_receipt_t *r, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__Receipt m = NRM__RECEIPT__INIT;
    if (r->has_msg_id)
        m.msg_id = s_bin(r->msg_id, NRM_MSGID_BYTES);
    m.frame_hash = s_bin(r->frame_hash, NRM_HASH_BYTES);
    m.status = r->status;
    m.reason = (char *) r->reason;
    m.seq = r->seq;
    m.record_hash = s_bin(r->record_hash, NRM_HASH_BYTES);
    m.time_ms = r->time_ms;
    return s_pack(&m.base, out, len, err);
}

int
nrm_receipt_decode(const uint8_t *buf, size_t len, nrm_receipt_t *r, nrm_err_t *err)
{
    int rc = s_toobig(len, 1024, "receipt", err);
    if (rc)
        return rc;
    memset(r, 0, sizeof *r);
    UNPACK_OR_REFUSE(m, Nrm__Receipt, nrm__receipt__unpack, buf, len, "receipt");
    if ((rc = s_canonical(&m->base, buf, len, "receipt", err))) {
        nrm__receipt__free_unpacked(m, NULL);
        return rc;
    }
    if (m->msg_id.len) {
        if ((rc = s_fixed(r->msg_id, m->msg_id, NRM_MSGID_BYTES, "receipt.msg_id", err)))
            goto out;
        r->has_msg_id = true;
    }
    if ((rc = s_fixed(r->frame_hash, m->frame_hash, NRM_HASH_BYTES, "receipt.frame_hash", err))
        || (rc = s_fixed(r->record_hash, m->record_hash, NRM_HASH_BYTES, "receipt.record_hash", err))
        || (rc = s_text(r->reason, NRM_REASON_MAX, m->reason, false, "receipt.reason", err)))
        goto out;
    r->status = m->status;
    r->seq = m->seq;
    r->time_ms = m->time_ms;
out:
    nrm__receipt__free_unpacked(m, NULL);
    return rc;
}

/* ---- audit record ---- */

bool
nrm_record_kind_valid(int kind)
{
    return (kind >= NRM_REC_GENESIS && kind <= NRM_REC_LAST_) || kind == NRM_REC_CHECKPOINT
           || kind == NRM_REC_ESCALATED || kind == NRM_REC_PURGED;
}

int
nrm_record_encode(const nrm_record_t *rec, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__Record m = NRM__RECORD__INIT;
    m.seq = rec->seq;
    m.time_ms = rec->time_ms;
    m.kind = (Nrm__RecordKind) rec->kind;
    m.prev_hash = s_bin(rec->prev_hash, NRM_HASH_BYTES);
    m.actor = (char *) rec->actor;
    m.subject = s_bin(rec->subject, rec->subject_len);
    if (rec->has_signature)
        m.signature = s_bin(rec->signature, NRM_SIG_BYTES);
    if (rec->has_msg_id)
        m.msg_id = s_bin(rec->msg_id, NRM_MSGID_BYTES);
    m.reason_code = rec->reason_code;
    m.reason = (char *) rec->reason;
    if (rec->has_frame_hash)
        m.frame_hash = s_bin(rec->frame_hash, NRM_HASH_BYTES);
    m.frame_size = rec->frame_size;
    m.refers_to = rec->refers_to;
    Nrm__BatchProof pm;
    ProtobufCBinaryData bins[NRM_BATCH_PATH_MAX];
    m.batch = s_proof_pb(&rec->batch, &pm, bins);
    return s_pack(&m.base, out, len, err);
}

int
nrm_record_decode(const uint8_t *buf, size_t len, nrm_record_t *rec, nrm_err_t *err)
{
    memset(rec, 0, sizeof *rec);
    int rc = s_toobig(len, NRM_MAX_RECORD_BYTES, "record", err);
    if (rc)
        return rc;
    UNPACK_OR_REFUSE(m, Nrm__Record, nrm__record__unpack, buf, len, "record");
    rec->seq = m->seq;
    rec->time_ms = m->time_ms;
    rec->kind = (int) m->kind;
    if (!nrm_record_kind_valid(rec->kind)) {
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "record.kind: unknown kind %d", rec->kind);
        goto out;
    }
    if ((rc = s_fixed(rec->prev_hash, m->prev_hash, NRM_HASH_BYTES, "record.prev_hash", err))
        || (rc = s_text(rec->actor, NRM_ID_MAX, m->actor, true, "record.actor", err))
        || (rc = s_text(rec->reason, NRM_REASON_MAX, m->reason, false, "record.reason", err)))
        goto out;
    if (m->signature.len) {
        if ((rc = s_fixed(rec->signature, m->signature, NRM_SIG_BYTES, "record.signature", err)))
            goto out;
        rec->has_signature = true;
    }
    if (m->msg_id.len) {
        if ((rc = s_fixed(rec->msg_id, m->msg_id, NRM_MSGID_BYTES, "record.msg_id", err)))
            goto out;
        rec->has_msg_id = true;
    }
    if (m->frame_hash.len) {
        if ((rc = s_fixed(rec->frame_hash, m->frame_hash, NRM_HASH_BYTES, "record.frame_hash", err)))
            goto out;
        rec->has_frame_hash = true;
    }
    rec->reason_code = m->reason_code;
    rec->frame_size = m->frame_size;
    rec->refers_to = m->refers_to;
    if (m->batch && !m->signature.len) {
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "record.batch: a batch proof without a signature");
        goto out;
    }
    if ((rc = s_proof_from_pb(m->batch, &rec->batch, "record", err)))
        goto out;
    if (m->subject.len) {
        rec->subject = malloc(m->subject.len);
        if (!rec->subject) {
            rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
            goto out;
        }
        memcpy(rec->subject, m->subject.data, m->subject.len);
        rec->subject_len = m->subject.len;
    }
out:
    nrm__record__free_unpacked(m, NULL);
    if (rc)
        nrm_record_clear(rec);
    return rc;
}

void
nrm_record_clear(nrm_record_t *rec)
{
    if (!rec)
        return;
    free(rec->subject);
    rec->subject = NULL;
    rec->subject_len = 0;
}

/* ---- notice ---- */

int
nrm_notice_encode(const nrm_notice_t *n, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__Notice m = NRM__NOTICE__INIT;
    m.kind = n->kind;
    m.msg_id = s_bin(n->msg_id, NRM_MSGID_BYTES);
    m.case_ref = (char *) n->case_ref;
    m.sender = (char *) n->sender;
    m.recipient = (char *) n->recipient;
    m.type = (char *) n->type;
    m.due_ms = n->due_ms;
    m.seq = n->seq;
    m.record_hash = s_bin(n->record_hash, NRM_HASH_BYTES);
    m.time_ms = n->time_ms;
    m.addressee = (char *) n->addressee;
    return s_pack(&m.base, out, len, err);
}

int
nrm_notice_decode(const uint8_t *buf, size_t len, nrm_notice_t *n, nrm_err_t *err)
{
    int rc = s_toobig(len, 1024, "notice", err);
    if (rc)
        return rc;
    memset(n, 0, sizeof *n);
    UNPACK_OR_REFUSE(m, Nrm__Notice, nrm__notice__unpack, buf, len, "notice");
    if ((rc = s_canonical(&m->base, buf, len, "notice", err)))
        goto out;
    if (m->kind != NRM_NOTICE_ESCALATED && m->kind != NRM_NOTICE_PURGED) {
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "notice.kind: unknown kind %u", m->kind);
        goto out;
    }
    n->kind = m->kind;
    if ((rc = s_fixed(n->msg_id, m->msg_id, NRM_MSGID_BYTES, "notice.msg_id", err))
        || (rc = s_id(n->case_ref, m->case_ref, "notice.case_ref", err))
        || (rc = s_id(n->sender, m->sender, "notice.sender", err))
        || (rc = s_id(n->recipient, m->recipient, "notice.recipient", err))
        || (rc = s_text(n->type, NRM_TYPE_MAX, m->type, true, "notice.type", err))
        || (rc = s_fixed(n->record_hash, m->record_hash, NRM_HASH_BYTES, "notice.record_hash", err))
        || (rc = s_id(n->addressee, m->addressee, "notice.addressee", err)))
        goto out;
    if (!nrm_msg_type_valid(n->type)) {
        rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "notice.type: unknown message type '%s'", n->type);
        goto out;
    }
    n->due_ms = m->due_ms;
    n->seq = m->seq;
    n->time_ms = m->time_ms;
out:
    nrm__notice__free_unpacked(m, NULL);
    return rc;
}

/* ---- wire messages ---- */

typedef struct {
    nrm_wire_t view;
    ProtobufCMessage *pb;       /* Nrm__ClientMsg or Nrm__ServerMsg */
    nrm_cosig_t *cosigs;        /* cosignatures of the certificates */
    size_t ncosigs, cosig_cap;
} s_wire_t;

static Nrm__Signed
s_signed_pb(nrm_signed_view_t v)
{
    Nrm__Signed s = NRM__SIGNED__INIT;
    s.body = s_bin(v.body.data, v.body.len);
    s.signature = s_bin(v.sig.data, v.sig.len);
    return s;
}

/* A certificate with its cosignatures; cs and csp have room for
   v.ncosigs entries. */
static Nrm__Signed
s_cert_pb(nrm_signed_view_t v, Nrm__Cosignature *cs, Nrm__Cosignature **csp)
{
    Nrm__Signed s = s_signed_pb(v);
    for (size_t i = 0; i < v.ncosigs; i++) {
        Nrm__Cosignature init = NRM__COSIGNATURE__INIT;
        cs[i] = init;
        cs[i].signer_pk = s_bin(v.cosigs[i].signer_pk, NRM_PK_BYTES);
        cs[i].signature = s_bin(v.cosigs[i].sig, NRM_SIG_BYTES);
        csp[i] = &cs[i];
    }
    s.n_cosignatures = v.ncosigs;
    s.cosignatures = v.ncosigs ? csp : NULL;
    return s;
}

static nrm_bytes_t
s_bytes(ProtobufCBinaryData b)
{
    nrm_bytes_t v = { b.data, b.len };
    return v;
}

/* proof NULL: the object is signed directly, a batch proof is refused. */
static int
s_signed_view(const Nrm__Signed *s, nrm_signed_view_t *v, size_t max_body,
              nrm_batch_proof_t *proof, const char *what, nrm_err_t *err)
{
    if (!s)
        return nrm_err_refuse(err, NRM_R_MALFORMED, "%s: missing", what);
    if (!proof && s->batch)
        return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "%s.batch: signed directly, never in a "
                              "batch", what);
    if (proof) {
        int rc = s_proof_from_pb(s->batch, proof, what, err);
        if (rc)
            return rc;
    }
    if (s->signature.len != NRM_SIG_BYTES)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "%s.signature: must be %d bytes",
                              what, NRM_SIG_BYTES);
    if (s->body.len == 0 || s->body.len > max_body)
        return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "%s.body: %zu bytes, expected 1-%zu",
                              what, s->body.len, max_body);
    v->body = s_bytes(s->body);
    v->sig = s_bytes(s->signature);
    v->ncosigs = 0;
    v->cosigs = NULL;
    return 0;
}

/* A certificate view: also its cosignatures, copied into the wire's store
   (room reserved by the caller). */
static int
s_cert_view(s_wire_t *self, const Nrm__Signed *s, nrm_signed_view_t *v, const char *what,
            nrm_err_t *err)
{
    int rc = s_signed_view(s, v, NRM_MAX_CERT_BYTES, NULL, what, err);
    if (rc)
        return rc;
    if (s->n_cosignatures == 0)
        return 0;
    if (self->ncosigs + s->n_cosignatures > self->cosig_cap)
        return nrm_err_refuse(err, NRM_R_TOO_BIG, "%s: too many cosignatures", what);
    nrm_cosig_t *at = self->cosigs + self->ncosigs;
    if ((rc = s_cosigs(s->cosignatures, s->n_cosignatures, at, what, err)))
        return rc;
    self->ncosigs += s->n_cosignatures;
    v->cosigs = at;
    v->ncosigs = s->n_cosignatures;
    return 0;
}

static int
s_cosig_reserve(s_wire_t *self, size_t n, nrm_err_t *err)
{
    if (n == 0)
        return 0;
    self->cosigs = calloc(n, sizeof *self->cosigs);
    if (!self->cosigs)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    self->cosig_cap = n;
    return 0;
}

static int
s_encode_client(const nrm_wire_t *w, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__ClientMsg m = NRM__CLIENT_MSG__INIT;
    Nrm__Hello hello = NRM__HELLO__INIT;
    Nrm__Submit submit = NRM__SUBMIT__INIT;
    Nrm__Signed ack = NRM__SIGNED__INIT;
    Nrm__StatusQuery status = NRM__STATUS_QUERY__INIT;
    Nrm__Ping ping = NRM__PING__INIT;
    Nrm__CheckpointRequest creq = NRM__CHECKPOINT_REQUEST__INIT;
    Nrm__BatchProof pm;
    ProtobufCBinaryData bins[NRM_BATCH_PATH_MAX];
    ProtobufCBinaryData *ids = NULL;
    int rc;
    switch (w->kind) {
    case NRM_WIRE_HELLO:
        hello.version = w->version;
        hello.org_id = (char *) (w->org_id ? w->org_id : "");
        hello.time_ms = w->time_ms;
        hello.observer = w->observer;
        hello.directory = s_bin(w->directory.data, w->directory.len);
        m.m_case = NRM__CLIENT_MSG__M_HELLO;
        m.hello = &hello;
        break;
    case NRM_WIRE_SUBMIT:
        submit.envelope = s_bin(w->envelope.data, w->envelope.len);
        submit.signature = s_bin(w->signature.data, w->signature.len);
        submit.sealed_body = s_bin(w->sealed_body.data, w->sealed_body.len);
        submit.batch = s_proof_pb(&w->batch, &pm, bins);
        m.m_case = NRM__CLIENT_MSG__M_SUBMIT;
        m.submit = &submit;
        break;
    case NRM_WIRE_ACK:
        ack = s_signed_pb(w->signed_obj);
        ack.batch = s_proof_pb(&w->batch, &pm, bins);
        m.m_case = NRM__CLIENT_MSG__M_ACK;
        m.ack = &ack;
        break;
    case NRM_WIRE_STATUS:
        if (w->count) {
            ids = calloc(w->count, sizeof *ids);
            if (!ids)
                return nrm_err_set(err, NRM_ENOMEM, "out of memory");
            for (size_t i = 0; i < w->count; i++)
                ids[i] = s_bin(w->ids[i].data, w->ids[i].len);
        }
        status.n_msg_ids = w->count;
        status.msg_ids = ids;
        m.m_case = NRM__CLIENT_MSG__M_STATUS;
        m.status = &status;
        break;
    case NRM_WIRE_PING:
        ping.time_ms = w->time_ms;
        m.m_case = NRM__CLIENT_MSG__M_PING;
        m.ping = &ping;
        break;
    case NRM_WIRE_ADMIN:
        ack = s_signed_pb(w->signed_obj);
        m.m_case = NRM__CLIENT_MSG__M_ADMIN;
        m.admin = &ack;
        break;
    case NRM_WIRE_CHECKPOINT_REQUEST:
        creq.old_size = w->old_size;
        m.m_case = NRM__CLIENT_MSG__M_CHECKPOINT;
        m.checkpoint = &creq;
        break;
    default:
        return nrm_err_set(err, NRM_EINVAL, "not a client message kind: %d", w->kind);
    }
    rc = s_pack(&m.base, out, len, err);
    free(ids);
    return rc;
}

static int
s_encode_server(const nrm_wire_t *w, uint8_t **out, size_t *len, nrm_err_t *err)
{
    Nrm__ServerMsg m = NRM__SERVER_MSG__INIT;
    Nrm__Welcome welcome = NRM__WELCOME__INIT;
    Nrm__Signed receipt = NRM__SIGNED__INIT, sender_cert = NRM__SIGNED__INIT;
    Nrm__Signed notice = NRM__SIGNED__INIT;
    Nrm__Deliver deliver = NRM__DELIVER__INIT;
    Nrm__StatusReply reply = NRM__STATUS_REPLY__INIT;
    Nrm__Pong pong = NRM__PONG__INIT;
    Nrm__Checkpoint ckpt = NRM__CHECKPOINT__INIT;
    ProtobufCBinaryData *proof = NULL;
    Nrm__Signed *certs = NULL, **certp = NULL;
    Nrm__MsgStatus *items = NULL, **itemp = NULL;
    Nrm__Cosignature *cs = NULL, **csp = NULL;
    Nrm__BatchProof pm;
    ProtobufCBinaryData bins[NRM_BATCH_PATH_MAX];
    size_t ncs = 0;
    int rc = 0;
    switch (w->kind) {
    case NRM_WIRE_WELCOME:
        welcome.time_ms = w->time_ms;
        if (w->count) {
            for (size_t i = 0; i < w->count; i++)
                ncs += w->certs[i].ncosigs;
            certs = calloc(w->count, sizeof *certs);
            certp = calloc(w->count, sizeof *certp);
            cs = calloc(ncs + 1, sizeof *cs);
            csp = calloc(ncs + 1, sizeof *csp);
            if (!certs || !certp || !cs || !csp) {
                rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
                goto out;
            }
            ncs = 0;
            for (size_t i = 0; i < w->count; i++) {
                certs[i] = s_cert_pb(w->certs[i], cs + ncs, csp + ncs);
                ncs += w->certs[i].ncosigs;
                certp[i] = &certs[i];
            }
        }
        welcome.n_certificates = w->count;
        welcome.certificates = certp;
        welcome.directory = s_bin(w->directory.data, w->directory.len);
        welcome.unchanged = w->unchanged;
        m.m_case = NRM__SERVER_MSG__M_WELCOME;
        m.welcome = &welcome;
        break;
    case NRM_WIRE_RECEIPT:
        receipt = s_signed_pb(w->signed_obj);
        receipt.batch = s_proof_pb(&w->batch, &pm, bins);
        m.m_case = NRM__SERVER_MSG__M_RECEIPT;
        m.receipt = &receipt;
        break;
    case NRM_WIRE_DELIVER:
        deliver.seq = w->seq;
        deliver.envelope = s_bin(w->envelope.data, w->envelope.len);
        deliver.signature = s_bin(w->signature.data, w->signature.len);
        deliver.sealed_body = s_bin(w->sealed_body.data, w->sealed_body.len);
        deliver.batch = s_proof_pb(&w->batch, &pm, bins);
        if (w->signed_obj.ncosigs >= NRM_MAX_ADMINS)
            return nrm_err_set(err, NRM_EINVAL, "deliver: too many cosignatures");
        cs = calloc(NRM_MAX_ADMINS, sizeof *cs);
        csp = calloc(NRM_MAX_ADMINS, sizeof *csp);
        if (!cs || !csp) {
            rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
            goto out;
        }
        sender_cert = s_cert_pb(w->signed_obj, cs, csp);
        deliver.sender_cert = &sender_cert;
        m.m_case = NRM__SERVER_MSG__M_DELIVER;
        m.deliver = &deliver;
        break;
    case NRM_WIRE_STATUS_REPLY:
        if (w->count) {
            items = calloc(w->count, sizeof *items);
            itemp = calloc(w->count, sizeof *itemp);
            if (!items || !itemp) {
                rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < w->count; i++) {
                Nrm__MsgStatus init = NRM__MSG_STATUS__INIT;
                items[i] = init;
                items[i].msg_id = s_bin(w->items[i].msg_id, NRM_MSGID_BYTES);
                items[i].state = w->items[i].state;
                items[i].accepted_seq = w->items[i].accepted_seq;
                items[i].delivered_seq = w->items[i].delivered_seq;
                itemp[i] = &items[i];
            }
        }
        reply.n_items = w->count;
        reply.items = itemp;
        m.m_case = NRM__SERVER_MSG__M_STATUS;
        m.status = &reply;
        break;
    case NRM_WIRE_PONG:
        pong.time_ms = w->time_ms;
        m.m_case = NRM__SERVER_MSG__M_PONG;
        m.pong = &pong;
        break;
    case NRM_WIRE_ADMIN_RECEIPT:
        receipt = s_signed_pb(w->signed_obj);
        m.m_case = NRM__SERVER_MSG__M_ADMIN_RECEIPT;
        m.admin_receipt = &receipt;
        break;
    case NRM_WIRE_CHECKPOINT:
        ckpt.note = s_bin(w->note.data, w->note.len);
        ckpt.old_size = w->old_size;
        if (w->proof_count) {
            proof = calloc(w->proof_count, sizeof *proof);
            if (!proof) {
                rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
                goto out;
            }
            for (size_t i = 0; i < w->proof_count; i++)
                proof[i] = s_bin(w->proof[i].data, w->proof[i].len);
        }
        ckpt.n_proof = w->proof_count;
        ckpt.proof = proof;
        m.m_case = NRM__SERVER_MSG__M_CHECKPOINT;
        m.checkpoint = &ckpt;
        break;
    case NRM_WIRE_NOTICE:
        notice = s_signed_pb(w->signed_obj);
        m.m_case = NRM__SERVER_MSG__M_NOTICE;
        m.notice = &notice;
        break;
    default:
        return nrm_err_set(err, NRM_EINVAL, "not a server message kind: %d", w->kind);
    }
    rc = s_pack(&m.base, out, len, err);
out:
    free(cs);
    free(csp);
    free(certs);
    free(certp);
    free(items);
    free(itemp);
    free(proof);
    return rc;
}

int
nrm_wire_encode(const nrm_wire_t *w, uint8_t **out, size_t *len, nrm_err_t *err)
{
    return w->kind < NRM_WIRE_WELCOME ? s_encode_client(w, out, len, err)
                                      : s_encode_server(w, out, len, err);
}

static int
s_decode_client(s_wire_t *self, const uint8_t *buf, size_t len, nrm_err_t *err)
{
    nrm_wire_t *w = &self->view;
    Nrm__ClientMsg *m = nrm__client_msg__unpack(NULL, len, buf);
    if (!m)
        return nrm_err_refuse(err, NRM_R_MALFORMED, "frame: does not decode as a client message");
    self->pb = &m->base;
    switch (m->m_case) {
    case NRM__CLIENT_MSG__M_HELLO:
        w->kind = NRM_WIRE_HELLO;
        w->version = m->hello->version;
        w->time_ms = m->hello->time_ms;
        w->observer = m->hello->observer;
        if (!nrm_id_valid(m->hello->org_id))
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "hello.org_id: not a valid id");
        w->org_id = m->hello->org_id;
        w->directory = s_bytes(m->hello->directory);
        if (w->directory.len != 0 && w->directory.len != NRM_HASH_BYTES)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "hello.directory: %zu bytes, must be %d or none",
                                  w->directory.len, NRM_HASH_BYTES);
        return 0;
    case NRM__CLIENT_MSG__M_SUBMIT:
        w->kind = NRM_WIRE_SUBMIT;
        w->envelope = s_bytes(m->submit->envelope);
        w->signature = s_bytes(m->submit->signature);
        w->sealed_body = s_bytes(m->submit->sealed_body);
        if (w->envelope.len == 0)
            return nrm_err_refuse(err, NRM_R_MALFORMED, "submit.envelope: missing");
        if (w->envelope.len > NRM_MAX_ENVELOPE_BYTES)
            return nrm_err_refuse(err, NRM_R_TOO_BIG, "submit.envelope: %zu bytes, over the limit of %u",
                                  w->envelope.len, NRM_MAX_ENVELOPE_BYTES);
        if (w->signature.len != NRM_SIG_BYTES)
            return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "submit.signature: must be %d bytes, got %zu",
                                  NRM_SIG_BYTES, w->signature.len);
        if (w->sealed_body.len > NRM_MAX_BODY_BYTES)
            return nrm_err_refuse(err, NRM_R_TOO_BIG, "submit.sealed_body: %zu bytes, over the limit of %u",
                                  w->sealed_body.len, NRM_MAX_BODY_BYTES);
        return s_proof_from_pb(m->submit->batch, &w->batch, "submit", err);
    case NRM__CLIENT_MSG__M_ACK:
        w->kind = NRM_WIRE_ACK;
        return s_signed_view(m->ack, &w->signed_obj, 1024, &w->batch, "ack", err);
    case NRM__CLIENT_MSG__M_STATUS:
        w->kind = NRM_WIRE_STATUS;
        if (m->status->n_msg_ids > NRM_MAX_STATUS_IDS)
            return nrm_err_refuse(err, NRM_R_TOO_BIG, "status.msg_ids: %zu ids, over the limit of %d",
                                  m->status->n_msg_ids, NRM_MAX_STATUS_IDS);
        w->count = m->status->n_msg_ids;
        if (w->count) {
            w->ids = calloc(w->count, sizeof *w->ids);
            if (!w->ids)
                return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < w->count; i++) {
            if (m->status->msg_ids[i].len != NRM_MSGID_BYTES)
                return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "status.msg_ids[%zu]: must be %d bytes",
                                      i, NRM_MSGID_BYTES);
            w->ids[i] = s_bytes(m->status->msg_ids[i]);
        }
        return 0;
    case NRM__CLIENT_MSG__M_PING:
        w->kind = NRM_WIRE_PING;
        w->time_ms = m->ping->time_ms;
        return 0;
    case NRM__CLIENT_MSG__M_ADMIN:
        w->kind = NRM_WIRE_ADMIN;
        return s_signed_view(m->admin, &w->signed_obj, NRM_MAX_ACTION_BYTES, NULL, "admin", err);
    case NRM__CLIENT_MSG__M_CHECKPOINT:
        w->kind = NRM_WIRE_CHECKPOINT_REQUEST;
        w->old_size = m->checkpoint->old_size;
        return 0;
    default:
        return nrm_err_refuse(err, NRM_R_MALFORMED, "frame: empty or unknown client message");
    }
}

static int
s_decode_server(s_wire_t *self, const uint8_t *buf, size_t len, nrm_err_t *err)
{
    nrm_wire_t *w = &self->view;
    Nrm__ServerMsg *m = nrm__server_msg__unpack(NULL, len, buf);
    if (!m)
        return nrm_err_refuse(err, NRM_R_MALFORMED, "frame: does not decode as a server message");
    self->pb = &m->base;
    switch (m->m_case) {
    case NRM__SERVER_MSG__M_WELCOME:
        w->kind = NRM_WIRE_WELCOME;
        w->time_ms = m->welcome->time_ms;
        w->unchanged = m->welcome->unchanged;
        w->directory = s_bytes(m->welcome->directory);
        if (w->directory.len != 0 && w->directory.len != NRM_HASH_BYTES)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "welcome.directory: %zu bytes, must be %d or none",
                                  w->directory.len, NRM_HASH_BYTES);
        if (w->unchanged && (w->directory.len == 0 || m->welcome->n_certificates != 0))
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD,
                                  "welcome.unchanged: needs a directory digest and no certificates");
        if (m->welcome->n_certificates > NRM_MAX_CERTS)
            return nrm_err_refuse(err, NRM_R_TOO_BIG, "welcome.certificates: %zu, over the limit of %d",
                                  m->welcome->n_certificates, NRM_MAX_CERTS);
        w->count = m->welcome->n_certificates;
        if (w->count) {
            w->certs = calloc(w->count, sizeof *w->certs);
            if (!w->certs)
                return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        }
        size_t ncs = 0;
        for (size_t i = 0; i < w->count; i++)
            ncs += m->welcome->certificates[i]->n_cosignatures;
        if (ncs > w->count * (NRM_MAX_ADMINS - 1))
            return nrm_err_refuse(err, NRM_R_TOO_BIG, "welcome.certificates[]: too many cosignatures");
        if (s_cosig_reserve(self, ncs, err) != 0)
            return NRM_ENOMEM;
        for (size_t i = 0; i < w->count; i++) {
            int rc = s_cert_view(self, m->welcome->certificates[i], &w->certs[i],
                                 "welcome.certificates[]", err);
            if (rc)
                return rc;
        }
        return 0;
    case NRM__SERVER_MSG__M_RECEIPT:
        w->kind = NRM_WIRE_RECEIPT;
        return s_signed_view(m->receipt, &w->signed_obj, 1024, &w->batch, "receipt", err);
    case NRM__SERVER_MSG__M_DELIVER:
        w->kind = NRM_WIRE_DELIVER;
        w->seq = m->deliver->seq;
        w->envelope = s_bytes(m->deliver->envelope);
        w->signature = s_bytes(m->deliver->signature);
        w->sealed_body = s_bytes(m->deliver->sealed_body);
        if (w->envelope.len == 0 || w->envelope.len > NRM_MAX_ENVELOPE_BYTES)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "deliver.envelope: %zu bytes", w->envelope.len);
        if (w->signature.len != NRM_SIG_BYTES)
            return nrm_err_refuse(err, NRM_R_BAD_SIGNATURE, "deliver.signature: must be %d bytes", NRM_SIG_BYTES);
        if (w->sealed_body.len > NRM_MAX_BODY_BYTES)
            return nrm_err_refuse(err, NRM_R_TOO_BIG, "deliver.sealed_body: over the limit");
        if (!m->deliver->sender_cert)
            return nrm_err_refuse(err, NRM_R_MALFORMED, "deliver.sender_cert: missing");
        if (s_proof_from_pb(m->deliver->batch, &w->batch, "deliver", err) != 0)
            return NRM_EINVAL;
        if (s_cosig_reserve(self, NRM_MAX_ADMINS - 1, err) != 0)
            return NRM_ENOMEM;
        return s_cert_view(self, m->deliver->sender_cert, &w->signed_obj, "deliver.sender_cert", err);
    case NRM__SERVER_MSG__M_STATUS:
        w->kind = NRM_WIRE_STATUS_REPLY;
        if (m->status->n_items > NRM_MAX_STATUS_IDS)
            return nrm_err_refuse(err, NRM_R_TOO_BIG, "status.items: over the limit");
        w->count = m->status->n_items;
        if (w->count) {
            w->items = calloc(w->count, sizeof *w->items);
            if (!w->items)
                return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < w->count; i++) {
            Nrm__MsgStatus *it = m->status->items[i];
            if (it->msg_id.len != NRM_MSGID_BYTES)
                return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "status.items[%zu].msg_id: bad size", i);
            memcpy(w->items[i].msg_id, it->msg_id.data, NRM_MSGID_BYTES);
            w->items[i].state = it->state;
            w->items[i].accepted_seq = it->accepted_seq;
            w->items[i].delivered_seq = it->delivered_seq;
        }
        return 0;
    case NRM__SERVER_MSG__M_PONG:
        w->kind = NRM_WIRE_PONG;
        w->time_ms = m->pong->time_ms;
        return 0;
    case NRM__SERVER_MSG__M_ADMIN_RECEIPT:
        w->kind = NRM_WIRE_ADMIN_RECEIPT;
        return s_signed_view(m->admin_receipt, &w->signed_obj, 1024, NULL, "admin_receipt", err);
    case NRM__SERVER_MSG__M_CHECKPOINT:
        w->kind = NRM_WIRE_CHECKPOINT;
        w->note = s_bytes(m->checkpoint->note);
        w->old_size = m->checkpoint->old_size;
        if (w->note.len == 0 || w->note.len > NRM_WIRE_NOTE_MAX)
            return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "checkpoint.note: %zu bytes, expected 1-%d",
                                  w->note.len, NRM_WIRE_NOTE_MAX);
        if (m->checkpoint->n_proof > NRM_WIRE_PROOF_MAX)
            return nrm_err_refuse(err, NRM_R_TOO_BIG, "checkpoint.proof: %zu hashes, over the limit of %d",
                                  m->checkpoint->n_proof, NRM_WIRE_PROOF_MAX);
        w->proof_count = m->checkpoint->n_proof;
        if (w->proof_count) {
            w->proof = calloc(w->proof_count, sizeof *w->proof);
            if (!w->proof)
                return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < w->proof_count; i++) {
            if (m->checkpoint->proof[i].len != NRM_HASH_BYTES)
                return nrm_err_refuse(err, NRM_R_INVALID_FIELD, "checkpoint.proof[%zu]: must be %d bytes",
                                      i, NRM_HASH_BYTES);
            w->proof[i] = s_bytes(m->checkpoint->proof[i]);
        }
        return 0;
    case NRM__SERVER_MSG__M_NOTICE:
        w->kind = NRM_WIRE_NOTICE;
        return s_signed_view(m->notice, &w->signed_obj, 1024, NULL, "notice", err);
    default:
        return nrm_err_refuse(err, NRM_R_MALFORMED, "frame: empty or unknown server message");
    }
}

int
nrm_wire_decode(const uint8_t *buf, size_t len, bool from_client, nrm_wire_t **out,
                nrm_err_t *err)
{
    *out = NULL;
    int rc = s_toobig(len, NRM_MAX_FRAME_BYTES, "frame", err);
    if (rc)
        return rc;
    s_wire_t *self = calloc(1, sizeof *self);
    if (!self)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    self->view.owner_ = self;
    rc = from_client ? s_decode_client(self, buf, len, err) : s_decode_server(self, buf, len, err);
    nrm_wire_t *view = &self->view;
    if (rc) {
        nrm_wire_destroy(&view);
        return rc;
    }
    *out = view;
    return 0;
}

void
nrm_wire_destroy(nrm_wire_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_wire_t *self = (*self_p)->owner_;
    if (self->pb)
        protobuf_c_message_free_unpacked(self->pb, NULL);
    free(self->view.ids);
    free(self->view.certs);
    free(self->view.items);
    free(self->view.proof);
    free(self->cosigs);
    free(self);
    *self_p = NULL;
}
