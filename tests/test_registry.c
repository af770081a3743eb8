/*  Unit tests of the registry's pure logic: counting a quorum of
    administrator signatures (by distinct key, never by signature), a
    certificate verified against the genesis administrators, the genesis
    checks of its administrator list, and the admin action's fields. */
#include "nrm_crypto.h"
#include "nrm_registry.h"
#include "nrm_util.h"
#include "testkeys.h"
#include "testutil.h"

#define N 3

static nrm_keys_t *s_admins[N], *s_stranger;

static void
s_genesis(nrm_genesis_t *g, uint32_t quorum)
{
    t_genesis(g, s_admins, N, quorum);
}

static void
s_sig(nrm_cosig_t *c, const nrm_keys_t *k, const uint8_t *body, size_t len)
{
    memcpy(c->signer_pk, nrm_keys_sign_pk(k), 32);
    if (nrm_sign(k, NRM_CTX_CERT, body, len, c->sig) != 0)
        exit(2);
}

static void
s_cert(nrm_genesis_t *g, uint8_t **body, size_t *len)
{
    nrm_cert_t c;
    t_cert(g->admin_pk, "police", 3, &c, body, len);
}

int
main(void)
{
    if (nrm_crypto_init() != 0)
        return 2;
    for (int i = 0; i < N; i++)
        s_admins[i] = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    s_stranger = nrm_keys_generate(NRM_KEYS_SIGN | NRM_KEYS_CURVE);
    nrm_genesis_t g;
    s_genesis(&g, 2);
    uint8_t *body = NULL;
    size_t len = 0;
    s_cert(&g, &body, &len);
    char why[160];

    /* Counting: distinct administrators only. */
    nrm_cosig_t s[6];
    s_sig(&s[0], s_admins[0], body, len);
    s_sig(&s[1], s_admins[0], body, len);          /* the same admin again */
    CHECK(nrm_quorum_count(&g, body, len, s, 2, why, sizeof why) == 1);
    CHECK_STR_HAS(why, "signed more than once");
    s_sig(&s[2], s_stranger, body, len);           /* not an administrator */
    CHECK(nrm_quorum_count(&g, body, len, s + 2, 1, why, sizeof why) == 0);
    CHECK_STR_HAS(why, "is not an administrator");
    s_sig(&s[3], s_admins[1], body, len);
    s[3].sig[5] ^= 1;                               /* a bad signature */
    CHECK(nrm_quorum_count(&g, body, len, s + 3, 1, why, sizeof why) == 0);
    CHECK_STR_HAS(why, "does not verify");
    s_sig(&s[4], s_admins[1], body, len);
    s_sig(&s[5], s_admins[2], body, len);
    CHECK(nrm_quorum_count(&g, body, len, s, 6, why, sizeof why) == 3);
    /* A signature over other bytes does not count. */
    CHECK(nrm_quorum_count(&g, body, len - 1, s + 4, 2, NULL, 0) == 0);

    /* A certificate needs the quorum: issuer + one cosignature of another. */
    nrm_cert_t cert;
    nrm_err_t err;
    CHECK_RC(nrm_cert_verify(body, len, s[0].sig, NULL, 0, &g, &cert, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "1 of the 2 administrator signatures");
    CHECK_RC(nrm_cert_verify(body, len, s[0].sig, &s[1], 1, &g, &cert, &err), NRM_EINVAL);
    CHECK_RC(nrm_cert_verify(body, len, s[0].sig, &s[2], 1, &g, &cert, &err), NRM_EINVAL);
    CHECK_RC(nrm_cert_verify(body, len, s[0].sig, &s[4], 1, &g, &cert, &err), 0);
    CHECK(err.reason == 0 || strcmp(cert.org_id, "police") == 0);
    /* Through the Signed container with its cosignatures. */
    uint8_t *signed_bytes = NULL;
    size_t signed_len = 0;
    CHECK_RC(nrm_signed_encode_cosigs(body, len, s[0].sig, &s[4], 2, &signed_bytes, &signed_len, &err), 0);
    CHECK_RC(nrm_cert_verify_signed(signed_bytes, signed_len, &g, &cert, &err), 0);
    free(signed_bytes);
    /* With quorum 1, the issuer alone suffices; an issuer outside the set never. */
    g.quorum = 1;
    CHECK_RC(nrm_cert_verify(body, len, s[0].sig, NULL, 0, &g, &cert, &err), 0);
    memcpy(g.admin_sign_pks[0], nrm_keys_sign_pk(s_stranger), 32);
    CHECK_RC(nrm_cert_verify(body, len, s[0].sig, NULL, 0, &g, &cert, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "not issued by an administrator");

    /* Genesis: the administrator list is checked when it is decoded. */
    s_genesis(&g, 2);
    uint8_t *gb = NULL;
    size_t glen = 0;
    nrm_genesis_t back;
    CHECK_RC(nrm_genesis_encode(&g, &gb, &glen, &err), 0);
    CHECK_RC(nrm_genesis_decode(gb, glen, &back, &err), 0);
    CHECK(back.nadmins == N && back.quorum == 2 && nrm_genesis_admin(&back, nrm_keys_sign_pk(s_admins[2])) == 2);
    CHECK(nrm_genesis_admin_curve(&back, nrm_keys_curve_pk(s_admins[1])) == 1);
    CHECK(nrm_genesis_admin(&back, nrm_keys_sign_pk(s_stranger)) == -1);
    free(gb);
    g.quorum = 4;                                   /* more than N */
    CHECK_RC(nrm_genesis_encode(&g, &gb, &glen, &err), NRM_EINVAL);
    g.quorum = 2;
    memcpy(g.admin_sign_pks[2], g.admin_sign_pks[1], 32);   /* a key twice */
    CHECK_RC(nrm_genesis_encode(&g, &gb, &glen, &err), 0);
    CHECK_RC(nrm_genesis_decode(gb, glen, &back, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "repeats a key");
    free(gb);

    /* Admin actions: each kind needs its fields and no others. */
    nrm_action_t a, d;
    memset(&a, 0, sizeof a);
    a.action = NRM_REC_APPROVED;
    snprintf(a.org_id, sizeof a.org_id, "police");
    uint8_t *ab = NULL;
    size_t alen = 0;
    CHECK_RC(nrm_action_encode(&a, &ab, &alen, &err), 0);
    CHECK_RC(nrm_action_decode(ab, alen, &d, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "certificate and its signature missing");
    free(ab);
    a.action = NRM_REC_REVOKED;
    CHECK_RC(nrm_action_encode(&a, &ab, &alen, &err), 0);
    CHECK_RC(nrm_action_decode(ab, alen, &d, &err), 0);
    CHECK(d.action == NRM_REC_REVOKED && strcmp(d.org_id, "police") == 0);
    nrm_action_clear(&d);
    free(ab);
    a.action = NRM_REC_GENESIS;
    CHECK_RC(nrm_action_encode(&a, &ab, &alen, &err), 0);
    CHECK_RC(nrm_action_decode(ab, alen, &d, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "unknown action");
    free(ab);

    free(body);
    for (int i = 0; i < N; i++)
        nrm_keys_destroy(&s_admins[i]);
    nrm_keys_destroy(&s_stranger);
    TEST_DONE();
}
