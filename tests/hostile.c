/*  hostile -- a table of hostile inputs sent to a live broker by an
    enrolled organisation (nrm-testclient ... table). Each case builds one
    frame by hand (a small protobuf writer, so that it can write what no
    encoder would: wrong wire types, fields out of order, defaults written,
    unknown fields, bad UTF-8), sends it, and checks the exact answer: the
    reason code of the signed receipt, the same receipt again for a replay,
    or no receipt for a refused acknowledgement (which the broker logs
    without answering). it_hostile.sh then checks that the broker still
    runs, that everything accepted before is still delivered, that every
    refusal is a REJECTED record, and that the log verifies.

    Every envelope is signed by the client with its real key unless the case
    is about the signature, so each case fails at exactly the check it
    targets (docs/protocol.md section 5.2 gives the order). */
#include "testclient.h"
#include "nrm_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a protobuf writer that does what it is told ---- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} pb_t;

static void
pb_raw(pb_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2 + 64;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            fprintf(stderr, "hostile: out of memory\n");
            exit(2);
        }
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void
pb_varint(pb_t *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t) (v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    pb_raw(b, tmp, n);
}

static void
pb_uint(pb_t *b, unsigned field, uint64_t v)
{
    pb_varint(b, (uint64_t) field << 3 | 0);
    pb_varint(b, v);
}

static void
pb_bytes(pb_t *b, unsigned field, const void *p, size_t n)
{
    pb_varint(b, (uint64_t) field << 3 | 2);
    pb_varint(b, n);
    pb_raw(b, p, n);
}

