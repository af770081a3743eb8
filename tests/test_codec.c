/*  Unit tests of nrm_codec: envelopes, certificates, records and wire
    messages round-trip, and every kind of bad input is refused with the
    right reason and a message naming the field. */
#include "nrm_codec.h"
#include "nrm_crypto.h"
#include "nrm_util.h"
#include "testutil.h"

static nrm_envelope_t
s_env(void)
{
    nrm_envelope_t e;
    memset(&e, 0, sizeof e);
    e.version = NRM_ENVELOPE_VERSION;
    nrm_random(e.msg_id, sizeof e.msg_id);
    snprintf(e.type, sizeof e.type, "referral");
    snprintf(e.sender, sizeof e.sender, "police");
    snprintf(e.recipient, sizeof e.recipient, "msdhs");
    snprintf(e.case_ref, sizeof e.case_ref, "case-0a1b2c3d");
    e.created_ms = 1790000000000ull;
    e.priority = 2;
    e.has_reply_to = true;
    nrm_random(e.in_reply_to, sizeof e.in_reply_to);
    nrm_random(e.body_hash, sizeof e.body_hash);
    e.body_size = 1234;
    return e;
}

/* Encodes e and expects decoding to refuse with reason and a message
   containing what. */
static void
s_expect_refused(const nrm_envelope_t *e, uint32_t reason, const char *what, int line)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    nrm_envelope_t back;
    nrm_err_t err = { 0, 0, "" };
    if (nrm_envelope_encode(e, &buf, &len, &err) != 0) {
        fprintf(stderr, "line %d: encode failed\n", line);
        t_failures++;
        return;
    }
    int rc = nrm_envelope_decode(buf, len, &back, &err);
    t_checks++;
    if (rc == 0 || err.reason != reason || !strstr(err.msg, what)) {
        t_failures++;
        fprintf(stderr, "line %d: rc %d reason %u msg '%s' (wanted reason %u, '%s')\n", line, rc,
                err.reason, err.msg, reason, what);
    }
    free(buf);
}

/* The lifecycle fields (12-20) round-trip, and each bad value is refused
   with its field named. */
static void
test_envelope_lifecycle(void)
{
    nrm_envelope_t e = s_env(), back, bad;
    uint8_t *buf = NULL;
    size_t len = 0;
    nrm_err_t err;
    e.personal_data = true;
    e.has_consent = true;
    e.consent.services = true;
    snprintf(e.consent.given_by, sizeof e.consent.given_by, "guardian");
    snprintf(e.consent.lawful_basis, sizeof e.consent.lawful_basis, "vital_interests");
    snprintf(e.consent.lawful_basis_ref, sizeof e.consent.lawful_basis_ref, "PDPA B.E. 2562 s24(2)");
    snprintf(e.consent.overridden_by, sizeof e.consent.overridden_by, "police.officer-12");
    e.child = true;
    snprintf(e.purpose, sizeof e.purpose, "interpretation");
    e.cross_border = true;
    snprintf(e.destination_country, sizeof e.destination_country, "MM");
    e.body_schema = 1;
    e.n_stripped = 2;
    snprintf(e.stripped[0], sizeof e.stripped[0], "narrative");
    snprintf(e.stripped[1], sizeof e.stripped[1], "person.prs_Birthdate");
    e.response_due_ms = e.created_ms + 3600000;
    CHECK_RC(nrm_envelope_encode(&e, &buf, &len, &err), 0);
    CHECK_RC(nrm_envelope_decode(buf, len, &back, &err), 0);
    CHECK(memcmp(&e.consent, &back.consent, sizeof e.consent) == 0 && back.has_consent);
    CHECK(back.personal_data && back.child && back.cross_border && back.body_schema == 1);
    CHECK(strcmp(back.purpose, "interpretation") == 0 && strcmp(back.destination_country, "MM") == 0);
    CHECK(back.n_stripped == 2 && strcmp(back.stripped[1], "person.prs_Birthdate") == 0);
    CHECK(back.response_due_ms == e.response_due_ms);
    free(buf);
    /* An empty assertion is still an assertion (present, all defaults). */
    bad = s_env();
    bad.has_consent = true;
    CHECK_RC(nrm_envelope_encode(&bad, &buf, &len, &err), 0);
    CHECK_RC(nrm_envelope_decode(buf, len, &back, &err), 0);
    CHECK(back.has_consent && !back.consent.services);
    free(buf);

    bad = e;
    snprintf(bad.destination_country, sizeof bad.destination_country, "XX");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.destination_country: 'XX'", __LINE__);
    bad = e;
    bad.destination_country[0] = '\0';
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "given if and only if cross_border", __LINE__);
    bad = e;
    snprintf(bad.consent.given_by, sizeof bad.consent.given_by, "aunt");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.consent.given_by: 'aunt'", __LINE__);
    bad = e;
    snprintf(bad.consent.lawful_basis, sizeof bad.consent.lawful_basis, "because");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.consent.lawful_basis: 'because'", __LINE__);
    bad = e;
    snprintf(bad.consent.overridden_by, sizeof bad.consent.overridden_by, "Officer Somchai");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.consent.overridden_by", __LINE__);
    bad = e;
    snprintf(bad.consent.lawful_basis_ref, sizeof bad.consent.lawful_basis_ref, "s24\x01");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.consent.lawful_basis", __LINE__);
    bad = e;
    snprintf(bad.stripped[0], sizeof bad.stripped[0], "name: Zaw");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.stripped[0]: not a field name", __LINE__);
    bad = e;
    snprintf(bad.purpose, sizeof bad.purpose, "Shelter Placement");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.purpose", __LINE__);
    bad = e;
    bad.body_schema = 2;
    s_expect_refused(&bad, NRM_R_BAD_VERSION, "envelope.body_schema: 2", __LINE__);
    bad = e;
    bad.response_due_ms = bad.created_ms;
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.response_due_ms", __LINE__);
}

