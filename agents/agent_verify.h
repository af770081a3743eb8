/*  agent_verify -- checks of what the broker sends an agent, as pure
    functions of the decoded wire view and the keys they are checked with:
    deliveries (sender certificate, envelope signature, addressing, body hash
    and size, the seal, the document), receipts and certificates; and a
    cache of certificates already verified. Nothing here touches the store
    or the network, and nothing here logs. */
#ifndef AGENT_VERIFY_H_INCLUDED
#define AGENT_VERIFY_H_INCLUDED
#include "nrm_codec.h"
#include "nrm_crypto.h"

typedef struct agent_certcache_t agent_certcache_t;     /* below */

typedef struct {
    uint32_t       status;     /* 0 all checks passed, else the NRM_R_* reason */
    char           reason[NRM_REASON_MAX + 1];  /* no body content, ever */
    bool           has_env;    /* the envelope decoded (msg_id is known) */
    nrm_envelope_t env;
    bool           has_cert;
    nrm_cert_t     cert;       /* sender certificate, when it verified */
    uint8_t        body_hash[NRM_HASH_BYTES]; /* SHA-256 of the received body */
} agent_delivery_t;

/* Checks a decoded NRM_WIRE_DELIVER for organisation own_id, in this order:
   envelope decodes; sender certificate verifies against g's quorum and was
   valid when the envelope was created; it names the envelope's sender;
   the envelope signature verifies with its sign key over the exact bytes;
   the recipient is own_id; body size and SHA-256 match the envelope; the
   body opens with one of keys[0 .. nkeys) (the set in force, then those a
   rotation retired: a sender may have sealed to a key it knew before the
   rotation); it fits the body schema of its type and agrees with the
   clear metadata (agent_doc_check_body). Fills *out (status 0 on
   success). The opened document is wiped before returning. */
void agent_delivery_check(const nrm_wire_t *w, const char *own_id,
                          const nrm_keys_t *const *keys, size_t nkeys,
                          const nrm_genesis_t *g, agent_delivery_t *out);
/* The same, with the sender certificate checked through certs (an
   agent_certcache_t below; NULL: verified every time) and the body opened
   through seals (shared keys of format 2 bodies, nrm_crypto.h; NULL: one
   X25519 per body). */
void agent_delivery_check_cached(const nrm_wire_t *w, const char *own_id,
                                 const nrm_keys_t *const *keys, size_t nkeys,
                                 const nrm_genesis_t *g, agent_certcache_t *certs,
                                 nrm_sealcache_t *seals, agent_delivery_t *out);

/* Opens a sealed body of either format with the first of keys[0 .. nkeys)
   that opens it, through seals (may be NULL); out holds
   nrm_seal_plain_len bytes. NRM_ECRYPTO with the reason in err when none
   does. */
int agent_seal_open(const nrm_keys_t *const *keys, size_t nkeys, nrm_sealcache_t *seals,
                    const uint8_t *sealed, size_t len, uint8_t *out, nrm_err_t *err) NRM_WUR;

/* Checks a decoded NRM_WIRE_RECEIPT: the broker's signature (broker_pk,
   NRM_CTX_RECEIPT) over the exact body, then decodes it into *r.
   Returns 0, or NRM_ECRYPTO / NRM_EINVAL with the reason in err. */
int agent_receipt_check(const nrm_wire_t *w, const uint8_t broker_pk[NRM_PK_BYTES],
                        nrm_receipt_t *r, nrm_err_t *err) NRM_WUR;

/* Checks one signed certificate view against the administrators of g
   (signature size, the quorum of distinct administrator signatures,
   fields). */
int agent_cert_check(const nrm_signed_view_t *v, const nrm_genesis_t *g,
                     nrm_cert_t *cert, nrm_err_t *err) NRM_WUR;

/* A bounded cache of certificates that verified, so that the same
   certificate is not verified again (an Ed25519 signature per
   administrator of the quorum) for every message: the sender checks its
   recipient's on every send, the recipient its sender's on every delivery.
   An entry is keyed by SHA-256 over the administrators and quorum of the
   genesis and the exact signed bytes (the certificate's body, the
   issuer's signature and every cosignature), so a certificate that
   changes in any byte -- rotated, re-issued, tampered with -- or a
   signature that differs is verified afresh; only successes are kept. It
   holds what the signatures prove, nothing about time: the callers still
   check the validity period and what says whether the organisation may
   be used now (the directory, the broker) on every use. At most `slots`
   entries (4-way sets, least recently used one replaced). Not thread-safe:
   one per thread. */
typedef struct {
    uint64_t hits, misses;
} agent_certcache_stats_t;
/* NULL when out of memory (callers then verify every time). */
agent_certcache_t *agent_certcache_new(size_t slots);
void agent_certcache_destroy(agent_certcache_t **self_p);
agent_certcache_stats_t agent_certcache_stats(const agent_certcache_t *self);

/* agent_cert_check through cache (NULL: no cache). */
int agent_cert_check_cached(agent_certcache_t *cache, const nrm_signed_view_t *v,
                            const nrm_genesis_t *g, nrm_cert_t *cert, nrm_err_t *err) NRM_WUR;
/* nrm_cert_verify_signed (a Signed{Certificate} as stored, e.g. in the
   directory) through cache (NULL: no cache). */
int agent_cert_verify_signed(agent_certcache_t *cache, const uint8_t *signed_bytes, size_t len,
                             const nrm_genesis_t *g, nrm_cert_t *cert, nrm_err_t *err) NRM_WUR;


#endif
