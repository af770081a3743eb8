/*  nrm-testclient -- a hostile client for integration tests. It connects
    with an organisation's keys (or a fresh, unenrolled CURVE key), sends
    crafted frames, and prints one line per broker receipt:

        CASE STATUS-NAME seq=N reason=TEXT

    Every receipt's broker signature is checked; a bad one is an error.

    usage: nrm-testclient --org ORG --endpoint EP --to ID CASE...
           nrm-testclient --stranger --net NET --endpoint EP
    CASE: valid malformed multipart oversize sender-mismatch bad-signature
          body-mismatch bad-version unknown-recipient duplicate resend
          table (every case of tests/hostile.c, each checked against its
          expected refusal; exit 1 if any differs)
          directory (prints the first Welcome's directory digest)
          hello-dir=HEX (a Hello naming that directory: prints "unchanged"
          or "full certs=N ids=A,B,...") */
#include "testclient.h"
#include "nrm_body.h"
#include "nrm_config.h"
#include "nrm_registry.h"
#include "nrm_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static void
s_die(const char *what)
{
    fprintf(stderr, "nrm-testclient: %s\n", what);
    exit(2);
}

static void
s_connect(client_t *c, const char *endpoint)
{
    int zero = 0;
    c->ctx = zmq_ctx_new();
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, c->broker_curve, 32);
    zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, nrm_keys_curve_pk(c->keys), 32);
    zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, nrm_keys_curve_sk(c->keys), 32);
    if (zmq_connect(c->sock, endpoint) != 0)
        s_die("connect failed");
}

void
tc_send(client_t *c, const uint8_t *data, size_t len, bool more_after)
{
    zmq_send(c->sock, data, len, more_after ? ZMQ_SNDMORE : 0);
}
#define s_send tc_send

/* Waits up to ms for one server message. */
static nrm_wire_t *
s_recv(client_t *c, int ms)
{
    zmq_pollitem_t it = { c->sock, 0, ZMQ_POLLIN, 0 };
    while (zmq_poll(&it, 1, ms) > 0) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, 0) < 0)
            return NULL;
        nrm_wire_t *w = NULL;
        nrm_err_t err;
        int rc = nrm_wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), false, &w, &err);
        zmq_msg_close(&m);
        if (rc != 0)
            s_die(err.msg);
        if (w->kind == NRM_WIRE_DELIVER || w->kind == NRM_WIRE_STATUS_REPLY) {
            nrm_wire_destroy(&w);       /* not what this client waits for */
            continue;
        }
        return w;
    }
    return NULL;
}

/* dir: a directory digest for the Hello, or NULL. */
static void
s_hello_dir(client_t *c, const uint8_t *dir)
{
    /* An observer: the test client runs beside the organisation's agent
       and must not take its deliveries or its place. */
    nrm_wire_t h = { .kind = NRM_WIRE_HELLO, .version = NRM_PROTOCOL_VERSION, .org_id = c->org,
                     .time_ms = nrm_now_ms(), .observer = true,
                     .directory = { dir, dir ? 32 : 0 } };
    uint8_t *buf;
    size_t len;
    if (nrm_wire_encode(&h, &buf, &len, NULL) != 0)
        s_die("encode");
    s_send(c, buf, len, false);
    free(buf);
}

static void
s_hello(client_t *c)
{
    s_hello_dir(c, NULL);
}

