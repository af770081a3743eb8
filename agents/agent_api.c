/*  agent_api -- the local HTTP/JSON API (see agent_api.h, docs/api.yaml).

    Every answer is JSON; every error is {"error": {"code", "message",
    "field"}} with field the offending field's path or null. Requests are
    capped (body AGENT_API_BODY_MAX, pages AGENT_API_LIST_MAX). */
#include "agent_api.h"
#include "agent_hooks.h"
#include "agent_referrals.h"
#include "agent_store.h"
#include "agent_views.h"
#include "nrm_crypto.h"
#include "nrm_httpd.h"
#include "nrm_log.h"
#include "nrm_util.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct agent_api_t {
    char               dir[AGENT_PATH_MAX];
    char               org_id[NRM_ID_MAX + 1];
    char               token[AGENT_TOKEN_MAX + 1];
    nrm_store_t       *store;
    nrm_httpd_t       *httpd;
    agent_api_stats_t  stats;
};

/* ---- the send request, shared with the outgoing spool ---- */

static const char *const s_send_keys[] = {
    "to", "type", "case", "document", "purpose", "destination", "reply_to", "priority", NULL
};

/* "'NAME' WHAT", with field set to NAME. */
static int
s_field_err(char *field, size_t size, const char *name, nrm_err_t *err, const char *what)
{
    snprintf(field, size, "%s", name);
    return nrm_err_set(err, NRM_EINVAL, "'%s' %s", name, what);
}

/* A required or optional string member. */
static int
s_str(const json_t *o, const char *name, bool required, const char **out, char *field,
      size_t fsize, nrm_err_t *err)
{
    json_t *v = json_object_get(o, name);
    *out = NULL;
    if (v == NULL || (json_is_null(v) && !required))
        return required ? s_field_err(field, fsize, name, err, "is required") : 0;
    if (!json_is_string(v))
        return s_field_err(field, fsize, name, err, "must be a string");
    *out = json_string_value(v);
    return 0;
}

int
agent_send_parse(const json_t *o, agent_send_req_t *r, char **doc_text, char *field,
                 size_t fsize, nrm_err_t *err)
{
    const char *key, *reply = NULL;
    json_t *v, *doc;
    int rc;

    memset(r, 0, sizeof *r);
    *doc_text = NULL;
    field[0] = '\0';
    if (!json_is_object(o))
        return nrm_err_set(err, NRM_EINVAL, "the request must be a JSON object");
    json_object_foreach((json_t *) o, key, v) {
        size_t i;
        for (i = 0; s_send_keys[i] != NULL && strcmp(s_send_keys[i], key) != 0; i++)
            ;
        if (s_send_keys[i] == NULL) {
            snprintf(field, fsize, "%.60s", key);
            return nrm_err_set(err, NRM_EINVAL, "unknown field '%.60s' (known: to, type, "
                               "case, document, purpose, destination, reply_to, priority)", key);
        }
    }
    if ((rc = s_str(o, "to", true, &r->to, field, fsize, err)) != 0
        || (rc = s_str(o, "type", true, &r->type, field, fsize, err)) != 0
        || (rc = s_str(o, "case", true, &r->case_ref, field, fsize, err)) != 0
        || (rc = s_str(o, "purpose", false, &r->purpose, field, fsize, err)) != 0
        || (rc = s_str(o, "destination", false, &r->destination, field, fsize, err)) != 0
        || (rc = s_str(o, "reply_to", false, &reply, field, fsize, err)) != 0)
        return rc;
    if (!nrm_id_valid(r->to))
        return s_field_err(field, fsize, "to", err, "is not a valid organisation id");
    if (!nrm_msg_type_valid(r->type))
        return s_field_err(field, fsize, "type", err, "is not a known message type");
    if (!nrm_id_valid(r->case_ref))
        return s_field_err(field, fsize, "case", err, "is not a valid case reference "
                           "(1-64 of a-z, 0-9, '.', '_', '-', starting with a letter or "
                           "digit)");
    if (reply != NULL) {
        if (agent_parse_msgid(reply, r->reply_to) != 0)
            return s_field_err(field, fsize, "reply_to", err, "must be a message id "
                               "(32 hex characters)");
        r->has_reply_to = true;
    }
    v = json_object_get(o, "priority");
    if (v != NULL && !json_is_null(v)) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3)
            return s_field_err(field, fsize, "priority", err, "must be 0, 1, 2 or 3");
        r->priority = (uint32_t) json_integer_value(v);
    }
    doc = json_object_get(o, "document");
    if (doc == NULL)
        return s_field_err(field, fsize, "document", err, "is required (a JSON object of "
                           "the type's schema, docs/referrals.md)");
    if (!json_is_object(doc))
        return s_field_err(field, fsize, "document", err, "must be a JSON object");
    *doc_text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (*doc_text == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    r->doc = (const uint8_t *) *doc_text;
    r->doc_len = strlen(*doc_text);
    r->doc_name = "document";
    if (r->doc_len > NRM_MAX_DOC_BYTES) {
        snprintf(field, fsize, "document");
        return nrm_err_set(err, NRM_ETOOBIG, "the document is larger than %u bytes, the cap "
                           "on a document", NRM_MAX_DOC_BYTES);
    }
    return 0;
}

