/*  bench_util -- rows, percentiles, CSV, /proc, plots and child processes
    for nrm-bench and nrm-bench-peer (see bench.h). */
#include "bench.h"
#include "nrm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_LINE_MAX 1024

static const char *const s_header =
    "system,round,load,offered_per_s,pairs,window,body_bytes,messages,seconds,"
    "throughput_per_s,"
    "accept_p50_ms,accept_p99_ms,accept_p999_ms,accept_max_ms,"
    "inbox_p50_ms,inbox_p99_ms,inbox_p999_ms,inbox_max_ms,"
    "handoff_p50_ms,handoff_p99_ms,handoff_p999_ms,handoff_max_ms,handoff_mean_ms,"
    "server_cpu_s,server_cpu_pct,server_rss_kib,client_cpu_s";
#define S_FIELDS 27

double
bench_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

bench_pace_t
bench_pace(double t0, double rate, unsigned idx, unsigned pairs)
{
    bench_pace_t pc = { t0, rate };
    if (pairs > 1)
        pc.start = t0 + (double) idx / (double) pairs / rate;
    return pc;
}

uint64_t
bench_pace_due(const bench_pace_t *pc, double now)
{
    return now < pc->start ? 0 : (uint64_t) ((now - pc->start) * pc->rate) + 1;
}

double
bench_pace_next(const bench_pace_t *pc, uint64_t sent, double now)
{
    return pc->start + (double) sent / pc->rate - now;
}

static int
s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Nearest rank: the smallest sample with at least p of them at or below. */
static double
s_rank(const double *sorted, size_t n, double p)
{
    size_t k = (size_t) ceil(p * (double) n);

    if (k == 0)
        k = 1;
    if (k > n)
        k = n;
    return sorted[k - 1];
}

void
bench_pct(double *samples, size_t n, bench_pct_t *out)
{
    double sum = 0;
    size_t i;

    memset(out, 0, sizeof *out);
    if (n == 0)
        return;
    qsort(samples, n, sizeof *samples, s_cmp_double);
    for (i = 0; i < n; i++)
        sum += samples[i];
    out->n = n;
    out->p50 = s_rank(samples, n, 0.50);
    out->p99 = s_rank(samples, n, 0.99);
    out->p999 = s_rank(samples, n, 0.999);
    out->max = samples[n - 1];
    out->mean = sum / (double) n;
}

void
bench_row_fill(bench_row_t *row, bench_step_t *s)
{
    row->messages = s->n;
    row->seconds = s->last > s->first ? s->last - s->first : 0;
    row->throughput = row->seconds > 0 ? (double) s->n / row->seconds : 0;
    bench_pct(s->acc, s->n, &row->accept);
    bench_pct(s->in, s->n, &row->inbox);
    bench_pct(s->done, s->n, &row->handoff);
    row->server_cpu_s = bench_proc_cpu(s->server) - s->server_cpu0;
    row->server_cpu_pct = s->wall1 > s->wall0
                         ? 100.0 * row->server_cpu_s / (s->wall1 - s->wall0) : 0;
    row->server_rss_kib = bench_proc_hwm(s->server);
}

bool
bench_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int
bench_usage(const char *prog, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(%s --help tells the options)\n", prog);
    return 2;
}

FILE *
bench_csv_open(const char *path, nrm_err_t *err)
{
    struct stat st;
    bool fresh = stat(path, &st) != 0 || st.st_size == 0;
    FILE *f = fopen(path, "a");

    if (f == NULL) {
        nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fresh)
        fprintf(f, "%s\n", s_header);
    return f;
}

void
bench_csv_write(FILE *f, const bench_row_t *r)
{
    fprintf(f, "%s,%u,%s,%.1f,%u,%u,%u,%llu,%.6f,%.1f,"
               "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,"
               "%.3f,%.3f,%.3f,%.3f,%.3f,%.3f,%.1f,%llu,%.3f\n",
            r->system, r->round, r->load, r->offered, r->pairs, r->window, r->body,
            (unsigned long long) r->messages, r->seconds, r->throughput,
            r->accept.p50, r->accept.p99, r->accept.p999, r->accept.max,
            r->inbox.p50, r->inbox.p99, r->inbox.p999, r->inbox.max,
            r->handoff.p50, r->handoff.p99, r->handoff.p999, r->handoff.max,
            r->handoff.mean, r->server_cpu_s, r->server_cpu_pct,
            (unsigned long long) r->server_rss_kib, r->client_cpu_s);
    fflush(f);
}

