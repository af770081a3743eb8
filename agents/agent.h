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
/* Reads ORG/connect.ini, verifies the certificate in it against the
   administrator key and checks that it is this organisation's (id and every
   public key equal to those of keys). */
int agent_connect_load(const char *dir, const agent_org_t *org, const nrm_keys_t *keys,
                       agent_connect_t *conn, nrm_err_t *err) NRM_WUR;
void agent_connect_clear(agent_connect_t *conn);
/* Loads ORG/secret.keys and checks that it holds all three key pairs. */
int agent_keys_load(const char *dir, nrm_keys_t **keys, nrm_err_t *err) NRM_WUR;

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
int agent_cmd_checkpoint(int argc, char **argv);

#endif