int
agent_send_json(const char *dir, nrm_store_t *store, const json_t *o, const uint8_t *idem_key,
                const char *doc_name, agent_send_result_t *res, char *field, size_t fsize,
                nrm_err_t *err)
{
    agent_sender_t *sender = NULL;
    agent_send_req_t r;
    char *doc_text = NULL;
    uint8_t ids[1][NRM_MSGID_BYTES];
    int rc;

    memset(res, 0, sizeof *res);
    rc = agent_send_parse(o, &r, &doc_text, field, fsize, err);
    if (rc == 0) {
        r.doc_name = doc_name;
        r.report = &res->report;
        r.env_out = &res->env;
        r.idem_key = idem_key;
        r.idem_hit = &res->repeated;
        rc = agent_sender_open_store(dir, store, &sender, err);
        if (rc == 0) {
            rc = agent_sender_send(sender, &r, 1, ids, err);
            if (rc != 0)
                agent_send_error_field(err, field, fsize);
            if (rc == NRM_ENOTFOUND) {      /* the recipient: bad input */
                rc = NRM_EINVAL;
                err->code = rc;
            }
        }
    }
    if (rc == 0)
        memcpy(res->msg_id, ids[0], NRM_MSGID_BYTES);
    agent_sender_destroy(&sender);
    if (doc_text != NULL) {
        sodium_memzero(doc_text, strlen(doc_text));
        free(doc_text);
    }
    return rc;
}

/* True when text begins with a JSON path of the body schema and ": "
   (name, name[3], name.name ...); *len is its length. */
static bool
s_path_prefix(const char *text, size_t *len)
{
    size_t i = 0;
    bool name = false;
    for (; text[i]; i++) {
        char c = text[i];
        if (isalnum((unsigned char) c) || c == '_') {
            name = true;
        } else if (c == '.' || c == '[' || c == ']') {
            if (c == '.' && !name)
                return false;
        } else {
            break;
        }
    }
    *len = i;
    return name && i > 0 && text[i] == ':' && text[i + 1] == ' ';
}

void
agent_send_error_field(const nrm_err_t *err, char *field, size_t size)
{
    const char *m = err->msg;
    size_t n = 0;

    field[0] = '\0';
    if (strncmp(m, "the directory has no organisation", 33) == 0
        || strncmp(m, "the certificate of", 18) == 0 || strstr(m, "in the directory") != NULL)
        snprintf(field, size, "to");
    else if (strncmp(m, "purpose", 7) == 0 || strstr(m, "[minimise.") != NULL)
        snprintf(field, size, "purpose");
    else if (strncmp(m, "destination", 11) == 0 || strstr(m, "foreign organisation") != NULL)
        snprintf(field, size, "destination");
    else if (strncmp(m, "document: ", 10) == 0 && s_path_prefix(m + 10, &n))
        snprintf(field, size, "document.%.*s", (int) n, m + 10);
    else if (strncmp(m, "(document)", 10) == 0 || strncmp(m, "document:", 9) == 0)
        snprintf(field, size, "document");
    else if (s_path_prefix(m, &n))
        snprintf(field, size, "document.%.*s", (int) n, m);
    else if (err->reason != 0 || strstr(m, "consent") != NULL)
        snprintf(field, size, "document");
}

