/*  audit_json -- JSON views of what the audit log holds, shared by
    `nrm-audit case --json` and `nrm-audit export`. Field names follow
    proto/nrm.proto; bytes are lower-case hex. */
#include "audit.h"

#include <ctype.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_util.h"

void
audit_fail(const nrm_err_t *err)
{
    fputs("nrm-audit: ", stderr);
    tool_print_safe(stderr, err->msg[0] ? err->msg : nrm_strerror(err->code));
    fputc('\n', stderr);
}

int
audit_json_set(json_t *obj, const char *key, json_t *val)
{
    if (val == NULL)
        return -1;
    return json_object_set_new(obj, key, val) == 0 ? 0 : -1;
}

json_t *
audit_json_hex(const uint8_t *data, size_t len)
{
    if (len > (SIZE_MAX - 1) / 2)
        return NULL;
    char *hex = malloc(2 * len + 1);
    if (hex == NULL)
        return NULL;
    nrm_hex_encode(data, len, hex);
    json_t *v = json_stringn_nocheck(hex, 2 * len);
    free(hex);
    return v;
}

json_t *
audit_json_text(const char *s)
{
    json_t *v = json_string(s);
    return v != NULL ? v : json_string("<invalid text>");
}

json_t *
audit_json_u64(uint64_t v)
{
    if (v <= (uint64_t) INT64_MAX)
        return json_integer((json_int_t) v);
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long) v);
    return json_string(buf);
}

/* Returns obj, or NULL (and frees obj) if any set failed. */
static json_t *
s_done(json_t *obj, int rc)
{
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

json_t *
audit_json_envelope(const nrm_envelope_t *e)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= audit_json_set(o, "version", json_integer(e->version));
    rc |= audit_json_set(o, "msg_id", audit_json_hex(e->msg_id, NRM_MSGID_BYTES));
    rc |= audit_json_set(o, "type", audit_json_text(e->type));
    rc |= audit_json_set(o, "sender", audit_json_text(e->sender));
    rc |= audit_json_set(o, "recipient", audit_json_text(e->recipient));
    rc |= audit_json_set(o, "case_ref", audit_json_text(e->case_ref));
    rc |= audit_json_set(o, "created_ms", audit_json_u64(e->created_ms));
    rc |= audit_json_set(o, "priority", json_integer(e->priority));
    rc |= audit_json_set(o, "in_reply_to", e->has_reply_to
                         ? audit_json_hex(e->in_reply_to, NRM_MSGID_BYTES) : json_null());
    rc |= audit_json_set(o, "body_hash", audit_json_hex(e->body_hash, NRM_HASH_BYTES));
    rc |= audit_json_set(o, "body_size", json_integer(e->body_size));
    return s_done(o, rc);
}

json_t *
audit_json_ack(const nrm_ack_t *a)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= audit_json_set(o, "msg_id", audit_json_hex(a->msg_id, NRM_MSGID_BYTES));
    rc |= audit_json_set(o, "recipient", audit_json_text(a->recipient));
    rc |= audit_json_set(o, "accepted_seq", audit_json_u64(a->accepted_seq));
    rc |= audit_json_set(o, "body_hash", audit_json_hex(a->body_hash, NRM_HASH_BYTES));
    rc |= audit_json_set(o, "time_ms", audit_json_u64(a->time_ms));
    rc |= audit_json_set(o, "status", json_integer(a->status));
    if (a->reason[0] != '\0')
        rc |= audit_json_set(o, "reason", audit_json_text(a->reason));
    return s_done(o, rc);
}

json_t *
audit_json_cert(const nrm_cert_t *c)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= audit_json_set(o, "org_id", audit_json_text(c->org_id));
    rc |= audit_json_set(o, "org_type", audit_json_text(c->org_type));
    rc |= audit_json_set(o, "name", audit_json_text(c->name));
    rc |= audit_json_set(o, "jurisdiction", audit_json_text(c->jurisdiction));
    rc |= audit_json_set(o, "sign_pk", audit_json_hex(c->sign_pk, NRM_PK_BYTES));
    rc |= audit_json_set(o, "curve_pk", audit_json_hex(c->curve_pk, NRM_PK_BYTES));
    rc |= audit_json_set(o, "box_pk", audit_json_hex(c->box_pk, NRM_PK_BYTES));
    rc |= audit_json_set(o, "not_before_ms", audit_json_u64(c->not_before_ms));
    rc |= audit_json_set(o, "not_after_ms", audit_json_u64(c->not_after_ms));
    rc |= audit_json_set(o, "serial", audit_json_u64(c->serial));
    rc |= audit_json_set(o, "issuer_pk", audit_json_hex(c->issuer_pk, NRM_PK_BYTES));
    rc |= audit_json_set(o, "request_hash", audit_json_hex(c->request_hash, NRM_HASH_BYTES));
    return s_done(o, rc);
}

