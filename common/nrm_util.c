/*  nrm_util -- clock, hex, identifiers, whole-file I/O. */
#include "nrm_util.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t
nrm_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

uint64_t
nrm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

int
nrm_duration_parse(const char *text, uint64_t *ms)
{
    size_t n = strlen(text);
    uint64_t v = 0, unit;
    if (n < 2 || n > 10 || strspn(text, "0123456789") != n - 1)
        return NRM_EINVAL;
    switch (text[n - 1]) {
    case 's': unit = 1000u; break;
    case 'm': unit = 60000u; break;
    case 'h': unit = 3600000u; break;
    case 'd': unit = 86400000u; break;
    default:  return NRM_EINVAL;
    }
    for (size_t i = 0; i + 1 < n; i++)
        v = v * 10 + (uint64_t) (text[i] - '0');
    *ms = v * unit;
    return 0;
}

void
nrm_time_format(uint64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t) (ms / 1000u);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, size, "?");
        return;
    }
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03uZ", day, (unsigned) (ms % 1000u));
}

void
nrm_hex_encode(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int
s_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int
nrm_hex_decode(const char *hex, uint8_t *out, size_t len)
{
    if (strlen(hex) != 2 * len)
        return NRM_EINVAL;
    for (size_t i = 0; i < len; i++) {
        int hi = s_hexval(hex[2 * i]), lo = s_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return NRM_EINVAL;
        out[i] = (uint8_t) (hi << 4 | lo);
    }
    return 0;
}

bool
nrm_id_valid(const char *s)
{
    size_t n = 0;
    if (!s || !*s)
        return false;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= NRM_ID_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_' || c == '.'))
            return false;
    }
    return true;
}

bool
nrm_text_valid(const char *s, size_t max)
{
    return nrm_utf8_valid(s, max, false);
}

bool
nrm_utf8_valid(const char *s, size_t max, bool lines)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t n = 0;
    while (p[n]) {
        unsigned char c = p[n];
        size_t extra;
        uint32_t cp;
        if ((c < 0x20 && !(lines && (c == '\n' || c == '\r' || c == '\t'))) || c == 0x7f)
            return false;
        if (c < 0x80) { n++; continue; }
        if ((c & 0xe0) == 0xc0) { extra = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { extra = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { extra = 3; cp = c & 0x07; }
        else return false;
        for (size_t i = 1; i <= extra; i++) {
            if ((p[n + i] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[n + i] & 0x3f);
        }
        /* overlong forms, surrogates and out-of-range code points */
        if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800)
            || (extra == 3 && cp < 0x10000) || cp > 0x10ffff
            || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        n += extra + 1;
    }
    return n <= max;
}

int
nrm_file_read(const char *path, size_t max, uint8_t **data, size_t *len, nrm_err_t *err)
{
    int rc = 0;
    uint8_t *buf = NULL;
    size_t used = 0;
    FILE *f = fopen(path, "rb");
    *data = NULL;
    *len = 0;
    if (!f)
        return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
    buf = malloc(max + 1);
    if (!buf) {
        rc = nrm_err_set(err, NRM_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    used = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        rc = nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (used > max) {
        rc = nrm_err_set(err, NRM_ETOOBIG, "%s: larger than the limit of %zu bytes", path, max);
        goto out;
    }
    buf[used] = 0;
    *data = buf;
    *len = used;
    buf = NULL;
out:
    free(buf);
    fclose(f);
    return rc;
}

int
nrm_file_write(const char *path, const void *data, size_t len, int mode, nrm_err_t *err)
{
    char tmp[4096], dir[4096];
    int rc = 0, fd = -1;
    if (nrm_path(tmp, sizeof tmp, "%s.tmp.%ld", path, (long) getpid()) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "%s: path too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t) mode);
    if (fd < 0)
        return nrm_err_set(err, NRM_EIO, "%s: %s", tmp, strerror(errno));
    if (fchmod(fd, (mode_t) mode) != 0) {
        rc = nrm_err_set(err, NRM_EIO, "%s: chmod: %s", tmp, strerror(errno));
        goto out;
    }
    const uint8_t *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = nrm_err_set(err, NRM_EIO, "%s: write: %s", tmp, strerror(errno));
            goto out;
        }
        p += n;
        left -= (size_t) n;
    }
    if (fsync(fd) != 0) {
        rc = nrm_err_set(err, NRM_EIO, "%s: fsync: %s", tmp, strerror(errno));
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = nrm_err_set(err, NRM_EIO, "%s: rename: %s", path, strerror(errno));
        goto out;
    }
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void) fsync(dfd);
        close(dfd);
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int
nrm_mkdirs(const char *path, int mode, nrm_err_t *err)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return nrm_err_set(err, NRM_EINVAL, "bad folder path '%s'", path);
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, (mode_t) mode) != 0 && errno != EEXIST)
                return nrm_err_set(err, NRM_EIO, "mkdir %s: %s", buf, strerror(errno));
            buf[i] = saved;
        }
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return nrm_err_set(err, NRM_EIO, "%s is not a folder", path);
    return 0;
}

int
nrm_path(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t) n >= size)
        return NRM_ETOOBIG;
    return 0;
}