/* ---- token ---- */

int
agent_token_load(const char *path, char *token, size_t size, nrm_err_t *err)
{
    struct stat st;
    uint8_t *data = NULL, raw[32];
    size_t len = 0;
    int rc;

    token[0] = '\0';
    if (stat(path, &st) != 0 && errno == ENOENT) {
        char hex[65];
        nrm_random(raw, sizeof raw);
        nrm_hex_encode(raw, sizeof raw, hex);
        sodium_memzero(raw, sizeof raw);
        hex[64] = '\n';
        rc = nrm_file_write(path, hex, sizeof hex, 0600, err);
        sodium_memzero(hex, sizeof hex);
        if (rc != 0)
            return rc;
        nrm_info("made the API token file %s (mode 0600)", path);
        if (stat(path, &st) != 0)
            return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
    }
    if ((st.st_mode & 077) != 0)
        return nrm_err_set(err, NRM_EINVAL, "%s may be read by other users (mode %03o): "
                           "chmod 600 it", path, (unsigned) (st.st_mode & 0777));
    rc = nrm_file_read(path, AGENT_TOKEN_MAX + 2, &data, &len, err);
    if (rc != 0)
        return rc;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r' || data[len - 1] == ' '))
        data[--len] = '\0';
    if (len < AGENT_TOKEN_MIN || len > AGENT_TOKEN_MAX || len >= size
        || !nrm_text_valid((const char *) data, len)) {
        sodium_memzero(data, len);
        free(data);
        return nrm_err_set(err, NRM_EINVAL, "%s must hold one token of %d-%d printable "
                           "characters", path, AGENT_TOKEN_MIN, AGENT_TOKEN_MAX);
    }
    for (size_t i = 0; i < len; i++)
        if (data[i] <= ' ' || data[i] > '~') {
            sodium_memzero(data, len);
            free(data);
            return nrm_err_set(err, NRM_EINVAL, "%s: the token must be printable ASCII "
                               "without spaces", path);
        }
    memcpy(token, data, len);
    token[len] = '\0';
    sodium_memzero(data, len);
    free(data);
    return 0;
}

/* ---- requests ---- */

/* The status an error code stands for. */
static unsigned
s_status(int code)
{
    switch (code) {
    case NRM_EINVAL: case NRM_ETOOBIG: case NRM_ECRYPTO: return 400;
    case NRM_ENOTFOUND: return 404;
    case NRM_EEXIST: return 409;
    case NRM_EFULL: return 507;
    default: return 500;
    }
}

static const char *
s_code_name(unsigned status)
{
    switch (status) {
    case 400: return "invalid";
    case 404: return "not_found";
    case 409: return "conflict";
    case 507: return "storage_full";
    default:  return "internal";
    }
}

static void
s_fail(nrm_http_resp_t *resp, const nrm_err_t *err, const char *field)
{
    unsigned st = s_status(err->code);
    nrm_httpd_error(resp, st, s_code_name(st), field && *field ? field : NULL, "%s", err->msg);
}

/* A query argument as a number in [min, max] (def when absent). */
static bool
s_query_u64(const nrm_http_req_t *req, const char *name, uint64_t min, uint64_t max,
            uint64_t def, uint64_t *out, nrm_http_resp_t *resp)
{
    const char *v = nrm_httpd_query(req, name);
    *out = def;
    if (v == NULL)
        return true;
    if (agent_parse_u64(v, min, max, out) != 0) {
        nrm_httpd_error(resp, 400, "invalid", name, "query argument '%s' must be a number "
                        "from %llu to %llu", name, (unsigned long long) min,
                        (unsigned long long) max);
        return false;
    }
    return true;
}

static bool
s_query_bool(const nrm_http_req_t *req, const char *name, bool *out, nrm_http_resp_t *resp)
{
    const char *v = nrm_httpd_query(req, name);
    *out = false;
    if (v == NULL || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        return true;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || v[0] == '\0') {
        *out = true;
        return true;
    }
    nrm_httpd_error(resp, 400, "invalid", name, "query argument '%s' must be true or false",
                    name);
    return false;
}

