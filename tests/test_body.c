/*  Unit tests of the sealed bodies: every example document converts and
    round-trips through protobuf, every kind of bad input is refused with
    the JSON path and what is wrong, minimisation strips by path, and the
    facts read for the clear metadata are right. */
#include "nrm_body.h"
#include "nrm_pbjson.h"
#include "nrm_util.h"
#include "testutil.h"
#include <dirent.h>

#ifndef NRM_EXAMPLES
#define NRM_EXAMPLES "config/examples"
#endif

static json_t *
s_load(const char *name)
{
    char path[512];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/%s", NRM_EXAMPLES, name);
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        fprintf(stderr, "%s: %s\n", path, jerr.text);
        exit(2);
    }
    return doc;
}

/* Every example converts, encodes, decodes and comes back equal. */
static void
test_examples(void)
{
    DIR *dir = opendir(NRM_EXAMPLES);
    struct dirent *e;
    int n = 0;
    CHECK(dir != NULL);
    while (dir && (e = readdir(dir)) != NULL) {
        if (!strstr(e->d_name, ".json"))
            continue;
        json_t *doc = s_load(e->d_name);
        const char *type = json_string_value(json_object_get(doc, "document"));
        nrm_body_t *b = NULL, *back = NULL;
        nrm_err_t err = { 0, 0, "" };
        uint8_t *bytes = NULL;
        size_t len = 0;
        json_t *j1 = NULL, *j2 = NULL;
        n++;
        CHECK(type != NULL);
        int rc = nrm_body_from_json(type, doc, &b, &err);
        if (rc)
            fprintf(stderr, "%s: %s\n", e->d_name, err.msg);
        CHECK_RC(rc, 0);
        if (rc == 0) {
            CHECK_RC(nrm_body_encode(b, &bytes, &len, &err), 0);
            CHECK_RC(nrm_body_decode(type, bytes, len, &back, &err), 0);
            CHECK_RC(nrm_body_to_json(b, &j1, &err), 0);
            if (back)
                CHECK_RC(nrm_body_to_json(back, &j2, &err), 0);
            CHECK(j1 && j2 && json_equal(j1, j2));
            /* Everything but comments and field_standard survives. */
            const char *key;
            json_t *v;
            json_object_foreach(doc, key, v) {
                if (key[0] == '_' || strcmp(key, "field_standard") == 0)
                    continue;
                t_checks++;
                if (!j1 || !json_equal(v, json_object_get(j1, key))) {
                    t_failures++;
                    fprintf(stderr, "%s: '%s' did not round-trip\n", e->d_name, key);
                }
            }
        }
        json_decref(j1);
        json_decref(j2);
        free(bytes);
        nrm_body_free(&b);
        nrm_body_free(&back);
        json_decref(doc);
    }
    if (dir)
        closedir(dir);
    CHECK(n >= 11);
}

/* The example base (or an empty document) with a JSON patch merged in,
   one level down too, so a patch can change person.x alone. */
static json_t *
s_patched(const char *base, const char *patch_text, int line)
{
    json_error_t jerr;
    json_t *doc = base ? s_load(base) : json_object();
    json_t *patch = json_loads(patch_text, 0, &jerr);
    const char *key;
    json_t *v;
    if (!patch) {
        fprintf(stderr, "line %d: bad patch: %s\n", line, jerr.text);
        exit(2);
    }
    json_object_foreach(patch, key, v) {
        json_t *old = json_object_get(doc, key);
        if (json_is_object(old) && json_is_object(v))
            json_object_update(old, v);
        else
            json_object_set(doc, key, v);
    }
    json_decref(patch);
    return doc;
}

/* Applies a JSON patch (merged into the referral example) and expects the
   error: code and a message containing want. */
static void
s_refused(const char *type, const char *base, const char *patch_text, int code, const char *want,
          int line)
{
    json_t *doc = s_patched(base, patch_text, line);
    nrm_body_t *b = NULL;
    nrm_err_t err = { 0, 0, "" };
    int rc = nrm_body_from_json(type, doc, &b, &err);
    t_checks++;
    if (rc != code || !strstr(err.msg, want)) {
        t_failures++;
        fprintf(stderr, "line %d: rc %d msg '%s' (wanted %d, '%s')\n", line, rc, err.msg, code, want);
    }
    nrm_body_free(&b);
    json_decref(doc);
}
#define REFUSED(type, base, patch, code, want) s_refused(type, base, patch, code, want, __LINE__)
#define REF "referral-police-msdhs-shelter.json"