/* A name field: 1..max characters of [a-z0-9.-]. */
static bool
s_name_ok(const char *s, size_t max)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > max)
        return false;
    for (i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '.' || s[i] == '-'))
            return false;
    return true;
}

static bool
s_num(const char *s, double *out)
{
    char *end = NULL;

    errno = 0;
    *out = strtod(s, &end);
    return s[0] != '\0' && end != NULL && *end == '\0' && errno == 0 && isfinite(*out)
        && *out >= 0;
}

/* Parses one data line into r; false if a field is missing or not a number. */
static bool
s_parse_row(char *line, bench_row_t *r, const char **why)
{
    char *field[S_FIELDS];
    double v[S_FIELDS];
    size_t n = 0, i;
    char *p = line;

    for (;;) {
        char *comma = strchr(p, ',');
        if (n == S_FIELDS) {
            *why = "too many fields";
            return false;
        }
        field[n++] = p;
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    if (n != S_FIELDS) {
        *why = "too few fields";
        return false;
    }
    memset(r, 0, sizeof *r);
    if (!s_name_ok(field[0], BENCH_NAME_MAX) || !s_name_ok(field[2], sizeof r->load - 1)) {
        *why = "system or load is not a name";
        return false;
    }
    for (i = 0; i < S_FIELDS; i++) {
        if (i == 0 || i == 2)
            continue;
        if (!s_num(field[i], &v[i])) {
            *why = "a field that must be a number is not";
            return false;
        }
    }
    snprintf(r->system, sizeof r->system, "%s", field[0]);
    snprintf(r->load, sizeof r->load, "%s", field[2]);
    r->round = (unsigned) v[1];
    r->offered = v[3];
    r->pairs = (unsigned) v[4];
    r->window = (unsigned) v[5];
    r->body = (unsigned) v[6];
    r->messages = (uint64_t) v[7];
    r->seconds = v[8];
    r->throughput = v[9];
    r->accept = (bench_pct_t) { r->messages, v[10], v[11], v[12], v[13], 0 };
    r->inbox = (bench_pct_t) { r->messages, v[14], v[15], v[16], v[17], 0 };
    r->handoff = (bench_pct_t) { r->messages, v[18], v[19], v[20], v[21], v[22] };
    r->server_cpu_s = v[23];
    r->server_cpu_pct = v[24];
    r->server_rss_kib = (uint64_t) v[25];
    r->client_cpu_s = v[26];
    return true;
}

int
bench_csv_read(const char *path, bench_row_t *rows, size_t max, size_t *count,
               nrm_err_t *err)
{
    char line[S_LINE_MAX + 2];
    unsigned lineno = 0;
    FILE *f;
    int rc = 0;

    *count = 0;
    f = fopen(path, "r");
    if (f == NULL)
        return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strlen(line);
        const char *why = NULL;

        lineno++;
        if (len > S_LINE_MAX || (len > 0 && line[len - 1] != '\n' && !feof(f))) {
            rc = nrm_err_set(err, NRM_EINVAL, "%s:%u: line longer than %u bytes", path,
                             lineno, S_LINE_MAX);
            goto out;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (lineno == 1) {
            if (strcmp(line, s_header) != 0) {
                rc = nrm_err_set(err, NRM_EINVAL, "%s:1: not the nrm-bench CSV header",
                                 path);
                goto out;
            }
            continue;
        }
        if (*count == max) {
            rc = nrm_err_set(err, NRM_ETOOBIG, "%s: more than %zu rows", path, max);
            goto out;
        }
        if (!s_parse_row(line, &rows[*count], &why)) {
            rc = nrm_err_set(err, NRM_EINVAL, "%s:%u: %s", path, lineno, why);
            goto out;
        }
        (*count)++;
    }
    if (ferror(f))
        rc = nrm_err_set(err, NRM_EIO, "%s: read error", path);
    else if (lineno == 0)
        rc = nrm_err_set(err, NRM_EINVAL, "%s: empty (no header)", path);
out:
    fclose(f);
    return rc;
}

void
bench_row_print(FILE *f, const bench_row_t *r)
{
    fprintf(f, "%-16s round %u load %-6s %6llu msgs %8.0f msg/s | accept p50 %.2f p99 %.2f"
               " | inbox p50 %.2f p99 %.2f | handoff p50 %.2f p99 %.2f p99.9 %.2f ms"
               " | server cpu %.0f%% rss %llu MiB\n",
            r->system, r->round, r->load, (unsigned long long) r->messages, r->throughput,
            r->accept.p50, r->accept.p99, r->inbox.p50, r->inbox.p99, r->handoff.p50,
            r->handoff.p99, r->handoff.p999, r->server_cpu_pct,
            (unsigned long long) (r->server_rss_kib / 1024));
}

bool
bench_loads_parse(const char *text, bench_load_t *loads, size_t max, size_t *count)
{
    char buf[512], *save = NULL, *tok;
    size_t n = 0;

    if (strlen(text) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", text);
    for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        bench_load_t *l = &loads[n];
        char *end = NULL;
        unsigned long long rate;

        if (n == max || strlen(tok) >= sizeof l->name)
            return false;
        memset(l, 0, sizeof *l);
        if (strcmp(tok, "single") == 0) {
            l->single = true;
        } else if (strcmp(tok, "max") != 0) {
            if (tok[0] < '1' || tok[0] > '9')
                return false;
            errno = 0;
            rate = strtoull(tok, &end, 10);
            if (errno != 0 || *end != '\0' || rate > 10000000)
                return false;
            l->rate = (double) rate;
        }
        snprintf(l->name, sizeof l->name, "%s", tok);
        n++;
    }
    if (n == 0)
        return false;
    *count = n;
    return true;
}

/* ---- /proc ---- */

double
bench_proc_cpu(pid_t pid)
{
    char path[64], buf[2048];
    unsigned long long utime = 0, stime = 0;
    const char *p;
    size_t n;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/stat", (long) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces: fields count from the
       last ')'. utime and stime are fields 14 and 15. */
    p = strrchr(buf, ')');
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &utime, &stime) != 2)
        return -1;
    return (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
}

