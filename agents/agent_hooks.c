/*  agent_hooks -- inbox take state, hand-off to a spool folder and a
    command, and the outgoing spool folder (see agent_hooks.h). */
#include "agent_hooks.h"
#include "agent_api.h"
#include "agent_store.h"
#include "agent_views.h"
#include "nrm_crypto.h"
#include "nrm_log.h"
#include "nrm_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_HAND_BYTES       24
#define S_HAND_SPOOL       0x01u
#define S_HAND_COMMAND     0x02u
#define S_QUEUE_MAX        256     /* inbox items queued per round        */
#define S_SPOOL_MAX        32      /* spool files written per round       */
#define S_OUT_MAX          16      /* outgoing files taken per round      */
#define S_OUT_SCAN_MS      200
#define S_NAME_MAX         200     /* outgoing file names                 */

/* ---- take state ---- */

int
agent_intake_get(nrm_store_t *store, MDB_txn *txn, uint64_t key, uint64_t *taken_ms,
                 nrm_err_t *err)
{
    uint8_t k[8];
    MDB_val v;
    int rc;

    *taken_ms = 0;
    nrm_be64_put(k, key);
    rc = nrm_store_get(store, txn, "intake", k, 8, &v, err);
    if (rc == NRM_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (v.mv_size != 8)
        return nrm_err_set(err, NRM_ECORRUPT, "agent store: intake value of %zu bytes",
                           v.mv_size);
    *taken_ms = nrm_be64_get(v.mv_data);
    return 0;
}

int
agent_intake_take(nrm_store_t *store, MDB_txn *txn, uint64_t key, uint64_t now_ms,
                  uint64_t *taken_ms, nrm_err_t *err)
{
    uint8_t k[8], v[8];
    int rc = agent_intake_get(store, txn, key, taken_ms, err);
    if (rc != 0 || *taken_ms != 0)
        return rc;
    nrm_be64_put(k, key);
    nrm_be64_put(v, now_ms);
    *taken_ms = now_ms;
    return nrm_store_put(store, txn, "intake", k, 8, v, 8, 0, err);
}

/* ---- hand-off records ---- */

typedef struct {
    uint32_t flags;       /* S_HAND_*: what is still to do */
    uint32_t tries;       /* failed attempts so far        */
    uint64_t next_ms;     /* not before (wall clock)       */
    uint64_t queued_ms;
} s_hand_t;

static void
s_hand_put(uint8_t out[S_HAND_BYTES], const s_hand_t *h)
{
    out[0] = 'H';
    out[1] = 1;
    out[2] = (uint8_t) h->flags;
    out[3] = 0;
    out[4] = (uint8_t) (h->tries >> 24);
    out[5] = (uint8_t) (h->tries >> 16);
    out[6] = (uint8_t) (h->tries >> 8);
    out[7] = (uint8_t) h->tries;
    nrm_be64_put(out + 8, h->next_ms);
    nrm_be64_put(out + 16, h->queued_ms);
}

static int
s_hand_get(const MDB_val *v, s_hand_t *h, nrm_err_t *err)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != S_HAND_BYTES || p[0] != 'H' || p[1] != 1
        || (p[2] & ~(S_HAND_SPOOL | S_HAND_COMMAND)) != 0)
        return nrm_err_set(err, NRM_ECORRUPT, "agent store: bad handoff record");
    h->flags = p[2];
    h->tries = (uint32_t) p[4] << 24 | (uint32_t) p[5] << 16 | (uint32_t) p[6] << 8 | p[7];
    h->next_ms = nrm_be64_get(p + 8);
    h->queued_ms = nrm_be64_get(p + 16);
    return 0;
}

static uint64_t
s_cursor(nrm_store_t *store, MDB_txn *txn)
{
    MDB_val v;
    if (nrm_store_get(store, txn, "handmeta", "cursor", 6, &v, NULL) != 0 || v.mv_size != 8)
        return 0;
    return nrm_be64_get(v.mv_data);
}