static void
pb_free(pb_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- one submission, field by field ---- */

typedef struct {
    /* envelope */
    uint64_t version;
    uint8_t  msg_id[40];
    size_t   msg_id_len;
    char     type[80];
    char     sender[80], recipient[80], case_ref[80];
    uint64_t created_ms, priority;
    uint8_t  reply[40];
    size_t   reply_len;
    uint8_t  body_hash[40];
    size_t   body_hash_len;
    uint64_t body_size;
    uint64_t response_due_ms;     /* field 20: a referral must carry it    */
    bool     write_defaults;      /* priority 0 written explicitly          */
    bool     swap_fields;         /* type (3) written before msg_id (2)     */
    bool     unknown_field;       /* field 25 appended                      */
    size_t   pad_envelope;        /* bytes of an unknown field 24           */
    /* signature */
    const char *sig_ctx;          /* default NRM_CTX_ENVELOPE               */
    size_t   sig_len;             /* default 64                             */
    bool     sig_flip, sig_other_bytes;
    /* submit */
    uint8_t *body;
    size_t   body_len;
    bool     body_flip, omit_envelope, envelope_as_varint;
    uint8_t  fixed_id[16];
    bool     use_fixed_id;
} spec_t;

static const char *s_doc = "{\"note\":\"hostile table\"}";

static void
s_spec_default(client_t *c, spec_t *s)
{
    memset(s, 0, sizeof *s);
    s->version = NRM_ENVELOPE_VERSION;
    nrm_random(s->msg_id, 16);
    s->msg_id_len = 16;
    snprintf(s->type, sizeof s->type, "referral");
    snprintf(s->sender, sizeof s->sender, "%s", c->org);
    snprintf(s->recipient, sizeof s->recipient, "%s", c->to);
    snprintf(s->case_ref, sizeof s->case_ref, "case-hostile");
    s->created_ms = nrm_now_ms();
    s->priority = 1;
    s->sig_ctx = NRM_CTX_ENVELOPE;
    s->sig_len = 64;
    s->body_len = strlen(s_doc) + NRM_SEAL1_OVERHEAD;
    s->body = malloc(s->body_len);
    if (!s->body || nrm_seal1(c->recipient.box_pk, (const uint8_t *) s_doc, strlen(s_doc), s->body) != 0) {
        fprintf(stderr, "hostile: seal\n");
        exit(2);
    }
    nrm_sha256(s->body, s->body_len, s->body_hash);
    s->body_hash_len = 32;
    s->body_size = s->body_len;
    s->response_due_ms = s->created_ms + 30u * 60u * 1000u;  /* within any policy deadline */
}

static void
s_envelope(const spec_t *s, pb_t *e)
{
    if (s->version)
        pb_uint(e, 1, s->version);
    if (s->swap_fields)
        pb_bytes(e, 3, s->type, strlen(s->type));
    if (s->msg_id_len)
        pb_bytes(e, 2, s->msg_id, s->msg_id_len);
    if (!s->swap_fields && s->type[0])
        pb_bytes(e, 3, s->type, strlen(s->type));
    if (s->sender[0])
        pb_bytes(e, 4, s->sender, strlen(s->sender));
    if (s->recipient[0])
        pb_bytes(e, 5, s->recipient, strlen(s->recipient));
    if (s->case_ref[0])
        pb_bytes(e, 6, s->case_ref, strlen(s->case_ref));
    if (s->created_ms)
        pb_uint(e, 7, s->created_ms);
    if (s->priority || s->write_defaults)
        pb_uint(e, 8, s->priority);
    if (s->reply_len)
        pb_bytes(e, 9, s->reply, s->reply_len);
    if (s->body_hash_len)
        pb_bytes(e, 10, s->body_hash, s->body_hash_len);
    if (s->body_size)
        pb_uint(e, 11, s->body_size);
    if (s->response_due_ms)
        pb_uint(e, 20, s->response_due_ms);
    if (s->pad_envelope) {
        uint8_t *pad = calloc(1, s->pad_envelope);
        pb_bytes(e, 24, pad, s->pad_envelope);
        free(pad);
    }
    if (s->unknown_field)
        pb_uint(e, 25, 42);
}

/* Builds the Submit frame of spec s into f; returns the msg_id used. */
static void
s_submit_frame(client_t *c, spec_t *s, pb_t *f)
{
    pb_t e = { 0 }, sub = { 0 };
    uint8_t sig[64];
    if (s->use_fixed_id)
        memcpy(s->msg_id, s->fixed_id, 16);
    s_envelope(s, &e);
    if (s->sig_other_bytes) {
        /* A genuine signature of this organisation, over other bytes. */
        const uint8_t other[] = "another envelope";
        if (nrm_sign(c->keys, NRM_CTX_ENVELOPE, other, sizeof other, sig) != 0)
            exit(2);
    } else if (nrm_sign(c->keys, s->sig_ctx, e.data, e.len, sig) != 0) {
        exit(2);
    }
    if (s->sig_flip)
        sig[7] ^= 0x40;
    if (s->body_flip)
        s->body[s->body_len / 2] ^= 1;
    if (!s->omit_envelope) {
        if (s->envelope_as_varint)
            pb_uint(&sub, 1, 7);
        else
            pb_bytes(&sub, 1, e.data, e.len);
    }
    pb_bytes(&sub, 2, sig, s->sig_len);
    pb_bytes(&sub, 3, s->body, s->body_len);
    pb_bytes(f, 2, sub.data, sub.len);       /* ClientMsg.submit */
    memcpy(c->last_id, s->msg_id, 16);
    pb_free(&e);
    pb_free(&sub);
}

/* ---- the cases ---- */

enum { EXPECT_REFUSAL, EXPECT_OK, EXPECT_SAME_RECEIPT, EXPECT_NO_RECEIPT, EXPECT_WELCOME,
       EXPECT_BURST };
#define BURST 4     /* copies of one new frame sent at once (EXPECT_BURST) */

typedef struct {
    const char *name;
    int expect;
    uint32_t reason;          /* for EXPECT_REFUSAL */
    void (*tweak)(client_t *c, spec_t *s);  /* submit cases */
    void (*frame)(client_t *c, pb_t *f, bool *multipart);  /* raw frames */
} case_t;

/* Submit tweaks. */
static void t_valid(client_t *c, spec_t *s) { (void) c; (void) s; }
static void t_version(client_t *c, spec_t *s) { (void) c; s->version = 2; }
static void t_version_missing(client_t *c, spec_t *s) { (void) c; s->version = 0; }
static void t_id_short(client_t *c, spec_t *s) { (void) c; s->msg_id_len = 15; }
static void t_id_missing(client_t *c, spec_t *s) { (void) c; s->msg_id_len = 0; }
static void t_type_unknown(client_t *c, spec_t *s) { (void) c; snprintf(s->type, sizeof s->type, "bribe"); }
static void t_type_long(client_t *c, spec_t *s) { (void) c; memset(s->type, 'r', 33); s->type[33] = 0; }
static void t_type_utf8(client_t *c, spec_t *s) { (void) c; snprintf(s->type, sizeof s->type, "ref\xc3\x28ral"); }
static void t_type_overlong(client_t *c, spec_t *s) { (void) c; snprintf(s->type, sizeof s->type, "tip\xc0\xaf"); }
static void t_type_control(client_t *c, spec_t *s) { (void) c; snprintf(s->type, sizeof s->type, "tip\n"); }
static void t_sender_bad(client_t *c, spec_t *s) { (void) c; snprintf(s->sender, sizeof s->sender, "Police"); }
static void t_recipient_long(client_t *c, spec_t *s) { (void) c; memset(s->recipient, 'a', 65); s->recipient[65] = 0; }
static void t_case_missing(client_t *c, spec_t *s) { (void) c; s->case_ref[0] = 0; }
static void t_created_zero(client_t *c, spec_t *s) { (void) c; s->created_ms = 0; }
static void t_priority(client_t *c, spec_t *s) { (void) c; s->priority = 4; }
static void t_priority_huge(client_t *c, spec_t *s) { (void) c; s->priority = UINT64_MAX; }
static void t_reply_short(client_t *c, spec_t *s) { (void) c; s->reply_len = 5; }
static void t_hash_short(client_t *c, spec_t *s) { (void) c; s->body_hash_len = 31; }
static void t_body_size_huge(client_t *c, spec_t *s) { (void) c; s->body_size = (uint64_t) NRM_MAX_BODY_BYTES + 1; }
static void t_defaults(client_t *c, spec_t *s) { (void) c; s->priority = 0; s->write_defaults = true; }
static void t_swapped(client_t *c, spec_t *s) { (void) c; s->swap_fields = true; }
static void t_unknown(client_t *c, spec_t *s) { (void) c; s->unknown_field = true; }
static void t_env_big(client_t *c, spec_t *s) { (void) c; s->pad_envelope = NRM_MAX_ENVELOPE_BYTES; }
static void t_env_missing(client_t *c, spec_t *s) { (void) c; s->omit_envelope = true; }
static void t_env_varint(client_t *c, spec_t *s) { (void) c; s->envelope_as_varint = true; }
static void t_sig_short(client_t *c, spec_t *s) { (void) c; s->sig_len = 63; }
static void t_sig_flip(client_t *c, spec_t *s) { (void) c; s->sig_flip = true; }
static void t_sig_other(client_t *c, spec_t *s) { (void) c; s->sig_other_bytes = true; }
static void t_sig_ctx(client_t *c, spec_t *s) { (void) c; s->sig_ctx = NRM_CTX_ACK; }
static void t_spoof(client_t *c, spec_t *s) { snprintf(s->sender, sizeof s->sender, "%s", c->to); }
static void t_body_flip(client_t *c, spec_t *s) { (void) c; s->body_flip = true; }
static void t_body_size(client_t *c, spec_t *s) { (void) c; s->body_size = s->body_len + 1; }
static void t_unknown_recipient(client_t *c, spec_t *s) { (void) c; snprintf(s->recipient, sizeof s->recipient, "nobody"); }
static void
t_body_big(client_t *c, spec_t *s)
{
    (void) c;
    free(s->body);
    s->body_len = NRM_MAX_BODY_BYTES + 1;
    s->body = calloc(1, s->body_len);
    s->body_size = s->body_len;
    s->response_due_ms = s->created_ms + 30u * 60u * 1000u;  /* within any policy deadline */
}
/* Same id as the last accepted message, other content. */
static void
t_reuse_id(client_t *c, spec_t *s)
{
    memcpy(s->fixed_id, c->last_id, 16);
    s->use_fixed_id = true;
    s->priority = 3;
}

/* Raw frames. */
static void f_empty(client_t *c, pb_t *f, bool *mp) { (void) c; (void) f; (void) mp; }
static void
f_junk(client_t *c, pb_t *f, bool *mp)
{
    const uint8_t junk[] = { 0x12, 0x80, 0xff, 0x01, 0x99 };
    (void) c; (void) mp;
    pb_raw(f, junk, sizeof junk);
}
static void
f_multipart(client_t *c, pb_t *f, bool *mp)
{
    (void) c;
    pb_raw(f, "a", 1);
    *mp = true;
}
static void
f_truncated(client_t *c, pb_t *f, bool *mp)
{
    spec_t s;
    (void) mp;
    s_spec_default(c, &s);
    s_submit_frame(c, &s, f);
    f->len -= 20;               /* cut inside the sealed body */
    free(s.body);
}
static void
f_oversize(client_t *c, pb_t *f, bool *mp)
{
    (void) c; (void) mp;
    uint8_t *big = calloc(1, NRM_MAX_FRAME_BYTES + 1000);
    pb_raw(f, big, NRM_MAX_FRAME_BYTES + 1000);
    free(big);
}
static void f_unknown_kind(client_t *c, pb_t *f, bool *mp) { (void) c; (void) mp; pb_bytes(f, 9, "x", 1); }
static void
f_server_kind(client_t *c, pb_t *f, bool *mp)
{
    pb_t inner = { 0 };
    (void) c; (void) mp;
    pb_uint(&inner, 1, 5);
    pb_bytes(f, 29, inner.data, inner.len);    /* no such client field */
    pb_free(&inner);
}
static void f_wire_type(client_t *c, pb_t *f, bool *mp) { (void) c; (void) mp; pb_uint(f, 2, 300); }
static void
f_status_many(client_t *c, pb_t *f, bool *mp)
{
    pb_t q = { 0 };
    uint8_t id[16] = { 0 };
    (void) c; (void) mp;
    for (int i = 0; i <= NRM_MAX_STATUS_IDS; i++)
        pb_bytes(&q, 1, id, 16);
    pb_bytes(f, 4, q.data, q.len);
    pb_free(&q);
}
static void
f_status_short_id(client_t *c, pb_t *f, bool *mp)
{
    pb_t q = { 0 };
    (void) c; (void) mp;
    pb_bytes(&q, 1, "abc", 3);
    pb_bytes(f, 4, q.data, q.len);
    pb_free(&q);
}
static void
f_hello_bad_id(client_t *c, pb_t *f, bool *mp)
{
    pb_t h = { 0 };
    (void) c; (void) mp;
    pb_uint(&h, 1, 1);
    pb_bytes(&h, 2, "../etc", 6);
    pb_bytes(f, 1, h.data, h.len);
    pb_free(&h);
}
static void
f_ack_short_sig(client_t *c, pb_t *f, bool *mp)
{
    pb_t a = { 0 };
    uint8_t sig[10] = { 0 };
    (void) c; (void) mp;
    pb_bytes(&a, 1, "x", 1);
    pb_bytes(&a, 2, sig, sizeof sig);
    pb_bytes(f, 3, a.data, a.len);
    pb_free(&a);
}
/* A correctly signed Ack of this organisation's key, naming msg_id and
   recipient, as a ClientMsg.ack frame. */
static void
s_ack_frame(client_t *c, pb_t *f, const uint8_t msg_id[16], const char *recipient)
{
    nrm_ack_t a;
    uint8_t *body = NULL, sig[64];
    size_t len = 0;
    pb_t s = { 0 };
    memset(&a, 0, sizeof a);
    memcpy(a.msg_id, msg_id, 16);
    snprintf(a.recipient, sizeof a.recipient, "%s", recipient);
    a.accepted_seq = 1;
    nrm_random(a.body_hash, 32);
    a.time_ms = nrm_now_ms();
    if (nrm_ack_encode(&a, &body, &len, NULL) != 0 || nrm_sign(c->keys, NRM_CTX_ACK, body, len, sig) != 0)
        exit(2);
    pb_bytes(&s, 1, body, len);
    pb_bytes(&s, 2, sig, 64);
    pb_bytes(f, 3, s.data, s.len);
    pb_free(&s);
    free(body);
}
/* For a message id the broker never saw: logged (REJECTED invalid-field),
   not answered. */
static void
f_ack_unknown(client_t *c, pb_t *f, bool *mp)
{
    uint8_t id[16];
    (void) mp;
    nrm_random(id, 16);
    s_ack_frame(c, f, id, c->org);
}
/* Claiming to come from the recipient organisation (spoofed). */
static void f_ack_spoofed(client_t *c, pb_t *f, bool *mp) { (void) mp; s_ack_frame(c, f, c->last_id, c->to); }
/* Hellos whose clock is off by the given amount (the broker's default
   limit is 300 s). */
static void
s_hello_at(client_t *c, pb_t *f, int64_t offset_ms)
{
    pb_t h = { 0 };
    pb_uint(&h, 1, NRM_PROTOCOL_VERSION);
    pb_bytes(&h, 2, c->org, strlen(c->org));
    pb_uint(&h, 3, (uint64_t) ((int64_t) nrm_now_ms() + offset_ms));
    pb_bytes(f, 1, h.data, h.len);
    pb_free(&h);
}
static void f_clock_ahead(client_t *c, pb_t *f, bool *mp) { (void) mp; s_hello_at(c, f, 3600 * 1000); }
static void f_clock_behind(client_t *c, pb_t *f, bool *mp) { (void) mp; s_hello_at(c, f, -301 * 1000); }
static void f_clock_near(client_t *c, pb_t *f, bool *mp) { (void) mp; s_hello_at(c, f, -240 * 1000); }

/* The last submitted frame again, byte for byte. */
static void f_replay(client_t *c, pb_t *f, bool *mp) { (void) mp; pb_raw(f, c->last_frame, c->last_len); }

#define SUBMIT(n, r, t)  { n, EXPECT_REFUSAL, r, t, NULL }
#define FRAME(n, r, fn)  { n, EXPECT_REFUSAL, r, NULL, fn }

static const case_t s_cases[] = {
    /* frames: checks 1-3 */
    FRAME("empty-frame", NRM_R_MALFORMED, f_empty),
    FRAME("junk-bytes", NRM_R_MALFORMED, f_junk),
    FRAME("two-part-message", NRM_R_MALFORMED, f_multipart),
    FRAME("truncated-frame", NRM_R_MALFORMED, f_truncated),
    FRAME("oversize-frame", NRM_R_TOO_BIG, f_oversize),
    FRAME("unknown-message-kind", NRM_R_MALFORMED, f_unknown_kind),
    FRAME("server-message-from-client", NRM_R_MALFORMED, f_server_kind),
    FRAME("submit-as-varint", NRM_R_MALFORMED, f_wire_type),
    FRAME("status-257-ids", NRM_R_TOO_BIG, f_status_many),
    FRAME("status-id-3-bytes", NRM_R_INVALID_FIELD, f_status_short_id),
    FRAME("hello-path-as-org", NRM_R_INVALID_FIELD, f_hello_bad_id),
    FRAME("ack-signature-10-bytes", NRM_R_INVALID_FIELD, f_ack_short_sig),
    /* submit wrapper: checks 4-7 */
    SUBMIT("envelope-missing", NRM_R_MALFORMED, t_env_missing),
    SUBMIT("envelope-as-varint", NRM_R_MALFORMED, t_env_varint),
    SUBMIT("envelope-over-4096", NRM_R_TOO_BIG, t_env_big),
    SUBMIT("signature-63-bytes", NRM_R_BAD_SIGNATURE, t_sig_short),
    SUBMIT("body-over-1MiB", NRM_R_TOO_BIG, t_body_big),
    /* envelope fields: check 8 */
    SUBMIT("fields-out-of-order", NRM_R_MALFORMED, t_swapped),
    SUBMIT("default-value-written", NRM_R_MALFORMED, t_defaults),
    SUBMIT("unknown-envelope-field", NRM_R_MALFORMED, t_unknown),
    SUBMIT("unknown-version-2", NRM_R_BAD_VERSION, t_version),
    SUBMIT("version-missing", NRM_R_BAD_VERSION, t_version_missing),
    SUBMIT("msg-id-15-bytes", NRM_R_INVALID_FIELD, t_id_short),
    SUBMIT("msg-id-missing", NRM_R_INVALID_FIELD, t_id_missing),
    SUBMIT("type-bad-utf8", NRM_R_INVALID_FIELD, t_type_utf8),
    SUBMIT("type-overlong-utf8", NRM_R_INVALID_FIELD, t_type_overlong),
    SUBMIT("type-control-char", NRM_R_INVALID_FIELD, t_type_control),
    SUBMIT("type-33-bytes", NRM_R_TOO_BIG, t_type_long),
    SUBMIT("sender-upper-case", NRM_R_INVALID_FIELD, t_sender_bad),
    SUBMIT("recipient-65-chars", NRM_R_INVALID_FIELD, t_recipient_long),
    SUBMIT("case-ref-missing", NRM_R_INVALID_FIELD, t_case_missing),
    SUBMIT("body-hash-31-bytes", NRM_R_INVALID_FIELD, t_hash_short),
    SUBMIT("type-unknown", NRM_R_INVALID_FIELD, t_type_unknown),
    SUBMIT("reply-to-5-bytes", NRM_R_INVALID_FIELD, t_reply_short),
    SUBMIT("created-ms-zero", NRM_R_INVALID_FIELD, t_created_zero),
    SUBMIT("priority-4", NRM_R_INVALID_FIELD, t_priority),
    SUBMIT("priority-10-byte-varint", NRM_R_MALFORMED, t_priority_huge),
    SUBMIT("body-size-over-1MiB", NRM_R_TOO_BIG, t_body_size_huge),
    /* who and what: checks 9-14 */
    SUBMIT("spoofed-sender", NRM_R_SENDER_MISMATCH, t_spoof),
    SUBMIT("forged-signature", NRM_R_BAD_SIGNATURE, t_sig_flip),
    SUBMIT("signature-of-other-bytes", NRM_R_BAD_SIGNATURE, t_sig_other),
    SUBMIT("signature-other-context", NRM_R_BAD_SIGNATURE, t_sig_ctx),
    SUBMIT("body-tampered", NRM_R_BODY_MISMATCH, t_body_flip),
    SUBMIT("body-size-differs", NRM_R_BODY_MISMATCH, t_body_size),
    SUBMIT("unknown-recipient", NRM_R_UNKNOWN_RECIPIENT, t_unknown_recipient),
    { "genuine", EXPECT_OK, 0, t_valid, NULL },
    { "replayed-frame", EXPECT_SAME_RECEIPT, 0, NULL, f_replay },
    /* a new message sent 4 times at once: the copies the broker decides
       in the same commit as the first get its receipt, not yet signed
       when they are decided (signed with the batch) */
    { "new-frame-4-times-at-once", EXPECT_BURST, 0, t_valid, NULL },
    SUBMIT("replayed-id-other-content", NRM_R_DUPLICATE, t_reuse_id),
    /* clocks: tolerated within the limit, refused beyond it */
    FRAME("hello-clock-1h-ahead", NRM_R_CLOCK_SKEW, f_clock_ahead),
    FRAME("hello-clock-301s-behind", NRM_R_CLOCK_SKEW, f_clock_behind),
    { "hello-clock-240s-behind", EXPECT_WELCOME, 0, NULL, f_clock_near },
    /* acknowledgements: refused and logged, never answered */
    { "ack-unknown-message", EXPECT_NO_RECEIPT, NRM_R_INVALID_FIELD, NULL, f_ack_unknown },
    { "ack-spoofed-recipient", EXPECT_NO_RECEIPT, NRM_R_SENDER_MISMATCH, NULL, f_ack_spoofed },
};

int
hostile_table_run(client_t *c)
{
    size_t ncases = sizeof s_cases / sizeof s_cases[0];
    int failures = 0;
    unsigned logged = 0;
    nrm_receipt_t genuine;
    memset(&genuine, 0, sizeof genuine);
    if (!c->have_recipient) {
        fprintf(stderr, "hostile: the recipient's certificate is not known\n");
        return 1;
    }
    for (size_t i = 0; i < ncases; i++) {
        const case_t *k = &s_cases[i];
        pb_t f = { 0 };
        bool multipart = false;
        nrm_receipt_t r;
        char got[400], want[80];
        if (k->tweak) {
            spec_t s;
            s_spec_default(c, &s);
            k->tweak(c, &s);
            s_submit_frame(c, &s, &f);
            free(s.body);
        } else {
            k->frame(c, &f, &multipart);
        }
        if (multipart) {
            tc_send(c, f.data, f.len, true);
            tc_send(c, (const uint8_t *) "b", 1, false);
        } else {
            for (int copy = 0; copy < (k->expect == EXPECT_BURST ? BURST : 1); copy++)
                tc_send(c, f.data, f.len, false);
        }
        if (k->tweak) {
            free(c->last_frame);
            c->last_frame = f.data;
            c->last_len = f.len;
            f.data = NULL;
        }
        pb_free(&f);
        bool welcomed = false;
        bool answered = k->expect == EXPECT_WELCOME
                            ? !(welcomed = tc_welcome(c, 5000))
                            : tc_receipt(c, k->expect == EXPECT_NO_RECEIPT ? 1500 : 5000, &r);
        bool ok;
        switch (k->expect) {
        case EXPECT_WELCOME:
            ok = welcomed;
            snprintf(want, sizeof want, "a Welcome");
            break;
        case EXPECT_OK:
            ok = answered && r.status == 0 && r.seq > 0;
            snprintf(want, sizeof want, "accepted");
            if (ok)
                genuine = r;
            break;
        case EXPECT_SAME_RECEIPT:
            ok = answered && r.status == 0 && genuine.seq && r.seq == genuine.seq
                 && memcmp(r.record_hash, genuine.record_hash, 32) == 0;
            snprintf(want, sizeof want, "the first receipt again (seq %llu)",
                     (unsigned long long) genuine.seq);
            break;
        case EXPECT_BURST:
            ok = answered && r.status == 0 && r.seq > 0;
            for (int copy = 1; ok && copy < BURST; copy++) {
                nrm_receipt_t again;
                ok = tc_receipt(c, 5000, &again) && again.status == 0 && again.seq == r.seq
                     && again.time_ms == r.time_ms
                     && memcmp(again.record_hash, r.record_hash, 32) == 0
                     && memcmp(again.frame_hash, r.frame_hash, 32) == 0;
            }
            snprintf(want, sizeof want, "%d identical receipts of one ACCEPTED record", BURST);
            break;
        case EXPECT_NO_RECEIPT:
            ok = !answered;
            logged++;
            snprintf(want, sizeof want, "no answer, REJECTED %s", nrm_reason_name(k->reason));
            break;
        default:
            ok = answered && r.status == k->reason && r.seq > 0;
            logged++;
            snprintf(want, sizeof want, "%s", nrm_reason_name(k->reason));
        }
        if (welcomed)
            snprintf(got, sizeof got, "a Welcome");
        else if (answered && k->expect == EXPECT_WELCOME)
            snprintf(got, sizeof got, "no Welcome");
        else if (answered)
            snprintf(got, sizeof got, "%s seq=%llu (%s)", r.status ? nrm_reason_name(r.status) : "accepted",
                     (unsigned long long) r.seq, r.reason);
        else
            snprintf(got, sizeof got, "no receipt");
        printf("%-3zu %-28s %s: want %s, got %s\n", i + 1, k->name, ok ? "ok" : "FAIL", want, got);
        fflush(stdout);
        if (!ok)
            failures++;
    }
    printf("cases %zu failed %d rejected-records %u\n", ncases, failures, logged);
    return failures;
}