/* A Hello naming directory hex; prints what the Welcome carried. */
static void
s_hello_named(client_t *c, const char *k, const char *hex)
{
    uint8_t dir[32];
    nrm_wire_t *w;
    if (nrm_hex_decode(hex, dir, sizeof dir) != 0)
        s_die("hello-dir=HEX: 64 hex digits");
    while ((w = s_recv(c, 300)) != NULL)      /* pushes, late answers */
        nrm_wire_destroy(&w);
    s_hello_dir(c, dir);
    w = s_recv(c, 5000);
    if (!w || w->kind != NRM_WIRE_WELCOME) {
        printf("%s no-welcome\n", k);
    } else if (w->unchanged) {
        printf("%s unchanged %s\n", k, memcmp(w->directory.data, dir, 32) == 0 ? "same" : "other");
    } else {
        printf("%s full certs=%zu ids=", k, w->count);
        for (size_t i = 0; i < w->count; i++) {
            nrm_cert_t cert;
            nrm_err_t err;
            if (nrm_cert_verify(w->certs[i].body.data, w->certs[i].body.len, w->certs[i].sig.data,
                                w->certs[i].cosigs, w->certs[i].ncosigs, &c->genesis, &cert,
                                &err) == 0)
                printf("%s%s", i ? "," : "", cert.org_id);
        }
        printf("\n");
    }
    fflush(stdout);
    nrm_wire_destroy(&w);
}

bool
tc_receipt(client_t *c, int ms, nrm_receipt_t *r)
{
    nrm_wire_t *w = s_recv(c, ms);
    /* A directory the broker pushes (a certificate took effect) is not
       the answer. */
    while (w && w->kind == NRM_WIRE_WELCOME) {
        nrm_wire_destroy(&w);
        w = s_recv(c, ms);
    }
    if (!w || w->kind != NRM_WIRE_RECEIPT) {
        nrm_wire_destroy(&w);
        return false;
    }
    nrm_err_t err;
    if (nrm_batch_verify(c->broker_sign, NRM_CTX_RECEIPT, w->signed_obj.body.data,
                         w->signed_obj.body.len, w->signed_obj.sig.data, &w->batch, &err) != 0)
        s_die(err.msg);
    if (nrm_receipt_decode(w->signed_obj.body.data, w->signed_obj.body.len, r, &err) != 0)
        s_die(err.msg);
    nrm_wire_destroy(&w);
    return true;
}

bool
tc_welcome(client_t *c, int ms)
{
    nrm_wire_t *w = s_recv(c, ms);
    bool ok = w && w->kind == NRM_WIRE_WELCOME;
    nrm_wire_destroy(&w);
    return ok;
}

/* Prints the receipt of the last frame; returns its status, or -1. */
static int
s_receipt(client_t *c, const char *name)
{
    nrm_receipt_t r;
    if (!tc_receipt(c, 5000, &r)) {
        printf("%s no-receipt\n", name);
        return -1;
    }
    printf("%s %s seq=%llu reason=%s at=%llu\n", name, nrm_reason_name(r.status),
           (unsigned long long) r.seq, r.reason, (unsigned long long) nrm_now_ms());
    fflush(stdout);
    return (int) r.status;
}

