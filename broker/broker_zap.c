/*  broker_zap -- ZAP handler: authenticate CURVE clients against the
    registry (ZeroMQ RFC 27). Runs on the broker's own thread: libzmq's
    handshake waits for the reply asynchronously, so no extra thread.

    An organisation's connection gets the User-Id of its organisation and
    the metadata property BROKER_CURVE_PROP (the client's CURVE key in hex),
    which libzmq attaches to every frame of that connection: the broker
    checks on every frame that the key is still one the registry accepts
    for the organisation, so a connection opened with a key that a rotation
    has since retired is refused frame by frame and gets no deliveries. */
#include "broker.h"
#include "nrm_log.h"
#include "nrm_regadmin.h"
#include "nrm_crypto.h"
#include "nrm_util.h"
#include <string.h>
#include <zmq.h>

#define ZAP_FRAMES 7

/* The reply; curve_pk, when not NULL, goes into the metadata frame as
   BROKER_CURVE_PROP (ZMTP property: name length, name, 4-byte big-endian
   value length, value). */
static void
s_reply(void *zap, const char *version, zmq_msg_t *request_id, const char *code,
        const char *text, const char *user_id, const uint8_t *curve_pk)
{
    uint8_t meta[1 + sizeof BROKER_CURVE_PROP + 4 + 2 * NRM_PK_BYTES + 1];
    size_t mlen = 0;
    if (curve_pk) {
        size_t nlen = strlen(BROKER_CURVE_PROP);
        char hex[2 * NRM_PK_BYTES + 1];
        nrm_hex_encode(curve_pk, NRM_PK_BYTES, hex);
        meta[mlen++] = (uint8_t) nlen;
        memcpy(meta + mlen, BROKER_CURVE_PROP, nlen);
        mlen += nlen;
        meta[mlen++] = 0;       /* value length, 64, as 4 bytes big-endian */
        meta[mlen++] = 0;
        meta[mlen++] = 0;
        meta[mlen++] = 2 * NRM_PK_BYTES;
        memcpy(meta + mlen, hex, 2 * NRM_PK_BYTES);
        mlen += 2 * NRM_PK_BYTES;
    }
    zmq_send(zap, version, strlen(version), ZMQ_SNDMORE);
    zmq_send(zap, zmq_msg_data(request_id), zmq_msg_size(request_id), ZMQ_SNDMORE);
    zmq_send(zap, code, strlen(code), ZMQ_SNDMORE);
    zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(zap, user_id, strlen(user_id), ZMQ_SNDMORE);
    zmq_send(zap, meta, mlen, 0);
}

/* Reads one request (all its frames) and answers it. */
static void
s_handle_one(void *zap, nrm_store_t *store, const nrm_genesis_t *genesis)
{
    zmq_msg_t f[ZAP_FRAMES];
    int n = 0, more = 1;
    for (int i = 0; i < ZAP_FRAMES; i++)
        zmq_msg_init(&f[i]);
    while (more) {
        zmq_msg_t extra, *m = n < ZAP_FRAMES ? &f[n] : &extra;
        if (m == &extra)
            zmq_msg_init(&extra);
        if (zmq_msg_recv(m, zap, 0) < 0) {
            if (m == &extra)
                zmq_msg_close(&extra);
            goto out;
        }
        more = zmq_msg_more(m);
        if (m == &extra)
            zmq_msg_close(&extra);
        n++;
    }
    char org[NRM_ID_MAX + 1] = "";
    const char *version = "1.0";
    if (n < 6) {
        nrm_warn("zap: request with %d frames ignored", n);
        goto out;
    }
    if (zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0) {
        s_reply(zap, version, &f[1], "400", "unsupported ZAP version", "", NULL);
        goto out;
    }
    if (zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0
        || n != 7 || zmq_msg_size(&f[6]) != NRM_PK_BYTES) {
        s_reply(zap, version, &f[1], "400", "CURVE required", "", NULL);
        nrm_warn("zap: refused a connection without CURVE");
        goto out;
    }
    const uint8_t *key = zmq_msg_data(&f[6]);
    char fp[17];
    nrm_fingerprint(key, fp);
    bool admin = zmq_msg_size(&f[2]) == strlen(BROKER_ADMIN_DOMAIN)
                 && memcmp(zmq_msg_data(&f[2]), BROKER_ADMIN_DOMAIN, strlen(BROKER_ADMIN_DOMAIN)) == 0;
    if (admin) {
        /* The admin endpoint admits the administrators' transport keys only. */
        int who = nrm_genesis_admin_curve(genesis, key);
        if (who < 0) {
            s_reply(zap, version, &f[1], "400", "not an administrator key", "", NULL);
            nrm_warn("zap: admin endpoint refused CURVE key %s: not an administrator", fp);
            goto out;
        }
        nrm_admin_actor(genesis->admin_sign_pks[who], org);
        s_reply(zap, version, &f[1], "200", "OK", org, NULL);
        nrm_info("zap: administrator %s connected to the admin endpoint", org);
        goto out;
    }
    nrm_err_t err = { 0, 0, "" };
    MDB_txn *txn = NULL;
    int rc = nrm_store_read_begin(store, &txn, &err);
    if (rc == 0)
        rc = nrm_registry_find_curve(store, txn, key, org, &err);
    if (rc == 0)
        rc = nrm_registry_usable(store, txn, org, nrm_now_ms(), NULL, &err);
    nrm_store_read_end(&txn);
    if (rc != 0) {
        s_reply(zap, version, &f[1], "400", err.reason ? nrm_reason_name(err.reason) : "key not enrolled", "", NULL);
        nrm_warn("zap: refused CURVE key %s: %s", fp, err.msg);
        goto out;
    }
    s_reply(zap, version, &f[1], "200", "OK", org, key);
    nrm_info("zap: accepted '%s' (CURVE key %s)", org, fp);
out:
    for (int i = 0; i < ZAP_FRAMES; i++)
        zmq_msg_close(&f[i]);
}

void
broker_zap_handle(void *zap, nrm_store_t *store, const nrm_genesis_t *genesis)
{
    zmq_pollitem_t item = { zap, 0, ZMQ_POLLIN, 0 };
    while (zmq_poll(&item, 1, 0) > 0 && (item.revents & ZMQ_POLLIN))
        s_handle_one(zap, store, genesis);
}