/* {"items": [...], "next_after": key or null} */
static void
s_page(nrm_http_resp_t *resp, json_t *arr, size_t limit, uint64_t last)
{
    json_t *o = json_object();
    json_object_set_new(o, "items", arr);
    json_object_set_new(o, "next_after", json_array_size(arr) >= limit && last
                                         ? json_integer((json_int_t) last) : json_null());
    nrm_httpd_json(resp, 200, o);
}

static void
s_get_outbox(agent_api_t *self, const nrm_http_req_t *req, const char *id,
             nrm_http_resp_t *resp)
{
    nrm_err_t err = { 0, 0, "" };
    MDB_txn *txn = NULL;
    uint64_t after, limit, last = 0;
    uint8_t msg_id[NRM_MSGID_BYTES];
    json_t *arr = NULL, *o = NULL;
    agent_out_t rec;

    if (id != NULL && agent_parse_msgid(id, msg_id) != 0) {
        nrm_httpd_error(resp, 404, "not_found", "msg_id", "'%.40s' is not a message id (32 "
                        "hex characters)", id);
        return;
    }
    if (!s_query_u64(req, "after", 0, UINT64_MAX, 0, &after, resp)
        || !s_query_u64(req, "limit", 1, AGENT_API_LIST_MAX, AGENT_API_LIST_DEFAULT, &limit, resp))
        return;
    int rc = nrm_store_read_begin(self->store, &txn, &err);
    if (rc == 0 && id == NULL) {
        rc = agent_view_outbox(self->store, txn, after, limit, &arr, &last, &err);
    } else if (rc == 0) {
        rc = agent_out_find(self->store, txn, msg_id, &rec, &err);
        if (rc == NRM_ENOTFOUND)
            nrm_err_set(&err, rc, "message %s is not in the outbox", id);
        else if (rc == 0)
            rc = agent_view_out(&rec, &o, &err);
    }
    nrm_store_read_end(&txn);
    if (rc != 0)
        s_fail(resp, &err, rc == NRM_ENOTFOUND ? "msg_id" : NULL);
    else if (id == NULL)
        s_page(resp, arr, limit, last);
    else
        nrm_httpd_json(resp, 200, o);
}

static void
s_get_inbox(agent_api_t *self, const nrm_http_req_t *req, const char *id,
            nrm_http_resp_t *resp)
{
    nrm_err_t err = { 0, 0, "" };
    MDB_txn *txn = NULL;
    uint64_t after, limit, last = 0;
    uint8_t msg_id[NRM_MSGID_BYTES];
    const char *state = nrm_httpd_query(req, "state");
    json_t *arr = NULL, *o = NULL;
    agent_keyring_t kr;
    agent_in_t rec;
    bool docs = id != NULL;

    if (id != NULL && agent_parse_msgid(id, msg_id) != 0) {
        nrm_httpd_error(resp, 404, "not_found", "msg_id", "'%.40s' is not a message id (32 "
                        "hex characters)", id);
        return;
    }
    if (state != NULL && strcmp(state, "all") == 0)
        state = NULL;
    if (state != NULL && strcmp(state, "new") != 0 && strcmp(state, "taken") != 0) {
        nrm_httpd_error(resp, 400, "invalid", "state", "query argument 'state' must be new, "
                        "taken or all");
        return;
    }
    if (id == NULL && !s_query_bool(req, "documents", &docs, resp))
        return;
    if (!s_query_u64(req, "after", 0, UINT64_MAX, 0, &after, resp)
        || !s_query_u64(req, "limit", 1, AGENT_API_LIST_MAX, AGENT_API_LIST_DEFAULT, &limit, resp))
        return;
    memset(&kr, 0, sizeof kr);
    int rc = docs ? agent_keyring_load(self->dir, &kr, &err) : 0;
    if (rc == 0)
        rc = nrm_store_read_begin(self->store, &txn, &err);
    if (rc == 0 && id == NULL) {
        rc = agent_view_inbox(self->store, txn, docs ? &kr : NULL, state, after, limit, &arr,
                              &last, &err);
    } else if (rc == 0) {
        rc = agent_in_find(self->store, txn, msg_id, &rec, &err);
        if (rc == NRM_ENOTFOUND)
            nrm_err_set(&err, rc, "message %s is not in the inbox", id);
        else if (rc == 0)
            rc = agent_view_in(self->store, txn, &kr, &rec, &o, &err);
    }
    nrm_store_read_end(&txn);
    agent_keyring_clear(&kr);
    if (rc != 0)
        s_fail(resp, &err, rc == NRM_ENOTFOUND ? "msg_id" : NULL);
    else if (id == NULL)
        s_page(resp, arr, limit, last);
    else
        nrm_httpd_json(resp, 200, o);
}