/* Notices: round trip, and the wire message that carries one. */
static void
test_notice(void)
{
    nrm_notice_t n, back;
    nrm_err_t err;
    uint8_t *buf = NULL, *frame = NULL, sig[NRM_SIG_BYTES];
    size_t len = 0, flen = 0;
    memset(&n, 0, sizeof n);
    n.kind = NRM_NOTICE_ESCALATED;
    nrm_random(n.msg_id, sizeof n.msg_id);
    snprintf(n.case_ref, sizeof n.case_ref, "case-1");
    snprintf(n.sender, sizeof n.sender, "police");
    snprintf(n.recipient, sizeof n.recipient, "msdhs");
    snprintf(n.type, sizeof n.type, "referral");
    snprintf(n.addressee, sizeof n.addressee, "mdt");
    n.due_ms = 5;
    n.seq = 9;
    n.time_ms = 6;
    CHECK_RC(nrm_notice_encode(&n, &buf, &len, &err), 0);
    CHECK_RC(nrm_notice_decode(buf, len, &back, &err), 0);
    CHECK(memcmp(&n, &back, sizeof n) == 0);
    memset(sig, 7, sizeof sig);
    nrm_wire_t w = { .kind = NRM_WIRE_NOTICE };
    w.signed_obj.body.data = buf;
    w.signed_obj.body.len = len;
    w.signed_obj.sig.data = sig;
    w.signed_obj.sig.len = NRM_SIG_BYTES;
    CHECK_RC(nrm_wire_encode(&w, &frame, &flen, &err), 0);
    nrm_wire_t *d = NULL;
    CHECK_RC(nrm_wire_decode(frame, flen, false, &d, &err), 0);
    CHECK(d && d->kind == NRM_WIRE_NOTICE && d->signed_obj.body.len == len);
    nrm_wire_destroy(&d);
    free(frame);
    free(buf);
    n.kind = 7;
    CHECK_RC(nrm_notice_encode(&n, &buf, &len, &err), 0);
    CHECK(nrm_notice_decode(buf, len, &back, &err) != 0);
    CHECK_STR_HAS(err.msg, "notice.kind: unknown kind 7");
    free(buf);
}