uint64_t
bench_proc_hwm(pid_t pid)
{
    char path[64], line[256];
    unsigned long long kib = 0;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%ld/status", (long) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

void
bench_proc_mem(pid_t pid, bench_mem_t *out)
{
    char path[64], line[256];
    unsigned long long kib;
    FILE *f;

    memset(out, 0, sizeof *out);
    snprintf(path, sizeof path, "/proc/%ld/status", (long) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "VmRSS: %llu kB", &kib) == 1)
            out->rss = kib;
        else if (sscanf(line, "VmHWM: %llu kB", &kib) == 1)
            out->hwm = kib;
        else if (sscanf(line, "RssAnon: %llu kB", &kib) == 1)
            out->anon = kib;
        else if (sscanf(line, "RssFile: %llu kB", &kib) == 1)
            out->file = kib;
    }
    fclose(f);
    snprintf(path, sizeof path, "/proc/%ld/smaps", (long) pid);
    f = fopen(path, "r");
    if (f == NULL)
        return;
    bool in_map = false;
    while (fgets(line, sizeof line, f) != NULL) {
        size_t n = strlen(line);
        unsigned long long lo, hi;
        char perms[8];
        if (sscanf(line, "%llx-%llx %7s", &lo, &hi, perms) == 3) {
            /* a mapping's first line: ... /path/data.mdb */
            in_map = n > 10 && strcmp(line + n - 10, "/data.mdb\n") == 0;
        } else if (in_map && sscanf(line, "Rss: %llu kB", &kib) == 1) {
            out->lmdb += kib;
        }
    }
    fclose(f);
}

double
bench_self_cpu(void)
{
    struct rusage self, kids;

    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    return (double) (self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec
                     + kids.ru_stime.tv_sec)
         + (double) (self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec
                     + kids.ru_stime.tv_usec) / 1e6;
}

/* ---- plot ---- */

static int
s_cmp_row(const void *a, const void *b)
{
    const bench_row_t *x = a, *y = b;
    int c = strcmp(x->system, y->system);

    if (c != 0)
        return c;
    return x->throughput < y->throughput ? -1 : x->throughput > y->throughput ? 1 : 0;
}

