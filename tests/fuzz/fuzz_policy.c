/*  libFuzzer target for nrm_policy_parse: any bytes either parse into a
    policy or are refused with a message naming a line; a parsed policy
    answers nrm_policy_allows for every pair of known types (and a few
    unknown names) without crashing, and its iterator visits only what
    nrm_policy_allows allows. Seeds: tests/fuzz/corpus/policy/. */
#include "nrm_policy.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_orgs[] = { "police", "msdhs", "labour", "prosecutor", "ngo",
                                "immigration", "interpreter", "foreign", "mdt",
                                "any", "", "spy" };
static const char *s_msgs[] = { "tip", "referral", "response", "outcome", "withdrawal",
                                "transfer", "status", "consent", "interpreter-request",
                                "info-request", "info-reply", "", "bogus" };
#define N(a) (sizeof (a) / sizeof (a)[0])

static int
s_check(void *user, const char *sender, const char *msg, const char *recipient, bool derived)
{
    (void) derived;
    const nrm_policy_t *p = user;
    /* A listed wildcard is not a type a caller can name; real types must
       be allowed exactly as listed. */
    if (strcmp(sender, "any") != 0 && strcmp(recipient, "any") != 0
        && nrm_policy_allows(p, sender, msg, recipient, NULL) != 0)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_policy_t *p = NULL;
    nrm_err_t err;
    memset(&err, 0, sizeof err);
    int rc = nrm_policy_parse((const char *) data, size, "fuzz.ini", &p, &err);
    if (rc != 0) {
        /* Refused: nothing built, and the message says where. */
        if (p != NULL || strncmp(err.msg, "fuzz.ini:", 9) != 0 || err.code != rc)
            abort();
        return 0;
    }
    size_t len = 0;
    const uint8_t *text = nrm_policy_text(p, &len);
    if (len != size || (size && memcmp(text, data, size) != 0))
        abort();
    for (size_t s = 0; s < N(s_orgs); s++)
        for (size_t m = 0; m < N(s_msgs); m++)
            for (size_t r = 0; r < N(s_orgs); r++) {
                rc = nrm_policy_allows(p, s_orgs[s], s_msgs[m], s_orgs[r], &err);
                if (rc != 0 && (err.reason != NRM_R_POLICY || err.code != NRM_EINVAL))
                    abort();
            }
    if (nrm_policy_each(p, s_check, p) != 0)
        abort();
    nrm_policy_free(&p);
    if (p != NULL)
        abort();
    return 0;
}
