/*  libFuzzer target for the JSON documents an organisation's system hands
    its agent (docs/referrals.md): the first byte picks the message type,
    the rest is the JSON text. Two paths, as the agent takes them:
      - the generic converter alone (nrm_pbjson_from_json with the body
        caps): a converted message packs, converts back to JSON, and that
        JSON converts again to the very same bytes;
      - the whole document path (nrm_body_parse: converter and the body
        checks): a body that passes encodes, and the recipient's path
        (nrm_body_decode) accepts those bytes and encodes them identically;
        facts, consent and minimisation run on it.
    A refusal must say what was wrong (a non-empty message) and build
    nothing. Seeds: tests/fuzz/corpus/pbjson/ (the first byte of each is
    the index of its type in s_types). */
#include "fuzz_body_util.h"
#include "nrm_pbjson.h"
#include <stdio.h>
#include <string.h>

static void
s_refused(int rc, const nrm_err_t *err, const void *built)
{
    if (rc == 0 || built != NULL || err->msg[0] == '\0')
        abort();
}

/* The converter alone, and its round trip through JSON. */
static void
s_converter(const char *type, const json_t *doc)
{
    const ProtobufCMessageDescriptor *d = nrm_body_descriptor(type);
    nrm_pbjson_opts_t opts = { NRM_BODY_STRING_MAX, NRM_BODY_ITEMS_MAX, NRM_BODY_DEPTH_MAX,
                               true, NULL, NULL };
    ProtobufCMessage *m = NULL, *again = NULL;
    json_t *back = NULL;
    nrm_err_t err;
    memset(&err, 0, sizeof err);
    if (!d)
        abort();
    int rc = nrm_pbjson_from_json(d, doc, &opts, &m, &err);
    if (rc != 0) {
        s_refused(rc, &err, m);
        return;
    }
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *a = malloc(n + 1), *b = NULL;
    if (!a || protobuf_c_message_pack(m, a) != n)
        abort();
    if (nrm_pbjson_to_json(m, &back, &err) != 0)
        abort();                            /* what it built, it can say */
    if (nrm_pbjson_from_json(d, back, &opts, &again, &err) != 0)
        abort();                            /* and read back */
    size_t n2 = protobuf_c_message_get_packed_size(again);
    b = malloc(n2 + 1);
    if (!b || n2 != n || protobuf_c_message_pack(again, b) != n || memcmp(a, b, n) != 0)
        abort();
    free(a);
    free(b);
    json_decref(back);
    protobuf_c_message_free_unpacked(m, NULL);
    protobuf_c_message_free_unpacked(again, NULL);
}

/* The whole document path, then the recipient's path over its bytes. */
static void
s_document(const char *type, const char *text, size_t len)
{
    nrm_body_t *body = NULL, *opened = NULL;
    nrm_err_t err;
    memset(&err, 0, sizeof err);
    int rc = nrm_body_parse(type, text, len, "fuzz.json", &body, &err);
    if (rc != 0) {
        s_refused(rc, &err, body);
        return;
    }
    if (strcmp(nrm_body_type(body), type) != 0)
        abort();
    uint8_t *bytes = NULL, *again = NULL;
    size_t n = 0, n2 = 0;
    if (nrm_body_encode(body, &bytes, &n, &err) != 0)
        abort();
    if (nrm_body_decode(type, bytes, n, &opened, &err) != 0)
        abort();                            /* what a sender seals, a recipient opens */
    if (nrm_body_encode(opened, &again, &n2, &err) != 0 || n2 != n || memcmp(bytes, again, n) != 0)
        abort();
    json_t *out = NULL;
    if (nrm_body_to_json(opened, &out, &err) != 0)
        abort();
    json_decref(out);
    s_body_exercise(body);
    free(bytes);
    free(again);
    nrm_body_free(&opened);
    nrm_body_free(&body);
    if (body != NULL)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *type = s_types[data[0] % NTYPES];
    const char *text = (const char *) data + 1;
    size_t len = size - 1;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc && json_is_object(doc))
        s_converter(type, doc);
    json_decref(doc);
    s_document(type, text, len);
    return 0;
}
