/*  admin_action -- how nrm-admin makes a registry or policy change: it
    signs an AdminAction with the administrator's key and either sends it
    to the running broker's admin endpoint (CURVE, administrator keys only)
    or, when no broker runs on the folder, applies it to the store itself
    under the broker's lock, with the same function the broker uses
    (nrm_regadmin_apply). Either way the broker's rules decide. */
#include "admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <zmq.h>

#include "nrm_regadmin.h"
#include "nrm_util.h"

#define S_REPLY_TIMEOUT_MS 10000

int
admin_key_open(const char *net_dir, const char *key_path, nrm_keys_t **keys, nrm_err_t *err)
{
    char path[TOOL_PATH_MAX];
    *keys = NULL;
    if (key_path == NULL && nrm_path(path, sizeof path, "%s/admin.key", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long");
    if (key_path != NULL)
        snprintf(path, sizeof path, "%s", key_path);
    int rc = nrm_keys_load(path, keys, err);
    if (rc != 0) {
        nrm_err_prefix(err, "administrator key %s", path);
        return rc;
    }
    if (nrm_keys_sign_pk(*keys) == NULL || nrm_keys_curve_pk(*keys) == NULL) {
        nrm_keys_destroy(keys);
        return nrm_err_set(err, NRM_EINVAL, "%s is not an administrator key (signing and CURVE keys)", path);
    }
    return 0;
}

int
admin_genesis_read(const char *net_dir, nrm_genesis_t *g, nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    int rc = tool_store_open(net_dir, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_registry_genesis(store, txn, g, err);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return rc;
}

/* -1: cannot tell (error in err); 0: no broker runs, and *fd holds the lock
   that keeps one from starting while we write; 1: a broker runs. */
static int
s_broker_running(const char *net_dir, int *fd, nrm_err_t *err)
{
    char path[TOOL_PATH_MAX];
    *fd = -1;
    if (nrm_path(path, sizeof path, "%s/broker.lock", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long"), -1;
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (*fd < 0)
        return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno)), -1;
    if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    int e = errno;
    close(*fd);
    *fd = -1;
    if (e == EWOULDBLOCK)
        return 1;
    return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(e)), -1;
}

typedef struct {
    const uint8_t *body, *sig;
    size_t body_len;
    const uint8_t *signer_pk;       /* the key that signed the command */
    admin_result_t *out;
    bool refused;                   /* the refusal logged is in refusal */
    nrm_err_t refusal;
} s_offline_t;

/* Decides the command in the folder's store. A refusal is logged as the
   broker's admin endpoint logs it (ADMIN_REFUSED, invariant 3) and the
   transaction commits that record alone; c->refused is then set. The
   actor is the signing key's "admin:FINGERPRINT": offline there is no
   transport key, and whoever runs this can write the folder anyway. */
static int
s_offline_fn(nrm_store_t *store, MDB_txn *txn, void *vctx, nrm_err_t *err)
{
    s_offline_t *c = vctx;
    nrm_regadmin_result_t res;
    uint64_t now = nrm_now_ms();
    c->refused = false;
    int rc = nrm_regadmin_apply(store, txn, c->body, c->body_len, c->sig, NRM_SIG_BYTES, now, &res,
                                &c->refusal);
    if (rc == NRM_EINVAL || rc == NRM_ETOOBIG) {
        char actor[NRM_ID_MAX + 1];
        uint8_t leaf[NRM_HASH_BYTES];
        uint32_t reason = c->refusal.reason ? c->refusal.reason : NRM_R_MALFORMED;
        c->refusal.reason = reason;
        c->refused = true;
        nrm_admin_actor(c->signer_pk, actor);
        rc = nrm_regadmin_refused(store, txn, actor, c->body, c->body_len, c->sig, NRM_SIG_BYTES,
                                  reason, c->refusal.msg, now, &c->out->seq, leaf, err);
        if (rc == 0)
            snprintf(c->out->text, sizeof c->out->text, "%.*s", (int) sizeof c->out->text - 1,
                     c->refusal.msg);
        return rc;
    }
    if (rc) {
        if (err)
            *err = c->refusal;
        return rc;
    }
    c->out->seq = res.seq;
    if (res.effect)
        snprintf(c->out->text, sizeof c->out->text, "%s: quorum met, %s at record %llu",
                 nrm_record_kind_name(res.kind), nrm_record_kind_name(res.effect),
                 (unsigned long long) res.effect_seq);
    else if (res.kind == NRM_REC_APPROVED)
        snprintf(c->out->text, sizeof c->out->text, "APPROVED: %u of %u approvals", res.approvals,
                 res.quorum);
    else
        snprintf(c->out->text, sizeof c->out->text, "%s", nrm_record_kind_name(res.kind));
    return 0;
}

/* Waits for the answer on sock, watching the handshake: a key the
   broker's ZAP refuses (not an administrator's) fails at once with that
   reason instead of a silent timeout. */
static int
s_await(void *ctx, void *sock, const char *endpoint, nrm_err_t *err)
{
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    int zero = 0, rc = NRM_ENET;
    if (!mon || zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_connect(mon, "inproc://nrm-admin-monitor") != 0) {
        rc = nrm_err_set(err, NRM_ENET, "socket monitor: %s", zmq_strerror(errno));
        goto out;
    }
    uint64_t end = nrm_now_ms() + S_REPLY_TIMEOUT_MS;
    while (nrm_now_ms() < end) {
        zmq_pollitem_t items[2] = { { sock, 0, ZMQ_POLLIN, 0 }, { mon, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll(items, 2, 100) < 0 && errno != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            rc = 0;
            goto out;
        }
        if (items[1].revents & ZMQ_POLLIN) {
            rc = nrm_err_refuse(err, NRM_R_NOT_ADMIN, "the broker's admin endpoint %s refused this key "
                                "(not an administrator key of this network)", endpoint);
            goto out;
        }
    }
    nrm_err_set(err, NRM_ENET, "no answer from the admin endpoint %s in %d s", endpoint,
                S_REPLY_TIMEOUT_MS / 1000);
out:
    if (mon)
        zmq_close(mon);
    return rc;
}

/* Sends frame to the admin endpoint and checks the broker's signed
   receipt: its signature, and that it answers this very frame. */
static int
s_online(const char *net_dir, const nrm_keys_t *admin, const nrm_genesis_t *g,
         const uint8_t *frame, size_t flen, admin_result_t *out, nrm_err_t *err)
{
    char path[TOOL_PATH_MAX], endpoint[TOOL_ENDPOINT_MAX + 2];
    uint8_t *text = NULL, hash[NRM_HASH_BYTES];
    size_t tlen = 0;
    int rc, zero = 0, timeout = S_REPLY_TIMEOUT_MS;
    if (nrm_path(path, sizeof path, "%s/admin.endpoint", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long");
    if ((rc = nrm_file_read(path, TOOL_ENDPOINT_MAX + 1, &text, &tlen, err)) != 0) {
        nrm_err_prefix(err, "the broker runs, but its admin endpoint is unknown");
        return rc;
    }
    snprintf(endpoint, sizeof endpoint, "%.*s", (int) strcspn((char *) text, "\r\n"), (char *) text);
    free(text);
    void *ctx = zmq_ctx_new(), *sock = ctx ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    zmq_msg_t m;
    zmq_msg_init(&m);
    nrm_wire_t *w = NULL;
    if (!sock || zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, g->broker_curve_pk, 32) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, nrm_keys_curve_pk(admin), 32) != 0
        || zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, nrm_keys_curve_sk(admin), 32) != 0
        || zmq_setsockopt(sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout) != 0
        || zmq_socket_monitor(sock, "inproc://nrm-admin-monitor", ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0
        || zmq_connect(sock, endpoint) != 0 || zmq_send(sock, frame, flen, 0) < 0) {
        rc = nrm_err_set(err, NRM_ENET, "admin endpoint %s: %s", endpoint, zmq_strerror(errno));
        goto out;
    }
    if ((rc = s_await(ctx, sock, endpoint, err)) != 0)
        goto out;
    if (zmq_msg_recv(&m, sock, 0) < 0) {
        rc = nrm_err_set(err, NRM_ENET, "no answer from the admin endpoint %s", endpoint);
        goto out;
    }
    if ((rc = nrm_wire_decode(zmq_msg_data(&m), zmq_msg_size(&m), false, &w, err)) != 0)
        goto out;
    nrm_receipt_t r;
    nrm_sha256(frame, flen, hash);
    if (w->kind != NRM_WIRE_ADMIN_RECEIPT
        || nrm_verify(g->broker_sign_pk, NRM_CTX_RECEIPT, w->signed_obj.body.data, w->signed_obj.body.len,
                      w->signed_obj.sig.data) != 0
        || nrm_receipt_decode(w->signed_obj.body.data, w->signed_obj.body.len, &r, err) != 0
        || memcmp(r.frame_hash, hash, NRM_HASH_BYTES) != 0) {
        rc = nrm_err_set(err, NRM_ECRYPTO, "the admin endpoint's answer is not a receipt of this "
                         "command signed by the broker");
        goto out;
    }
    out->seq = r.seq;
    snprintf(out->text, sizeof out->text, "%s", r.reason);
    if (r.status != 0)
        rc = nrm_err_refuse(err, r.status, "refused by the broker (%s, record %llu): %s",
                            nrm_reason_name(r.status), (unsigned long long) r.seq, r.reason);
out:
    nrm_wire_destroy(&w);
    zmq_msg_close(&m);
    if (sock) {
        (void) zmq_socket_monitor(sock, NULL, 0);
        zmq_close(sock);
    }
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}

int
admin_submit(const char *net_dir, const nrm_keys_t *admin, nrm_action_t *a, admin_result_t *out,
             nrm_err_t *err)
{
    nrm_genesis_t g;
    uint8_t *body = NULL, *frame = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0, flen = 0;
    int fd = -1;
    memset(out, 0, sizeof *out);
    memcpy(a->admin_pk, nrm_keys_sign_pk(admin), NRM_PK_BYTES);
    if (a->created_ms == 0)
        a->created_ms = nrm_now_ms();
    int rc = admin_genesis_read(net_dir, &g, err);
    if (rc == 0)
        rc = nrm_action_encode(a, &body, &body_len, err);
    if (rc == 0 && nrm_sign(admin, NRM_CTX_ADMIN, body, body_len, sig) != 0)
        rc = nrm_err_set(err, NRM_ECRYPTO, "cannot sign the command");
    if (rc)
        goto out;
    int running = s_broker_running(net_dir, &fd, err);
    if (running < 0) {
        rc = err->code ? err->code : NRM_EIO;
    } else if (running) {
        out->online = true;
        nrm_wire_t w = { .kind = NRM_WIRE_ADMIN };
        w.signed_obj.body.data = body;
        w.signed_obj.body.len = body_len;
        w.signed_obj.sig.data = sig;
        w.signed_obj.sig.len = NRM_SIG_BYTES;
        rc = nrm_wire_encode(&w, &frame, &flen, err);
        if (rc == 0)
            rc = s_online(net_dir, admin, &g, frame, flen, out, err);
    } else {
        admin_ini_t ini;
        nrm_store_t *store = NULL;
        s_offline_t c = { body, sig, body_len, a->admin_pk, out, false, { 0, 0, "" } };
        rc = admin_ini_load(net_dir, &ini, err);
        if (rc == 0)
            rc = tool_store_open(net_dir, 0, ini.map_max_mb, &store, err);
        if (rc == 0)
            rc = nrm_store_write(store, s_offline_fn, &c, err);
        if (rc == 0 && c.refused)
            rc = nrm_err_refuse(err, c.refusal.reason, "refused (%s, record %llu): %s",
                                nrm_reason_name(c.refusal.reason), (unsigned long long) out->seq,
                                c.refusal.msg);
        nrm_store_destroy(&store);
    }
out:
    if (fd >= 0)
        close(fd);
    free(body);
    free(frame);
    return rc;
}

void
admin_result_print(const char *what, const admin_result_t *r)
{
    printf("%s: %s, record %llu (%s)\n", what, r->text, (unsigned long long) r->seq,
           r->online ? "applied by the running broker" : "written to the folder; the broker was not running");
}
