/*  nrm_body -- sealed bodies: message types, semantic checks, facts for the
    clear metadata, minimisation (see the header and docs/referrals.md). */
#include "nrm_body.h"
#include "nrm_iso.h"
#include "nrm_pbjson.h"
#include "nrm_util.h"
#include "nrm_body.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nrm_body {
    char type[NRM_TYPE_MAX + 1];
    ProtobufCMessage *m;
};

/* ---- message types ---- */

typedef struct {
    const char *type;
    const ProtobufCMessageDescriptor *d;
    const char *required[3];    /* paths that must be present */
} s_kind_t;

static const s_kind_t s_kinds[] = {
    { "tip",                 &nrm__body__tip__descriptor, { "cas_OutgoingReferralDetails" } },
    { "referral",            &nrm__body__referral_request__descriptor, { "request.ext_Service" } },
    { "transfer",            &nrm__body__transfer__descriptor, { "ext_TransferReason" } },
    { "response",            &nrm__body__referral_response__descriptor, { "ext_Decision" } },
    { "outcome",             &nrm__body__outcome__descriptor, { "ext_OutcomeNote" } },
    { "withdrawal",          &nrm__body__withdrawal__descriptor, { "ext_Reason" } },
    { "status",              &nrm__body__status_update__descriptor, { "ext_Milestone" } },
    { "consent",             &nrm__body__consent_update__descriptor, { "ext_Change", "consent" } },
    { "interpreter-request", &nrm__body__interpreter_request__descriptor,
      { "appointment.ext_Start", "appointment.ext_Language" } },
    { "info-request",        &nrm__body__info_request__descriptor, { "ext_Question" } },
    { "info-reply",          &nrm__body__info_reply__descriptor, { "ext_Answer" } },
};
#define S_NKINDS (sizeof s_kinds / sizeof s_kinds[0])

static const s_kind_t *
s_kind(const char *type)
{
    for (size_t i = 0; i < S_NKINDS; i++)
        if (strcmp(s_kinds[i].type, type) == 0)
            return &s_kinds[i];
    return NULL;
}

/* Top-level parts that describe the person: a body holding any of them
   "carries personal data" and needs consent or a lawful basis. */
static const char *const s_personal[] = {
    "person", "victim_context", "trafficking_events", "suspects", "employment",
    "case_file", "narrative", "narrative_summary", NULL
};

/* ---- semantic checks, by field name (names mean the same everywhere) ---- */

enum { C_DATE = 1, C_DATETIME, C_COUNTRY, C_LANGUAGE, C_ORG_ID, C_ORG_TYPE, C_ASCII_REF, C_ID };

static const struct { const char *field; int check; } s_checks[] = {
    { "prs_Birthdate", C_DATE }, { "hte_Date", C_DATE }, { "cas_OutgoingReferralDate", C_DATE },
    { "ext_PeriodFrom", C_DATE }, { "ext_PeriodTo", C_DATE }, { "ext_DecisionDate", C_DATE },
    { "ext_CompletedDate", C_DATE }, { "ext_Date", C_DATE }, { "ext_ReplyBy", C_DATE },
    { "ext_RecordedAt", C_DATETIME }, { "ext_Start", C_DATETIME },
    { "prs_Citizenship", C_COUNTRY }, { "ext_CountryOfExploitation", C_COUNTRY },
    { "hte_Country", C_COUNTRY },
    { "prs_PrimaryLanguage", C_LANGUAGE }, { "prs_SecondaryLanguage", C_LANGUAGE },
    { "ext_InterpreterLanguage", C_LANGUAGE }, { "ext_Language", C_LANGUAGE },
    { "cas_ReferringOrganisation", C_ORG_ID }, { "cas_ReferredOrganisation", C_ORG_ID },
    { "ext_ContactThrough", C_ORG_ID },
    { "ext_ConsentToSharing", C_ORG_TYPE },
    /* these two are copied into the clear metadata: codes, not prose */
    { "ext_LawfulBasisReference", C_ASCII_REF }, { "ext_OverriddenBy", C_ID },
};

