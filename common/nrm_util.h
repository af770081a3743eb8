/*  nrm_util -- small helpers shared by every part: clock, hex, ids, files. */
#ifndef NRM_UTIL_H_INCLUDED
#define NRM_UTIL_H_INCLUDED
#include "nrm.h"

/* Monotonic clock in microseconds (durations only). */
uint64_t nrm_mono_us(void);
uint64_t nrm_now_ms(void);
/* A duration written as digits and one unit: "90s", "30m", "12h", "30d"
   (at most 9 digits). 0 and *ms set, or NRM_EINVAL. */
int nrm_duration_parse(const char *text, uint64_t *ms) NRM_WUR;
/* Formats ms since the epoch as "2026-11-21T22:40:46.123Z" into buf (>= 32). */
void nrm_time_format(uint64_t ms, char *buf, size_t size);

/* Lower-case hex of len bytes into out (size >= 2*len+1). */
void nrm_hex_encode(const uint8_t *in, size_t len, char *out);
/* Decodes exactly len bytes from hex; NRM_EINVAL on bad length or digit. */
int nrm_hex_decode(const char *hex, uint8_t *out, size_t len) NRM_WUR;

/* True if s is a valid identifier: 1..NRM_ID_MAX chars of [a-z0-9._-],
   starting with a letter or digit. Organisation ids and case references. */
bool nrm_id_valid(const char *s);
/* True if s is valid UTF-8 without control characters, at most max bytes. */
bool nrm_text_valid(const char *s, size_t max);
/* Like nrm_text_valid; with lines, also allows newline, carriage return and
   tab (long text such as a note or an account). */
bool nrm_utf8_valid(const char *s, size_t max, bool lines);

/* Reads a whole file, at most max bytes (else NRM_ETOOBIG). On success
   *data (caller frees with free()) holds *len bytes plus a NUL after them. */
int nrm_file_read(const char *path, size_t max, uint8_t **data, size_t *len,
                  nrm_err_t *err) NRM_WUR;
/* Writes atomically: temp file, fsync, rename, fsync of the folder. */
int nrm_file_write(const char *path, const void *data, size_t len, int mode,
                   nrm_err_t *err) NRM_WUR;
/* mkdir -p with the given mode for folders it creates. */
int nrm_mkdirs(const char *path, int mode, nrm_err_t *err) NRM_WUR;
/* snprintf that reports truncation as NRM_ETOOBIG. */
int nrm_path(char *buf, size_t size, const char *fmt, ...) NRM_PRINTF(3, 4) NRM_WUR;

#endif
