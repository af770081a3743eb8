/*  agent -- what the nrm-agent commands share: the organisation folder and
    its files, argument helpers, exit codes, and the command entry points. */
#ifndef AGENT_H_INCLUDED
#define AGENT_H_INCLUDED
#include "nrm.h"
#include "nrm_codec.h"
#include "nrm_crypto.h"

#include <limits.h>
#include <stdio.h>

/* Exit statuses of every command (documented in `nrm-agent --help`). */
enum {
    AGENT_EXIT_OK      = 0,
    AGENT_EXIT_ERROR   = 1,
    AGENT_EXIT_TIMEOUT = 2,    /* wait: the state was not reached in time   */
    AGENT_EXIT_REFUSED = 3,    /* wait: the message was refused             */
    AGENT_EXIT_ALARM   = 4,    /* checkpoint: an inconsistent checkpoint was
                                  recorded                                  */
    AGENT_EXIT_USAGE   = 64,   /* bad command line (EX_USAGE)               */
};

#define AGENT_PATH_MAX      4096
#define AGENT_ENDPOINT_MAX  256

/* ORG/org.ini */
typedef struct {
    char id[NRM_ID_MAX + 1];
    char type[NRM_TYPE_MAX + 1];
    char name[NRM_NAME_MAX + 1];
    char jurisdiction[NRM_NAME_MAX + 1];
    uint64_t retention_days;       /* [retention] inbox_days; 0 keeps bodies */
} agent_org_t;

/* ORG/connect.ini, from the administrators. */
typedef struct {
    char     endpoint[AGENT_ENDPOINT_MAX];
    uint8_t  broker_curve_pk[NRM_PK_BYTES];
    uint8_t  broker_sign_pk[NRM_PK_BYTES];
    char     network[NRM_ID_MAX + 1];
    uint8_t  admin_pk[NRM_PK_BYTES];   /* signs the genesis            */
    nrm_genesis_t genesis;          /* administrators and quorum, from [network] genesis */
    uint8_t *cert_signed;           /* own Signed{Certificate}; owned */
    size_t   cert_len;
} agent_connect_t;

/* Builds "<dir>/<name>" into buf (AGENT_PATH_MAX). */
int agent_org_path(char *buf, const char *dir, const char *name, nrm_err_t *err) NRM_WUR;
/* Reads and validates ORG/org.ini. */
int agent_org_load(const char *dir, agent_org_t *org, nrm_err_t *err) NRM_WUR;
/* Files of a key rotation (docs/files.md): the new keys made by
   `keygen --rotate` until the rotated certificate arrives, the request for
   the administrators, the certificate in force after the rotation, and
   the folder of retired key sets (kept to open bodies sealed to them). */
#define AGENT_NEXT_KEYS      "secret.keys.next"
#define AGENT_ROTATE_REQUEST "rotate-request.nrm"
#define AGENT_CERT_FILE      "certificate.nrm"
#define AGENT_RETIRED_DIR    "retired"
#define AGENT_RETIRED_MAX    16

/* Loads ORG/secret.keys and ORG/connect.ini, verifies the certificate in
   it (or the newer one of ORG/certificate.nrm after a rotation) against
   the administrators of its genesis, and checks that it is this
   organisation's and holds the public keys of the keys returned (see
   agent_keys_settle). On failure *keys is NULL and conn cleared. */
int agent_identity_load(const char *dir, const agent_org_t *org, nrm_keys_t **keys,
                        agent_connect_t *conn, nrm_err_t *err) NRM_WUR;
/* Makes *keys the key set that cert holds: secret.keys, or, when cert is
   a rotation's, ORG/secret.keys.next, which then becomes secret.keys
   while the old set moves to ORG/retired/FINGERPRINT.keys. Each file step
   is atomic and a crash between them is finished by the next call.
   Refuses a certificate that holds neither set. */
int agent_keys_settle(const char *dir, const nrm_cert_t *cert, nrm_keys_t **keys,
                      nrm_err_t *err) NRM_WUR;
void agent_connect_clear(agent_connect_t *conn);
/* Loads ORG/secret.keys and checks that it holds all three key pairs. */
int agent_keys_load(const char *dir, nrm_keys_t **keys, nrm_err_t *err) NRM_WUR;
/* Loads ORG/secret.keys.next, the keys of a rotation not yet in force
   (*next stays NULL when there is none). */
int agent_keys_next(const char *dir, nrm_keys_t **next, nrm_err_t *err) NRM_WUR;
/* Loads the key sets of ORG/retired (at most max; none when it does not
   exist). The caller destroys out[0 .. *n). */
int agent_keys_retired(const char *dir, nrm_keys_t **out, size_t max, size_t *n,
                       nrm_err_t *err) NRM_WUR;

/* Parses a decimal integer in [min, max] (the whole string). */
int agent_parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out) NRM_WUR;
/* Parses 32 hex characters into a message id. */
int agent_parse_msgid(const char *text, uint8_t id[NRM_MSGID_BYTES]) NRM_WUR;
/* Prints "nrm-agent CMD: <text>" and the help hint on stderr; returns
   AGENT_EXIT_USAGE. */
int agent_usage_error(const char *cmd, const char *fmt, ...) NRM_PRINTF(2, 3);
/* Reports a getopt_long result '?' (unknown option) or ':' (missing
   argument) for argv[optind - 1]; returns AGENT_EXIT_USAGE. */
int agent_opt_error(const char *cmd, int c, char **argv);
/* Prints "nrm-agent CMD: <err->msg>" on stderr; returns AGENT_EXIT_ERROR. */
int agent_fail(const char *cmd, const nrm_err_t *err);

/* Command entry points: argv[0] is the command name. */
int agent_cmd_keygen(int argc, char **argv);
int agent_cmd_run(int argc, char **argv);
int agent_cmd_send(int argc, char **argv);
int agent_cmd_outbox(int argc, char **argv);
int agent_cmd_inbox(int argc, char **argv);
int agent_cmd_wait(int argc, char **argv);
int agent_cmd_purge(int argc, char **argv);
int agent_cmd_checkpoint(int argc, char **argv);

#endif
