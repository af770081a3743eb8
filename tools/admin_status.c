/*  admin_status -- `nrm-admin revoke`, `suspend`, `resume` and `policy`:
    one administrator's signed change, decided by the broker's rules
    (admin endpoint when it runs, the folder when it does not). Revocation
    is final; a suspension holds the organisation's traffic until resumed. */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_policy.h"
#include "nrm_regadmin.h"
#include "nrm_util.h"

/* The record of the request pending for org_id, which a CANCELLED names. */
static int
s_pending_seq(const char *dir, const char *org_id, uint64_t *seq, nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    nrm_pending_t p;
    memset(&p, 0, sizeof p);
    int rc = tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_pending_get(store, txn, org_id, &p, err);
    *seq = p.request_seq;
    nrm_pending_clear(&p);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return rc;
}

static int
s_status_cmd(int argc, char **argv, int kind, bool reason_required, const char *usage)
{
    const char *dir, *key, *reason, *org_id;
    const tool_opt_t opts[] = {
        { "dir", &dir, NULL }, { "key", &key, NULL }, { "reason", &reason, NULL },
        { NULL, NULL, NULL },
    };
    const tool_cmdline_t cl = { "nrm-admin", argv[0], usage, opts, &org_id, 1 };
    nrm_err_t err;
    nrm_keys_t *admin = NULL;
    nrm_action_t a;
    admin_result_t r;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    memset(&a, 0, sizeof a);
    if (!nrm_id_valid(org_id)) {
        fprintf(stderr, "nrm-admin %s: '%s' is not an organisation id\n", argv[0], org_id);
        return TOOL_EXIT_USAGE;
    }
    if (reason_required && (reason == NULL || reason[0] == '\0')) {
        fprintf(stderr, "nrm-admin %s: --reason TEXT is required\n", argv[0]);
        return TOOL_EXIT_USAGE;
    }
    if (reason && !nrm_text_valid(reason, NRM_REASON_MAX)) {
        fprintf(stderr, "nrm-admin %s: --reason: at most %d bytes of text\n", argv[0], NRM_REASON_MAX);
        return TOOL_EXIT_USAGE;
    }
    a.action = kind;
    snprintf(a.org_id, sizeof a.org_id, "%s", org_id);
    snprintf(a.reason, sizeof a.reason, "%s", reason ? reason : "");
    code = TOOL_EXIT_FAIL;
    if (nrm_crypto_init() == 0 && admin_key_open(dir, key, &admin, &err) == 0
        && (kind != NRM_REC_CANCELLED || s_pending_seq(dir, org_id, &a.request_seq, &err) == 0)
        && admin_submit(dir, admin, &a, &r, &err) == 0) {
        admin_result_print(org_id, &r);
        code = TOOL_EXIT_OK;
    } else {
        admin_fail(&err);
    }
    nrm_keys_destroy(&admin);
    return code;
}

int
admin_cmd_revoke(int argc, char **argv)
{
    return s_status_cmd(argc, argv, NRM_REC_REVOKED, true,
                        "usage: nrm-admin revoke --dir NET ID --reason TEXT [--key ADMIN.key]\n"
                        "  takes ID off the network at once, for good: its connections and messages\n"
                        "  are refused (reason revoked) and deliveries to it are held\n");
}

int
admin_cmd_suspend(int argc, char **argv)
{
    return s_status_cmd(argc, argv, NRM_REC_SUSPENDED, true,
                        "usage: nrm-admin suspend --dir NET ID --reason TEXT [--key ADMIN.key]\n"
                        "  holds ID's traffic (refused with reason suspended; deliveries to it\n"
                        "  held) until nrm-admin resume\n");
}

int
admin_cmd_resume(int argc, char **argv)
{
    return s_status_cmd(argc, argv, NRM_REC_RESUMED, false,
                        "usage: nrm-admin resume --dir NET ID [--reason TEXT] [--key ADMIN.key]\n"
                        "  ends a suspension; held deliveries go out\n");
}