static bool
s_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int
s_num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* YYYY-MM-DD, a real calendar day. */
static bool
s_date_ok(const char *s)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (strlen(s) < 10 || !s_digits(s, 4) || s[4] != '-' || !s_digits(s + 5, 2) || s[7] != '-'
        || !s_digits(s + 8, 2))
        return false;
    int y = s_num(s, 4), m = s_num(s + 5, 2), d = s_num(s + 8, 2);
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

/* YYYY-MM-DDTHH:MM[:SS](Z|+HH:MM|-HH:MM): RFC 3339 with an offset, since a
   time without one means nothing across borders. */
static bool
s_datetime_ok(const char *s)
{
    if (!s_date_ok(s) || s[10] != 'T' || !s_digits(s + 11, 2) || s[13] != ':'
        || !s_digits(s + 14, 2))
        return false;
    if (s_num(s + 11, 2) > 23 || s_num(s + 14, 2) > 59)
        return false;
    const char *p = s + 16;
    if (*p == ':') {
        if (!s_digits(p + 1, 2) || s_num(p + 1, 2) > 60)
            return false;
        p += 3;
    }
    if (strcmp(p, "Z") == 0)
        return true;
    return (p[0] == '+' || p[0] == '-') && s_digits(p + 1, 2) && p[3] == ':' && s_digits(p + 4, 2)
           && p[6] == '\0' && s_num(p + 1, 2) <= 14 && s_num(p + 4, 2) <= 59;
}

static int
s_check(void *user, const ProtobufCMessageDescriptor *owner, const ProtobufCFieldDescriptor *f,
        const char *v, char *why, size_t why_len)
{
    (void) user;
    (void) owner;
    int check = 0;
    for (size_t i = 0; i < sizeof s_checks / sizeof s_checks[0]; i++)
        if (strcmp(s_checks[i].field, f->name) == 0)
            check = s_checks[i].check;
    switch (check) {
    case C_DATE:
        if (!s_date_ok(v) || v[10] != '\0')
            return snprintf(why, why_len, "'%.40s' is not a date (YYYY-MM-DD)", v), 1;
        return 0;
    case C_DATETIME:
        if (!s_datetime_ok(v))
            return snprintf(why, why_len, "'%.40s' is not a date and time with an offset "
                            "(YYYY-MM-DDTHH:MM[:SS] and Z or +HH:MM)", v), 1;
        return 0;
    case C_COUNTRY:
        if (!nrm_iso3166_valid(v))
            return snprintf(why, why_len, "'%.20s' is not an ISO 3166-1 alpha-2 country code "
                            "(two capital letters, e.g. MM, TH)", v), 1;
        return 0;
    case C_LANGUAGE:
        if (!nrm_iso639_valid(v))
            return snprintf(why, why_len, "'%.20s' is not an ISO 639-2 language code "
                            "(three small letters, e.g. mya, tha)", v), 1;
        return 0;
    case C_ORG_ID:
    case C_ID:
        if (!nrm_id_valid(v))
            return snprintf(why, why_len, "'%.40s' is not an id (1-%d of a-z 0-9 . _ -)", v,
                            NRM_ID_MAX), 1;
        return 0;
    case C_ORG_TYPE:
        if (!nrm_org_type_valid(v))
            return snprintf(why, why_len, "'%.40s' is not an organisation type (police, msdhs, "
                            "labour, prosecutor, ngo, immigration, interpreter, foreign, mdt)", v), 1;
        return 0;
    case C_ASCII_REF:
        if (strlen(v) > NRM_LAWFUL_REF_MAX)
            return snprintf(why, why_len, "longer than %d characters", NRM_LAWFUL_REF_MAX), 1;
        for (const char *p = v; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                return snprintf(why, why_len, "a legal citation in printable ASCII only (it "
                                "travels in the clear metadata)"), 1;
        return 0;
    default:
        return 0;
    }
}

static const nrm_pbjson_opts_t s_opts = {
    NRM_BODY_STRING_MAX, NRM_BODY_ITEMS_MAX, NRM_BODY_DEPTH_MAX, true, s_check, NULL
};

/* ---- generic field access by path ---- */

static bool
s_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const uint8_t *base = (const uint8_t *) m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return *(const size_t *) (base + f->quantifier_offset) > 0;
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *) (base + f->offset) != NULL;
    return f->quantifier_offset && *(const protobuf_c_boolean *) (base + f->quantifier_offset);
}