json_t *
audit_json_genesis(const nrm_genesis_t *g)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= audit_json_set(o, "network", audit_json_text(g->network));
    rc |= audit_json_set(o, "admin_pk", audit_json_hex(g->admin_pk, NRM_PK_BYTES));
    rc |= audit_json_set(o, "broker_sign_pk", audit_json_hex(g->broker_sign_pk, NRM_PK_BYTES));
    rc |= audit_json_set(o, "broker_curve_pk", audit_json_hex(g->broker_curve_pk, NRM_PK_BYTES));
    rc |= audit_json_set(o, "created_ms", audit_json_u64(g->created_ms));
    return s_done(o, rc);
}

json_t *
audit_json_base64(const uint8_t *data, size_t len)
{
    size_t need = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(need);
    if (!b64)
        return NULL;
    sodium_bin2base64(b64, need, data, len, sodium_base64_VARIANT_ORIGINAL);
    json_t *v = json_string_nocheck(b64);
    free(b64);
    return v;
}

int
audit_json_base64_decode(const json_t *v, size_t max, uint8_t **out, size_t *len, nrm_err_t *err)
{
    *out = NULL;
    *len = 0;
    const char *s = json_string_value(v);
    if (!s)
        return nrm_err_set(err, NRM_EINVAL, "\"record\" must be a base64 string");
    size_t n = json_string_length(v);
    if (n / 4 * 3 > max + 3)
        return nrm_err_set(err, NRM_ETOOBIG, "\"record\" is over %zu bytes", max);
    uint8_t *buf = malloc(n / 4 * 3 + 3);
    if (!buf)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    if (sodium_base642bin(buf, n / 4 * 3 + 3, s, n, NULL, len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 || *len > max) {
        free(buf);
        return nrm_err_set(err, NRM_EINVAL, "\"record\" is not valid base64");
    }
    *out = buf;
    return 0;
}

int
audit_json_load(const char *path, json_t **out, nrm_err_t *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    json_error_t jerr;
    *out = NULL;
    int rc = nrm_file_read(path, NRM_MAX_FILE_BYTES, &data, &len, err);
    if (rc)
        return rc;
    json_t *o = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES, &jerr);
    free(data);
    if (!json_is_object(o)) {
        json_decref(o);
        return nrm_err_set(err, NRM_EINVAL, "%s:%d: not a JSON object: %s", path, jerr.line,
                           o ? "" : jerr.text);
    }
    *out = o;
    return 0;
}

int
audit_output(const char *path, const char *text, nrm_err_t *err)
{
    if (!path) {
        if (fputs(text, stdout) < 0 || fputc('\n', stdout) < 0)
            return nrm_err_set(err, NRM_EIO, "cannot write to stdout");
        return 0;
    }
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    if (!buf)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    memcpy(buf, text, n);
    buf[n] = '\n';
    int rc = nrm_file_write(path, buf, n + 1, 0644, err);
    free(buf);
    return rc;
}

/* 64 hex digits or 40 Z85 characters, surrounded by nothing else. */
static int
s_key_text(const char *s, size_t n, uint8_t pk[NRM_PK_BYTES])
{
    char buf[65];
    if (n == 64) {
        memcpy(buf, s, 64);
        buf[64] = '\0';
        return nrm_hex_decode(buf, pk, NRM_PK_BYTES);
    }
    if (n == 40) {
        memcpy(buf, s, 40);
        buf[40] = '\0';
        return nrm_z85_decode(buf, pk);
    }
    return NRM_EINVAL;
}

int
audit_key_arg(const char *arg, uint8_t pk[NRM_PK_BYTES], nrm_err_t *err)
{
    if (s_key_text(arg, strlen(arg), pk) == 0)
        return 0;
    uint8_t *data = NULL;
    size_t len = 0;
    nrm_err_t ferr;
    if (nrm_file_read(arg, 64 * 1024, &data, &len, &ferr) != 0)
        return nrm_err_set(err, NRM_EINVAL, "--broker-key: '%.80s' is neither 64 hex digits, "
                           "40 Z85 characters nor a readable file (%s)", arg, ferr.msg);
    /* A connect.ini: take its sign_public; otherwise the file's text. */
    const char *s = (const char *) data, *at = strstr(s, "sign_public");
    if (at) {
        at += strlen("sign_public");
        while (*at == ' ' || *at == '=')
            at++;
        s = at;
    }
    while (isspace((unsigned char) *s))
        s++;
    size_t n = 0;
    while (s[n] && !isspace((unsigned char) s[n]) && s[n] != ';')
        n++;
    int rc = s_key_text(s, n, pk);
    free(data);
    if (rc)
        return nrm_err_set(err, NRM_EINVAL, "--broker-key: %s holds no 64-hex-digit or Z85 key", arg);
    return 0;
}

json_t *
audit_json_checkpoint(const nrm_checkpoint_t *c)
{
    json_t *o = json_object();
    int rc = o ? 0 : -1;
    rc |= audit_json_set(o, "origin", json_string(c->origin));
    rc |= audit_json_set(o, "tree_size", audit_json_u64(c->size));
    rc |= audit_json_set(o, "root", audit_json_hex(c->root, NRM_HASH_BYTES));
    return s_done(o, rc);
}