typedef struct {
    uint8_t  msg_id[NRM_MSGID_BYTES];
    uint64_t now, taken_ms;
    bool     was_new;
} s_take_t;

static int
s_take_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_take_t *t = ctx;
    agent_in_t rec;
    uint64_t before = 0;
    int rc = agent_in_find(store, txn, t->msg_id, &rec, err);
    if (rc == 0)
        rc = agent_intake_get(store, txn, rec.key, &before, err);
    if (rc == 0)
        rc = agent_intake_take(store, txn, rec.key, t->now, &t->taken_ms, err);
    t->was_new = before == 0;
    return rc;
}

static void
s_take(agent_api_t *self, const char *id, nrm_http_resp_t *resp)
{
    nrm_err_t err = { 0, 0, "" };
    s_take_t t;

    memset(&t, 0, sizeof t);
    if (agent_parse_msgid(id, t.msg_id) != 0) {
        nrm_httpd_error(resp, 404, "not_found", "msg_id", "'%.40s' is not a message id (32 "
                        "hex characters)", id);
        return;
    }
    t.now = nrm_now_ms();
    int rc = nrm_store_write(self->store, s_take_fn, &t, &err);
    if (rc == NRM_ENOTFOUND)
        nrm_err_set(&err, rc, "message %s is not in the inbox", id);
    if (rc != 0) {
        s_fail(resp, &err, rc == NRM_ENOTFOUND ? "msg_id" : NULL);
        return;
    }
    if (t.was_new) {
        self->stats.taken++;
        nrm_info("inbox item %s taken by the organisation's system (API)", id);
    }
    nrm_httpd_json(resp, 200, json_pack("{s:s, s:s, s:I, s:b}", "msg_id", id, "state", "taken",
                                        "taken_ms", (json_int_t) t.taken_ms, "changed",
                                        t.was_new));
}

/* The idempotency key of a request: sha256("api" NUL key). */
static bool
s_idem(const nrm_http_req_t *req, uint8_t key[AGENT_IDEM_BYTES], nrm_http_resp_t *resp)
{
    const char *v = nrm_httpd_header(req, "Idempotency-Key");
    uint8_t buf[4 + 256];
    size_t n;

    if (v == NULL)
        return false;
    n = strlen(v);
    if (n == 0 || n > 200 || !nrm_text_valid(v, 200)) {
        nrm_httpd_error(resp, 400, "invalid", "Idempotency-Key", "the Idempotency-Key header "
                        "must be 1-200 characters of text");
        return true;
    }
    memcpy(buf, "api", 4);
    memcpy(buf + 4, v, n);
    nrm_sha256(buf, 4 + n, key);
    return false;
}

static void
s_post_message(agent_api_t *self, const nrm_http_req_t *req, nrm_http_resp_t *resp)
{
    nrm_err_t err = { 0, 0, "" };
    json_error_t jerr;
    agent_send_result_t res;
    uint8_t key[AGENT_IDEM_BYTES];
    bool has_key;
    char field[128] = "";
    agent_hex_t hex;
    json_t *o;

    has_key = nrm_httpd_header(req, "Idempotency-Key") != NULL;
    if (s_idem(req, key, resp))
        return;
    o = json_loadb((const char *) req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL) {
        nrm_httpd_error(resp, 400, "bad_json", NULL, "the request body is not JSON: line "
                        "%d, column %d: %s", jerr.line, jerr.column, jerr.text);
        return;
    }
    if (agent_send_json(self->dir, self->store, o, has_key ? key : NULL, "document", &res,
                        field, sizeof field, &err) != 0) {
        s_fail(resp, &err, field);
        json_decref(o);
        return;
    }
    nrm_hex_encode(res.msg_id, NRM_MSGID_BYTES, hex);
    json_t *ans = json_pack("{s:s, s:b}", "msg_id", hex, "repeated", res.repeated);
    if (!res.repeated) {
        json_t *stripped = json_array();
        for (size_t i = 0; i < res.env.n_stripped; i++)
            json_array_append_new(stripped, json_string(res.env.stripped[i]));
        json_object_set_new(ans, "priority", json_integer(res.env.priority));
        json_object_set_new(ans, "priority_raised", json_boolean(res.report.raised));
        json_object_set_new(ans, "minimised", json_boolean(res.report.minimised));
        json_object_set_new(ans, "stripped", stripped);
        self->stats.sent++;
        nrm_info("message %s queued for %s (%s, case %s) through the API", hex,
                 res.env.recipient, res.env.type, res.env.case_ref);
    }
    nrm_httpd_json(resp, res.repeated ? 200 : 201, ans);
    json_decref(o);
}