/* The sub-message or field a dotted path names (no indexes); NULL if absent. */
static const ProtobufCFieldDescriptor *
s_lookup(const ProtobufCMessage *m, const char *path, const ProtobufCMessage **owner)
{
    char part[NRM_STRIPPED_NAME_MAX + 1];
    while (m) {
        size_t n = strcspn(path, ".");
        if (n > NRM_STRIPPED_NAME_MAX)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        const ProtobufCFieldDescriptor *f = nrm_pbjson_field(m->descriptor, part);
        if (!f || !s_present(m, f))
            return NULL;
        if (path[n] == '\0') {
            *owner = m;
            return f;
        }
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label == PROTOBUF_C_LABEL_REPEATED)
            return NULL;
        m = *(ProtobufCMessage *const *) ((const uint8_t *) m + f->offset);
        path += n + 1;
    }
    return NULL;
}

static bool
s_has(const ProtobufCMessage *m, const char *path)
{
    const ProtobufCMessage *owner;
    return s_lookup(m, path, &owner) != NULL;
}

static bool
s_bool(const ProtobufCMessage *m, const char *path)
{
    const ProtobufCMessage *o;
    const ProtobufCFieldDescriptor *f = s_lookup(m, path, &o);
    return f && f->type == PROTOBUF_C_TYPE_BOOL && f->label != PROTOBUF_C_LABEL_REPEATED
           && *(const protobuf_c_boolean *) ((const uint8_t *) o + f->offset);
}

/* JSON name of an enum field's value, or "" when absent. */
static const char *
s_enum(const ProtobufCMessage *m, const char *path)
{
    const ProtobufCMessage *o;
    const ProtobufCFieldDescriptor *f = s_lookup(m, path, &o);
    if (!f || f->type != PROTOBUF_C_TYPE_ENUM || f->label == PROTOBUF_C_LABEL_REPEATED)
        return "";
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        f->descriptor, *(const int *) ((const uint8_t *) o + f->offset));
    return v ? nrm_pbjson_enum_name(v) : "";
}

