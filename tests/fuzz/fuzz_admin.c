/*  fuzz_admin -- what the broker's admin endpoint and an offline nrm-admin
    decode from an administrator's command: the AdminAction bytes
    (nrm_action_decode, every field each action needs and every cap), and
    the Signed{} with cosignatures that carries a multi-signed certificate
    (nrm_signed_decode_cosigs). The first byte picks which.
    Properties: a refusal says why; an action that decodes encodes again
    and decodes to the same action; a Signed that decodes keeps its caps. */
#include "fuzz.h"
#include "nrm_codec.h"

#include <stdlib.h>
#include <string.h>

static void
s_action(const uint8_t *data, size_t size)
{
    nrm_action_t a, b;
    nrm_err_t err = { 0, 0, "" };
    uint8_t *out = NULL;
    size_t len = 0;

    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (nrm_action_decode(data, size, &a, &err) != 0) {
        FUZZ_CHECK(err.code != 0 && err.msg[0] != '\0');
        nrm_action_clear(&a);
        return;
    }
    FUZZ_CHECK(nrm_action_encode(&a, &out, &len, &err) == 0);
    FUZZ_CHECK(nrm_action_decode(out, len, &b, &err) == 0);
    FUZZ_CHECK(a.action == b.action && a.created_ms == b.created_ms);
    FUZZ_CHECK(strcmp(a.org_id, b.org_id) == 0 && strcmp(a.reason, b.reason) == 0);
    FUZZ_CHECK(memcmp(a.admin_pk, b.admin_pk, NRM_PK_BYTES) == 0);
    FUZZ_CHECK(a.request_len == b.request_len && a.cert_len == b.cert_len);
    FUZZ_CHECK(a.policy_len == b.policy_len && a.policy_version == b.policy_version);
    FUZZ_CHECK(a.request_seq == b.request_seq && a.has_cert_sig == b.has_cert_sig);
    free(out);
    nrm_action_clear(&a);
    nrm_action_clear(&b);
}

static void
s_cosigned(const uint8_t *data, size_t size)
{
    nrm_cosig_t cosigs[NRM_MAX_ADMINS];
    uint8_t *body = NULL, sig[NRM_SIG_BYTES];
    size_t body_len = 0, n = 0;
    nrm_err_t err = { 0, 0, "" };

    if (nrm_signed_decode_cosigs(data, size, NRM_MAX_CERT_BYTES, &body, &body_len, sig, cosigs,
                                 &n, &err) != 0) {
        FUZZ_CHECK(body == NULL && err.code != 0);
        return;
    }
    FUZZ_CHECK(body_len <= NRM_MAX_CERT_BYTES && n <= NRM_MAX_ADMINS - 1);
    free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_setup();
    if (size == 0)
        return 0;
    if (data[0] & 1)
        s_cosigned(data + 1, size - 1);
    else
        s_action(data + 1, size - 1);
    return 0;
}