static void
s_get_case(agent_api_t *self, const nrm_http_req_t *req, const char *ref,
           nrm_http_resp_t *resp)
{
    nrm_err_t err = { 0, 0, "" };
    nrm_keys_t *keys = NULL;
    MDB_txn *txn = NULL;
    json_t *o = NULL;
    bool docs;

    if (!nrm_id_valid(ref)) {
        nrm_httpd_error(resp, 404, "not_found", "case", "'%.70s' is not a case reference", ref);
        return;
    }
    if (!s_query_bool(req, "documents", &docs, resp))
        return;
    int rc = docs ? agent_keys_load(self->dir, &keys, &err) : 0;
    if (rc == 0)
        rc = nrm_store_read_begin(self->store, &txn, &err);
    if (rc == 0)
        rc = agent_case_view(self->store, txn, keys, ref, &o, &err);
    nrm_store_read_end(&txn);
    nrm_keys_destroy(&keys);
    if (rc != 0)
        s_fail(resp, &err, rc == NRM_ENOTFOUND ? "case" : NULL);
    else
        nrm_httpd_json(resp, 200, o);
}

static void
s_get_overdue(agent_api_t *self, const nrm_http_req_t *req, nrm_http_resp_t *resp)
{
    nrm_err_t err = { 0, 0, "" };
    MDB_txn *txn = NULL;
    json_t *arr = NULL;
    bool all;

    if (!s_query_bool(req, "all", &all, resp))
        return;
    int rc = nrm_store_read_begin(self->store, &txn, &err);
    if (rc == 0)
        rc = agent_overdue_view(self->store, txn, self->org_id, all, &arr, &err);
    nrm_store_read_end(&txn);
    if (rc != 0)
        s_fail(resp, &err, NULL);
    else
        nrm_httpd_json(resp, 200, json_pack("{s:o}", "items", arr));
}

/* Splits "/v1/a/b/c" into at most 4 segments (borrowed copies in buf). */
static size_t
s_split(const char *path, char *buf, size_t size, char **seg, size_t max)
{
    size_t n = 0;
    snprintf(buf, size, "%s", path);
    for (char *p = buf; *p && n < max;) {
        while (*p == '/')
            *p++ = '\0';
        if (*p == '\0')
            break;
        seg[n++] = p;
        while (*p && *p != '/')
            p++;
    }
    return n;
}

static bool
s_authorized(agent_api_t *self, const nrm_http_req_t *req)
{
    const char *h = nrm_httpd_header(req, "Authorization");
    size_t n = strlen(self->token);
    if (h == NULL || strncmp(h, "Bearer ", 7) != 0 || strlen(h + 7) != n)
        return false;
    return sodium_memcmp(h + 7, self->token, n) == 0;
}

