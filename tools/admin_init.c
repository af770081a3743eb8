/*  admin_init -- `nrm-admin init`: a new network folder with N
    administrator keys, the broker's keys, broker.ini, and a store whose
    first audit record is the genesis (the keys the network starts from and
    the quorum of administrators a certificate needs), signed by the first
    administrator, and whose second is the routing policy in force
    (config/policy.ini unless --policy FILE).

    Construction cleans up after itself: if a step fails, the files this run
    made are removed, so the command can simply be run again. */
#include "admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nrm_auditlog.h"
#include "nrm_policy.h"
#include "nrm_regadmin.h"
#include "nrm_util.h"

/* Files of a network folder, in the order init makes them. */
enum { F_BROKER_KEY, F_BROKER_INI, F_DATA_MDB, F_LOCK_MDB, F_ADMIN_KEY, F_COUNT };
static const char *const s_file_names[F_COUNT] = {
    "broker.key", "broker.ini", "data/data.mdb", "data/lock.mdb", "admin.key",
};

typedef struct {
    const uint8_t *body;          /* Genesis bytes (borrowed) */
    size_t         body_len;
    const uint8_t *signed_bytes;  /* Signed{Genesis} (borrowed) */
    size_t         signed_len;
    const uint8_t *sig;
    uint64_t       created_ms;
    const uint8_t *policy;        /* AdminAction POLICY bytes and signature */
    size_t         policy_len;
    const uint8_t *policy_sig;
    uint64_t       seq;           /* out */
    uint64_t       policy_seq;    /* out */
} s_genesis_ctx_t;

/* Inside one write transaction: the genesis goes into the registry and
   becomes record 1 of the log. A log that is not empty is refused. */
static int
s_genesis_txn(nrm_store_t *store, MDB_txn *txn, void *vctx, nrm_err_t *err)
{
    s_genesis_ctx_t *ctx = vctx;
    uint64_t tip = 0;
    uint8_t tip_hash[NRM_HASH_BYTES];
    int rc = nrm_auditlog_tip(store, txn, &tip, tip_hash, err);
    if (rc != 0)
        return rc;
    if (tip != 0)
        return nrm_err_set(err, NRM_EEXIST, "the audit log already holds %llu records",
                           (unsigned long long) tip);
    rc = nrm_registry_set_genesis(store, txn, ctx->signed_bytes, ctx->signed_len, err);
    if (rc != 0)
        return rc;

    nrm_record_t rec;
    memset(&rec, 0, sizeof rec);
    rec.time_ms = ctx->created_ms;
    rec.kind = NRM_REC_GENESIS;
    snprintf(rec.actor, sizeof rec.actor, "admin");
    /* Encoding borrows the subject; it is never written through. */
    rec.subject = (uint8_t *) ctx->body;
    rec.subject_len = ctx->body_len;
    rec.has_signature = true;
    memcpy(rec.signature, ctx->sig, NRM_SIG_BYTES);
    uint8_t leaf[NRM_HASH_BYTES];
    rc = nrm_auditlog_append(store, txn, &rec, &ctx->seq, leaf, err);
    if (rc)
        return rc;
    /* The routing policy, decided as any administrator's change is. */
    nrm_regadmin_result_t res;
    rc = nrm_regadmin_apply(store, txn, ctx->policy, ctx->policy_len, ctx->policy_sig, NRM_SIG_BYTES,
                            ctx->created_ms, &res, err);
    ctx->policy_seq = res.seq;
    return rc;
}

