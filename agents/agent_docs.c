/*  agent_docs -- documents in, bodies and clear metadata out, and back
    (see the header and docs/referrals.md). */
#include "agent_docs.h"
#include "agent.h"
#include "nrm_iso.h"
#include "nrm_lifecycle.h"
#include "nrm_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
agent_policy_load(const char *dir, nrm_policy_t **p, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    *p = NULL;
    int rc = agent_org_path(path, dir, "policy.ini", err);
    if (rc)
        return rc;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    return nrm_policy_load_file(path, p, err);
}

int
agent_doc_prepare(const agent_doc_req_t *r, const nrm_policy_t *policy,
                  const nrm_cert_t *recipient, nrm_envelope_t *env, uint8_t **body, size_t *len,
                  agent_doc_report_t *report, nrm_err_t *err)
{
    nrm_body_t *b = NULL;
    nrm_body_facts_t full, sent;
    const char *const *allowed = NULL;
    size_t n_allowed = 0;
    int rc;

    *body = NULL;
    *len = 0;
    memset(report, 0, sizeof *report);
    rc = nrm_body_parse(r->type, r->doc, r->doc_len, r->doc_name, &b, err);
    if (rc)
        return rc;
    /* Consent is read from the document as the sender's system wrote it:
       minimisation may drop the consent section for the recipient, never
       the sender's duty to have it. */
    nrm_body_facts(b, &full);
    if (r->purpose && *r->purpose && !nrm_id_valid(r->purpose)) {
        rc = nrm_err_set(err, NRM_EINVAL, "purpose '%.40s' is not a name (a-z 0-9 . _ -)", r->purpose);
        goto out;
    }
    rc = nrm_policy_minimise(policy, recipient->org_type, r->purpose ? r->purpose : "", &allowed,
                             &n_allowed, err);
    if (rc < 0)
        goto out;
    if (rc == 1) {
        report->minimised = true;
        rc = nrm_body_minimise(b, allowed, n_allowed, env->stripped, NRM_MAX_STRIPPED,
                               &env->n_stripped, err);
        if (rc)
            goto out;
        report->n_stripped = env->n_stripped;
    }
    nrm_body_facts(b, &sent);

    snprintf(env->type, sizeof env->type, "%s", r->type);
    env->created_ms = nrm_now_ms();
    env->body_schema = NRM_BODY_SCHEMA;
    env->personal_data = sent.personal;
    env->child = full.child;
    env->priority = r->priority;
    if ((full.child || full.high_risk || full.immediate) && env->priority < 3) {
        env->priority = 3;
        report->raised = true;
    }
    if (r->purpose)
        snprintf(env->purpose, sizeof env->purpose, "%s", r->purpose);
    if (full.has_consent) {
        env->has_consent = true;
        env->consent = full.consent;
        /* sharing: with this recipient's type, as the consent names it */
        env->consent.sharing = full.consent.sharing && nrm_body_consent_shares(b, recipient->org_type);
    }
    if (r->destination) {
        if (!nrm_iso3166_valid(r->destination)) {
            rc = nrm_err_set(err, NRM_EINVAL, "destination '%.8s' is not an ISO 3166-1 alpha-2 "
                             "country code", r->destination);
            goto out;
        }
        env->cross_border = true;
        snprintf(env->destination_country, sizeof env->destination_country, "%s", r->destination);
    } else if (strcmp(recipient->org_type, "foreign") == 0) {
        rc = nrm_err_set(err, NRM_EINVAL, "'%s' is a foreign organisation: say which country the "
                         "data goes to (--destination CC)", recipient->org_id);
        goto out;
    }
    /* The victim may object to the origin country being told. */
    if (env->cross_border && full.objects_origin && sent.personal) {
        for (size_t i = 0; i < full.n_citizenship; i++)
            if (strcmp(full.citizenship[i], env->destination_country) == 0) {
                rc = nrm_err_refuse(err, NRM_R_CONSENT_MISSING, "the person objects to their "
                                    "origin country (%s) being told (consent.ext_"
                                    "ObjectsToOriginCountryNotification)", env->destination_country);
                goto out;
            }
    }
    if (strcmp(r->type, "response") == 0) {
        json_t *j = NULL;
        if ((rc = nrm_body_to_json(b, &j, err)))
            goto out;
        snprintf(env->decision, sizeof env->decision, "%s",
                 json_string_value(json_object_get(j, "ext_Decision")));
        json_decref(j);
    }
    if (nrm_lifecycle_opens(r->type)) {
        nrm_deadlines_t d;
        nrm_policy_deadlines(policy, &d);
        env->response_due_ms = env->created_ms + nrm_deadline_for(&d, env->priority, env->child);
    }
    if ((rc = nrm_consent_check(env, err)))
        goto out;
    rc = nrm_body_encode(b, body, len, err);
out:
    nrm_body_free(&b);
    return rc;
}

/* On failure the reason may go back to the sender in an acknowledgement
   and into the broker's log: it names the field path, never the value
   (the converter's message quotes values, so only its path is kept). */
static int
s_open(const nrm_envelope_t *env, const uint8_t *plain, size_t len, nrm_body_t **b, nrm_err_t *err)
{
    nrm_err_t why = { 0, 0, "" };
    int rc = nrm_body_decode(env->type, plain, len, b, &why);
    if (rc == 0)
        return 0;
    size_t path = strcspn(why.msg, ":");
    if (strchr(why.msg, '\'') && why.msg[path] == ':')
        nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the body is not a valid %s: field %.*s does not "
                       "fit the schema", env->type, (int) path, why.msg);
    else if (strchr(why.msg, '\''))
        nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the body is not a valid %s", env->type);
    else
        nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the body is not a valid %s: %s", env->type, why.msg);
    return rc;
}

int
agent_doc_check_body(const nrm_envelope_t *env, const uint8_t *plain, size_t len, nrm_err_t *err)
{
    nrm_body_t *b = NULL;
    nrm_body_facts_t f;
    int rc = s_open(env, plain, len, &b, err);
    if (rc)
        return rc;
    nrm_body_facts(b, &f);
    if (f.personal && !env->personal_data)
        rc = nrm_err_refuse(err, NRM_R_CONSENT_MISSING, "the body carries personal data that the "
                            "envelope does not declare");
    else if ((rc = nrm_consent_check(env, err)) == 0 && strcmp(env->type, "response") == 0) {
        json_t *j = NULL;
        if ((rc = nrm_body_to_json(b, &j, err)) == 0
            && strcmp(json_string_value(json_object_get(j, "ext_Decision")), env->decision) != 0)
            rc = nrm_err_refuse(err, NRM_R_INVALID_FIELD, "the body's decision differs from the "
                                "envelope's ('%s')", env->decision);
        json_decref(j);
    }
    nrm_body_free(&b);
    return rc;
}

int
agent_doc_json(const nrm_envelope_t *env, const uint8_t *plain, size_t len, json_t **doc,
               nrm_err_t *err)
{
    nrm_body_t *b = NULL;
    *doc = NULL;
    int rc = s_open(env, plain, len, &b, err);
    if (rc == 0)
        rc = nrm_body_to_json(b, doc, err);
    nrm_body_free(&b);
    return rc;
}
