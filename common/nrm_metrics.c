/*  nrm_metrics -- Prometheus text exposition (see nrm_metrics.h). */
#include "nrm_metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_append(nrm_metrics_t *m, const char *fmt, ...) NRM_PRINTF(2, 3);

static void
s_append(nrm_metrics_t *m, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (m->oom)
        return;
    for (;;) {
        size_t room = m->cap - m->len;
        va_start(ap, fmt);
        n = vsnprintf(m->buf ? m->buf + m->len : NULL, m->buf ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            m->oom = true;
            return;
        }
        if (m->buf != NULL && (size_t) n < room) {
            m->len += (size_t) n;
            return;
        }
        size_t cap = m->cap ? m->cap * 2 : 4096;
        while (cap < m->len + (size_t) n + 1)
            cap *= 2;
        char *bigger = realloc(m->buf, cap);
        if (bigger == NULL) {
            m->oom = true;
            return;
        }
        m->buf = bigger;
        m->cap = cap;
    }
}

void
nrm_metrics_family(nrm_metrics_t *m, const char *name, const char *type, const char *help)
{
    s_append(m, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values: backslash, double quote and newline escaped. */
static void
s_label_value(nrm_metrics_t *m, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            s_append(m, "\\%c", *v);
        else if (*v == '\n')
            s_append(m, "\\n");
        else
            s_append(m, "%c", *v);
    }
}

void
nrm_metrics_sample(nrm_metrics_t *m, const char *name, const char *const *labels, double value)
{
    s_append(m, "%s", name);
    if (labels != NULL && labels[0] != NULL) {
        s_append(m, "{");
        for (size_t i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
            s_append(m, "%s%s=\"", i ? "," : "", labels[i]);
            s_label_value(m, labels[i + 1]);
            s_append(m, "\"");
        }
        s_append(m, "}");
    }
    if (isnan(value))
        s_append(m, " NaN\n");
    else if (value == floor(value) && fabs(value) < 9.007199254740992e15)
        s_append(m, " %.0f\n", value);
    else
        s_append(m, " %.6g\n", value);
}

void
nrm_metrics_one(nrm_metrics_t *m, const char *name, const char *type, const char *help,
                double value)
{
    nrm_metrics_family(m, name, type, help);
    nrm_metrics_sample(m, name, NULL, value);
}