/* The POLICY action of the first administrator, for record 2. */
static int
s_policy_action(const nrm_keys_t *admin, const char *file, uint8_t **body, size_t *len,
                uint8_t sig[NRM_SIG_BYTES], uint64_t now, nrm_err_t *err)
{
    nrm_policy_t *pol = NULL;
    nrm_action_t a;
    memset(&a, 0, sizeof a);
    int rc = file ? nrm_policy_load_file(file, &pol, err)
                  : nrm_policy_parse((const char *) admin_default_policy, admin_default_policy_len,
                                     "config/policy.ini (built in)", &pol, err);
    if (rc)
        return rc;
    a.action = NRM_REC_POLICY;
    a.created_ms = now;
    memcpy(a.admin_pk, nrm_keys_sign_pk(admin), NRM_PK_BYTES);
    a.policy_version = nrm_policy_version(pol);
    a.policy_text = (uint8_t *) nrm_policy_text(pol, &a.policy_len);   /* borrowed */
    snprintf(a.reason, sizeof a.reason, "initial policy");
    rc = nrm_action_encode(&a, body, len, err);
    if (rc == 0 && nrm_sign(admin, NRM_CTX_ADMIN, *body, *len, sig) != 0)
        rc = nrm_err_set(err, NRM_ECRYPTO, "cannot sign the policy");
    nrm_policy_free(&pol);
    return rc;
}

#define S_USAGE \
    "usage: nrm-admin init --dir NET [--network NAME] [--listen ENDPOINT]\n" \
    "                      [--admins N] [--quorum M] [--policy FILE]\n" \
    "  makes a new network in folder NET (default name " ADMIN_DEFAULT_NETWORK \
    ", listen " ADMIN_DEFAULT_LISTEN ")\n" \
    "  with N administrators (default 1: NET/admin.key, then NET/admin-2.key ...;\n" \
    "  give each to its administrator), of whom M (default 1) must approve a\n" \
    "  certificate, and the routing policy FILE (default: config/policy.ini)\n"

