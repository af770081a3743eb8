/*  libFuzzer target for a sealed body's plaintext as the recipient's agent
    opens it (nrm_body_decode: protobuf bytes of the message type the
    envelope names, then every check a sender's document passes). The first
    byte picks the message type, the rest is the protobuf. A body that is
    accepted encodes to bytes that decode again to the same encoding,
    converts to JSON that the sender's path accepts (and that encodes to
    the same bytes), and answers facts, consent and minimisation. A refused
    one says why and builds nothing. Seeds: tests/fuzz/corpus/body/ (the
    protobuf encodings of config/examples, first byte the type's index in
    s_types).

    nrm_body_decode checks the message in place (nrm_pbjson_check). The
    target also takes the way it replaced, through JSON and back (unpack,
    nrm_pbjson_to_json, nrm_body_from_json), and requires the very same
    answer: both accept, with the same encoding, or both refuse with the
    same code and message. */
#include "fuzz_body_util.h"
#include "nrm_pbjson.h"
#include <stdio.h>
#include <string.h>

/* The recipient's check as it was: protobuf -> JSON -> protobuf. */
static int
s_through_json(const char *type, const uint8_t *buf, size_t len, nrm_body_t **out, nrm_err_t *err)
{
    const ProtobufCMessageDescriptor *d = nrm_body_descriptor(type);
    *out = NULL;
    if (len > NRM_MAX_DOC_BYTES)
        return nrm_err_set(err, NRM_ETOOBIG, "body of %zu bytes, over the limit of %u", len,
                           NRM_MAX_DOC_BYTES);
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, buf);
    if (!m)
        return nrm_err_set(err, NRM_EINVAL, "the body does not decode as a %s (%s)", type,
                           d->short_name);
    json_t *doc = NULL;
    int rc = nrm_pbjson_to_json(m, &doc, err);
    protobuf_c_message_free_unpacked(m, NULL);
    if (rc == 0)
        rc = nrm_body_from_json(type, doc, out, err);
    json_decref(doc);
    return rc;
}

/* Aborts unless the check in place answers as the way through JSON. */
static void
s_same_answer(const char *type, const uint8_t *buf, size_t len, int rc, const nrm_err_t *err,
              const nrm_body_t *b)
{
    nrm_body_t *ref = NULL;
    nrm_err_t rerr;
    memset(&rerr, 0, sizeof rerr);
    int rrc = s_through_json(type, buf, len, &ref, &rerr);
    if (rrc != rc || (rc != 0 && strcmp(rerr.msg, err->msg) != 0)) {
        fprintf(stderr, "in place: %d %s\nthrough JSON: %d %s\n", rc, err->msg, rrc, rerr.msg);
        abort();
    }
    if (rc == 0) {
        uint8_t *e1 = NULL, *e2 = NULL;
        size_t n1 = 0, n2 = 0;
        if (nrm_body_encode(b, &e1, &n1, &rerr) != 0 || nrm_body_encode(ref, &e2, &n2, &rerr) != 0
            || n1 != n2 || memcmp(e1, e2, n1) != 0)
            abort();
        free(e1);
        free(e2);
    }
    nrm_body_free(&ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *type = s_types[data[0] % NTYPES];
    nrm_body_t *b = NULL, *b2 = NULL, *b3 = NULL;
    nrm_err_t err;
    memset(&err, 0, sizeof err);
    int rc = nrm_body_decode(type, data + 1, size - 1, &b, &err);
    s_same_answer(type, data + 1, size - 1, rc, &err, b);
    if (rc != 0) {
        if (b != NULL || err.msg[0] == '\0')
            abort();
        return 0;
    }
    uint8_t *e1 = NULL, *e2 = NULL, *e3 = NULL;
    size_t n1 = 0, n2 = 0, n3 = 0;
    if (nrm_body_encode(b, &e1, &n1, &err) != 0)
        abort();
    if (nrm_body_decode(type, e1, n1, &b2, &err) != 0 || nrm_body_encode(b2, &e2, &n2, &err) != 0
        || n2 != n1 || memcmp(e1, e2, n1) != 0)
        abort();
    /* The recipient shows it as JSON; the same JSON is a valid document. */
    json_t *doc = NULL;
    if (nrm_body_to_json(b, &doc, &err) != 0)
        abort();
    if (nrm_body_from_json(type, doc, &b3, &err) != 0) {
        fprintf(stderr, "decoded body's JSON refused: %s\n", err.msg);
        abort();
    }
    if (nrm_body_encode(b3, &e3, &n3, &err) != 0 || n3 != n1 || memcmp(e1, e3, n1) != 0)
        abort();
    json_decref(doc);
    s_body_exercise(b);
    free(e1);
    free(e2);
    free(e3);
    nrm_body_free(&b);
    nrm_body_free(&b2);
    nrm_body_free(&b3);
    return 0;
}