static const char *
s_string(const ProtobufCMessage *m, const char *path)
{
    const ProtobufCMessage *o;
    const ProtobufCFieldDescriptor *f = s_lookup(m, path, &o);
    if (!f || f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
        return "";
    return *(char *const *) ((const uint8_t *) o + f->offset);
}

static bool
s_uint(const ProtobufCMessage *m, const char *path, uint32_t *out)
{
    const ProtobufCMessage *o;
    const ProtobufCFieldDescriptor *f = s_lookup(m, path, &o);
    if (!f || f->type != PROTOBUF_C_TYPE_UINT32 || f->label == PROTOBUF_C_LABEL_REPEATED)
        return false;
    *out = *(const uint32_t *) ((const uint8_t *) o + f->offset);
    return true;
}

/* ---- rules across fields ---- */

static int
s_rules(const s_kind_t *k, const ProtobufCMessage *m, nrm_err_t *err)
{
    for (size_t i = 0; i < 3 && k->required[i]; i++)
        if (!s_has(m, k->required[i]))
            return nrm_err_set(err, NRM_EINVAL, "%s: missing (a %s needs it)", k->required[i], k->type);
    if (strcmp(k->type, "response") == 0 && strcmp(s_enum(m, "ext_Decision"), "declined") == 0
        && !s_has(m, "ext_DeclineReason"))
        return nrm_err_set(err, NRM_EINVAL, "ext_DeclineReason: missing (a declined referral says why)");
    if (strcmp(k->type, "response") == 0 && strcmp(s_enum(m, "ext_Decision"), "accepted") == 0
        && s_has(m, "ext_DeclineReason"))
        return nrm_err_set(err, NRM_EINVAL, "ext_DeclineReason: only for a declined referral");
    if (s_has(m, "consent.ext_LawfulBasis")
        && (!s_has(m, "consent.ext_OverriddenBy") || !s_has(m, "consent.ext_OverrideReason")))
        return nrm_err_set(err, NRM_EINVAL, "consent.ext_OverriddenBy: a lawful basis needs who relied "
                           "on it (ext_OverriddenBy) and why (ext_OverrideReason)");
    if ((s_has(m, "consent.ext_OverriddenBy") || s_has(m, "consent.ext_OverrideReason"))
        && !s_has(m, "consent.ext_LawfulBasis"))
        return nrm_err_set(err, NRM_EINVAL, "consent.ext_LawfulBasis: missing (an override names its "
                           "lawful basis)");
    uint32_t age = 0;
    bool child = s_bool(m, "person.ext_Child") || (s_uint(m, "person.ext_AgeYears", &age) && age < 18);
    if (child && s_bool(m, "consent.con_Consent") && !s_has(m, "consent.ext_GivenBy"))
        return nrm_err_set(err, NRM_EINVAL, "consent.ext_GivenBy: missing (consent for a child says "
                           "who gave it: guardian or responsible_official)");
    if (child && strcmp(s_enum(m, "consent.ext_GivenBy"), "victim") == 0)
        return nrm_err_set(err, NRM_EINVAL, "consent.ext_GivenBy: a child cannot consent alone; "
                           "guardian or responsible_official (ext_ChildAssent records the child's assent)");
    if (s_bool(m, "person.ext_Child") && s_uint(m, "person.ext_AgeYears", &age) && age >= 18)
        return nrm_err_set(err, NRM_EINVAL, "person.ext_Child: true, but ext_AgeYears is %u", age);
    return 0;
}

/* ---- public ---- */

static void s_wipe(ProtobufCMessage *m);

static int
s_new(const s_kind_t *k, ProtobufCMessage *m, nrm_body_t **out, nrm_err_t *err)
{
    nrm_body_t *b = calloc(1, sizeof *b);
    if (!b) {
        protobuf_c_message_free_unpacked(m, NULL);
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    }
    snprintf(b->type, sizeof b->type, "%s", k->type);
    b->m = m;
    *out = b;
    return 0;
}

int
nrm_body_from_json(const char *type, const json_t *doc, nrm_body_t **out, nrm_err_t *err)
{
    *out = NULL;
    const s_kind_t *k = type ? s_kind(type) : NULL;
    if (!k)
        return nrm_err_set(err, NRM_EINVAL, "'%.40s' is not a message type", type ? type : "");
    if (!json_is_object(doc))
        return nrm_err_set(err, NRM_EINVAL, "(document): must be a JSON object ({...})");
    json_t *d = json_object();
    if (!d)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *) doc, key, v) {
        if (strcmp(key, "document") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), type) != 0) {
                rc = nrm_err_set(err, NRM_EINVAL, "document: is '%.40s', but the message type is '%s'",
                                 json_is_string(v) ? json_string_value(v) : "(not a string)", type);
                break;
            }
        } else if (strcmp(key, "schema_version") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) != NRM_BODY_SCHEMA) {
                rc = nrm_err_set(err, NRM_EINVAL, "schema_version: this agent reads version %d only",
                                 NRM_BODY_SCHEMA);
                break;
            }
        } else if (strcmp(key, "field_standard") != 0) {
            if (json_object_set(d, key, v) != 0) {
                rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
                break;
            }
        }
    }
    ProtobufCMessage *m = NULL;
    if (rc == 0)
        rc = nrm_pbjson_from_json(k->d, d, &s_opts, &m, err);
    json_decref(d);
    if (rc == 0 && (rc = s_rules(k, m, err)) != 0)
        protobuf_c_message_free_unpacked(m, NULL);
    if (rc)
        return rc;
    return s_new(k, m, out, err);
}

