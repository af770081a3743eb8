/*  nrm_httpd -- libmicrohttpd driven from the caller's loop (see nrm_httpd.h).
    MHD runs with MHD_USE_EPOLL and no thread: its epoll fd is what the
    caller polls, and MHD_run() does the work on the caller's thread. */
#include "nrm_httpd.h"
#include "nrm_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct nrm_httpd_t {
    struct MHD_Daemon   *mhd;
    nrm_http_handler_fn *fn;
    void                *ctx;
    size_t               max_body;
    int                  unix_fd;       /* our own listen socket, or -1 */
    char                 unix_path[108];
    char                 url[NRM_HTTPD_LISTEN_MAX + 16];
};

/* One request being read. */
typedef struct {
    uint8_t *body;
    size_t   len, cap;
    bool     too_big;
} s_req_t;

const char *
nrm_httpd_header(const nrm_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn_, MHD_HEADER_KIND, name);
}

const char *
nrm_httpd_query(const nrm_http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn_, MHD_GET_ARGUMENT_KIND, name);
}

/* "A.B.C.D:PORT" -> sin. */
static bool
s_parse_inet(const char *listen, struct sockaddr_in *sin, char *why, size_t why_size)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    uint64_t port = 0;

    if (colon == NULL || (size_t) (colon - listen) >= sizeof host || colon == listen) {
        snprintf(why, why_size, "'%.80s' is not ADDRESS:PORT or unix:/path", listen);
        return false;
    }
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    const char *p = colon + 1;
    if (*p == '\0' || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p)) {
        snprintf(why, why_size, "'%.80s': the port must be a number 0-65535", listen);
        return false;
    }
    for (; *p; p++)
        port = port * 10 + (uint64_t) (*p - '0');
    if (port > 65535) {
        snprintf(why, why_size, "'%.80s': the port must be a number 0-65535", listen);
        return false;
    }
    memset(sin, 0, sizeof *sin);
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
        snprintf(why, why_size, "'%.80s': '%s' is not an IPv4 address", listen, host);
        return false;
    }
    return true;
}

bool
nrm_httpd_listen_valid(const char *listen, bool any_host, char *why, size_t why_size)
{
    struct sockaddr_in sin;

    if (strncmp(listen, "unix:", 5) == 0) {
        const char *path = listen + 5;
        if (path[0] != '/' || strlen(path) >= sizeof ((struct sockaddr_un *) 0)->sun_path) {
            snprintf(why, why_size, "'%.80s': the socket path must be absolute and shorter "
                     "than %zu bytes", listen, sizeof ((struct sockaddr_un *) 0)->sun_path);
            return false;
        }
        return true;
    }
    if (!s_parse_inet(listen, &sin, why, why_size))
        return false;
    if (!any_host && (ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
        snprintf(why, why_size, "'%.80s' is not a loopback address (127.x.x.x): this "
                 "interface is for programs on this machine only", listen);
        return false;
    }
    return true;
}

static void
s_wipe_free(void *p, size_t n)
{
    if (p != NULL)
        explicit_bzero(p, n);
    free(p);
}

static void
s_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
            enum MHD_RequestTerminationCode toe)
{
    s_req_t *r = *con_cls;

    (void) cls;
    (void) conn;
    (void) toe;
    if (r != NULL) {
        s_wipe_free(r->body, r->cap);
        free(r);
    }
    *con_cls = NULL;
}

static enum MHD_Result
s_send(struct MHD_Connection *conn, nrm_http_resp_t *resp)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;

    if (resp->body == NULL) {
        resp->status = 500;
        resp->content_type = "text/plain";
        resp->body = strdup("out of memory\n");
        resp->len = resp->body ? strlen(resp->body) : 0;
    }
    mr = MHD_create_response_from_buffer(resp->len, resp->body ? resp->body : (char *) "",
                                         MHD_RESPMEM_MUST_COPY);
    s_wipe_free(resp->body, resp->len);
    resp->body = NULL;
    if (mr == NULL)
        return MHD_NO;
    MHD_add_response_header(mr, "Content-Type", resp->content_type ? resp->content_type
                                                                      : "application/json");
    MHD_add_response_header(mr, "Cache-Control", "no-store");
    ret = MHD_queue_response(conn, resp->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result
s_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
         const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    nrm_httpd_t *self = cls;
    s_req_t *r = *con_cls;
    nrm_http_resp_t resp = { 0, NULL, NULL, 0 };

    (void) version;
    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->too_big || r->len + n > self->max_body) {
            r->too_big = true;       /* read and drop the rest, answer 413 */
            return MHD_YES;
        }
        if (r->len + n + 1 > r->cap) {
            size_t cap = r->cap ? r->cap : 4096;
            while (cap < r->len + n + 1)
                cap *= 2;
            uint8_t *bigger = malloc(cap);
            if (bigger == NULL)
                return MHD_NO;
            if (r->len)
                memcpy(bigger, r->body, r->len);
            s_wipe_free(r->body, r->cap);
            r->body = bigger;
            r->cap = cap;
        }
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->too_big) {
        nrm_httpd_error(&resp, 413, "too_big", NULL, "the request body is larger than %zu "
                        "bytes", self->max_body);
        return s_send(conn, &resp);
    }
    nrm_http_req_t req = { method, url, r->body ? r->body : (const uint8_t *) "", r->len, conn };
    self->fn(self->ctx, &req, &resp);
    return s_send(conn, &resp);
}