static void
test_envelope(void)
{
    nrm_envelope_t e = s_env(), back;
    uint8_t *buf = NULL;
    size_t len = 0;
    nrm_err_t err;
    CHECK_RC(nrm_envelope_encode(&e, &buf, &len, &err), 0);
    CHECK_RC(nrm_envelope_decode(buf, len, &back, &err), 0);
    CHECK(memcmp(&e, &back, sizeof e) == 0);
    /* Truncated bytes never decode into the same envelope (a cut at a
       field boundary may still be a valid, different envelope, which its
       signature then rejects). */
    for (size_t cut = 0; cut < len; cut++)
        CHECK(nrm_envelope_decode(buf, cut, &back, &err) != 0 || memcmp(&back, &e, sizeof e) != 0);
    free(buf);

    nrm_envelope_t bad = s_env();
    bad.version = 9;
    s_expect_refused(&bad, NRM_R_BAD_VERSION, "envelope.version", __LINE__);
    bad = s_env();
    snprintf(bad.sender, sizeof bad.sender, "Police!");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.sender", __LINE__);
    bad = s_env();
    snprintf(bad.type, sizeof bad.type, "gossip");
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "unknown message type", __LINE__);
    bad = s_env();
    bad.priority = 4;
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.priority", __LINE__);
    bad = s_env();
    bad.body_size = NRM_MAX_BODY_BYTES + 1;
    s_expect_refused(&bad, NRM_R_TOO_BIG, "envelope.body_size", __LINE__);
    bad = s_env();
    bad.case_ref[0] = '\0';
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "envelope.case_ref", __LINE__);
    bad = s_env();
    bad.created_ms = 0;
    s_expect_refused(&bad, NRM_R_INVALID_FIELD, "created_ms", __LINE__);

    /* Canonical encoding only: a NUL inside a string ("police\0x" would
       read as "police" here but not in another decoder) and unknown fields
       are refused. */
    nrm_envelope_t c = s_env();
    CHECK_RC(nrm_envelope_encode(&c, &buf, &len, &err), 0);
    uint8_t *at = memmem(buf, len, "\x22\x06police", 8);
    CHECK(at != NULL);
    if (at) {
        uint8_t forged[600];
        size_t head = (size_t) (at - buf), n = 0;
        memcpy(forged, buf, head);
        n = head;
        memcpy(forged + n, "\x22\x08police\0x", 10);
        n += 10;
        memcpy(forged + n, at + 8, len - head - 8);
        n += len - head - 8;
        CHECK(nrm_envelope_decode(forged, n, &back, &err) != 0);
        CHECK_STR_HAS(err.msg, "canonical");
        memcpy(forged, buf, len);
        forged[len] = 0x98;         /* field 99, varint 1: unknown */
        forged[len + 1] = 0x06;
        forged[len + 2] = 0x01;
        CHECK(nrm_envelope_decode(forged, len + 3, &back, &err) != 0);
        CHECK_STR_HAS(err.msg, "canonical");
    }
    free(buf);

    /* Empty input, as an audit record with no subject hands it over (NULL
       pointer, zero length): refused, and no undefined behaviour (the
       sanitizer stage of make test halts on any). */
    CHECK(nrm_envelope_decode(NULL, 0, &back, &err) != 0);
    nrm_ack_t ack;
    nrm_cert_t cert;
    CHECK(nrm_ack_decode(NULL, 0, &ack, &err) != 0);
    CHECK(nrm_cert_decode(NULL, 0, &cert, &err) != 0);

    /* Oversize and garbage input. */
    uint8_t *huge = calloc(1, NRM_MAX_ENVELOPE_BYTES + 1);
    err.reason = 0;
    CHECK(nrm_envelope_decode(huge, NRM_MAX_ENVELOPE_BYTES + 1, &back, &err) == NRM_ETOOBIG);
    CHECK(err.reason == NRM_R_TOO_BIG);
    free(huge);
    const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f };
    CHECK(nrm_envelope_decode(garbage, sizeof garbage, &back, &err) != 0);
    CHECK(err.reason == NRM_R_MALFORMED);
}

static void
test_text(void)
{
    CHECK(nrm_text_valid("กรุงเทพ Bangkok", 100));
    CHECK(!nrm_text_valid("bad \xc3\x28", 100));
    CHECK(!nrm_text_valid("overlong \xc0\xaf", 100));
    CHECK(!nrm_text_valid("surrogate \xed\xa0\x80", 100));
    CHECK(!nrm_text_valid("tab\there", 100));
    CHECK(!nrm_text_valid("truncated \xe0\xb8", 100));
    CHECK(!nrm_text_valid("abcdef", 5));
    CHECK(nrm_id_valid("police-bkk.1"));
    CHECK(!nrm_id_valid("-police"));
    CHECK(!nrm_id_valid("Police"));
    CHECK(!nrm_id_valid(""));
    char longid[NRM_ID_MAX + 2];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    CHECK(!nrm_id_valid(longid));
    longid[NRM_ID_MAX] = '\0';
    CHECK(nrm_id_valid(longid));
}

