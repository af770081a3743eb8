/*  nrm_log -- leveled one-line logging to stderr. The role and org are the
    process's own; they are passed in once at start (no other globals). */
#include "nrm_log.h"
#include "nrm_util.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static struct {
    char role[16];
    char org[NRM_ID_MAX + 1];
    int  level;
    int  format;
} s_log = { "nrm", "-", NRM_LOG_INFO, NRM_LOG_FMT_TEXT };

static const char *s_names[] = { "ERROR", "WARN", "INFO", "DEBUG" };

void
nrm_log_init(const char *role, const char *org, int level)
{
    snprintf(s_log.role, sizeof s_log.role, "%s", role ? role : "nrm");
    snprintf(s_log.org, sizeof s_log.org, "%s", org && *org ? org : "-");
    s_log.level = level;
}

int
nrm_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, s_names[i]) == 0)
            return i;
    return -1;
}

static const char *s_formats[] = { "text", "kv", "json" };

int
nrm_log_format_parse(const char *name)
{
    for (int i = 0; i < 3; i++)
        if (strcasecmp(name, s_formats[i]) == 0)
            return i;
    return -1;
}

void
nrm_log_set_format(int format)
{
    s_log.format = format >= NRM_LOG_FMT_TEXT && format <= NRM_LOG_FMT_JSON ? format
                                                                             : NRM_LOG_FMT_TEXT;
}

/* The message quoted for kv (") or JSON: backslash, quote and control
   characters escaped, so one event stays one line whatever it holds. */
static void
s_quote(char *out, size_t size, const char *in)
{
    size_t o = 0;
    for (; *in && o + 7 < size; in++) {
        unsigned char c = (unsigned char) *in;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char) c;
        } else if (c < 0x20) {
            o += (size_t) snprintf(out + o, size - o, "\\u%04x", c);
        } else {
            out[o++] = (char) c;
        }
    }
    out[o] = '\0';
}

bool
nrm_log_enabled(int level)
{
    return level <= s_log.level;
}

void
nrm_log_write(int level, const char *fmt, ...)
{
    char when[40], line[2048];
    nrm_time_format(nrm_now_ms(), when, sizeof when);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *lv = s_names[level < 0 ? 0 : level > 3 ? 3 : level];
    if (s_log.format == NRM_LOG_FMT_TEXT) {
        fprintf(stderr, "%s %-5s %s[%s] %s\n", when, lv, s_log.role, s_log.org, line);
        return;
    }
    char q[sizeof line * 6 + 8];
    s_quote(q, sizeof q, line);
    if (s_log.format == NRM_LOG_FMT_KV)
        fprintf(stderr, "ts=%s level=%s role=%s org=%s msg=\"%s\"\n", when, lv, s_log.role,
                s_log.org, q);
    else
        fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"role\":\"%s\",\"org\":\"%s\","
                "\"msg\":\"%s\"}\n", when, lv, s_log.role, s_log.org, q);
}