json_t *
agent_handoff_view(nrm_store_t *store, MDB_txn *txn, uint64_t key)
{
    uint8_t k[8];
    MDB_val v;
    s_hand_t h;

    nrm_be64_put(k, key);
    if (nrm_store_get(store, txn, "handoff", k, 8, &v, NULL) == 0) {
        if (s_hand_get(&v, &h, NULL) != 0)
            return NULL;
        return json_pack("{s:s, s:s, s:i, s:I}",
                         "spool", h.flags & S_HAND_SPOOL ? "pending" : "done",
                         "command", h.flags & S_HAND_COMMAND ? "pending" : "done",
                         "tries", (int) h.tries, "next_ms", (json_int_t) h.next_ms);
    }
    if (key <= s_cursor(store, txn))
        return json_pack("{s:s}", "state", "done");
    return NULL;
}

/* ---- the hooks ---- */

struct agent_hooks_t {
    char                 dir[AGENT_PATH_MAX];
    agent_conf_t         conf;
    nrm_store_t         *store;
    agent_hooks_stats_t  stats;
    uint32_t             want;            /* S_HAND_* configured           */
    char                 private_dir[AGENT_PATH_MAX]; /* ORG/hooks          */
    /* the command being run */
    pid_t                pid;
    uint64_t             run_key, run_started;
    agent_hex_t          run_id;
    char                 run_file[AGENT_PATH_MAX];
    uint64_t             last_out_scan;
    uint64_t             last_queue_check;
};

const agent_hooks_stats_t *
agent_hooks_stats(const agent_hooks_t *self)
{
    return &self->stats;
}

/* Exponential backoff with jitter: min * 2^(tries-1), capped, then a
   random point in its upper half. */
static uint64_t
s_backoff(const agent_hooks_t *self, uint32_t tries)
{
    uint64_t d = self->conf.retry_min_ms;
    for (uint32_t i = 1; i < tries && d < self->conf.retry_max_ms; i++)
        d *= 2;
    if (d > self->conf.retry_max_ms)
        d = self->conf.retry_max_ms;
    uint32_t r;
    nrm_random((uint8_t *) &r, sizeof r);
    return d / 2 + (d / 2 ? r % (d / 2 + 1) : 0);
}

typedef struct {
    uint64_t key;
    uint32_t clear;       /* flags done                               */
    bool     failed;      /* else: a failure, schedule a retry         */
    uint64_t retry_ms;    /* delay of that retry                       */
    bool     take;        /* mark the item taken (command exit 0)      */
    uint64_t now;
    uint32_t tries;       /* out: tries after this                     */
} s_mark_t;

static int
s_mark_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_mark_t *m = ctx;
    uint8_t k[8], buf[S_HAND_BYTES];
    MDB_val v;
    s_hand_t h;
    uint64_t taken;
    int rc;

    nrm_be64_put(k, m->key);
    rc = nrm_store_get(store, txn, "handoff", k, 8, &v, err);
    if (rc != 0)
        return rc;
    rc = s_hand_get(&v, &h, err);
    if (rc != 0)
        return rc;
    if (m->failed) {
        h.tries++;
        h.next_ms = m->now + m->retry_ms;
    } else {
        h.flags &= ~m->clear;
        h.tries = 0;
        h.next_ms = 0;
    }
    m->tries = h.tries;
    if (m->take && (rc = agent_intake_take(store, txn, m->key, m->now, &taken, err)) != 0)
        return rc;
    if (h.flags == 0)
        return nrm_store_del(store, txn, "handoff", k, 8, err);
    s_hand_put(buf, &h);
    return nrm_store_put(store, txn, "handoff", k, 8, buf, sizeof buf, 0, err);
}

/* Records the outcome of one step for item key, durably. */
static void
s_mark(agent_hooks_t *self, uint64_t key, uint32_t clear, bool failed, bool take,
       const char *what, const char *id)
{
    nrm_err_t err = { 0, 0, "" };
    s_mark_t m = { key, clear, failed, 0, take, nrm_now_ms(), 0 };

    if (failed) {
        /* the delay needs the tries so far: read them through the txn */
        MDB_txn *txn = NULL;
        uint8_t k[8];
        MDB_val v;
        s_hand_t h = { 0, 0, 0, 0 };
        nrm_be64_put(k, key);
        if (nrm_store_read_begin(self->store, &txn, &err) == 0) {
            if (nrm_store_get(self->store, txn, "handoff", k, 8, &v, NULL) == 0)
                (void) s_hand_get(&v, &h, NULL);
            nrm_store_read_end(&txn);
        }
        m.retry_ms = s_backoff(self, h.tries + 1);
    }
    if (nrm_store_write(self->store, s_mark_fn, &m, &err) != 0) {
        nrm_error("hand-off of item %s: recording the %s failed: %s (it will be done again)",
                  id, what, err.msg);
        return;
    }
    if (failed)
        nrm_warn("hand-off of item %s: %s failed (attempt %u); next try in %llu ms", id, what,
                 m.tries, (unsigned long long) m.retry_ms);
}

