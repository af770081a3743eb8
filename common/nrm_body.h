/*  nrm_body -- the sealed bodies (proto/nrm_body.proto): one protobuf
    message per message type, written by organisations as JSON documents
    (docs/referrals.md).

    The only module that includes nrm_body.pb-c.h, as nrm_codec is for
    nrm.pb-c.h. A document is converted by the generic converter
    (nrm_pbjson) and then checked by a small table of rules the schema
    cannot say: ISO 3166 and ISO 639 codes, dates, organisation ids and
    types, and the fields each type requires. The same checks run on both
    ends: the sender before sealing, the recipient after opening.

    What travels sealed is the protobuf encoding: compact, and decoded by
    the recipient against the same schema, so a body that does not fit it
    is refused rather than half-understood. */
#ifndef NRM_BODY_H_INCLUDED
#define NRM_BODY_H_INCLUDED
#include "nrm.h"
#include "nrm_codec.h"
#include <jansson.h>

#define NRM_BODY_SCHEMA       1          /* schema_version of documents    */
#define NRM_BODY_STRING_MAX   16384u     /* bytes of one text value        */
#define NRM_BODY_ITEMS_MAX    64u        /* items of one list              */
#define NRM_BODY_DEPTH_MAX    6u         /* nesting of objects             */

typedef struct nrm_body nrm_body_t;

/* Parses JSON text (duplicate keys refused) and converts it with
   nrm_body_from_json. `name` (a file name, or "stdin") prefixes JSON syntax
   errors as NAME:LINE:COLUMN. */
int nrm_body_parse(const char *type, const char *text, size_t len, const char *name,
                   nrm_body_t **out, nrm_err_t *err) NRM_WUR;
/* Converts and checks a JSON document for message type `type`. The top
   object may also hold "document" (must equal type), "schema_version"
   (must be NRM_BODY_SCHEMA), "field_standard" (informational) and keys
   beginning with '_' (comments); none of these is sealed. Errors name the
   JSON path: "person.prs_Citizenship[0]: 'XX' is not an ISO 3166-1 alpha-2
   country code". *out is owned by the caller (nrm_body_free). */
int nrm_body_from_json(const char *type, const json_t *doc, nrm_body_t **out,
                       nrm_err_t *err) NRM_WUR;
/* Decodes protobuf bytes (an opened body) of message type `type` and runs
   every check of nrm_body_from_json on them. */
int nrm_body_decode(const char *type, const uint8_t *buf, size_t len, nrm_body_t **out,
                    nrm_err_t *err) NRM_WUR;
/* The protobuf bytes to seal (caller frees, after wiping). */
int nrm_body_encode(const nrm_body_t *b, uint8_t **out, size_t *len, nrm_err_t *err) NRM_WUR;
/* The document as JSON, with "document" and "schema_version" first
   (caller json_decref's it). */
int nrm_body_to_json(const nrm_body_t *b, json_t **out, nrm_err_t *err) NRM_WUR;
/* Frees (wiping strings first) and clears the caller's pointer; NULL is fine. */
void nrm_body_free(nrm_body_t **b);

/* What the clear metadata says about a body, read from it. */
typedef struct {
    bool          personal;       /* holds a part that describes the person */
    bool          child;          /* person.ext_Child, or ext_AgeYears < 18 */
    bool          high_risk;      /* request.ext_RiskLevel high           */
    bool          immediate;      /* request.ext_Urgency immediate        */
    bool          has_consent;    /* a consent section is present         */
    nrm_consent_t consent;        /* its summary (no personal data)       */
    bool          objects_origin; /* consent.ext_ObjectsToOriginCountryNotification */
    char          citizenship[4][3]; /* person.prs_Citizenship, first 4   */
    size_t        n_citizenship;
} nrm_body_facts_t;
void nrm_body_facts(const nrm_body_t *b, nrm_body_facts_t *f);
/* True when consent.ext_ConsentToSharing names org_type. */
bool nrm_body_consent_shares(const nrm_body_t *b, const char *org_type);
/* The protobuf descriptor of a message type's body, NULL if unknown (for
   tests and tools that drive nrm_pbjson directly). */
struct ProtobufCMessageDescriptor;
const struct ProtobufCMessageDescriptor *nrm_body_descriptor(const char *type);
/* The message type the body was made for (borrowed). */
const char *nrm_body_type(const nrm_body_t *b);

/* Minimisation: removes every field whose path (field names joined by
   '.', without list indexes, e.g. "person.prs_FirstName") is not in
   allowed and has no allowed ancestor. A list of sub-messages keeps, in
   each item, the fields allowed below it. The paths removed are written
   to stripped (names only, never values), at most max of them; *n is how
   many were removed (it may exceed max: NRM_ETOOBIG then, nothing is
   reported as stripped and the body must not be sent). */
int nrm_body_minimise(nrm_body_t *b, const char *const *allowed, size_t n_allowed,
                      char (*stripped)[NRM_STRIPPED_NAME_MAX + 1], size_t max, size_t *n,
                      nrm_err_t *err) NRM_WUR;

/* True when path names a field of some body type ("person",
   "person.prs_FirstName", "appointment.ext_Start"), for the policy. */
bool nrm_body_path_valid(const char *path);

#endif
