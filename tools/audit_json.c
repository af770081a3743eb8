/*  audit_json -- JSON views of what the audit log holds, shared by
    `nrm-audit case --json` and `nrm-audit export`. Field names follow
    proto/nrm.proto; bytes are lower-case hex. */
#include "audit.h"

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