typedef struct {
    uint32_t want;
    uint64_t now, after;
    size_t   queued;
    bool     more;
} s_queue_t;

typedef struct {
    nrm_store_t *store;
    MDB_txn     *txn;
    s_queue_t   *q;
} s_queue_walk_t;

static int
s_queue_one(void *ctx, const agent_in_t *rec, nrm_err_t *err)
{
    s_queue_walk_t *w = ctx;
    uint8_t k[8], buf[S_HAND_BYTES];
    uint64_t taken = 0;
    int rc;

    if (rec->key <= w->q->after)
        return 0;
    if (w->q->queued >= S_QUEUE_MAX) {
        w->q->more = true;
        return 1;
    }
    w->q->after = rec->key;
    w->q->queued++;
    rc = agent_intake_get(w->store, w->txn, rec->key, &taken, err);
    if (rc != 0 || taken != 0 || rec->purged_ms != 0)
        return rc;         /* taken already (API) or purged: nothing to hand */
    s_hand_t h = { w->q->want, 0, 0, w->q->now };
    s_hand_put(buf, &h);
    nrm_be64_put(k, rec->key);
    return nrm_store_put(w->store, w->txn, "handoff", k, 8, buf, sizeof buf, MDB_NOOVERWRITE,
                         err);
}

/* nrm_store_fn: queues the inbox items after the cursor and moves it. */
static int
s_queue_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_queue_t *q = ctx;
    s_queue_walk_t w = { store, txn, q };
    uint8_t v[8];
    int rc;

    q->after = s_cursor(store, txn);
    q->queued = 0;
    q->more = false;
    rc = agent_in_each_from(store, txn, q->after + 1, s_queue_one, &w, err);
    if (rc != 0)
        return rc;
    nrm_be64_put(v, q->after);
    return nrm_store_put(store, txn, "handmeta", "cursor", 6, v, 8, 0, err);
}

/* Last inbox key, and the cursor: is there anything new to queue? */
static bool
s_queue_needed(agent_hooks_t *self)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    bool need = false;

    if (nrm_store_read_begin(self->store, &txn, NULL) != 0)
        return false;
    if (mdb_cursor_open(txn, nrm_store_dbi(self->store, "inbox"), &cur) == 0) {
        if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
            need = nrm_be64_get(k.mv_data) > s_cursor(self->store, txn);
        mdb_cursor_close(cur);
    }
    nrm_store_read_end(&txn);
    return need;
}

static void
s_queue(agent_hooks_t *self, uint64_t now)
{
    nrm_err_t err = { 0, 0, "" };
    s_queue_t q = { self->want, now, 0, 0, false };

    if (!s_queue_needed(self))
        return;
    if (nrm_store_write(self->store, s_queue_fn, &q, &err) != 0)
        nrm_error("hand-off: queueing new inbox items failed: %s", err.msg);
    else if (q.queued)
        nrm_debug("hand-off: %zu new inbox items queued", q.queued);
}