static void
s_route(agent_api_t *self, const nrm_http_req_t *req, nrm_http_resp_t *resp)
{
    char buf[512], *seg[5] = { NULL };
    size_t n;
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;

    if (!s_authorized(self, req)) {
        self->stats.unauthorized++;
        nrm_httpd_error(resp, 401, "unauthorized", "Authorization", "missing or wrong bearer "
                        "token (Authorization: Bearer <the token in the agent's api.token>)");
        return;
    }
    if (strlen(req->path) >= sizeof buf) {
        nrm_httpd_error(resp, 404, "not_found", NULL, "no such resource");
        return;
    }
    n = s_split(req->path, buf, sizeof buf, seg, 5);
    if (n < 2 || strcmp(seg[0], "v1") != 0 || n > 4) {
        nrm_httpd_error(resp, 404, "not_found", NULL, "no such resource (see docs/api.yaml)");
        return;
    }
    const char *what = seg[1];
    if (strcmp(what, "health") == 0 && n == 2) {
        if (get)
            nrm_httpd_json(resp, 200, json_pack("{s:s, s:s}", "status", "ok", "org",
                                                self->org_id));
        else
            goto method;
    } else if (strcmp(what, "messages") == 0 && n == 2) {
        if (post)
            s_post_message(self, req, resp);
        else
            goto method;
    } else if (strcmp(what, "outbox") == 0 && n <= 3) {
        if (get)
            s_get_outbox(self, req, n == 3 ? seg[2] : NULL, resp);
        else
            goto method;
    } else if (strcmp(what, "inbox") == 0 && n <= 3) {
        if (get)
            s_get_inbox(self, req, n == 3 ? seg[2] : NULL, resp);
        else
            goto method;
    } else if (strcmp(what, "inbox") == 0 && n == 4 && strcmp(seg[3], "take") == 0) {
        if (post)
            s_take(self, seg[2], resp);
        else
            goto method;
    } else if (strcmp(what, "cases") == 0 && n == 3) {
        if (get)
            s_get_case(self, req, seg[2], resp);
        else
            goto method;
    } else if (strcmp(what, "overdue") == 0 && n == 2) {
        if (get)
            s_get_overdue(self, req, resp);
        else
            goto method;
    } else {
        nrm_httpd_error(resp, 404, "not_found", NULL, "no such resource (see docs/api.yaml)");
    }
    return;
method:
    nrm_httpd_error(resp, 405, "method_not_allowed", NULL, "%s is not allowed on %s",
                    req->method, req->path);
}

static void
s_handle(void *ctx, const nrm_http_req_t *req, nrm_http_resp_t *resp)
{
    agent_api_t *self = ctx;
    s_route(self, req, resp);
    if (resp->status >= 100 && resp->status < 600)
        self->stats.requests[resp->status / 100]++;
    nrm_debug("api: %s %s -> %u", req->method, req->path, resp->status);
}

int
agent_api_open(const char *dir, const agent_conf_t *conf, const char *org_id,
               nrm_store_t *store, agent_api_t **out, nrm_err_t *err)
{
    agent_api_t *self;
    char path[AGENT_PATH_MAX];
    const char *url;
    int rc;

    *out = NULL;
    self = calloc(1, sizeof *self);
    if (self == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    snprintf(self->dir, sizeof self->dir, "%s", dir);
    snprintf(self->org_id, sizeof self->org_id, "%s", org_id);
    self->store = store;
    rc = agent_token_load(conf->api_token, self->token, sizeof self->token, err);
    if (rc == 0)
        rc = nrm_httpd_start(conf->api_listen, AGENT_API_BODY_MAX, s_handle, self,
                             &self->httpd, err);
    if (rc == 0)
        rc = agent_org_path(path, dir, "api.endpoint", err);
    if (rc == 0) {
        url = nrm_httpd_url(self->httpd);
        char line[NRM_HTTPD_LISTEN_MAX + 32];
        snprintf(line, sizeof line, "%s\n", url);
        rc = nrm_file_write(path, line, strlen(line), 0600, err);
    }
    if (rc != 0) {
        nrm_err_prefix(err, "API ([api] of %s)", AGENT_CONF_FILE);
        agent_api_destroy(&self);
        return rc;
    }
    nrm_info("API listening on %s", nrm_httpd_url(self->httpd));
    *out = self;
    return 0;
}

int
agent_api_fd(const agent_api_t *self)
{
    return nrm_httpd_fd(self->httpd);
}

void
agent_api_run(agent_api_t *self)
{
    nrm_httpd_run(self->httpd);
}

long
agent_api_wait_ms(const agent_api_t *self)
{
    return nrm_httpd_wait_ms(self->httpd);
}

const agent_api_stats_t *
agent_api_stats(const agent_api_t *self)
{
    return &self->stats;
}

void
agent_api_destroy(agent_api_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    agent_api_t *self = *self_p;
    nrm_httpd_destroy(&self->httpd);
    sodium_memzero(self->token, sizeof self->token);
    free(self);
    *self_p = NULL;
}