int
nrm_body_parse(const char *type, const char *text, size_t len, const char *name,
               nrm_body_t **out, nrm_err_t *err)
{
    json_error_t jerr;
    *out = NULL;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return nrm_err_set(err, NRM_EINVAL, "%s:%d:%d: not valid JSON: %s", name, jerr.line,
                           jerr.column, jerr.text);
    int rc = nrm_body_from_json(type, doc, out, err);
    json_decref(doc);
    if (rc)
        nrm_err_prefix(err, "%s", name);
    return rc;
}

int
nrm_body_decode(const char *type, const uint8_t *buf, size_t len, nrm_body_t **out,
                nrm_err_t *err)
{
    *out = NULL;
    const s_kind_t *k = type ? s_kind(type) : NULL;
    if (!k)
        return nrm_err_set(err, NRM_EINVAL, "'%.40s' is not a message type", type ? type : "");
    if (len > NRM_MAX_DOC_BYTES)
        return nrm_err_set(err, NRM_ETOOBIG, "body of %zu bytes, over the limit of %u", len,
                           NRM_MAX_DOC_BYTES);
    ProtobufCMessage *m = protobuf_c_message_unpack(k->d, NULL, len, buf);
    if (!m)
        return nrm_err_set(err, NRM_EINVAL, "the body does not decode as a %s (%s)", type,
                           k->d->short_name);
    /* The sender's checks, on the message as it is: what converting it to
       JSON and that JSON back (nrm_body_from_json) would refuse, and the
       rules across fields. fuzz_body holds the two paths to the same
       answers and bytes. */
    int rc = nrm_pbjson_check(m, &s_opts, err);
    if (rc == 0)
        rc = s_rules(k, m, err);
    if (rc) {
        s_wipe(m);
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    return s_new(k, m, out, err);
}

int
nrm_body_encode(const nrm_body_t *b, uint8_t **out, size_t *len, nrm_err_t *err)
{
    size_t n = protobuf_c_message_get_packed_size(b->m);
    if (n > NRM_MAX_DOC_BYTES)
        return nrm_err_set(err, NRM_ETOOBIG, "the body is %zu bytes, over the limit of %u", n,
                           NRM_MAX_DOC_BYTES);
    *out = malloc(n ? n : 1);
    if (!*out)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    protobuf_c_message_pack(b->m, *out);
    *len = n;
    return 0;
}

int
nrm_body_to_json(const nrm_body_t *b, json_t **out, nrm_err_t *err)
{
    json_t *fields = NULL, *o = json_object();
    *out = NULL;
    if (!o)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    int rc = nrm_pbjson_to_json(b->m, &fields, err);
    if (rc == 0 && (json_object_set_new(o, "document", json_string(b->type)) != 0
                    || json_object_set_new(o, "schema_version", json_integer(NRM_BODY_SCHEMA)) != 0
                    || json_object_update(o, fields) != 0))
        rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
    json_decref(fields);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* Wipes every string of m (free_unpacked frees without wiping). */
static void
s_wipe(ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    uint8_t *base = (uint8_t *) m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        size_t n = 1;
        void **items = (void **) (base + f->offset);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(size_t *) (base + f->quantifier_offset);
            items = *(void ***) (base + f->offset);
        }
        for (size_t k = 0; items && k < n; k++) {
            if (!items[k])
                continue;
            if (f->type == PROTOBUF_C_TYPE_STRING)
                explicit_bzero(items[k], strlen(items[k]));
            else
                s_wipe(items[k]);
        }
    }
}

void
nrm_body_free(nrm_body_t **b)
{
    if (!b || !*b)
        return;
    if ((*b)->m) {
        s_wipe((*b)->m);
        protobuf_c_message_free_unpacked((*b)->m, NULL);
    }
    free(*b);
    *b = NULL;
}