/* Writes the item's view (with its document) to path atomically. */
static int
s_write_item(agent_hooks_t *self, const agent_keyring_t *kr, uint64_t key, const char *path,
             nrm_err_t *err)
{
    MDB_txn *txn = NULL;
    agent_in_t rec;
    json_t *o = NULL;
    char *text = NULL;
    int rc;

    rc = nrm_store_read_begin(self->store, &txn, err);
    if (rc == 0)
        rc = agent_in_get(self->store, txn, key, &rec, err);
    if (rc == 0)
        rc = agent_view_in(self->store, txn, kr, &rec, &o, err);
    nrm_store_read_end(&txn);
    if (rc != 0)
        return rc;
    text = json_dumps(o, JSON_INDENT(2) | JSON_ENSURE_ASCII);
    json_decref(o);
    if (text == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    size_t len = strlen(text);
    rc = nrm_file_write(path, text, len, 0640, err);
    sodium_memzero(text, len);
    free(text);
    return rc;
}

typedef struct {
    uint64_t key;
    s_hand_t h;
} s_due_t;

/* Up to max due entries of the handoff db. */
static size_t
s_due(agent_hooks_t *self, uint64_t now, s_due_t *out, size_t max)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    size_t n = 0;

    if (nrm_store_read_begin(self->store, &txn, NULL) != 0)
        return 0;
    if (mdb_cursor_open(txn, nrm_store_dbi(self->store, "handoff"), &cur) == 0) {
        for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && n < max;
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            s_hand_t h;
            if (k.mv_size != 8 || s_hand_get(&v, &h, NULL) != 0 || h.next_ms > now)
                continue;
            out[n].key = nrm_be64_get(k.mv_data);
            out[n++].h = h;
        }
        mdb_cursor_close(cur);
    }
    nrm_store_read_end(&txn);
    return n;
}

static int
s_msgid_of(agent_hooks_t *self, uint64_t key, agent_hex_t hex)
{
    MDB_txn *txn = NULL;
    agent_in_t rec;
    int rc = nrm_store_read_begin(self->store, &txn, NULL);
    if (rc == 0)
        rc = agent_in_get(self->store, txn, key, &rec, NULL);
    if (rc == 0)
        nrm_hex_encode(rec.msg_id, NRM_MSGID_BYTES, hex);
    nrm_store_read_end(&txn);
    return rc;
}

static void
s_command_start(agent_hooks_t *self, uint64_t key, const agent_hex_t id, const char *file,
                uint64_t now)
{
    pid_t parent = getpid();
    pid_t pid = fork();

    if (pid < 0) {
        nrm_error("hand-off of item %s: fork: %s", id, strerror(errno));
        self->stats.hook_failures++;
        s_mark(self, key, 0, true, false, "command", id);
        return;
    }
    if (pid == 0) {
        /* The command dies with the agent, so that it cannot finish an
           item the agent will hand over again. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            dup2(devnull, 0);
            close(devnull);
        }
        execl(self->conf.hook_command, self->conf.hook_command, id, file, (char *) NULL);
        _exit(127);
    }
    self->pid = pid;
    self->run_key = key;
    self->run_started = now;
    memcpy(self->run_id, id, sizeof self->run_id);
    snprintf(self->run_file, sizeof self->run_file, "%s", file);
    nrm_debug("hand-off of item %s: running the hook command (pid %ld)", id, (long) pid);
}

static void
s_command_reap(agent_hooks_t *self, uint64_t now)
{
    int status = 0;
    pid_t r;

    if (self->pid <= 0)
        return;
    r = waitpid(self->pid, &status, WNOHANG);
    if (r == 0) {
        if (now - self->run_started < self->conf.hook_timeout_s * 1000u)
            return;
        kill(self->pid, SIGKILL);
        (void) waitpid(self->pid, &status, 0);
        nrm_warn("hand-off of item %s: the hook command ran longer than %llu s and was killed",
                 self->run_id, (unsigned long long) self->conf.hook_timeout_s);
        status = -1;
    } else if (r < 0) {
        status = -1;
    }
    self->pid = 0;
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        self->stats.hook_ok++;
        s_mark(self, self->run_key, S_HAND_COMMAND, false, true, "command", self->run_id);
        nrm_info("inbox item %s taken by the hook command", self->run_id);
        if (self->conf.spool_in[0] == '\0')
            unlink(self->run_file);      /* the private copy */
        return;
    }
    self->stats.hook_failures++;
    if (status != -1 && WIFEXITED(status))
        nrm_warn("hand-off of item %s: the hook command exited with status %d", self->run_id,
                 WEXITSTATUS(status));
    else if (status != -1 && WIFSIGNALED(status))
        nrm_warn("hand-off of item %s: the hook command was killed by signal %d",
                 self->run_id, WTERMSIG(status));
    s_mark(self, self->run_key, 0, true, false, "command", self->run_id);
}