static void
test_errors(void)
{
    /* the generic kinds */
    REFUSED("referral", REF, "{\"person\": {\"prs_Nickname\": \"x\"}}", NRM_EINVAL,
            "person.prs_Nickname: unknown field (not in Person)");
    REFUSED("referral", REF, "{\"person\": {\"ext_Child\": \"yes\"}}", NRM_EINVAL,
            "person.ext_Child: expected true or false, got a string");
    REFUSED("referral", REF, "{\"person\": {\"ext_AgeYears\": 17.5}}", NRM_EINVAL,
            "person.ext_AgeYears: expected a whole number, got a number with a fraction");
    REFUSED("referral", REF, "{\"person\": {\"ext_AgeYears\": -1}}", NRM_EINVAL,
            "person.ext_AgeYears: -1 is out of range");
    REFUSED("referral", REF, "{\"person\": {\"prs_Gender\": \"Male\"}}", NRM_EINVAL,
            "person.prs_Gender: 'Male' is not a value of Gender (Feminine, Masculine,");
    REFUSED("referral", REF, "{\"victim_context\": {\"vic_MethodsOfControl\": [\"DebtBondage\", \"Chains\"]}}",
            NRM_EINVAL, "victim_context.vic_MethodsOfControl[1]: 'Chains' is not a value of MethodOfControl");
    REFUSED("referral", REF, "{\"person\": {\"prs_Citizenship\": [\"MM\", \"XX\"]}}", NRM_EINVAL,
            "person.prs_Citizenship[1]: 'XX' is not an ISO 3166-1 alpha-2 country code");
    REFUSED("referral", REF, "{\"person\": {\"prs_Citizenship\": \"MM\"}}", NRM_EINVAL,
            "person.prs_Citizenship: expected an array, got a string");
    REFUSED("referral", REF, "{\"person\": {\"prs_PrimaryLanguage\": \"burmese\"}}", NRM_EINVAL,
            "person.prs_PrimaryLanguage: 'burmese' is not an ISO 639-2 language code");
    REFUSED("referral", REF, "{\"person\": {\"prs_Birthdate\": \"2009-02-30\"}}", NRM_EINVAL,
            "person.prs_Birthdate: '2009-02-30' is not a date (YYYY-MM-DD)");
    REFUSED("referral", REF, "{\"consent\": {\"ext_RecordedAt\": \"2026-11-21T10:15:00\"}}", NRM_EINVAL,
            "consent.ext_RecordedAt: '2026-11-21T10:15:00' is not a date and time with an offset");
    REFUSED("referral", REF, "{\"consent\": {\"ext_ConsentToSharing\": [\"shelter\"]}}", NRM_EINVAL,
            "consent.ext_ConsentToSharing[0]: 'shelter' is not an organisation type");
    REFUSED("referral", REF, "{\"person\": null}", NRM_EINVAL,
            "person: null is not a value; leave the field out instead");
    REFUSED("referral", REF, "{\"person\": [1]}", NRM_EINVAL, "person: expected an object, got an array");
    REFUSED("referral", REF, "{\"request\": {\"ext_Urgency\": \"3 days\"}}", NRM_EINVAL,
            "request.ext_Urgency: '3 days' is not a value of Urgency (immediate, 3h, 1d, 3d)");
    REFUSED("referral", NULL, "{\"request\": {\"spl_Type\": [\"Legal\"]}}", NRM_EINVAL,
            "request.ext_Service: missing (a referral needs it)");
    REFUSED("response", NULL, "{\"ext_Decision\": \"declined\"}", NRM_EINVAL,
            "ext_DeclineReason: missing (a declined referral says why)");
    REFUSED("referral", REF, "{\"document\": \"tip\"}", NRM_EINVAL,
            "document: is 'tip', but the message type is 'referral'");
    REFUSED("referral", REF, "{\"schema_version\": 2}", NRM_EINVAL, "schema_version: this agent reads version 1 only");
    REFUSED("referral", REF, "{\"consent\": {\"ext_LawfulBasis\": \"vital_interests\"}}", NRM_EINVAL,
            "consent.ext_OverriddenBy: a lawful basis needs who relied on it");
    REFUSED("referral", REF, "{\"consent\": {\"ext_GivenBy\": \"victim\"}}", NRM_EINVAL,
            "consent.ext_GivenBy: a child cannot consent alone");
    REFUSED("referral", REF, "{\"consent\": {\"ext_OverriddenBy\": \"Officer Somchai\", "
            "\"ext_LawfulBasis\": \"public_task\", \"ext_OverrideReason\": \"x\"}}", NRM_EINVAL,
            "consent.ext_OverriddenBy: 'Officer Somchai' is not an id");
    REFUSED("bogus", REF, "{}", NRM_EINVAL, "'bogus' is not a message type");

    /* caps: an over-long string, too many items */
    char *big = malloc(NRM_BODY_STRING_MAX + 32);
    memset(big, 'a', NRM_BODY_STRING_MAX + 1);
    big[NRM_BODY_STRING_MAX + 1] = '\0';
    char *patch = malloc(NRM_BODY_STRING_MAX + 64);
    snprintf(patch, NRM_BODY_STRING_MAX + 64, "{\"narrative\": \"%s\"}", big);
    REFUSED("referral", REF, patch, NRM_ETOOBIG, "narrative: 16385 bytes, over the limit of 16384");
    free(patch);
    free(big);
    char list[2048];
    size_t at = (size_t) snprintf(list, sizeof list, "{\"person\": {\"prs_Citizenship\": [");
    for (unsigned i = 0; i <= NRM_BODY_ITEMS_MAX && at < sizeof list; i++)
        at += (size_t) snprintf(list + at, sizeof list - at, i ? ",\"TH\"" : "\"TH\"");
    if (at < sizeof list)
        at += (size_t) snprintf(list + at, sizeof list - at, "]}}");
    CHECK(at < sizeof list);
    REFUSED("referral", REF, list, NRM_ETOOBIG, "person.prs_Citizenship: 65 items, over the limit of 64");

    /* bad UTF-8 and a NUL cannot come from json_loads; build them directly */
    const char bad[][8] = { "ab\xc3(", "a\0b" };
    for (size_t i = 0; i < 2; i++) {
        json_t *doc = s_load(REF);
        json_object_set_new(json_object_get(doc, "person"), "prs_FirstName",
                            json_stringn_nocheck(bad[i], 4));
        nrm_body_t *b = NULL;
        nrm_err_t err = { 0, 0, "" };
        CHECK_RC(nrm_body_from_json("referral", doc, &b, &err), NRM_EINVAL);
        CHECK_STR_HAS(err.msg, "person.prs_FirstName: not valid UTF-8 text (or holds a NUL)");
        json_decref(doc);
    }

    /* depth: the schema nests two levels; a converter capped at one level
       refuses the person object with its path */
    {
        nrm_pbjson_opts_t o = { 100, 4, 1, true, NULL, NULL };
        json_t *doc = json_loads("{\"person\": {\"prs_FirstName\": \"A\"}}", 0, NULL);
        ProtobufCMessage *m = NULL;
        nrm_err_t err = { 0, 0, "" };
        CHECK_RC(nrm_pbjson_from_json(nrm_body_descriptor("referral"), doc, &o, &m, &err), NRM_ETOOBIG);
        CHECK_STR_HAS(err.msg, "person: nested deeper than 1 objects");
        CHECK(m == NULL);
        json_decref(doc);
    }

    /* bytes that are not a body of that type */
    {
        nrm_body_t *b = NULL;
        nrm_err_t err = { 0, 0, "" };
        const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x01 };
        CHECK(nrm_body_decode("referral", junk, sizeof junk, &b, &err) != 0);
        CHECK_STR_HAS(err.msg, "does not decode as a referral");
        /* a valid Withdrawal read as a response: unknown enum / fields */
        json_t *doc = s_load("withdrawal.json");
        CHECK_RC(nrm_body_from_json("withdrawal", doc, &b, &err), 0);
        uint8_t *bytes = NULL;
        size_t len = 0;
        CHECK_RC(nrm_body_encode(b, &bytes, &len, &err), 0);
        nrm_body_t *wrong = NULL;
        CHECK(nrm_body_decode("info-request", bytes, len, &wrong, &err) != 0);
        CHECK(wrong == NULL);
        free(bytes);
        nrm_body_free(&b);
        json_decref(doc);
    }
}