void
nrm_body_facts(const nrm_body_t *b, nrm_body_facts_t *f)
{
    const ProtobufCMessage *m = b->m;
    uint32_t age = 0;
    memset(f, 0, sizeof *f);
    for (size_t i = 0; s_personal[i]; i++)
        f->personal |= s_has(m, s_personal[i]);
    f->child = s_bool(m, "person.ext_Child") || (s_uint(m, "person.ext_AgeYears", &age) && age < 18);
    f->high_risk = strcmp(s_enum(m, "request.ext_RiskLevel"), "high") == 0;
    f->immediate = strcmp(s_enum(m, "request.ext_Urgency"), "immediate") == 0;
    /* A consent update carries its consent too; the same summary. */
    f->has_consent = s_has(m, "consent");
    if (f->has_consent) {
        nrm_consent_t *c = &f->consent;
        c->services = s_bool(m, "consent.con_Consent") && s_bool(m, "consent.ext_ConsentToServices");
        /* Sharing with whom is decided by the caller, which knows the
           recipient's type (nrm_body_consent_shares). */
        c->sharing = s_bool(m, "consent.con_Consent") && s_has(m, "consent.ext_ConsentToSharing");
        snprintf(c->given_by, sizeof c->given_by, "%s", s_enum(m, "consent.ext_GivenBy"));
        snprintf(c->lawful_basis, sizeof c->lawful_basis, "%s", s_enum(m, "consent.ext_LawfulBasis"));
        snprintf(c->lawful_basis_ref, sizeof c->lawful_basis_ref, "%s",
                 s_string(m, "consent.ext_LawfulBasisReference"));
        snprintf(c->overridden_by, sizeof c->overridden_by, "%s", s_string(m, "consent.ext_OverriddenBy"));
        f->objects_origin = s_bool(m, "consent.ext_ObjectsToOriginCountryNotification");
    }
    const ProtobufCMessage *o;
    const ProtobufCFieldDescriptor *fd = s_lookup(m, "person.prs_Citizenship", &o);
    if (fd) {
        size_t n = *(const size_t *) ((const uint8_t *) o + fd->quantifier_offset);
        char *const *v = *(char **const *) ((const uint8_t *) o + fd->offset);
        for (size_t i = 0; i < n && f->n_citizenship < 4; i++)
            snprintf(f->citizenship[f->n_citizenship++], 3, "%s", v[i]);
    }
}

bool
nrm_body_consent_shares(const nrm_body_t *b, const char *org_type)
{
    const ProtobufCMessage *o;
    const ProtobufCFieldDescriptor *fd = s_lookup(b->m, "consent.ext_ConsentToSharing", &o);
    if (!fd || !org_type)
        return false;
    size_t n = *(const size_t *) ((const uint8_t *) o + fd->quantifier_offset);
    char *const *v = *(char **const *) ((const uint8_t *) o + fd->offset);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], org_type) == 0)
            return true;
    return false;
}

const ProtobufCMessageDescriptor *
nrm_body_descriptor(const char *type)
{
    const s_kind_t *k = type ? s_kind(type) : NULL;
    return k ? k->d : NULL;
}

const char *
nrm_body_type(const nrm_body_t *b)
{
    return b->type;
}

/* ---- minimisation ---- */

typedef struct {
    const char *const *allowed;
    size_t n_allowed;
    char (*stripped)[NRM_STRIPPED_NAME_MAX + 1];
    size_t max, n;
    bool toolong;
} s_min_t;

/* 2: path or an ancestor is allowed (keep all); 1: something below is
   allowed (descend); 0: strip. */
static int
s_allowed(const s_min_t *c, const char *path)
{
    size_t n = strlen(path);
    int best = 0;
    for (size_t i = 0; i < c->n_allowed; i++) {
        const char *a = c->allowed[i];
        size_t an = strlen(a);
        if (an <= n && strncmp(a, path, an) == 0 && (path[an] == '\0' || path[an] == '.'))
            return 2;
        if (an > n && strncmp(a, path, n) == 0 && a[n] == '.')
            best = 1;
    }
    return best;
}