static void
s_handoff(agent_hooks_t *self, uint64_t now)
{
    s_due_t due[S_SPOOL_MAX];
    agent_keyring_t kr;
    bool kr_loaded = false;
    nrm_err_t err = { 0, 0, "" };
    size_t n = s_due(self, now, due, S_SPOOL_MAX);

    for (size_t i = 0; i < n; i++) {
        agent_hex_t id;
        char path[AGENT_PATH_MAX];
        if (s_msgid_of(self, due[i].key, id) != 0)
            continue;
        if (due[i].h.flags & S_HAND_SPOOL) {
            if (!kr_loaded) {
                if (agent_keyring_load(self->dir, &kr, &err) != 0) {
                    nrm_error("hand-off: loading the keys failed: %s", err.msg);
                    return;
                }
                kr_loaded = true;
            }
            if (nrm_path(path, sizeof path, "%s/%s.json", self->conf.spool_in, id) != 0
                || s_write_item(self, &kr, due[i].key, path, &err) != 0) {
                self->stats.spool_failures++;
                nrm_error("hand-off of item %s: writing the spool file failed: %s", id,
                          err.msg);
                s_mark(self, due[i].key, 0, true, false, "spool file", id);
                continue;
            }
            self->stats.spooled++;
            s_mark(self, due[i].key, S_HAND_SPOOL, false, false, "spool file", id);
            nrm_info("inbox item %s written to the spool folder", id);
            due[i].h.flags &= ~S_HAND_SPOOL;
        }
        if ((due[i].h.flags & S_HAND_COMMAND) && self->pid == 0) {
            if (self->conf.spool_in[0]) {
                if (nrm_path(path, sizeof path, "%s/%s.json", self->conf.spool_in, id) != 0)
                    continue;
            } else {
                if (!kr_loaded) {
                    if (agent_keyring_load(self->dir, &kr, &err) != 0) {
                        nrm_error("hand-off: loading the keys failed: %s", err.msg);
                        return;
                    }
                    kr_loaded = true;
                }
                if (nrm_path(path, sizeof path, "%s/%s.json", self->private_dir, id) != 0
                    || s_write_item(self, &kr, due[i].key, path, &err) != 0) {
                    self->stats.hook_failures++;
                    nrm_error("hand-off of item %s: writing the file for the command "
                              "failed: %s", id, err.msg);
                    s_mark(self, due[i].key, 0, true, false, "command", id);
                    continue;
                }
            }
            s_command_start(self, due[i].key, id, path, now);
        }
    }
    if (kr_loaded)
        agent_keyring_clear(&kr);
}

/* ---- outgoing spool ---- */

static void
s_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void) fsync(fd);
        close(fd);
    }
}

static bool
s_out_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && n <= S_NAME_MAX && name[0] != '.' && strcmp(name + n - 5, ".json") == 0
           && strchr(name, '/') == NULL;
}

