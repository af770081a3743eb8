/*  audit -- the commands of nrm-audit (verify, case, export) and the JSON
    views of decoded log subjects they share.

    Every command opens the broker's store read-only, so it works while the
    broker runs and on a copy of its data folder. */
#ifndef AUDIT_H_INCLUDED
#define AUDIT_H_INCLUDED
#include <stdio.h>
#include <jansson.h>

#include "tool_util.h"
#include "nrm_codec.h"

/* Most records one case timeline holds in memory. */
#define AUDIT_CASE_MAX_ROWS 100000

/* One step of a case timeline (nrm-audit case). */
typedef struct {
    uint64_t seq, time_ms, refers_to;
    int      kind;
    char     sender[NRM_ID_MAX + 1];
    char     recipient[NRM_ID_MAX + 1];
    char     type[NRM_TYPE_MAX + 1];
    uint8_t  msg_id[NRM_MSGID_BYTES];
    bool     has_reply_to;
    uint8_t  reply_to[NRM_MSGID_BYTES];
    uint32_t priority;
    uint32_t reason_code;
    char     reason[NRM_REASON_MAX + 1];
    /* How far the step is proved: its signature (by the key enrolled at the
       time; REJECTED records carry none to check) and its inclusion in the
       latest signed checkpoint. */
    bool     sig_checked, sig_ok;
    bool     in_checkpoint;
    uint64_t checkpoint_size;
} audit_row_t;

/* Writes the swimlane picture of a case (a lane per organisation, time
   left to right, an arrow per handoff, each step marked verified or not)
   as SVG to path. */
int audit_case_svg(const char *path, const char *ref, const audit_row_t *rows, size_t n,
                   nrm_err_t *err) NRM_WUR;
/* "verified", "signed, not yet in a checkpoint", ... for a row. */
const char *audit_row_proof(const audit_row_t *r);

/* The commands. argv[0] is the command name; each returns a TOOL_EXIT_*. */
int audit_cmd_verify(int argc, char **argv);
int audit_cmd_case(int argc, char **argv);
int audit_cmd_export(int argc, char **argv);
int audit_cmd_import(int argc, char **argv);
int audit_cmd_checkpoint(int argc, char **argv);
int audit_cmd_prove(int argc, char **argv);
int audit_cmd_check_proof(int argc, char **argv);
int audit_cmd_consistency(int argc, char **argv);
int audit_cmd_check_consistency(int argc, char **argv);

/* Prints "nrm-audit: <msg>" on stderr. */
void audit_fail(const nrm_err_t *err);

/* JSON values. Each returns a new reference, or NULL when out of memory. */
json_t *audit_json_hex(const uint8_t *data, size_t len);
/* A string; text that is not valid UTF-8 becomes "<invalid text>". */
json_t *audit_json_text(const char *s);
/* An integer, or a decimal string above INT64_MAX (JSON has no u64). */
json_t *audit_json_u64(uint64_t v);
/* The decoded views of a record's subject. */
json_t *audit_json_envelope(const nrm_envelope_t *e);
json_t *audit_json_ack(const nrm_ack_t *a);
json_t *audit_json_cert(const nrm_cert_t *c);
json_t *audit_json_genesis(const nrm_genesis_t *g);
/* origin, tree_size, root (hex): the body of a checkpoint note, unverified. */
#include "nrm_checkpoint.h"
json_t *audit_json_checkpoint(const nrm_checkpoint_t *c);

/* Base64 (RFC 4648, padded) string of data; NULL when out of memory. */
json_t *audit_json_base64(const uint8_t *data, size_t len);
/* Decodes a base64 JSON string of at most max bytes into *out (caller
   frees). */
int audit_json_base64_decode(const json_t *v, size_t max, uint8_t **out, size_t *len,
                             nrm_err_t *err) NRM_WUR;
/* Loads a JSON object from a file of at most NRM_MAX_FILE_BYTES. */
int audit_json_load(const char *path, json_t **out, nrm_err_t *err) NRM_WUR;
/* Writes text and a newline to path atomically, or to stdout if path is
   NULL. */
int audit_output(const char *path, const char *text, nrm_err_t *err) NRM_WUR;
/* The broker's Ed25519 public key from a command-line argument: 64 hex
   digits, 40 Z85 characters, or the name of a file holding one of them or
   a connect.ini (its sign_public). */
int audit_key_arg(const char *arg, uint8_t pk[NRM_PK_BYTES], nrm_err_t *err) NRM_WUR;

/* Sets obj[key] = val, stealing val. Returns -1 if val is NULL or the set
   fails, so that a builder can OR the results and check once. */
int audit_json_set(json_t *obj, const char *key, json_t *val);

#endif