static void
test_cert(void)
{
    nrm_cert_t c, back;
    nrm_err_t err;
    uint8_t *buf = NULL;
    size_t len = 0;
    memset(&c, 0, sizeof c);
    snprintf(c.org_id, sizeof c.org_id, "msdhs");
    snprintf(c.org_type, sizeof c.org_type, "msdhs");
    snprintf(c.name, sizeof c.name, "กระทรวงการพัฒนาสังคมและความมั่นคงของมนุษย์");
    snprintf(c.jurisdiction, sizeof c.jurisdiction, "TH");
    nrm_random(c.sign_pk, 32);
    nrm_random(c.curve_pk, 32);
    nrm_random(c.box_pk, 32);
    nrm_random(c.issuer_pk, 32);
    c.not_before_ms = 1;
    c.not_after_ms = 2;
    c.serial = 7;
    CHECK_RC(nrm_cert_encode(&c, &buf, &len, &err), 0);
    CHECK_RC(nrm_cert_decode(buf, len, &back, &err), 0);
    CHECK(memcmp(&c, &back, sizeof c) == 0);
    free(buf);
    snprintf(c.org_type, sizeof c.org_type, "spy");
    CHECK_RC(nrm_request_encode(&c, &buf, &len, &err), 0);
    CHECK(nrm_request_decode(buf, len, &back, &err) != 0);
    CHECK_STR_HAS(err.msg, "unknown organisation type");
    free(buf);
}

static void
test_wire(void)
{
    nrm_err_t err;
    uint8_t *buf = NULL;
    size_t len = 0;
    nrm_wire_t *w = NULL;
    uint8_t env[40], sig[64], body[100];
    nrm_random(env, sizeof env);
    nrm_random(sig, sizeof sig);
    nrm_random(body, sizeof body);
    nrm_wire_t s = { .kind = NRM_WIRE_SUBMIT };
    s.envelope = (nrm_bytes_t) { env, sizeof env };
    s.signature = (nrm_bytes_t) { sig, sizeof sig };
    s.sealed_body = (nrm_bytes_t) { body, sizeof body };
    CHECK_RC(nrm_wire_encode(&s, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, true, &w, &err), 0);
    CHECK(w && w->kind == NRM_WIRE_SUBMIT && w->envelope.len == sizeof env
          && memcmp(w->sealed_body.data, body, sizeof body) == 0);
    nrm_wire_destroy(&w);
    nrm_wire_destroy(&w);
    free(buf);

    /* A short signature is refused as a bad signature. */
    s.signature.len = 10;
    CHECK_RC(nrm_wire_encode(&s, &buf, &len, &err), 0);
    CHECK(nrm_wire_decode(buf, len, true, &w, &err) != 0 && err.reason == NRM_R_BAD_SIGNATURE);
    free(buf);

    /* Status queries are capped. */
    nrm_bytes_t ids[NRM_MAX_STATUS_IDS + 1];
    uint8_t id[16] = { 0 };
    for (size_t i = 0; i <= NRM_MAX_STATUS_IDS; i++)
        ids[i] = (nrm_bytes_t) { id, 16 };
    nrm_wire_t q = { .kind = NRM_WIRE_STATUS, .count = NRM_MAX_STATUS_IDS + 1, .ids = ids };
    CHECK_RC(nrm_wire_encode(&q, &buf, &len, &err), 0);
    CHECK(nrm_wire_decode(buf, len, true, &w, &err) != 0 && err.reason == NRM_R_TOO_BIG);
    free(buf);
    q.count = 3;
    CHECK_RC(nrm_wire_encode(&q, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, true, &w, &err), 0);
    CHECK(w && w->count == 3);
    nrm_wire_destroy(&w);
    free(buf);

    /* Server messages: status reply and deliver round-trip. */
    nrm_msg_status_t items[2];
    memset(items, 0, sizeof items);
    items[1].state = NRM_MSG_DELIVERED;
    items[1].delivered_seq = 99;
    nrm_wire_t r = { .kind = NRM_WIRE_STATUS_REPLY, .count = 2, .items = items };
    CHECK_RC(nrm_wire_encode(&r, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), 0);
    CHECK(w && w->count == 2 && w->items[1].delivered_seq == 99);
    nrm_wire_destroy(&w);
    /* A server message is not a client message. */
    CHECK(nrm_wire_decode(buf, len, true, &w, &err) != 0);
    free(buf);

    /* Empty and oversize frames. */
    CHECK(nrm_wire_decode((const uint8_t *) "", 0, true, &w, &err) != 0 && err.reason == NRM_R_MALFORMED);
    uint8_t *big = calloc(1, NRM_MAX_FRAME_BYTES + 1);
    CHECK(nrm_wire_decode(big, NRM_MAX_FRAME_BYTES + 1, true, &w, &err) == NRM_ETOOBIG);
    free(big);
}