/* Sends processing/NAME; moves it to sent/ or failed/ with its result. */
static void
s_out_process(agent_hooks_t *self, const char *name)
{
    char src[AGENT_PATH_MAX], dst[AGENT_PATH_MAX], resfile[AGENT_PATH_MAX];
    char field[128] = "", *text = NULL;
    nrm_err_t err = { 0, 0, "" };
    uint8_t *data = NULL, key[AGENT_IDEM_BYTES];
    size_t len = 0;
    agent_send_result_t res;
    json_t *o = NULL, *ans = NULL;
    json_error_t jerr;
    bool transient = false;
    int rc;

    if (nrm_path(src, sizeof src, "%s/processing/%s", self->conf.spool_out, name) != 0)
        return;
    rc = nrm_file_read(src, AGENT_API_BODY_MAX, &data, &len, &err);
    if (rc == 0) {
        /* sha256("spool" NUL name NUL content): the same file is one send */
        crypto_hash_sha256_state st;
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const uint8_t *) "spool", 6);
        crypto_hash_sha256_update(&st, (const uint8_t *) name, strlen(name) + 1);
        crypto_hash_sha256_update(&st, data, len);
        crypto_hash_sha256_final(&st, key);
        o = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES, &jerr);
        if (o == NULL)
            rc = nrm_err_set(&err, NRM_EINVAL, "not JSON: line %d, column %d: %s", jerr.line,
                             jerr.column, jerr.text);
    }
    if (rc == 0) {
        rc = agent_send_json(self->dir, self->store, o, key, "document", &res, field, sizeof field,
                             &err);
        /* A store or disk failure is not the file's fault: try again. */
        transient = rc == NRM_EFULL || rc == NRM_EIO || rc == NRM_ESTORE || rc == NRM_ENOMEM;
    }
    if (transient) {
        nrm_error("outgoing spool file %s: %s (left in processing/, tried again)", name,
                  err.msg);
        goto out;
    }
    if (rc == 0) {
        agent_hex_t hex;
        nrm_hex_encode(res.msg_id, NRM_MSGID_BYTES, hex);
        ans = json_pack("{s:s, s:s, s:b}", "file", name, "msg_id", hex, "repeated",
                        res.repeated);
        rc = nrm_path(resfile, sizeof resfile, "%s/sent/%s.result.json", self->conf.spool_out, name);
        if (rc == 0)
            rc = nrm_path(dst, sizeof dst, "%s/sent/%s", self->conf.spool_out, name);
        if (rc == 0)
            nrm_info("outgoing spool file %s queued as message %s%s", name, hex,
                     res.repeated ? " (already queued before a restart)" : "");
        self->stats.out_sent++;
    } else {
        json_t *e = json_pack("{s:s, s:s, s:s?}", "code", rc == NRM_ENOTFOUND ? "not_found"
                                                              : "invalid",
                              "message", err.msg, "field", field[0] ? field : NULL);
        ans = json_pack("{s:s, s:o}", "file", name, "error", e);
        rc = nrm_path(resfile, sizeof resfile, "%s/failed/%s.error.json", self->conf.spool_out, name);
        if (rc == 0)
            rc = nrm_path(dst, sizeof dst, "%s/failed/%s", self->conf.spool_out, name);
        /* The message may quote a value of the document: it goes to the
           error file only, the log names the field. */
        nrm_warn("outgoing spool file %s refused (%s%s%s): see failed/%s.error.json", name,
                 nrm_strerror(rc), field[0] ? ", field " : "", field, name);
        self->stats.out_failed++;
    }
    text = ans != NULL ? json_dumps(ans, JSON_INDENT(2)) : NULL;
    if (rc != 0 || text == NULL
        || nrm_file_write(resfile, text, strlen(text), 0640, &err) != 0) {
        nrm_error("outgoing spool file %s: writing its result failed: %s", name, err.msg);
        goto out;
    }
    /* Only after the result is durable does the file leave processing/;
       a crash before redoes it, and the idempotency key finds the send. */
    if (rename(src, dst) != 0)
        nrm_error("outgoing spool file %s: moving it out of processing/ failed: %s", name,
                  strerror(errno));
    else {
        char *slash = strrchr(dst, '/');
        *slash = '\0';
        s_fsync_dir(dst);
    }
out:
    free(text);
    json_decref(ans);
    json_decref(o);
    if (data != NULL) {
        sodium_memzero(data, len);
        free(data);
    }
}

/* Processes processing/ (left by a crash, or just moved there). */
static void
s_out_processing(agent_hooks_t *self)
{
    char path[AGENT_PATH_MAX], names[S_OUT_MAX][S_NAME_MAX + 1];
    size_t n = 0;
    DIR *d;
    struct dirent *e;

    if (nrm_path(path, sizeof path, "%s/processing", self->conf.spool_out) != 0
        || (d = opendir(path)) == NULL)
        return;
    while (n < S_OUT_MAX && (e = readdir(d)) != NULL)
        if (s_out_name_ok(e->d_name)) {   /* at most S_NAME_MAX: it fits */
            memcpy(names[n], e->d_name, strlen(e->d_name) + 1);
            n++;
        }
    closedir(d);
    for (size_t i = 0; i < n; i++)
        s_out_process(self, names[i]);
}

