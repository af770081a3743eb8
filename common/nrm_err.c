/*  nrm_err -- error structs, status and reason names. */
#include "nrm.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
nrm_err_set(nrm_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->reason = 0;
    }
    return code;
}

int
nrm_err_refuse(nrm_err_t *err, uint32_t reason, const char *fmt, ...)
{
    int code = reason == NRM_R_TOO_BIG ? NRM_ETOOBIG : NRM_EINVAL;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->reason = reason;
    }
    return code;
}

void
nrm_err_prefix(nrm_err_t *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable: the head and the start of the reason fit. */
    size_t n = strlen(head);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, head, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof err->msg - n - 3;
    size_t olen = strnlen(old, rest);
    memcpy(err->msg + n + 2, old, olen);
    err->msg[n + 2 + olen] = '\0';
}

const char *
nrm_strerror(int code)
{
    switch (code) {
    case NRM_OK:        return "ok";
    case NRM_EINVAL:    return "invalid input";
    case NRM_ENOMEM:    return "out of memory";
    case NRM_EIO:       return "i/o error";
    case NRM_ESTORE:    return "store error";
    case NRM_ECRYPTO:   return "cryptographic check failed";
    case NRM_ENOTFOUND: return "not found";
    case NRM_EEXIST:    return "already exists";
    case NRM_ETOOBIG:   return "too big";
    case NRM_ENET:      return "network error";
    case NRM_ECORRUPT:  return "corrupt";
    case NRM_EFULL:     return "store full";
    default:            return "unknown error";
    }
}

const char *
nrm_reason_name(uint32_t code)
{
    switch (code) {
    case NRM_R_OK:                return "ok";
    case NRM_R_MALFORMED:         return "malformed";
    case NRM_R_TOO_BIG:           return "too-big";
    case NRM_R_BAD_VERSION:       return "bad-version";
    case NRM_R_INVALID_FIELD:     return "invalid-field";
    case NRM_R_SENDER_MISMATCH:   return "sender-mismatch";
    case NRM_R_UNKNOWN_SENDER:    return "unknown-sender";
    case NRM_R_BAD_SIGNATURE:     return "bad-signature";
    case NRM_R_BODY_MISMATCH:     return "body-mismatch";
    case NRM_R_DUPLICATE:         return "duplicate";
    case NRM_R_UNKNOWN_RECIPIENT: return "unknown-recipient";
    case NRM_R_POLICY:            return "policy";
    case NRM_R_INTERNAL:          return "internal";
    case NRM_R_STORE_FULL:        return "store-full";
    case NRM_R_REVOKED:           return "revoked";
    case NRM_R_SUSPENDED:         return "suspended";
    case NRM_R_EXPIRED:           return "expired";
    case NRM_R_KEY_RETIRED:       return "key-retired";
    case NRM_R_NOT_ADMIN:         return "not-admin";
    case NRM_R_REGISTRY:          return "registry";
    case NRM_R_BAD_POLICY:        return "bad-policy";
    case NRM_R_UNKNOWN_REFERRAL:  return "unknown-referral";
    case NRM_R_NOT_RECIPIENT:     return "not-recipient";
    case NRM_R_NOT_SENDER:        return "not-sender";
    case NRM_R_ALREADY_ANSWERED:  return "already-answered";
    case NRM_R_NOT_ACCEPTED:      return "not-accepted";
    case NRM_R_WITHDRAWN:         return "withdrawn";
    case NRM_R_CLOSED:            return "closed";
    case NRM_R_CONSENT_MISSING:   return "consent-missing";
    case NRM_R_DEADLINE:          return "deadline";
    case NRM_R_NOT_OWNER:         return "not-owner";
    case NRM_R_REPLY_REQUIRED:    return "reply-required";
    case NRM_R_CASE_MISMATCH:     return "case-mismatch";
    case NRM_R_PURGED:            return "purged";
    default:                      return "unknown-reason";
    }
}
