/*  nrm_config -- INI files (inih) read against a table of known keys.
    An unknown section or key, a bad value, a missing required key or a
    missing file is refused with the file, line and reason. */
#ifndef NRM_CONFIG_H_INCLUDED
#define NRM_CONFIG_H_INCLUDED
#include "nrm.h"

enum {
    NRM_CFG_STR,      /* char[size], copied, must fit                      */
    NRM_CFG_ID,       /* char[NRM_ID_MAX+1], nrm_id_valid                  */
    NRM_CFG_U64,      /* uint64_t within [min, max]                         */
    NRM_CFG_KEY_Z85,  /* uint8_t[32] from Z85 text (40 chars)              */
    NRM_CFG_KEY_HEX,  /* uint8_t[32] from hex (64 chars)                   */
    NRM_CFG_HEXBLOB,  /* uint8_t *, malloc'd, with length in *len_out; may
                         continue on indented lines (each piece appended)  */
};

typedef struct {
    const char *section;
    const char *key;
    int         type;
    void       *dst;
    size_t      size;       /* STR: buffer size; HEXBLOB: max bytes */
    bool        required;
    uint64_t    min, max;   /* U64 */
    size_t     *len_out;    /* HEXBLOB */
    bool        seen_;      /* set by the loader */
} nrm_config_field_t;

int nrm_config_load(const char *path, nrm_config_field_t *fields, size_t count,
                    nrm_err_t *err) NRM_WUR;

/* A check of one key's text value before it is stored (STR and ID keys):
   false refuses it with why, reported at the value's line. */
typedef struct {
    const char *section;
    const char *key;
    bool      (*fn)(const char *value, char *why, size_t why_size);
} nrm_config_check_t;
/* nrm_config_load with checks (ncheck of them). */
int nrm_config_load_checked(const char *path, nrm_config_field_t *fields, size_t count,
                            const nrm_config_check_t *checks, size_t ncheck,
                            nrm_err_t *err) NRM_WUR;

#endif
