/*  Shared by fuzz_pbjson.c and fuzz_body.c: the message types a first
    input byte picks, and what must hold of any body that was accepted. */
#ifndef FUZZ_BODY_UTIL_H_INCLUDED
#define FUZZ_BODY_UTIL_H_INCLUDED
#include "nrm_body.h"
#include <stdlib.h>

static const char *const s_types[] = { "tip", "referral", "transfer", "response", "outcome",
                                       "withdrawal", "status", "consent", "interpreter-request",
                                       "info-request", "info-reply" };
#define NTYPES (sizeof s_types / sizeof s_types[0])

/* Paths a minimisation rule may name (the demo policy's kind). */
static const char *const s_allowed[] = { "person.prs_FirstName", "person.prs_PrimaryLanguage",
                                         "appointment.ext_Start", "consent", "request",
                                         "employment", "ext_Decision" };

/* Facts, consent and minimisation answer any accepted body: the facts keep
   their caps, minimisation names only fields of the schema. Aborts if not. */
static void
s_body_exercise(nrm_body_t *b)
{
    nrm_err_t err = { 0, 0, "" };
    nrm_body_facts_t f;
    nrm_body_facts(b, &f);
    if (f.n_citizenship > 4)
        abort();
    (void) nrm_body_consent_shares(b, "msdhs");
    char stripped[8][NRM_STRIPPED_NAME_MAX + 1];
    size_t ns = 0;
    int rc = nrm_body_minimise(b, s_allowed, sizeof s_allowed / sizeof s_allowed[0], stripped, 8,
                               &ns, &err);
    if (rc != 0 && rc != NRM_ETOOBIG)
        abort();
    for (size_t i = 0; rc == 0 && i < ns; i++)
        if (!nrm_body_path_valid(stripped[i]))
            abort();
}

#endif