static int
s_unix_listen(nrm_httpd_t *self, const char *path, nrm_err_t *err)
{
    struct sockaddr_un sun;
    struct stat st;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    snprintf(self->unix_path, sizeof self->unix_path, "%s", path);
    /* A socket left by a process that died is replaced; anything else is not. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return nrm_err_set(err, NRM_EEXIST, "%s exists and is not a socket", path);
        unlink(path);
    }
    self->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (self->unix_fd < 0)
        return nrm_err_set(err, NRM_EIO, "socket: %s", strerror(errno));
    mode_t old = umask(0177);
    int brc = bind(self->unix_fd, (struct sockaddr *) &sun, sizeof sun);
    umask(old);
    if (brc != 0 || listen(self->unix_fd, 64) != 0) {
        self->unix_path[0] = '\0';
        return nrm_err_set(err, NRM_EIO, "listening on %s: %s", path, strerror(errno));
    }
    return 0;
}

int
nrm_httpd_start(const char *listen, size_t max_body, nrm_http_handler_fn *fn, void *ctx,
                nrm_httpd_t **out, nrm_err_t *err)
{
    nrm_httpd_t *self;
    struct sockaddr_in sin;
    char why[200];
    int rc = 0;

    *out = NULL;
    if (!nrm_httpd_listen_valid(listen, true, why, sizeof why))
        return nrm_err_set(err, NRM_EINVAL, "%s", why);
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    self->fn = fn;
    self->ctx = ctx;
    self->max_body = max_body;
    self->unix_fd = -1;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_SUPPRESS_DATE_NO_CLOCK;
    if (strncmp(listen, "unix:", 5) == 0) {
        rc = s_unix_listen(self, listen + 5, err);
        if (rc != 0)
            goto fail;
        self->mhd = MHD_start_daemon(flags, 0, NULL, NULL, s_access, self,
                                     MHD_OPTION_LISTEN_SOCKET, self->unix_fd,
                                     MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned) NRM_HTTPD_CONN_MAX,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) NRM_HTTPD_TIMEOUT_S,
                                     MHD_OPTION_END);
        snprintf(self->url, sizeof self->url, "%s", listen);
    } else {
        (void) s_parse_inet(listen, &sin, why, sizeof why);
        self->mhd = MHD_start_daemon(flags, ntohs(sin.sin_port), NULL, NULL, s_access, self,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sin,
                                     MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned) NRM_HTTPD_CONN_MAX,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) NRM_HTTPD_TIMEOUT_S,
                                     MHD_OPTION_END);
    }
    if (self->mhd == NULL) {
        rc = nrm_err_set(err, NRM_EIO, "cannot listen on %s (address in use, or not "
                         "allowed)", listen);
        goto fail;
    }
    if (self->unix_fd < 0) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->mhd,
                                                               MHD_DAEMON_INFO_BIND_PORT);
        char host[64];
        inet_ntop(AF_INET, &sin.sin_addr, host, sizeof host);
        snprintf(self->url, sizeof self->url, "http://%s:%u", host,
                 info != NULL ? (unsigned) info->port : (unsigned) ntohs(sin.sin_port));
    }
    *out = self;
    return 0;
fail:
    nrm_httpd_destroy(&self);
    return rc;
}

const char *
nrm_httpd_url(const nrm_httpd_t *self)
{
    return self->url;
}

int
nrm_httpd_fd(const nrm_httpd_t *self)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    return info != NULL ? info->epoll_fd : -1;
}

void
nrm_httpd_run(nrm_httpd_t *self)
{
    if (self != NULL && self->mhd != NULL)
        (void) MHD_run(self->mhd);
}

long
nrm_httpd_wait_ms(const nrm_httpd_t *self)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;

    if (self == NULL || self->mhd == NULL || MHD_get_timeout(self->mhd, &ms) != MHD_YES)
        return -1;
    return ms > (MHD_UNSIGNED_LONG_LONG) LONG_MAX ? LONG_MAX : (long) ms;
}

void
nrm_httpd_destroy(nrm_httpd_t **self_p)
{
    nrm_httpd_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    if (self->mhd != NULL)
        MHD_stop_daemon(self->mhd);
    if (self->unix_fd >= 0)
        close(self->unix_fd);
    if (self->unix_path[0])
        unlink(self->unix_path);
    free(self);
    *self_p = NULL;
}

void
nrm_httpd_json(nrm_http_resp_t *resp, unsigned status, json_t *o)
{
    resp->status = status;
    resp->content_type = "application/json";
    resp->body = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    resp->len = resp->body != NULL ? strlen(resp->body) : 0;
    if (resp->body != NULL && resp->len > 0) {
        /* one line per answer, for clients that read lines */
        char *nl = realloc(resp->body, resp->len + 2);
        if (nl != NULL) {
            nl[resp->len++] = '\n';
            nl[resp->len] = '\0';
            resp->body = nl;
        }
    }
    json_decref(o);
}

void
nrm_httpd_error(nrm_http_resp_t *resp, unsigned status, const char *code, const char *field,
                const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:s, s:s, s:s?}", "code", code, "message", msg, "field", field);
    nrm_httpd_json(resp, status, json_pack("{s:o?}", "error", e));
}
