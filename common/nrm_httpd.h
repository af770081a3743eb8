/*  nrm_httpd -- a small HTTP server (libmicrohttpd) run from the caller's
    own loop: no thread of its own. The caller polls nrm_httpd_fd() for
    input together with its other sockets and calls nrm_httpd_run() each
    round, so the handler runs on the caller's thread and may use its LMDB
    transactions and state without locks.

    Listens on a loopback TCP address ("127.0.0.1:PORT", port 0 picks a free
    one) or on a Unix socket ("unix:/path", made mode 0600 so that only the
    process's user may connect). Request bodies are read into memory up to a
    cap; a larger body is answered 413 without calling the handler. */
#ifndef NRM_HTTPD_H_INCLUDED
#define NRM_HTTPD_H_INCLUDED
#include "nrm.h"
#include <jansson.h>

typedef struct nrm_httpd_t nrm_httpd_t;

#define NRM_HTTPD_LISTEN_MAX   256
#define NRM_HTTPD_CONN_MAX     64          /* connections at once          */
#define NRM_HTTPD_TIMEOUT_S    30          /* idle connection              */

/* One request, borrowed for the handler's call. */
typedef struct {
    const char    *method;      /* "GET", "POST", ...                     */
    const char    *path;        /* URL path, without the query string     */
    const uint8_t *body;        /* NUL-terminated; empty when none        */
    size_t         body_len;
    void          *conn_;       /* for nrm_httpd_header / nrm_httpd_query */
} nrm_http_req_t;

/* The handler fills status, content_type (a literal) and body (malloc'd:
   the server frees it, after wiping). */
typedef struct {
    unsigned    status;
    const char *content_type;
    char       *body;
    size_t      len;
} nrm_http_resp_t;

typedef void (nrm_http_handler_fn)(void *ctx, const nrm_http_req_t *req, nrm_http_resp_t *resp);

/* Borrowed value of a request header or query argument, or NULL. */
const char *nrm_httpd_header(const nrm_http_req_t *req, const char *name);
const char *nrm_httpd_query(const nrm_http_req_t *req, const char *name);

/* Checks a listen address ("127.0.0.1:PORT", "HOST:PORT" with an IPv4
   address when any_host, or "unix:/path"); writes why into why. */
bool nrm_httpd_listen_valid(const char *listen, bool any_host, char *why, size_t why_size);

/* Starts listening. The handler and ctx are borrowed until destroy. */
int nrm_httpd_start(const char *listen, size_t max_body, nrm_http_handler_fn *fn, void *ctx,
                    nrm_httpd_t **out, nrm_err_t *err) NRM_WUR;
/* Where it listens, for clients: "http://127.0.0.1:PORT" (the real port
   when 0 was asked for) or "unix:/path". Borrowed. */
const char *nrm_httpd_url(const nrm_httpd_t *self);
/* The file descriptor to poll for input (an epoll set of every socket). */
int nrm_httpd_fd(const nrm_httpd_t *self);
/* Accepts, reads, answers whatever is ready; never blocks. */
void nrm_httpd_run(nrm_httpd_t *self);
/* How long the caller may poll nrm_httpd_fd before nrm_httpd_run must run
   anyway (work left from the last run, a connection's idle timeout), in
   ms; -1 when only input can give it work. */
long nrm_httpd_wait_ms(const nrm_httpd_t *self);
/* Stops, closes every connection, removes the Unix socket. NULL-safe. */
void nrm_httpd_destroy(nrm_httpd_t **self_p);

/* Helpers for handlers: a JSON body (takes the reference to o), or an
   error object {"error": {"code", "message", "field"}} (field may be
   NULL). */
void nrm_httpd_json(nrm_http_resp_t *resp, unsigned status, json_t *o);
void nrm_httpd_error(nrm_http_resp_t *resp, unsigned status, const char *code,
                     const char *field, const char *fmt, ...) NRM_PRINTF(5, 6);

#endif
