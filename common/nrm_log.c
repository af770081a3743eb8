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
} s_log = { "nrm", "-", NRM_LOG_INFO };

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
    fprintf(stderr, "%s %-5s %s[%s] %s\n", when,
            s_names[level < 0 ? 0 : level > 3 ? 3 : level], s_log.role, s_log.org, line);
}