/* Builds a submit frame; tweak selects the fault. */
static void
s_submit(client_t *c, const char *tweak, const uint8_t *reuse_id)
{
    nrm_envelope_t e;
    /* A valid body of its type (docs/referrals.md), so that the recipient's
       agent stores it; "consent-missing" forges a referral that carries
       personal data without any consent assertion, which the real agent
       would never send: the broker must refuse it (consent-missing). */
    bool forged = strcmp(tweak, "consent-missing") == 0;
    const char *type = forged ? "referral" : "status";
    const char *json = forged ? "{\"request\":{\"ext_Service\":\"shelter\"},\"narrative\":\"forged\"}"
                              : "{\"ext_Milestone\":\"shelter_admission\",\"ext_Note\":\"testclient\"}";
    nrm_body_t *body = NULL;
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    nrm_err_t berr;
    if (nrm_body_parse(type, json, strlen(json), "testclient", &body, &berr) != 0
        || nrm_body_encode(body, &doc, &doc_len, &berr) != 0)
        s_die(berr.msg);
    nrm_body_free(&body);
    uint8_t sealed[256], sig[64], *env = NULL, *frame = NULL;
    size_t env_len = 0, frame_len = 0, slen = doc_len + NRM_SEAL1_OVERHEAD;
    memset(&e, 0, sizeof e);
    e.version = strcmp(tweak, "bad-version") == 0 ? 7 : NRM_ENVELOPE_VERSION;
    if (reuse_id)
        memcpy(e.msg_id, reuse_id, 16);
    else
        nrm_random(e.msg_id, 16);
    memcpy(c->last_id, e.msg_id, 16);
    snprintf(e.type, sizeof e.type, "%s", type);
    snprintf(e.sender, sizeof e.sender, "%s", strcmp(tweak, "sender-mismatch") == 0 ? c->to : c->org);
    snprintf(e.recipient, sizeof e.recipient, "%s", strcmp(tweak, "unknown-recipient") == 0 ? "nobody" : c->to);
    snprintf(e.case_ref, sizeof e.case_ref, "case-testclient");
    e.created_ms = nrm_now_ms();
    e.priority = strcmp(tweak, "duplicate") == 0 ? 3 : 1;
    e.body_schema = 1;
    if (forged) {
        e.personal_data = true;
        e.response_due_ms = e.created_ms + 3600000;
    }
    uint8_t box[32];
    if (c->have_recipient)
        memcpy(box, c->recipient.box_pk, 32);
    else
        nrm_random(box, 32);
    if (nrm_seal1(box, doc, doc_len, sealed) != 0)
        s_die("seal");
    free(doc);
    nrm_sha256(sealed, slen, e.body_hash);
    e.body_size = (uint32_t) slen;
    if (strcmp(tweak, "body-mismatch") == 0)
        sealed[0] ^= 1;
    if (nrm_envelope_encode(&e, &env, &env_len, NULL) != 0
        || nrm_sign(c->keys, NRM_CTX_ENVELOPE, env, env_len, sig) != 0)
        s_die("envelope");
    if (strcmp(tweak, "bad-signature") == 0)
        sig[10] ^= 0x20;
    nrm_wire_t w = { .kind = NRM_WIRE_SUBMIT };
    w.envelope = (nrm_bytes_t) { env, env_len };
    w.signature = (nrm_bytes_t) { sig, 64 };
    w.sealed_body = (nrm_bytes_t) { sealed, slen };
    if (nrm_wire_encode(&w, &frame, &frame_len, NULL) != 0)
        s_die("encode");
    s_send(c, frame, frame_len, false);
    free(c->last_frame);
    c->last_frame = frame;
    c->last_len = frame_len;
    free(env);
}

static void
s_load_connect(client_t *c, const char *path)
{
    char endpoint[256], net[NRM_ID_MAX + 1];
    uint8_t *cert = NULL, *genesis = NULL;
    size_t cert_len = 0, genesis_len = 0;
    nrm_err_t err;
    nrm_config_field_t f[] = {
        { "broker", "endpoint", NRM_CFG_STR, endpoint, sizeof endpoint, true, 0, 0, NULL, false },
        { "broker", "curve_public", NRM_CFG_KEY_Z85, c->broker_curve, 0, true, 0, 0, NULL, false },
        { "broker", "sign_public", NRM_CFG_KEY_HEX, c->broker_sign, 0, true, 0, 0, NULL, false },
        { "network", "name", NRM_CFG_ID, net, 0, true, 0, 0, NULL, false },
        { "network", "admin_public", NRM_CFG_KEY_HEX, c->admin, 0, true, 0, 0, NULL, false },
        { "network", "genesis", NRM_CFG_HEXBLOB, &genesis, NRM_MAX_CERT_BYTES + 128, true, 0, 0, &genesis_len, false },
        { "certificate", "signed", NRM_CFG_HEXBLOB, &cert, NRM_MAX_CERT_BYTES, true, 0, 0, &cert_len, false },
    };
    if (nrm_config_load(path, f, 7, &err) != 0
        || nrm_genesis_verify_signed(genesis, genesis_len, &c->genesis, &err) != 0)
        s_die(err.msg);
    free(genesis);
    free(cert);
}

