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

/* Loads NET/admin.key and checks that it holds a signing key. */
int admin_key_load(const char *net_dir, nrm_keys_t **keys, nrm_err_t *err) NRM_WUR;

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

/* Prints "nrm-admin: <msg>" on stderr. */
void admin_fail(const nrm_err_t *err);

#endif
