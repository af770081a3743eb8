/*  nrm_log -- one line per event on stderr: time, level, role[org], text.
    The level is checked before formatting. Never log a key or victim data:
    only ids, types, sizes, hashes and reasons. */
#ifndef NRM_LOG_H_INCLUDED
#define NRM_LOG_H_INCLUDED
#include "nrm.h"

enum { NRM_LOG_ERROR = 0, NRM_LOG_WARN, NRM_LOG_INFO, NRM_LOG_DEBUG };
/* Line formats: "text" (time LEVEL role[org] message, the default), "kv"
   (ts=... level=... role=... org=... msg="..."), "json" (one object per
   line with the same keys). */
enum { NRM_LOG_FMT_TEXT = 0, NRM_LOG_FMT_KV, NRM_LOG_FMT_JSON };

/* role and org are copied. */
void nrm_log_init(const char *role, const char *org, int level);
int  nrm_log_level_parse(const char *name);    /* -1 if unknown */
int  nrm_log_format_parse(const char *name);   /* -1 if unknown */
void nrm_log_set_format(int format);
bool nrm_log_enabled(int level);
void nrm_log_write(int level, const char *fmt, ...) NRM_PRINTF(2, 3);

#define NRM_LOG(lvl, ...) do { if (nrm_log_enabled(lvl)) nrm_log_write(lvl, __VA_ARGS__); } while (0)
#define nrm_error(...) NRM_LOG(NRM_LOG_ERROR, __VA_ARGS__)
#define nrm_warn(...)  NRM_LOG(NRM_LOG_WARN, __VA_ARGS__)
#define nrm_info(...)  NRM_LOG(NRM_LOG_INFO, __VA_ARGS__)
#define nrm_debug(...) NRM_LOG(NRM_LOG_DEBUG, __VA_ARGS__)

#endif