int
admin_cmd_cancel(int argc, char **argv)
{
    return s_status_cmd(argc, argv, NRM_REC_CANCELLED, true,
                        "usage: nrm-admin cancel --dir NET ID --reason TEXT [--key ADMIN.key]\n"
                        "  withdraws the enrollment or key rotation request of ID that is pending\n"
                        "  (its approvals so far go with it); the organisation may send a new one\n");
}

/* Prints the policy in force. */
static int
s_policy_show(const char *dir, nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    uint64_t version = 0, seq = 0;
    nrm_bytes_t text = { NULL, 0 };
    int rc = tool_store_open(dir, NRM_STORE_RDONLY, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = nrm_regadmin_policy(store, txn, &version, &seq, &text, err);
    if (rc == 0 && seq == 0)
        printf("; no routing policy is in force: the broker refuses every message (reason policy)\n");
    else if (rc == 0) {
        uint8_t hash[NRM_HASH_BYTES];
        char hex[2 * NRM_HASH_BYTES + 1];
        nrm_sha256(text.data, text.len, hash);
        nrm_hex_encode(hash, sizeof hash, hex);
        printf("; routing policy version %llu in force since record %llu, sha256 %s\n",
               (unsigned long long) version, (unsigned long long) seq, hex);
        fwrite(text.data, 1, text.len, stdout);
    }
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    return rc;
}

#define S_POLICY_USAGE \
    "usage: nrm-admin policy --dir NET [FILE] [--key ADMIN.key]\n" \
    "  with FILE: puts the routing policy FILE in force (its [policy] version must\n" \
    "  be newer); a file that does not parse is refused with file:line: reason and\n" \
    "  the running policy stays. Without FILE: prints the policy in force.\n"

int
admin_cmd_policy(int argc, char **argv)
{
    const char *dir, *key, *file = NULL;
    const tool_opt_t opts[] = { { "dir", &dir, NULL }, { "key", &key, NULL }, { NULL, NULL, NULL } };
    tool_cmdline_t cl = { "nrm-admin", "policy", S_POLICY_USAGE, opts, &file, 1 };
    nrm_err_t err;
    nrm_keys_t *admin = NULL;
    nrm_policy_t *pol = NULL;
    nrm_action_t a;
    admin_result_t r;
    /* FILE is optional: without it, show. Every option takes a value, so
       the words left over are positional. */
    int words = argc - 1;
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 && argv[i][2] && !strchr(argv[i], '=')
            && strcmp(argv[i], "--help") != 0)
            words -= 2;
        else if (strncmp(argv[i], "--", 2) == 0)
            words -= 1;
    bool has_file = words > 0;
    cl.npos = has_file ? 1 : 0;
    int code = tool_args(&cl, argc, argv);
    if (code >= 0)
        return code;
    memset(&err, 0, sizeof err);
    memset(&a, 0, sizeof a);
    code = TOOL_EXIT_FAIL;
    if (!has_file) {
        if (s_policy_show(dir, &err) == 0)
            code = TOOL_EXIT_OK;
        else
            admin_fail(&err);
        return code;
    }
    /* Parsed here first, so a bad file is named with its own path. */
    if (nrm_policy_load_file(file, &pol, &err) != 0)
        goto out;
    a.action = NRM_REC_POLICY;
    a.policy_version = nrm_policy_version(pol);
    const uint8_t *text = nrm_policy_text(pol, &a.policy_len);
    a.policy_text = malloc(a.policy_len);
    if (!a.policy_text) {
        nrm_err_set(&err, NRM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(a.policy_text, text, a.policy_len);
    if (nrm_crypto_init() != 0 || admin_key_open(dir, key, &admin, &err) != 0
        || admin_submit(dir, admin, &a, &r, &err) != 0)
        goto out;
    printf("routing policy version %llu: ", (unsigned long long) a.policy_version);
    admin_result_print(file, &r);
    code = TOOL_EXIT_OK;
out:
    if (code != TOOL_EXIT_OK)
        admin_fail(&err);
    nrm_policy_free(&pol);
    nrm_action_clear(&a);
    nrm_keys_destroy(&admin);
    return code;
}