/* The recipient checks an opened body in place (nrm_pbjson_check), not
   through JSON and back; that gives the same answers only while the schema
   keeps to what the in-place check assumes. Walks every body message. */
static void
s_schema_fits(const ProtobufCMessageDescriptor *d, bool top, int depth)
{
    CHECK(depth < 8);
    for (unsigned i = 0; i < d->n_fields && depth < 8; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        CHECK(f->name[0] != '_');
        CHECK(!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF));
        CHECK(f->type != PROTOBUF_C_TYPE_BYTES);
        CHECK(f->type != PROTOBUF_C_TYPE_STRING || f->default_value == NULL);
        CHECK(!top || (strcmp(f->name, "document") != 0 && strcmp(f->name, "schema_version") != 0
                       && strcmp(f->name, "field_standard") != 0));
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            s_schema_fits(f->descriptor, false, depth + 1);
    }
}

/* Packs doc converted by the bare converter (no checks, no caps, no
   rules), after tweak (if any) changed the message; the caller frees. */
static uint8_t *
s_pack_unchecked(const char *type, const char *base, const char *patch_text,
                 void (*tweak)(ProtobufCMessage *), size_t *len)
{
    nrm_pbjson_opts_t bare = { 1u << 20, 1024, 16, true, NULL, NULL };
    json_t *doc = s_patched(base, patch_text, __LINE__);
    ProtobufCMessage *m = NULL;
    nrm_err_t err = { 0, 0, "" };
    uint8_t *out = NULL;
    json_object_del(doc, "document");
    json_object_del(doc, "schema_version");
    json_object_del(doc, "field_standard");
    CHECK_RC(nrm_pbjson_from_json(nrm_body_descriptor(type), doc, &bare, &m, &err), 0);
    if (m) {
        if (tweak)
            tweak(m);
        *len = protobuf_c_message_get_packed_size(m);
        out = malloc(*len + 1);
        protobuf_c_message_pack(m, out);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    json_decref(doc);
    return out;
}

static void
s_gender_99(ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *pf = nrm_pbjson_field(m->descriptor, "person");
    ProtobufCMessage *person = *(ProtobufCMessage **) ((uint8_t *) m + pf->offset);
    const ProtobufCFieldDescriptor *g = nrm_pbjson_field(person->descriptor, "prs_Gender");
    *(int *) ((uint8_t *) person + g->offset) = 99;
    *(protobuf_c_boolean *) ((uint8_t *) person + g->quantifier_offset) = 1;
}

static void
s_name_bad_utf8(ProtobufCMessage *m)
{
    const ProtobufCFieldDescriptor *pf = nrm_pbjson_field(m->descriptor, "person");
    ProtobufCMessage *person = *(ProtobufCMessage **) ((uint8_t *) m + pf->offset);
    const ProtobufCFieldDescriptor *n = nrm_pbjson_field(person->descriptor, "prs_FirstName");
    char **s = (char **) ((uint8_t *) person + n->offset);
    free(*s);
    *s = strdup("ab\xc3(");
}

/* An opened body that breaks a rule is refused with the message the
   sender's conversion gives: the check in place (nrm_body_decode) sees
   what the sender's path would. */
static void
s_opened_refused(const char *patch, void (*tweak)(ProtobufCMessage *), int code, const char *want,
                 int line)
{
    size_t len = 0;
    uint8_t *bytes = s_pack_unchecked("referral", REF, patch, tweak, &len);
    nrm_body_t *b = NULL;
    nrm_err_t err = { 0, 0, "" };
    int rc = bytes ? nrm_body_decode("referral", bytes, len, &b, &err) : -1;
    t_checks++;
    if (rc != code || !strstr(err.msg, want) || b != NULL) {
        t_failures++;
        fprintf(stderr, "line %d: rc %d msg '%s' (wanted %d, '%s')\n", line, rc, err.msg, code, want);
    }
    nrm_body_free(&b);
    free(bytes);
}
#define OPENED_REFUSED(patch, tweak, code, want) s_opened_refused(patch, tweak, code, want, __LINE__)

static void
test_decode_in_place(void)
{
    static const char *const types[] = { "tip", "referral", "transfer", "response", "outcome",
                                         "withdrawal", "status", "consent", "interpreter-request",
                                         "info-request", "info-reply" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        CHECK(nrm_body_descriptor(types[i]) != NULL);
        if (nrm_body_descriptor(types[i]))
            s_schema_fits(nrm_body_descriptor(types[i]), true, 0);
    }
    OPENED_REFUSED("{}", s_gender_99, NRM_EINVAL, "person.prs_Gender: enum value 99 is not in the schema");
    OPENED_REFUSED("{}", s_name_bad_utf8, NRM_EINVAL, "person.prs_FirstName: not valid UTF-8 text");
    OPENED_REFUSED("{\"person\": {\"prs_Citizenship\": [\"MM\", \"XX\"]}}", NULL, NRM_EINVAL,
                   "person.prs_Citizenship[1]: 'XX' is not an ISO 3166-1 alpha-2 country code");
    OPENED_REFUSED("{\"person\": {\"prs_Birthdate\": \"2009-02-30\"}}", NULL, NRM_EINVAL,
                   "person.prs_Birthdate: '2009-02-30' is not a date (YYYY-MM-DD)");
    OPENED_REFUSED("{\"consent\": {\"ext_GivenBy\": \"victim\"}}", NULL, NRM_EINVAL,
                   "consent.ext_GivenBy: a child cannot consent alone");
    OPENED_REFUSED("{\"person\": {\"ext_Child\": true, \"ext_AgeYears\": 20}}", NULL, NRM_EINVAL,
                   "person.ext_Child: true, but ext_AgeYears is 20");
    /* the first error is the one the way through JSON meets first: the
       writer's (bad enum value) before the reader's (bad country) */
    OPENED_REFUSED("{\"person\": {\"prs_Citizenship\": [\"XX\"]}}", s_gender_99, NRM_EINVAL,
                   "person.prs_Gender: enum value 99 is not in the schema");
    {
        /* caps */
        size_t n = 0, at;
        char list[2048], *patch = malloc(NRM_BODY_STRING_MAX + 64), *big = malloc(NRM_BODY_STRING_MAX + 2);
        memset(big, 'a', NRM_BODY_STRING_MAX + 1);
        big[NRM_BODY_STRING_MAX + 1] = '\0';
        snprintf(patch, NRM_BODY_STRING_MAX + 64, "{\"narrative\": \"%s\"}", big);
        OPENED_REFUSED(patch, NULL, NRM_ETOOBIG, "narrative: 16385 bytes, over the limit of 16384");
        at = (size_t) snprintf(list, sizeof list, "{\"person\": {\"prs_Citizenship\": [");
        for (n = 0; n <= NRM_BODY_ITEMS_MAX && at < sizeof list; n++)
            at += (size_t) snprintf(list + at, sizeof list - at, n ? ",\"TH\"" : "\"TH\"");
        if (at < sizeof list)
            snprintf(list + at, sizeof list - at, "]}}");
        OPENED_REFUSED(list, NULL, NRM_ETOOBIG, "person.prs_Citizenship: 65 items, over the limit of 64");
        free(patch);
        free(big);
    }
    {
        /* the check itself: a depth cap, as the converter says it */
        nrm_pbjson_opts_t o = { 1u << 20, 1024, 1, true, NULL, NULL };
        size_t len = 0;
        uint8_t *bytes = s_pack_unchecked("referral", REF, "{}", NULL, &len);
        ProtobufCMessage *m = bytes ? protobuf_c_message_unpack(nrm_body_descriptor("referral"), NULL,
                                                                len, bytes) : NULL;
        nrm_err_t err = { 0, 0, "" };
        CHECK(m != NULL);
        if (m) {
            CHECK_RC(nrm_pbjson_check(m, &o, &err), NRM_ETOOBIG);
            CHECK_STR_HAS(err.msg, "nested deeper than 1 objects");
            protobuf_c_message_free_unpacked(m, NULL);
        }
        free(bytes);
    }
}

static void
test_minimise(void)
{
    json_t *doc = s_load("interpreter-request.json");
    nrm_body_t *b = NULL;
    nrm_err_t err = { 0, 0, "" };
    char stripped[NRM_MAX_STRIPPED][NRM_STRIPPED_NAME_MAX + 1];
    size_t n = 0;
    const char *allowed[] = { "appointment", "person.prs_FirstName", "person.prs_PrimaryLanguage",
                              "person.ext_InterpreterLanguage", "consent" };
    CHECK_RC(nrm_body_from_json("interpreter-request", doc, &b, &err), 0);
    CHECK_RC(nrm_body_minimise(b, allowed, 5, stripped, NRM_MAX_STRIPPED, &n, &err), 0);
    json_t *out = NULL;
    CHECK_RC(nrm_body_to_json(b, &out, &err), 0);
    json_t *p = json_object_get(out, "person");
    CHECK(json_object_get(out, "appointment") != NULL);
    CHECK(json_object_get(out, "ext_Notes") == NULL);
    CHECK(p && json_object_get(p, "prs_FirstName") && !json_object_get(p, "prs_Birthdate"));
    CHECK(p && !json_object_get(p, "ext_Child") && !json_object_get(p, "prs_Gender"));
    bool notes = false, birth = false;
    for (size_t i = 0; i < n; i++) {
        notes |= strcmp(stripped[i], "ext_Notes") == 0;
        birth |= strcmp(stripped[i], "person.prs_Birthdate") == 0;
    }
    CHECK(notes && birth);
    CHECK(n == 5);    /* ext_Notes, prs_Birthdate, ext_Child, prs_Gender, ext_InterpreterNeeded */
    json_decref(out);
    nrm_body_free(&b);

    /* Lists of sub-messages keep what is allowed below them. */
    json_decref(doc);
    doc = s_load("tip-ngo-police.json");
    const char *allow2[] = { "trafficking_events.hte_Type", "trafficking_events.hte_Country" };
    CHECK_RC(nrm_body_from_json("tip", doc, &b, &err), 0);
    CHECK_RC(nrm_body_minimise(b, allow2, 2, stripped, NRM_MAX_STRIPPED, &n, &err), 0);
    CHECK_RC(nrm_body_to_json(b, &out, &err), 0);
    json_t *ev = json_object_get(out, "trafficking_events");
    CHECK(json_array_size(ev) == 3);
    CHECK(json_object_size(json_array_get(ev, 0)) == 2);
    CHECK(json_object_get(out, "narrative") == NULL);
    json_decref(out);
    nrm_body_free(&b);
    json_decref(doc);

    CHECK(nrm_body_path_valid("person"));
    CHECK(nrm_body_path_valid("appointment.ext_Start"));
    CHECK(nrm_body_path_valid("trafficking_events.hte_Description"));
    CHECK(!nrm_body_path_valid("person.prs_Nickname"));
    CHECK(!nrm_body_path_valid("person..prs_FirstName"));
    CHECK(!nrm_body_path_valid(""));
}

static void
test_facts(void)
{
    json_t *doc = s_load("tip-ngo-police.json");
    nrm_body_t *b = NULL;
    nrm_err_t err = { 0, 0, "" };
    nrm_body_facts_t f;
    CHECK_RC(nrm_body_from_json("tip", doc, &b, &err), 0);
    nrm_body_facts(b, &f);
    CHECK(f.personal && f.child && f.high_risk && f.immediate && f.has_consent);
    CHECK(f.consent.services && f.consent.sharing);
    CHECK(strcmp(f.consent.given_by, "responsible_official") == 0);
    CHECK(strcmp(f.consent.lawful_basis, "vital_interests") == 0);
    CHECK(strcmp(f.consent.overridden_by, "ngo.social-worker-14") == 0);
    CHECK(f.objects_origin && f.n_citizenship == 1 && strcmp(f.citizenship[0], "MM") == 0);
    CHECK(nrm_body_consent_shares(b, "police") && !nrm_body_consent_shares(b, "labour"));
    nrm_body_free(&b);
    json_decref(doc);
    doc = s_load("response-accept.json");
    CHECK_RC(nrm_body_from_json("response", doc, &b, &err), 0);
    nrm_body_facts(b, &f);
    CHECK(!f.personal && !f.child && !f.has_consent);
    nrm_body_free(&b);
    json_decref(doc);
}

int
main(void)
{
    test_examples();
    test_errors();
    test_decode_in_place();
    test_minimise();
    test_facts();
    TEST_DONE();
}
