/*  nrm_pbjson -- a generic converter between JSON (jansson) and protobuf-c
    messages, driven by ProtobufCMessageDescriptor: field names are JSON
    keys, enum value names are JSON strings, repeated fields are arrays,
    nested messages are objects. It uses the protobuf-c runtime only, never
    generated code, so one converter serves every message of a schema.

    Every error names the JSON path of the bad value and what is wrong:
      person.prs_Citizenship[1]: 'XX' is not an ISO 3166-1 alpha-2 code
    Kinds of error: unknown field, wrong JSON type, bad enum value, number
    out of range, string over the cap, bad UTF-8 or NUL, too many items,
    nesting too deep, and whatever the caller's check function says.

    Supported field types: strings, bools, 32/64-bit integers, floats,
    enums, nested messages, repeated of any of these. Bytes fields and
    oneofs are refused (the body schema has none). */
#ifndef NRM_PBJSON_H_INCLUDED
#define NRM_PBJSON_H_INCLUDED
#include "nrm.h"
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#define NRM_PBJSON_PATH_MAX 256

/* Called for every string value and every enum value after the generic
   checks, with the message that holds the field, the field and the value
   (for enums: the JSON name). Returns 0, or non-zero after writing what is
   wrong into why (the converter adds the path). */
typedef int (nrm_pbjson_check_fn)(void *user, const ProtobufCMessageDescriptor *owner,
                                  const ProtobufCFieldDescriptor *field, const char *value,
                                  char *why, size_t why_len);

typedef struct {
    size_t max_string;          /* bytes of one string value            */
    size_t max_items;           /* elements of one repeated field       */
    size_t max_depth;           /* nesting of objects                   */
    bool   skip_comments;       /* ignore keys that begin with '_'      */
    nrm_pbjson_check_fn *check; /* optional                             */
    void  *user;
} nrm_pbjson_opts_t;

/* Converts JSON object obj into a new message of type d. On success *out
   is owned by the caller (free with protobuf_c_message_free_unpacked(m,
   NULL)). On failure *out is NULL, NRM_EINVAL (or NRM_ETOOBIG for a cap)
   with err->msg "<path>: <what>" (path "" for the top object: "(document)").
   `prefix` is prepended to every path (NULL for none). */
int nrm_pbjson_from_json(const ProtobufCMessageDescriptor *d, const json_t *obj,
                         const nrm_pbjson_opts_t *opts, ProtobufCMessage **out,
                         nrm_err_t *err) NRM_WUR;

/* Converts message m into a new JSON object (caller json_decref's it), in
   field-number order, leaving out absent fields. NRM_EINVAL when the
   message holds an enum value its schema does not name or unknown fields
   (bytes from another schema), with the path in err. */
int nrm_pbjson_to_json(const ProtobufCMessage *m, json_t **out, nrm_err_t *err) NRM_WUR;

/* Checks message m as nrm_pbjson_to_json and then nrm_pbjson_from_json
   with opts would, without building the JSON or a second message: the
   same refusals, with the same codes and messages, and the first one the
   round trip would meet (to_json's in field-number order, then
   from_json's in key order). So a message that passes is one the round
   trip would rebuild field for field. Holds for schemas without string
   defaults; a field whose name begins with '_' (which from_json would
   drop as a comment under skip_comments) is refused here. Returns 0, or
   NRM_EINVAL / NRM_ETOOBIG with the path in err. */
int nrm_pbjson_check(const ProtobufCMessage *m, const nrm_pbjson_opts_t *opts,
                     nrm_err_t *err) NRM_WUR;

/* The JSON name of an enum value: the proto name, without the "V_" that
   the schema puts before values beginning with a digit. */
const char *nrm_pbjson_enum_name(const ProtobufCEnumValue *v);

/* Finds the field of d that a JSON key names; NULL if none. */
const ProtobufCFieldDescriptor *nrm_pbjson_field(const ProtobufCMessageDescriptor *d,
                                                 const char *key);

#endif