int
main(int argc, char **argv)
{
    client_t c;
    memset(&c, 0, sizeof c);
    const char *org_dir = NULL, *endpoint = NULL, *net = NULL;
    bool stranger = false;
    int first_case = argc;
    char path[4096];
    nrm_err_t err;
    if (nrm_crypto_init() != 0)
        s_die("sodium");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--org") == 0 && i + 1 < argc)
            org_dir = argv[++i];
        else if (strcmp(argv[i], "--endpoint") == 0 && i + 1 < argc)
            endpoint = argv[++i];
        else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
            snprintf(c.to, sizeof c.to, "%s", argv[++i]);
        else if (strcmp(argv[i], "--net") == 0 && i + 1 < argc)
            net = argv[++i];
        else if (strcmp(argv[i], "--stranger") == 0)
            stranger = true;
        else {
            first_case = i;
            break;
        }
    }
    if (!endpoint)
        s_die("--endpoint required");
    if (stranger) {
        /* A CURVE key nobody enrolled: ZAP must refuse the handshake, so
           no Welcome ever comes back. */
        if (!net)
            s_die("--net required with --stranger");
        snprintf(path, sizeof path, "%s/broker.key", net);
        nrm_keys_t *bk = NULL;
        if (nrm_keys_load(path, &bk, &err) != 0)
            s_die(err.msg);
        memcpy(c.broker_curve, nrm_keys_curve_pk(bk), 32);
        nrm_keys_destroy(&bk);
        c.keys = nrm_keys_generate(NRM_KEYS_ALL);
        snprintf(c.org, sizeof c.org, "stranger");
        s_connect(&c, endpoint);
        s_hello(&c);
        nrm_wire_t *w = s_recv(&c, 3000);
        printf("stranger %s\n", w ? "welcomed" : "refused");
        nrm_wire_destroy(&w);
        nrm_keys_destroy(&c.keys);
        zmq_close(c.sock);
        zmq_ctx_term(c.ctx);
        return 0;
    }
    if (!org_dir || !c.to[0])
        s_die("--org and --to required");
    snprintf(path, sizeof path, "%s/secret.keys", org_dir);
    if (nrm_keys_load(path, &c.keys, &err) != 0)
        s_die(err.msg);
    snprintf(path, sizeof path, "%s/org.ini", org_dir);
    char type[NRM_TYPE_MAX + 1], name[NRM_NAME_MAX + 1], jur[NRM_NAME_MAX + 1];
    nrm_config_field_t of[] = {
        { "org", "id", NRM_CFG_ID, c.org, 0, true, 0, 0, NULL, false },
        { "org", "type", NRM_CFG_STR, type, sizeof type, false, 0, 0, NULL, false },
        { "org", "name", NRM_CFG_STR, name, sizeof name, false, 0, 0, NULL, false },
        { "org", "jurisdiction", NRM_CFG_STR, jur, sizeof jur, false, 0, 0, NULL, false },
    };
    if (nrm_config_load(path, of, 4, &err) != 0)
        s_die(err.msg);
    snprintf(path, sizeof path, "%s/connect.ini", org_dir);
    s_load_connect(&c, path);
    s_connect(&c, endpoint);
    s_hello(&c);
    nrm_wire_t *w = s_recv(&c, 5000);
    if (!w || w->kind != NRM_WIRE_WELCOME)
        s_die("no welcome from the broker");
    if (w->directory.len == 32) {
        memcpy(c.dir, w->directory.data, 32);
        c.has_dir = true;
    }
    for (size_t i = 0; i < w->count; i++) {
        nrm_cert_t cert;
        if (nrm_cert_verify(w->certs[i].body.data, w->certs[i].body.len, w->certs[i].sig.data,
                            w->certs[i].cosigs, w->certs[i].ncosigs, &c.genesis, &cert, &err) == 0
            && strcmp(cert.org_id, c.to) == 0) {
            c.recipient = cert;
            c.have_recipient = true;
        }
    }
    nrm_wire_destroy(&w);
    int failures = 0;
    for (int i = first_case; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "table") == 0) {
            failures += hostile_table_run(&c);
        } else if (strcmp(k, "malformed") == 0) {
            const uint8_t junk[] = { 0x12, 0x80, 0xff, 0x01, 0x99 };
            s_send(&c, junk, sizeof junk, false);
            s_receipt(&c, k);
        } else if (strcmp(k, "multipart") == 0) {
            s_send(&c, (const uint8_t *) "a", 1, true);
            s_send(&c, (const uint8_t *) "b", 1, false);
            s_receipt(&c, k);
        } else if (strcmp(k, "oversize") == 0) {
            size_t n = NRM_MAX_FRAME_BYTES + 1000;
            uint8_t *big = calloc(1, n);
            s_send(&c, big, n, false);
            free(big);
            s_receipt(&c, k);
        } else if (strcmp(k, "duplicate") == 0) {
            uint8_t id[16];
            s_submit(&c, "valid", NULL);
            memcpy(id, c.last_id, 16);
            s_receipt(&c, "duplicate-first");
            s_submit(&c, "duplicate", id);      /* same id, other content */
            s_receipt(&c, k);
        } else if (strcmp(k, "until-refused") == 0) {
            /* Valid messages on one open connection, every 20 ms, until
               the broker refuses one (at most 20 s): how soon a
               revocation or suspension bites an open connection. */
            uint64_t end = nrm_now_ms() + 20000;
            int st = 0;
            while (nrm_now_ms() < end) {
                s_submit(&c, "valid", NULL);
                st = s_receipt(&c, k);
                if (st != 0)
                    break;
                usleep(20000);
            }
        } else if (strcmp(k, "hello-again") == 0) {
            /* A Hello on the same open connection (after until-refused: a
               connection whose CURVE key a rotation has since retired). */
            nrm_wire_t *old;
            while ((old = s_recv(&c, 300)) != NULL)      /* pushes, late answers */
                nrm_wire_destroy(&old);
            s_hello(&c);
            nrm_wire_t *a = s_recv(&c, 5000);
            if (a && a->kind == NRM_WIRE_WELCOME) {
                printf("%s welcomed\n", k);
            } else if (a && a->kind == NRM_WIRE_RECEIPT) {
                nrm_receipt_t r;
                if (nrm_receipt_decode(a->signed_obj.body.data, a->signed_obj.body.len, &r, &err) != 0)
                    s_die(err.msg);
                printf("%s %s reason=%s\n", k, nrm_reason_name(r.status), r.reason);
            } else {
                printf("%s no-answer\n", k);
            }
            fflush(stdout);
            nrm_wire_destroy(&a);
        } else if (strcmp(k, "directory") == 0) {
            char hex[65];
            nrm_hex_encode(c.dir, 32, hex);
            printf("%s %s\n", k, c.has_dir ? hex : "none");
            fflush(stdout);
        } else if (strncmp(k, "hello-dir=", 10) == 0) {
            s_hello_named(&c, "hello-dir", k + 10);
        } else if (strcmp(k, "resend") == 0) {
            s_submit(&c, "valid", NULL);
            s_receipt(&c, "resend-first");
            s_send(&c, c.last_frame, c.last_len, false);    /* exact bytes again */
            s_receipt(&c, k);
        } else {
            s_submit(&c, k, NULL);
            s_receipt(&c, k);
        }
    }
    free(c.last_frame);
    nrm_keys_destroy(&c.keys);
    zmq_close(c.sock);
    zmq_ctx_term(c.ctx);
    return failures ? 1 : 0;
}
