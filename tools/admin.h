/*  admin -- the commands of nrm-admin (network creation and enrollment) and
    what they share: broker.ini, the administrator key, the genesis check and
    the connect file. */
#ifndef ADMIN_H_INCLUDED
#define ADMIN_H_INCLUDED
#include "tool_util.h"
#include "nrm_netconf.h"
#include "nrm_crypto.h"
#include "nrm_codec.h"

/* Defaults of `nrm-admin init`. */
#define ADMIN_DEFAULT_NETWORK    "demo"
#define ADMIN_DEFAULT_LISTEN     "tcp://127.0.0.1:7100"
/* Certificate validity of `nrm-admin enroll`, in days. */
#define ADMIN_DEFAULT_DAYS       365
#define ADMIN_MAX_DAYS           3650

/* NET/broker.ini, [broker] section: the broker's own table (common). */
typedef nrm_netconf_t admin_ini_t;

/* Fills ini with the defaults of `nrm-admin init`. */
void admin_ini_defaults(admin_ini_t *ini);
/* Loads NET/broker.ini against the table of known keys (unknown keys are
   refused). Missing optional keys keep the defaults. */
int admin_ini_load(const char *net_dir, admin_ini_t *ini, nrm_err_t *err) NRM_WUR;
/* Writes NET/broker.ini (mode 0644, atomically). */
int admin_ini_save(const char *net_dir, const admin_ini_t *ini, nrm_err_t *err) NRM_WUR;

/* Loads an administrator key: key_path, or NET/admin.key when NULL; it
   must hold a signing and a CURVE key. */
int admin_key_open(const char *net_dir, const char *key_path, nrm_keys_t **keys,
                   nrm_err_t *err) NRM_WUR;
/* Reads the network's genesis from NET/data (read-only). */
int admin_genesis_read(const char *net_dir, nrm_genesis_t *g, nrm_err_t *err) NRM_WUR;

/* What a submitted command did. */
typedef struct {
    bool     online;        /* through the running broker's admin endpoint */
    uint64_t seq;           /* record of the decision */
    char     text[NRM_REASON_MAX + 1];
} admin_result_t;

/* Signs action a with admin (admin_pk and created_ms are filled in) and
   has it decided: by the running broker through its admin endpoint, or,
   when no broker runs on the folder, in the folder's store under the
   broker's lock. A refusal returns NRM_EINVAL with err->reason. */
int admin_submit(const char *net_dir, const nrm_keys_t *admin, nrm_action_t *a,
                 admin_result_t *out, nrm_err_t *err) NRM_WUR;
void admin_result_print(const char *what, const admin_result_t *r);

/* Makes the certificate that answers a pending request (first approval)
   or reads the one approved already, and signs it with admin: sets
   a->cert_body (malloc'd), a->cert_sig. days: validity of a new one;
   valid_ms, if not 0, replaces it (tests of expiry). */
int admin_cert_for_approval(const char *net_dir, const nrm_keys_t *admin, const char *org_id,
                            uint64_t days, uint64_t valid_ms, nrm_action_t *a,
                            nrm_err_t *err) NRM_WUR;

/* Writes an organisation's connect file (docs/files.md, mode 0644): the
   endpoint (endpoint, or broker.ini's listen when NULL), the broker and
   administrator keys from the genesis, and its Signed{Certificate} bytes.
   out: the file to write, or NULL for NET/enrolled/ID.connect.ini. The path
   written and the endpoint used are copied to path_used and endpoint_used
   (TOOL_PATH_MAX and TOOL_ENDPOINT_MAX + 1 bytes). */
int admin_connect_emit(const char *net_dir, const char *endpoint, const char *out,
                       const nrm_genesis_t *g, const char *org_id,
                       const uint8_t *signed_cert, size_t signed_len,
                       char *path_used, char *endpoint_used, nrm_err_t *err) NRM_WUR;

/* Formats a validity window "2026-11-21 .. 2027-11-21" into buf (>= 32). */
void admin_validity_format(uint64_t not_before_ms, uint64_t not_after_ms,
                           char *buf, size_t size);

/* The commands. argv[0] is the command name; each returns a TOOL_EXIT_*. */
int admin_cmd_init(int argc, char **argv);
int admin_cmd_enroll(int argc, char **argv);
int admin_cmd_list(int argc, char **argv);
int admin_cmd_connect(int argc, char **argv);
int admin_cmd_approve(int argc, char **argv);
int admin_cmd_rotate(int argc, char **argv);
int admin_cmd_revoke(int argc, char **argv);
int admin_cmd_suspend(int argc, char **argv);
int admin_cmd_resume(int argc, char **argv);
int admin_cmd_cancel(int argc, char **argv);
int admin_cmd_policy(int argc, char **argv);
int admin_cmd_show(int argc, char **argv);

/* The routing policy `nrm-admin init` installs: config/policy.ini, built
   into the program (admin_default_policy.c, generated). */
extern const unsigned char admin_default_policy[];
extern const size_t admin_default_policy_len;

/* Prints "nrm-admin: <msg>" on stderr. */
void admin_fail(const nrm_err_t *err);

#endif