int
bench_plot(const bench_row_t *rows, size_t n, const char *png, const char *title,
           nrm_err_t *err)
{
    char gp[4096], log[4200];
    bench_row_t *sorted;
    const char *systems[BENCH_ROWS_MAX];
    size_t nsys = 0, i, s;
    FILE *f;
    int rc;

    if (nrm_path(gp, sizeof gp, "%s.gp", png) != 0
        || nrm_path(log, sizeof log, "%s.log", png) != 0)
        return nrm_err_set(err, NRM_EINVAL, "path too long: %s", png);
    /* Both go into the script between single quotes. */
    if (strchr(png, '\'') != NULL || strchr(title, '\'') != NULL
        || strchr(png, '\n') != NULL || strchr(title, '\n') != NULL)
        return nrm_err_set(err, NRM_EINVAL, "the PNG path and the title must not hold a "
                           "quote or a newline");
    if (n > BENCH_ROWS_MAX)
        n = BENCH_ROWS_MAX;
    sorted = malloc((n > 0 ? n : 1) * sizeof *sorted);
    if (sorted == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    memcpy(sorted, rows, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, s_cmp_row);
    f = fopen(gp, "w");
    if (f == NULL) {
        free(sorted);
        return nrm_err_set(err, NRM_EIO, "%s: %s", gp, strerror(errno));
    }
    for (i = 0; i < n; i++) {
        if (strcmp(sorted[i].load, "single") == 0)
            continue;
        if (nsys == 0 || strcmp(systems[nsys - 1], sorted[i].system) != 0) {
            if (nsys > 0)
                fprintf(f, "EOD\n");
            systems[nsys] = sorted[i].system;
            fprintf(f, "$d%zu << EOD\n", nsys);
            nsys++;
        }
        fprintf(f, "%.1f %.3f %.3f %.3f\n", sorted[i].throughput, sorted[i].handoff.p50,
                sorted[i].handoff.p99, sorted[i].handoff.p999);
    }
    if (nsys > 0)
        fprintf(f, "EOD\n");
    fprintf(f, "set terminal pngcairo size 1000,640 noenhanced\n"
               "set output '%s'\n"
               "set title '%s'\n"
               "set xlabel 'throughput (handoffs/s, log scale)'\n"
               "set ylabel 'latency (ms, log scale)'\n"
               "set logscale xy\n"
               "set grid\n"
               "set key outside right\n", png, title);
    if (nsys == 0)
        fprintf(f, "set label 'no rows' at graph 0.5,0.5\nplot [0:1] [1:10] 1/0 notitle\n");
    else
        fprintf(f, "plot ");
    for (s = 0; s < nsys; s++)
        fprintf(f, "%s$d%zu using 1:2 with linespoints lw 2 lc %zu pt 7 title '%s p50', "
                   "$d%zu using 1:3 with linespoints lw 1 lc %zu pt 5 dt 2 title '%s p99'",
                s > 0 ? ", \\\n     " : "", s, s + 1, systems[s], s, s + 1, systems[s]);
    if (nsys > 0)
        fprintf(f, "\n");
    rc = ferror(f) ? NRM_EIO : 0;
    if (fclose(f) != 0 || rc != 0) {
        free(sorted);
        return nrm_err_set(err, NRM_EIO, "%s: write failed", gp);
    }
    free(sorted);
    if (access("/usr/bin/gnuplot", X_OK) != 0)
        return nrm_err_set(err, NRM_ENOTFOUND, "gnuplot is not installed (apt-get install "
                           "gnuplot-nox); the script is %s", gp);
    {
        char *argv[] = { (char *) "/usr/bin/gnuplot", gp, NULL };
        rc = bench_exec(argv, log, err);
    }
    if (rc != 0)
        nrm_err_prefix(err, "gnuplot %s (see %s)", gp, log);
    return rc;
}

/* ---- child processes ---- */

static pid_t
s_fork_exec(char *const argv[], const char *log, bool die_with_parent, nrm_err_t *err)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid < 0) {
        nrm_err_set(err, NRM_EIO, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        if (die_with_parent) {
            (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(127);
        }
        if (log != NULL) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
                _exit(127);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

int
bench_exec(char *const argv[], const char *log, nrm_err_t *err)
{
    int status = 0;
    pid_t pid = s_fork_exec(argv, log, true, err);

    if (pid < 0)
        return NRM_EIO;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return nrm_err_set(err, NRM_EIO, "waitpid: %s", strerror(errno));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        return nrm_err_set(err, NRM_EIO, "%s exited with status %d%s%s", argv[0],
                           WEXITSTATUS(status), log ? "; see " : "", log ? log : "");
    return nrm_err_set(err, NRM_EIO, "%s was killed by signal %d", argv[0],
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int
bench_spawn(char *const argv[], const char *log, pid_t *pid, nrm_err_t *err)
{
    *pid = s_fork_exec(argv, log, true, err);
    return *pid < 0 ? NRM_EIO : 0;
}

int
bench_stop(pid_t pid, unsigned grace_ms)
{
    int status = 0;
    unsigned waited = 0;

    if (pid <= 0)
        return -1;
    (void) kill(pid, SIGTERM);
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (waited >= grace_ms)
            break;
        nanosleep(&(struct timespec){ 0, 10 * 1000000L }, NULL);
        waited += 10;
    }
    (void) kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return status;
}
