/*  testkeys -- a network genesis and certificates for the unit tests
    that check certificates against administrators. */
#ifndef TESTKEYS_H_INCLUDED
#define TESTKEYS_H_INCLUDED
#include "nrm_codec.h"
#include "nrm_crypto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Network "test" whose n administrators are admins[0 .. n) (admins[0]
   signs the genesis), with the given quorum. */
static inline void
t_genesis(nrm_genesis_t *g, nrm_keys_t *const *admins, uint32_t n, uint32_t quorum)
{
    memset(g, 0, sizeof *g);
    snprintf(g->network, sizeof g->network, "test");
    memcpy(g->admin_pk, nrm_keys_sign_pk(admins[0]), 32);
    g->nadmins = n;
    g->quorum = quorum;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(g->admin_sign_pks[i], nrm_keys_sign_pk(admins[i]), 32);
        memcpy(g->admin_curve_pks[i], nrm_keys_curve_pk(admins[i]), 32);
    }
}

/* Encodes into *body (caller frees) a certificate of org_id with fresh
   keys, issued by issuer_pk, valid from 1000 to 2000 ms; *c is what it
   holds. Exits 2 when it cannot (a broken test set-up). */
static inline void
t_cert(const uint8_t issuer_pk[32], const char *org_id, uint64_t serial, nrm_cert_t *c,
       uint8_t **body, size_t *len)
{
    nrm_keys_t *org = nrm_keys_generate(NRM_KEYS_ALL);
    if (org == NULL)
        exit(2);
    memset(c, 0, sizeof *c);
    snprintf(c->org_id, sizeof c->org_id, "%s", org_id);
    snprintf(c->org_type, sizeof c->org_type, "police");
    snprintf(c->name, sizeof c->name, "Police");
    memcpy(c->sign_pk, nrm_keys_sign_pk(org), 32);
    memcpy(c->curve_pk, nrm_keys_curve_pk(org), 32);
    memcpy(c->box_pk, nrm_keys_box_pk(org), 32);
    memcpy(c->issuer_pk, issuer_pk, 32);
    c->not_before_ms = 1000;
    c->not_after_ms = 2000;
    c->serial = serial;
    if (nrm_cert_encode(c, body, len, NULL) != 0)
        exit(2);
    nrm_keys_destroy(&org);
}
#endif
