/*  nrm_metrics -- Prometheus text exposition (format 0.0.4) written into a
    growing buffer: one family (HELP, TYPE) then its samples. Values come
    from the caller: counters it keeps in memory and gauges it computes when
    scraped. Label values are escaped; metric and label names are literals
    of the caller's. Never a label holding victim data: ids, types, reasons. */
#ifndef NRM_METRICS_H_INCLUDED
#define NRM_METRICS_H_INCLUDED
#include "nrm.h"

typedef struct {
    char  *buf;        /* NUL-terminated text; caller frees with free() */
    size_t len, cap;
    bool   oom;        /* an append failed: the text is incomplete       */
} nrm_metrics_t;

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge). */
void nrm_metrics_family(nrm_metrics_t *m, const char *name, const char *type, const char *help);
/* "name{labels} value": labels are NULL-terminated name, value pairs
   (NULL for none). */
void nrm_metrics_sample(nrm_metrics_t *m, const char *name, const char *const *labels,
                        double value);
/* A family with one unlabelled sample. */
void nrm_metrics_one(nrm_metrics_t *m, const char *name, const char *type, const char *help,
                     double value);

/* A counter per reason code (NRM_R_*: 0..NRM_METRICS_REASONS-1), for
   "refused by reason". */
#define NRM_METRICS_REASONS 64

#endif