static void
s_clear_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    uint8_t *base = (uint8_t *) m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        size_t *n = (size_t *) (base + f->quantifier_offset);
        void **arr = *(void ***) (base + f->offset);
        for (size_t k = 0; arr && k < *n; k++) {
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                explicit_bzero(arr[k], strlen(arr[k]));
                free(arr[k]);
            } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                s_wipe(arr[k]);
                protobuf_c_message_free_unpacked(arr[k], NULL);
            }
        }
        free(arr);
        *(void **) (base + f->offset) = NULL;
        *n = 0;
        return;
    }
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        char **s = (char **) (base + f->offset);
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        ProtobufCMessage **sub = (ProtobufCMessage **) (base + f->offset);
        s_wipe(*sub);
        protobuf_c_message_free_unpacked(*sub, NULL);
        *sub = NULL;
    } else if (f->quantifier_offset) {
        *(protobuf_c_boolean *) (base + f->quantifier_offset) = 0;
        memset(base + f->offset, 0, f->type == PROTOBUF_C_TYPE_BOOL ? sizeof(protobuf_c_boolean)
                                    : f->type == PROTOBUF_C_TYPE_ENUM ? sizeof(int) : 4);
    }
}

static void
s_note(s_min_t *c, const char *path)
{
    for (size_t i = 0; i < c->n && i < c->max; i++)
        if (strcmp(c->stripped[i], path) == 0)
            return;              /* the same field in several list items */
    if (c->n < c->max && strlen(path) <= NRM_STRIPPED_NAME_MAX)
        snprintf(c->stripped[c->n], NRM_STRIPPED_NAME_MAX + 1, "%s", path);
    else
        c->toolong = true;
    c->n++;
}

static void
s_minimise(s_min_t *c, ProtobufCMessage *m, char *path, size_t plen)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    uint8_t *base = (uint8_t *) m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!s_present(m, f))
            continue;
        snprintf(path + plen, NRM_PBJSON_PATH_MAX - plen, "%s%s", plen ? "." : "", f->name);
        size_t sub = strlen(path);
        int a = s_allowed(c, path);
        if (a == 2) {
            /* kept whole */
        } else if (a == 1 && f->type == PROTOBUF_C_TYPE_MESSAGE) {
            if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                size_t n = *(size_t *) (base + f->quantifier_offset);
                ProtobufCMessage **arr = *(ProtobufCMessage ***) (base + f->offset);
                for (size_t k = 0; k < n; k++)
                    s_minimise(c, arr[k], path, sub);
            } else {
                s_minimise(c, *(ProtobufCMessage **) (base + f->offset), path, sub);
            }
        } else {
            s_note(c, path);
            s_clear_field(m, f);
        }
        path[plen] = '\0';
    }
}

int
nrm_body_minimise(nrm_body_t *b, const char *const *allowed, size_t n_allowed,
                  char (*stripped)[NRM_STRIPPED_NAME_MAX + 1], size_t max, size_t *n,
                  nrm_err_t *err)
{
    char path[NRM_PBJSON_PATH_MAX] = "";
    s_min_t c = { allowed, n_allowed, stripped, max, 0, false };
    s_minimise(&c, b->m, path, 0);
    *n = c.n;
    if (c.toolong)
        return nrm_err_set(err, NRM_ETOOBIG, "minimisation removed %zu fields, more than the %zu "
                           "the envelope can name", c.n, max);
    return 0;
}

static bool
s_path_in(const ProtobufCMessageDescriptor *d, const char *path)
{
    char part[NRM_STRIPPED_NAME_MAX + 1];
    size_t n = strcspn(path, ".");
    if (n == 0 || n > NRM_STRIPPED_NAME_MAX)
        return false;
    memcpy(part, path, n);
    part[n] = '\0';
    const ProtobufCFieldDescriptor *f = nrm_pbjson_field(d, part);
    if (!f)
        return false;
    if (path[n] == '\0')
        return true;
    return f->type == PROTOBUF_C_TYPE_MESSAGE && s_path_in(f->descriptor, path + n + 1);
}

bool
nrm_body_path_valid(const char *path)
{
    if (!path || strlen(path) > NRM_STRIPPED_NAME_MAX)
        return false;
    for (size_t i = 0; i < S_NKINDS; i++)
        if (s_path_in(s_kinds[i].d, path))
            return true;
    return false;
}