static void
s_out_scan(agent_hooks_t *self)
{
    char path[AGENT_PATH_MAX], proc[AGENT_PATH_MAX];
    size_t n = 0;
    DIR *d;
    struct dirent *e;

    s_out_processing(self);
    d = opendir(self->conf.spool_out);
    if (d == NULL)
        return;
    while (n < S_OUT_MAX && (e = readdir(d)) != NULL) {
        struct stat st;
        if (!s_out_name_ok(e->d_name)
            || nrm_path(path, sizeof path, "%s/%s", self->conf.spool_out, e->d_name) != 0
            || nrm_path(proc, sizeof proc, "%s/processing/%s", self->conf.spool_out,
                        e->d_name) != 0
            || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (rename(path, proc) != 0) {
            if (errno != ENOENT)
                nrm_error("outgoing spool file %s: moving it to processing/ failed: %s",
                          e->d_name, strerror(errno));
            continue;
        }
        n++;
    }
    closedir(d);
    if (n > 0) {
        if (nrm_path(proc, sizeof proc, "%s/processing", self->conf.spool_out) == 0)
            s_fsync_dir(proc);
        s_out_processing(self);
    }
}

/* ---- life ---- */

static int
s_mkdir(const char *base, const char *sub, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    if (nrm_path(path, sizeof path, "%s%s%s", base, sub ? "/" : "", sub ? sub : "") != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "path too long: %s", base);
    return nrm_mkdirs(path, 0750, err);
}

int
agent_hooks_open(const char *dir, const agent_conf_t *conf, nrm_store_t *store,
                 agent_hooks_t **out, nrm_err_t *err)
{
    agent_hooks_t *self;
    int rc = 0;

    *out = NULL;
    if (!conf->hook_command[0] && !conf->spool_in[0] && !conf->spool_out[0])
        return 0;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    self->conf = *conf;
    self->store = store;
    if (conf->spool_in[0])
        self->want |= S_HAND_SPOOL;
    if (conf->hook_command[0]) {
        self->want |= S_HAND_COMMAND;
        if (access(conf->hook_command, X_OK) != 0)
            rc = nrm_err_set(err, NRM_EINVAL, "[hooks] command %s is not an executable file",
                             conf->hook_command);
        if (rc == 0 && !conf->spool_in[0]) {
            rc = agent_org_path(self->private_dir, dir, "hooks", err);
            if (rc == 0)
                rc = nrm_mkdirs(self->private_dir, 0700, err);
        }
    }
    if (rc == 0 && conf->spool_in[0])
        rc = s_mkdir(conf->spool_in, NULL, err);
    if (rc == 0 && conf->spool_out[0]) {
        rc = s_mkdir(conf->spool_out, "processing", err);
        if (rc == 0)
            rc = s_mkdir(conf->spool_out, "sent", err);
        if (rc == 0)
            rc = s_mkdir(conf->spool_out, "failed", err);
    }
    if (rc != 0) {
        nrm_err_prefix(err, "hooks ([hooks] of %s)", AGENT_CONF_FILE);
        free(self);
        return rc;
    }
    nrm_info("hooks: %s%s%s%s%s", conf->spool_in[0] ? "inbox spool " : "", conf->spool_in,
             conf->hook_command[0] ? ", command " : "", conf->hook_command,
             conf->spool_out[0] ? ", outgoing spool" : "");
    if (conf->spool_out[0])
        s_out_processing(self);          /* what a crash left */
    *out = self;
    return 0;
}

void
agent_hooks_tick(agent_hooks_t *self, uint64_t now)
{
    if (self == NULL)
        return;
    s_command_reap(self, now);
    if (self->want) {
        s_queue(self, now);
        s_handoff(self, now);
    }
    if (self->conf.spool_out[0] && now - self->last_out_scan >= S_OUT_SCAN_MS) {
        self->last_out_scan = now;
        s_out_scan(self);
    }
}

void
agent_hooks_destroy(agent_hooks_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    agent_hooks_t *self = *self_p;
    if (self->pid > 0) {
        /* A command cut short is not taken: it runs again at the next start. */
        kill(self->pid, SIGKILL);
        (void) waitpid(self->pid, NULL, 0);
    }
    free(self);
    *self_p = NULL;
}
