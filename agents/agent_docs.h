/*  agent_docs -- the organisation's JSON documents on both ends of a
    handoff (docs/referrals.md): validated against the body schema, minimised
    for the recipient per the policy, consent checked, and turned into the
    protobuf body that is sealed plus the clear metadata that describes it;
    and, on receipt, opened bodies checked against that metadata and shown
    as JSON again. */
#ifndef AGENT_DOCS_H_INCLUDED
#define AGENT_DOCS_H_INCLUDED
#include "nrm_body.h"
#include "nrm_codec.h"
#include "nrm_policy.h"

/* ORG/policy.ini: the network's policy as distributed to organisations
   (for now a copy the administrators hand out, like connect.ini). *p is
   NULL when the file does not exist (defaults apply: Primero's deadlines,
   no minimisation rules). */
int agent_policy_load(const char *dir, nrm_policy_t **p, nrm_err_t *err) NRM_WUR;

typedef struct {
    const char *type;          /* message type                             */
    const char *doc;           /* JSON text and its length                 */
    size_t      doc_len;
    const char *doc_name;      /* file name for errors                     */
    const char *purpose;       /* NULL or a purpose (policy [minimise.*])  */
    const char *destination;   /* NULL or ISO 3166 alpha-2 (cross-border)  */
    uint32_t    priority;      /* asked for; raised for a child or high risk */
} agent_doc_req_t;

/* What prepare did, for the user: the fields removed for the recipient. */
typedef struct {
    bool   minimised;          /* a [minimise.<type>] rule applied          */
    size_t n_stripped;         /* names are in env->stripped                */
    bool   raised;             /* priority raised (child or high risk)      */
} agent_doc_report_t;

/* Validates the document, minimises it for the recipient (its certificate
   gives the type), checks consent, and fills env's clear metadata: type,
   created_ms, priority, personal_data, consent, child, purpose,
   cross_border, destination_country, body_schema, stripped, decision,
   response_due_ms. *body (caller wipes and frees) holds the protobuf bytes
   to seal. Errors name the document's field path, or the rule broken
   (consent, minimisation). */
int agent_doc_prepare(const agent_doc_req_t *r, const nrm_policy_t *policy,
                      const nrm_cert_t *recipient, nrm_envelope_t *env, uint8_t **body,
                      size_t *len, agent_doc_report_t *report, nrm_err_t *err) NRM_WUR;

/* Checks an opened body against its envelope, as the recipient: it decodes
   for env->type with every schema check, and agrees with the clear
   metadata (personal data declared when present, consent asserted for
   it, the decision of a response). On failure err->reason is the NRM_R_*
   code the delivery acknowledgement carries. */
int agent_doc_check_body(const nrm_envelope_t *env, const uint8_t *plain, size_t len,
                         nrm_err_t *err) NRM_WUR;

/* An opened body as the JSON document (caller json_decref's it). */
int agent_doc_json(const nrm_envelope_t *env, const uint8_t *plain, size_t len, json_t **doc,
                   nrm_err_t *err) NRM_WUR;

#endif