/* A real proof: item i of a batch of n items signed by k. */
static nrm_batch_proof_t
s_proof(nrm_keys_t *k, size_t n, size_t i, uint8_t sig[NRM_SIG_BYTES])
{
    uint8_t data[64][4];
    nrm_batch_item_t items[64];
    nrm_batch_proof_t proofs[64];
    for (size_t j = 0; j < n; j++) {
        memcpy(data[j], &j, 4);
        items[j] = (nrm_batch_item_t) { data[j], 4 };
    }
    if (nrm_batch_sign(k, NRM_CTX_ACK, items, n, sig, proofs, NULL) != 0)
        t_failures++;
    return proofs[i];
}

static bool
s_proof_eq(const nrm_batch_proof_t *a, const nrm_batch_proof_t *b)
{
    return a->index == b->index && a->size == b->size && a->npath == b->npath
           && memcmp(a->path, b->path, a->npath * NRM_HASH_BYTES) == 0;
}

/* Batch proofs travel on Submit, Deliver, the Signed of acks and receipts,
   and in records; every bad shape is refused as bad-signature, naming the
   field; objects signed directly refuse one. */
static void
test_batch(void)
{
    nrm_keys_t *k = nrm_keys_generate(NRM_KEYS_SIGN);
    uint8_t sig[NRM_SIG_BYTES], env[40], body[60], *buf = NULL, *back = NULL;
    size_t len = 0, back_len = 0;
    nrm_err_t err = { 0, 0, "" };
    nrm_wire_t *w = NULL;
    nrm_batch_proof_t p = s_proof(k, 11, 9, sig), got;
    memset(env, 7, sizeof env);
    memset(body, 9, sizeof body);

    /* Submit and Deliver */
    nrm_wire_t s = { .kind = NRM_WIRE_SUBMIT };
    s.envelope = (nrm_bytes_t) { env, sizeof env };
    s.signature = (nrm_bytes_t) { sig, sizeof sig };
    s.sealed_body = (nrm_bytes_t) { body, sizeof body };
    s.batch = p;
    CHECK_RC(nrm_wire_encode(&s, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, true, &w, &err), 0);
    CHECK(w && s_proof_eq(&w->batch, &p));
    nrm_wire_destroy(&w);
    free(buf);
    nrm_cosig_t none[1];
    nrm_wire_t d = { .kind = NRM_WIRE_DELIVER, .seq = 5 };
    d.envelope = s.envelope;
    d.signature = s.signature;
    d.sealed_body = s.sealed_body;
    d.signed_obj = (nrm_signed_view_t) { { body, 10 }, { sig, 64 }, 0, none };
    d.batch = p;
    CHECK_RC(nrm_wire_encode(&d, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), 0);
    CHECK(w && s_proof_eq(&w->batch, &p));
    nrm_wire_destroy(&w);
    free(buf);
    /* without a proof: size 0 */
    d.batch.size = 0;
    CHECK_RC(nrm_wire_encode(&d, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), 0);
    CHECK(w && w->batch.size == 0);
    nrm_wire_destroy(&w);
    free(buf);

    /* Ack and receipt: the proof of their Signed */
    nrm_wire_t a = { .kind = NRM_WIRE_ACK };
    a.signed_obj = (nrm_signed_view_t) { { body, 30 }, { sig, 64 }, 0, NULL };
    a.batch = p;
    CHECK_RC(nrm_wire_encode(&a, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, true, &w, &err), 0);
    CHECK(w && s_proof_eq(&w->batch, &p));
    nrm_wire_destroy(&w);
    free(buf);
    a.kind = NRM_WIRE_RECEIPT;
    CHECK_RC(nrm_wire_encode(&a, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), 0);
    CHECK(w && s_proof_eq(&w->batch, &p));
    nrm_wire_destroy(&w);
    free(buf);

    /* Bad shapes, on a Submit: size 1, index not below size, a path one
       hash short or long, over the cap */
    struct { uint32_t index, size, npath; const char *what; } bad[] = {
        { 0, 1, 0, "a single item is signed directly" },
        { 11, 11, 4, "is not below its size" },
        { 9, 11, 2, "needs exactly 3" },
        { 9, 11, 4, "needs exactly 3" },
        { 0, 257, 8, "over the limit of 256" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s.batch = p;
        s.batch.index = bad[i].index;
        s.batch.size = bad[i].size;
        s.batch.npath = bad[i].npath;
        memset(&err, 0, sizeof err);
        CHECK_RC(nrm_wire_encode(&s, &buf, &len, &err), 0);
        CHECK(nrm_wire_decode(buf, len, true, &w, &err) == NRM_EINVAL);
        CHECK(err.reason == NRM_R_BAD_SIGNATURE);
        CHECK_STR_HAS(err.msg, "submit.batch");
        CHECK_STR_HAS(err.msg, bad[i].what);
        free(buf);
    }
    s.batch = p;

    /* Signed with a proof: round trip; the direct decoder refuses it */
    CHECK_RC(nrm_signed_encode_batch(body, 30, sig, &p, &buf, &len, &err), 0);
    CHECK_RC(nrm_signed_decode_batch(buf, len, 1024, &back, &back_len, sig, &got, &err), 0);
    CHECK(back_len == 30 && s_proof_eq(&got, &p));
    free(back);
    back = NULL;
    CHECK(nrm_signed_decode(buf, len, 1024, &back, &back_len, sig, &err) == NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "signed directly");
    CHECK(back == NULL);
    free(buf);
    CHECK_RC(nrm_signed_encode_batch(body, 30, sig, NULL, &buf, &len, &err), 0);
    CHECK_RC(nrm_signed_decode_batch(buf, len, 1024, &back, &back_len, sig, &got, &err), 0);
    CHECK(got.size == 0);
    free(back);
    back = NULL;
    free(buf);

    /* A certificate, a notice or an admin receipt never carries one */
    d.batch.size = 0;
    uint8_t *frame = NULL;
    CHECK_RC(nrm_wire_encode(&d, &frame, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(frame, len, false, &w, &err), 0);
    nrm_wire_destroy(&w);
    free(frame);
    /* the receipt frame's Signed (with its proof) moved to the notice
       (field 40) and admin_receipt (field 10) fields of ServerMsg */
    a.kind = NRM_WIRE_RECEIPT;
    CHECK_RC(nrm_wire_encode(&a, &buf, &len, &err), 0);
    CHECK(buf[0] == 0x12);                        /* field 2, length-delimited */
    uint8_t moved[512];
    const uint8_t tags[2][2] = { { 0xc2, 0x02 }, { 0x52, 0x00 } };
    for (int t = 0; t < 2; t++) {
        size_t tl = tags[t][1] ? 2 : 1;
        memcpy(moved, tags[t], tl);
        memcpy(moved + tl, buf + 1, len - 1);
        memset(&err, 0, sizeof err);
        CHECK(nrm_wire_decode(moved, len - 1 + tl, false, &w, &err) == NRM_EINVAL);
        CHECK_STR_HAS(err.msg, "signed directly, never in a batch");
    }
    free(buf);

    /* A proof alone (the agent's stores) */
    CHECK_RC(nrm_batch_proof_encode(&p, &buf, &len, &err), 0);
    CHECK(len > 0 && len <= 300);
    CHECK_RC(nrm_batch_proof_decode(buf, len, &got, &err), 0);
    CHECK(s_proof_eq(&got, &p));
    free(buf);
    nrm_batch_proof_t none_p = { 0, 0, 0, { { 0 } } };
    CHECK_RC(nrm_batch_proof_encode(&none_p, &buf, &len, &err), 0);
    CHECK(buf == NULL && len == 0);
    CHECK_RC(nrm_batch_proof_decode(NULL, 0, &got, &err), 0);
    CHECK(got.size == 0);
    CHECK(nrm_batch_proof_decode((const uint8_t *) "\x10\x01", 2, &got, &err) == NRM_EINVAL);

    /* Records keep the proof of their signature */
    nrm_record_t rec, rback;
    memset(&rec, 0, sizeof rec);
    rec.seq = 3;
    rec.kind = NRM_REC_ACCEPTED;
    snprintf(rec.actor, sizeof rec.actor, "police");
    rec.subject = env;
    rec.subject_len = sizeof env;
    rec.has_signature = true;
    memcpy(rec.signature, sig, sizeof sig);
    rec.batch = p;
    CHECK_RC(nrm_record_encode(&rec, &buf, &len, &err), 0);
    CHECK_RC(nrm_record_decode(buf, len, &rback, &err), 0);
    CHECK(s_proof_eq(&rback.batch, &p));
    nrm_record_clear(&rback);
    free(buf);
    rec.batch.npath = 1;
    CHECK_RC(nrm_record_encode(&rec, &buf, &len, &err), 0);
    CHECK(nrm_record_decode(buf, len, &rback, &err) != 0);
    CHECK_STR_HAS(err.msg, "record.batch");
    free(buf);
    rec.batch = p;
    rec.has_signature = false;
    CHECK_RC(nrm_record_encode(&rec, &buf, &len, &err), 0);
    CHECK(nrm_record_decode(buf, len, &rback, &err) != 0);
    CHECK_STR_HAS(err.msg, "without a signature");
    free(buf);
    nrm_keys_destroy(&k);
}

/* The directory digest of Hello and Welcome (docs/protocol.md 5.1): 32
   bytes or none; an unchanged Welcome names a directory and carries no
   certificates. */
static void
test_directory(void)
{
    uint8_t dig[NRM_HASH_BYTES + 1], sig[NRM_SIG_BYTES], body[20], *buf = NULL;
    size_t len = 0;
    nrm_err_t err = { 0, 0, "" };
    nrm_wire_t *w = NULL;
    memset(dig, 0xd1, sizeof dig);
    memset(sig, 3, sizeof sig);
    memset(body, 4, sizeof body);

    nrm_wire_t h = { .kind = NRM_WIRE_HELLO, .version = 1, .org_id = "police", .time_ms = 9,
                     .directory = { dig, NRM_HASH_BYTES } };
    CHECK_RC(nrm_wire_encode(&h, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, true, &w, &err), 0);
    CHECK(w && w->directory.len == NRM_HASH_BYTES && memcmp(w->directory.data, dig, NRM_HASH_BYTES) == 0);
    nrm_wire_destroy(&w);
    free(buf);
    h.directory.len = 0;                /* none: an agent without a directory */
    CHECK_RC(nrm_wire_encode(&h, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, true, &w, &err), 0);
    CHECK(w && w->directory.len == 0);
    nrm_wire_destroy(&w);
    free(buf);
    h.directory.len = 31;
    CHECK_RC(nrm_wire_encode(&h, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, true, &w, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "hello.directory: 31 bytes, must be 32 or none");
    free(buf);

    nrm_wire_t u = { .kind = NRM_WIRE_WELCOME, .time_ms = 7, .unchanged = true,
                     .directory = { dig, NRM_HASH_BYTES } };
    CHECK_RC(nrm_wire_encode(&u, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), 0);
    CHECK(w && w->unchanged && w->count == 0 && w->directory.len == NRM_HASH_BYTES
          && memcmp(w->directory.data, dig, NRM_HASH_BYTES) == 0);
    nrm_wire_destroy(&w);
    free(buf);
    memset(&err, 0, sizeof err);
    u.directory.len = 0;                /* unchanged, but naming nothing */
    CHECK_RC(nrm_wire_encode(&u, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "welcome.unchanged");
    free(buf);
    nrm_signed_view_t cert = { { body, sizeof body }, { sig, sizeof sig }, 0, NULL };
    u.directory.len = NRM_HASH_BYTES;       /* unchanged, with certificates */
    u.count = 1;
    u.certs = &cert;
    CHECK_RC(nrm_wire_encode(&u, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "welcome.unchanged");
    free(buf);
    u.unchanged = false;                /* the whole directory, named */
    CHECK_RC(nrm_wire_encode(&u, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), 0);
    CHECK(w && !w->unchanged && w->count == 1 && w->directory.len == NRM_HASH_BYTES);
    nrm_wire_destroy(&w);
    free(buf);
    u.directory.len = 33;
    CHECK_RC(nrm_wire_encode(&u, &buf, &len, &err), 0);
    CHECK_RC(nrm_wire_decode(buf, len, false, &w, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "welcome.directory: 33 bytes");
    free(buf);
}

int
main(void)
{
    if (nrm_crypto_init() != 0)
        return 2;
    test_envelope();
    test_envelope_lifecycle();
    test_notice();
    test_text();
    test_cert();
    test_wire();
    test_batch();
    test_directory();
    TEST_DONE();
}