int
admin_cmd_init(int argc, char **argv)
{
    const char *dir, *network, *listen_ep, *admins_text, *quorum_text, *policy_file;
    const tool_opt_t opts[] = {
        { "dir", &dir, NULL }, { "network", &network, NULL }, { "listen", &listen_ep, NULL },
        { "admins", &admins_text, NULL }, { "quorum", &quorum_text, NULL },
        { "policy", &policy_file, NULL }, { NULL, NULL, NULL },
    };
    uint64_t nadmins = 1, quorum = 1;
    nrm_keys_t *others[NRM_MAX_ADMINS] = { NULL };
    char other_paths[NRM_MAX_ADMINS][TOOL_PATH_MAX];
    bool other_made[NRM_MAX_ADMINS] = { false };
    uint8_t *pol_body = NULL, pol_sig[NRM_SIG_BYTES];
    size_t pol_len = 0;
    const tool_cmdline_t cl = { "nrm-admin", "init", S_USAGE, opts, NULL, 0 };
    admin_ini_t ini;
    nrm_err_t err;
    nrm_keys_t *admin = NULL, *broker = NULL;
    nrm_store_t *store = NULL;
    uint8_t *body = NULL, *signed_bytes = NULL;
    size_t body_len = 0, signed_len = 0;
    char paths[F_COUNT][TOOL_PATH_MAX];
    bool made[F_COUNT] = { false };
    char sub[TOOL_PATH_MAX];
    nrm_genesis_t g;
    uint8_t sig[NRM_SIG_BYTES];
    s_genesis_ctx_t ctx;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    code = TOOL_EXIT_FAIL;

    memset(&err, 0, sizeof err);
    if ((admins_text && tool_u64_parse(admins_text, 1, NRM_MAX_ADMINS, &nadmins, "--admins", &err) != 0)
        || (quorum_text && tool_u64_parse(quorum_text, 1, NRM_MAX_ADMINS, &quorum, "--quorum", &err) != 0)
        || (quorum > nadmins && nrm_err_set(&err, NRM_EINVAL, "--quorum %llu is more than the %llu "
                                            "administrators", (unsigned long long) quorum,
                                            (unsigned long long) nadmins))) {
        admin_fail(&err);
        return TOOL_EXIT_USAGE;
    }
    admin_ini_defaults(&ini);
    if (network != NULL) {
        if (!nrm_id_valid(network)) {
            fprintf(stderr, "nrm-admin init: --network: '%s' is not a valid name "
                    "(1..%d of a-z 0-9 . _ -)\n", network, NRM_ID_MAX);
            return TOOL_EXIT_USAGE;
        }
        snprintf(ini.network, sizeof ini.network, "%s", network);
    }
    if (listen_ep != NULL) {
        if (!tool_endpoint_valid(listen_ep)) {
            fprintf(stderr, "nrm-admin init: --listen: '%s' is not a tcp:// or "
                    "ipc:// endpoint\n", listen_ep);
            return TOOL_EXIT_USAGE;
        }
        snprintf(ini.listen, sizeof ini.listen, "%s", listen_ep);
    }

    /* Refuse to touch a folder that already holds a network. */
    for (int i = 0; i < F_COUNT; i++) {
        if (nrm_path(paths[i], sizeof paths[i], "%s/%s", dir, s_file_names[i]) != 0) {
            nrm_err_set(&err, NRM_ETOOBIG, "folder name too long");
            goto fail;
        }
        if (i == F_LOCK_MDB)
            continue;      /* a lock file alone holds nothing */
        if (access(paths[i], F_OK) == 0) {
            nrm_err_set(&err, NRM_EEXIST, "%s already exists: %s already holds a network "
                        "(init makes a new one in an empty or new folder)", paths[i], dir);
            goto fail;
        }
        if (errno != ENOENT) {
            nrm_err_set(&err, NRM_EIO, "cannot check %s: %s", paths[i], strerror(errno));
            goto fail;
        }
    }
    if (nrm_crypto_init() != 0) {
        nrm_err_set(&err, NRM_ECRYPTO, "cannot initialise libsodium");
        goto fail;
    }
    if (nrm_mkdirs(dir, 0700, &err) != 0)
        goto fail;
    /* tool_dir_check left room for these names. */
    if (nrm_path(sub, sizeof sub, "%s/data", dir) != 0) {
        nrm_err_set(&err, NRM_ETOOBIG, "folder name too long");
        goto fail;
    }
    if (nrm_mkdirs(sub, 0700, &err) != 0)
        goto fail;
    if (nrm_path(sub, sizeof sub, "%s/enrolled", dir) != 0) {
        nrm_err_set(&err, NRM_ETOOBIG, "folder name too long");
        goto fail;
    }
    if (nrm_mkdirs(sub, 0755, &err) != 0)
        goto fail;

    admin = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    broker = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    if (admin == NULL || broker == NULL) {
        nrm_err_set(&err, NRM_ENOMEM, "cannot generate keys");
        goto fail;
    }
    for (uint64_t i = 1; i < nadmins; i++) {
        if (nrm_path(other_paths[i], sizeof other_paths[i], "%s/admin-%llu.key", dir,
                     (unsigned long long) i + 1) != 0
            || (others[i] = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE)) == NULL) {
            nrm_err_set(&err, NRM_ENOMEM, "cannot generate administrator key %llu", (unsigned long long) i + 1);
            goto fail;
        }
        other_made[i] = true;
        if (nrm_keys_save(others[i], other_paths[i], &err) != 0)
            goto fail;
    }
    made[F_BROKER_KEY] = true;
    if (nrm_keys_save(broker, paths[F_BROKER_KEY], &err) != 0)
        goto fail;
    made[F_BROKER_INI] = true;
    if (admin_ini_save(dir, &ini, &err) != 0)
        goto fail;

    /* The genesis, signed by the administrator over its exact bytes. */
    memset(&g, 0, sizeof g);
    snprintf(g.network, sizeof g.network, "%s", ini.network);
    memcpy(g.admin_pk, nrm_keys_sign_pk(admin), NRM_PK_BYTES);
    memcpy(g.broker_sign_pk, nrm_keys_sign_pk(broker), NRM_PK_BYTES);
    memcpy(g.broker_curve_pk, nrm_keys_curve_pk(broker), NRM_PK_BYTES);
    g.created_ms = nrm_now_ms();
    g.nadmins = (uint32_t) nadmins;
    g.quorum = (uint32_t) quorum;
    for (uint64_t i = 0; i < nadmins; i++) {
        const nrm_keys_t *k = i == 0 ? admin : others[i];
        memcpy(g.admin_sign_pks[i], nrm_keys_sign_pk(k), NRM_PK_BYTES);
        memcpy(g.admin_curve_pks[i], nrm_keys_curve_pk(k), NRM_PK_BYTES);
    }
    if (s_policy_action(admin, policy_file, &pol_body, &pol_len, pol_sig, g.created_ms, &err) != 0)
        goto fail;
    if (nrm_genesis_encode(&g, &body, &body_len, &err) != 0)
        goto fail;
    if (nrm_sign(admin, NRM_CTX_GENESIS, body, body_len, sig) != 0) {
        nrm_err_set(&err, NRM_ECRYPTO, "cannot sign the genesis");
        goto fail;
    }
    if (nrm_signed_encode(body, body_len, sig, &signed_bytes, &signed_len, &err) != 0)
        goto fail;

    made[F_DATA_MDB] = made[F_LOCK_MDB] = true;
    if (tool_store_open(dir, 0, ini.map_max_mb, &store, &err) != 0)
        goto fail;
    ctx = (s_genesis_ctx_t) {
        .body = body, .body_len = body_len, .signed_bytes = signed_bytes,
        .signed_len = signed_len, .sig = sig, .created_ms = g.created_ms,
        .policy = pol_body, .policy_len = pol_len, .policy_sig = pol_sig,
    };
    if (nrm_store_write(store, s_genesis_txn, &ctx, &err) != 0) {
        nrm_err_prefix(&err, "cannot write the genesis");
        goto fail;
    }
    nrm_store_destroy(&store);

    /* Last: the administrator key marks a finished network. */
    made[F_ADMIN_KEY] = true;
    if (nrm_keys_save(admin, paths[F_ADMIN_KEY], &err) != 0)
        goto fail;

    char fp_admin[17], fp_bsign[17], fp_bcurve[17];
    nrm_fingerprint(g.admin_pk, fp_admin);
    nrm_fingerprint(g.broker_sign_pk, fp_bsign);
    nrm_fingerprint(g.broker_curve_pk, fp_bcurve);
    printf("network %s created in %s\n", g.network, dir);
    printf("  administrator key  %s  (sign %s)\n", paths[F_ADMIN_KEY], fp_admin);
    printf("  broker keys        %s  (sign %s, curve %s)\n", paths[F_BROKER_KEY],
           fp_bsign, fp_bcurve);
    printf("  broker config      %s  (listen %s)\n", paths[F_BROKER_INI], ini.listen);
    for (uint64_t i = 1; i < nadmins; i++) {
        nrm_fingerprint(g.admin_sign_pks[i], fp_admin);
        printf("  administrator key  %s  (sign %s)\n", other_paths[i], fp_admin);
    }
    printf("  quorum             %u of %u administrators approve each certificate\n", g.quorum, g.nadmins);
    printf("  audit log          %s/data  (record %llu: genesis, record %llu: routing policy)\n", dir,
           (unsigned long long) ctx.seq, (unsigned long long) ctx.policy_seq);
    printf("next: nrm-admin enroll --dir %s ORG/request.nrm, then nrm-broker --dir %s\n",
           dir, dir);
    code = TOOL_EXIT_OK;
    goto out;

fail:
    admin_fail(&err);
    nrm_store_destroy(&store);
    for (int i = F_COUNT - 1; i >= 0; i--)
        if (made[i] && unlink(paths[i]) != 0 && errno != ENOENT)
            fprintf(stderr, "nrm-admin: cannot remove %s: %s\n", paths[i], strerror(errno));
    for (int i = 1; i < NRM_MAX_ADMINS; i++)
        if (other_made[i] && unlink(other_paths[i]) != 0 && errno != ENOENT)
            fprintf(stderr, "nrm-admin: cannot remove %s: %s\n", other_paths[i], strerror(errno));
out:
    nrm_store_destroy(&store);
    nrm_keys_destroy(&admin);
    nrm_keys_destroy(&broker);
    for (int i = 0; i < NRM_MAX_ADMINS; i++)
        nrm_keys_destroy(&others[i]);
    free(pol_body);
    free(body);
    free(signed_bytes);
    return code;
}
