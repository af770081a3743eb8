/*  nrm_pbjson -- JSON <-> protobuf-c by descriptor (see the header).

    Building: a message is calloc'd to d->sizeof_message and initialised by
    d->message_init; every string, array and sub-message is malloc'd, so the
    result is freed by protobuf_c_message_free_unpacked like an unpacked
    one. On any error the partial message is freed before returning.

    Paths are built in one buffer as the walk descends; each level appends
    ".name" or "[i]" and truncates back on the way up. */
#include "nrm_pbjson.h"
#include "nrm_util.h"
#include <math.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FRAMES 40     /* a key and an index per level, 16 levels at most */

typedef struct {
    const nrm_pbjson_opts_t *o;
    char path[NRM_PBJSON_PATH_MAX];
    size_t depth;
    nrm_err_t *err;
    /* lazy (nrm_pbjson_check): the path is kept as frames, a key or an
       index each, and written out only for an error */
    bool lazy;
    const char *key[S_FRAMES];      /* NULL: an index frame */
    size_t index[S_FRAMES];
    size_t nframes;
} s_ctx_t;

static void
s_path_append(s_ctx_t *c, const char *key, size_t i)
{
    size_t at = strlen(c->path);
    if (key)
        snprintf(c->path + at, sizeof c->path - at, "%s%s", at ? "." : "", key);
    else
        snprintf(c->path + at, sizeof c->path - at, "[%zu]", i);
}

static int s_fail(s_ctx_t *c, int code, const char *fmt, ...) NRM_PRINTF(3, 4);

static int
s_fail(s_ctx_t *c, int code, const char *fmt, ...)
{
    char what[320];
    va_list ap;
    if (c->lazy) {
        c->path[0] = '\0';
        for (size_t i = 0; i < c->nframes && i < S_FRAMES; i++)
            s_path_append(c, c->key[i], c->index[i]);
    }
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return nrm_err_set(c->err, code, "%s: %s", c->path[0] ? c->path : "(document)", what);
}

/* Adds ".key" (or "key" first) to the path; returns what s_pop takes back. */
static size_t
s_push_key(s_ctx_t *c, const char *key)
{
    if (c->lazy) {
        if (c->nframes < S_FRAMES) {
            c->key[c->nframes] = key;
            c->index[c->nframes] = 0;
        }
        return c->nframes++;
    }
    size_t at = strlen(c->path);
    s_path_append(c, key, 0);
    return at;
}

static size_t
s_push_index(s_ctx_t *c, size_t i)
{
    if (c->lazy) {
        if (c->nframes < S_FRAMES) {
            c->key[c->nframes] = NULL;
            c->index[c->nframes] = i;
        }
        return c->nframes++;
    }
    size_t at = strlen(c->path);
    s_path_append(c, NULL, i);
    return at;
}

static void
s_pop(s_ctx_t *c, size_t at)
{
    if (c->lazy)
        c->nframes = at;
    else
        c->path[at] = '\0';
}

const char *
nrm_pbjson_enum_name(const ProtobufCEnumValue *v)
{
    if (strncmp(v->name, "V_", 2) == 0 && v->name[2] >= '0' && v->name[2] <= '9')
        return v->name + 2;
    return v->name;
}

const ProtobufCFieldDescriptor *
nrm_pbjson_field(const ProtobufCMessageDescriptor *d, const char *key)
{
    return protobuf_c_message_descriptor_get_field_by_name(d, key);
}

static const char *
s_json_type(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:  return "an object";
    case JSON_ARRAY:   return "an array";
    case JSON_STRING:  return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL:    return "a number with a fraction";
    case JSON_TRUE:
    case JSON_FALSE:   return "a boolean";
    default:           return "null";
    }
}

/* The enum's name for people: "Gender" for nrm.body.Gender.V. */
static void
s_enum_title(const ProtobufCEnumDescriptor *e, char *buf, size_t len)
{
    const char *full = e->name;
    size_t n = strlen(full);
    if (n > 2 && strcmp(full + n - 2, ".V") == 0) {
        const char *start = full + n - 2;
        while (start > full && start[-1] != '.')
            start--;
        snprintf(buf, len, "%.*s", (int) (full + n - 2 - start), start);
    } else {
        snprintf(buf, len, "%s", full);
    }
}

static int
s_enum_value(s_ctx_t *c, const ProtobufCFieldDescriptor *f, const json_t *v, int *out)
{
    const ProtobufCEnumDescriptor *e = f->descriptor;
    char title[64], list[200];
    size_t at = 0;
    if (!json_is_string(v))
        return s_fail(c, NRM_EINVAL, "expected a string (a value name), got %s", s_json_type(v));
    const char *s = json_string_value(v);
    for (unsigned i = 0; i < e->n_values; i++) {
        if (strcmp(nrm_pbjson_enum_name(&e->values[i]), s) == 0) {
            *out = e->values[i].value;
            return 0;
        }
    }
    list[0] = '\0';
    for (unsigned i = 0; i < e->n_values && at < sizeof list; i++) {
        int n = snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "",
                         nrm_pbjson_enum_name(&e->values[i]));
        if (n < 0 || (size_t) n >= sizeof list - at) {
            /* cut at the last whole name */
            list[at] = '\0';
            if (at + 6 <= sizeof list)
                memcpy(list + at, ", ...", 6);
            break;
        }
        at += (size_t) n;
    }
    s_enum_title(e, title, sizeof title);
    return s_fail(c, NRM_EINVAL, "'%.60s' is not a value of %s (%s)", s, title, list);
}

static int
s_keycmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int s_message(s_ctx_t *c, const ProtobufCMessageDescriptor *d, const json_t *obj,
                     ProtobufCMessage **out);

/* Converts one JSON value of field f into the storage at dst (one element). */
static int
s_scalar(s_ctx_t *c, const ProtobufCMessageDescriptor *owner, const ProtobufCFieldDescriptor *f,
         const json_t *v, void *dst)
{
    char why[256] = "";
    json_int_t i = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return s_fail(c, NRM_EINVAL, "expected true or false, got %s", s_json_type(v));
        *(protobuf_c_boolean *) dst = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        if (!json_is_integer(v))
            return s_fail(c, NRM_EINVAL, "expected a whole number, got %s", s_json_type(v));
        i = json_integer_value(v);
        break;
    case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_DOUBLE:
        if (!json_is_number(v))
            return s_fail(c, NRM_EINVAL, "expected a number, got %s", s_json_type(v));
        if (f->type == PROTOBUF_C_TYPE_FLOAT)
            *(float *) dst = (float) json_number_value(v);
        else
            *(double *) dst = json_number_value(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM: {
        int e = 0;
        int rc = s_enum_value(c, f, v, &e);
        if (rc)
            return rc;
        if (c->o->check && c->o->check(c->o->user, owner, f, json_string_value(v), why, sizeof why))
            return s_fail(c, NRM_EINVAL, "%s", why);
        *(int *) dst = e;
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        if (!json_is_string(v))
            return s_fail(c, NRM_EINVAL, "expected a string, got %s", s_json_type(v));
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (n > c->o->max_string)
            return s_fail(c, NRM_ETOOBIG, "%zu bytes, over the limit of %zu", n, c->o->max_string);
        if (strlen(s) != n || !nrm_utf8_valid(s, n, true))
            return s_fail(c, NRM_EINVAL, "not valid UTF-8 text (or holds a NUL)");
        if (c->o->check && c->o->check(c->o->user, owner, f, s, why, sizeof why))
            return s_fail(c, NRM_EINVAL, "%s", why);
        char *copy = malloc(n + 1);
        if (!copy)
            return s_fail(c, NRM_ENOMEM, "out of memory");
        memcpy(copy, s, n + 1);
        *(char **) dst = copy;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_message(c, f->descriptor, v, (ProtobufCMessage **) dst);
    default:
        return s_fail(c, NRM_EINVAL, "field type %d is not supported by the converter", (int) f->type);
    }
    /* integers: range per type */
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        if (i < INT32_MIN || i > INT32_MAX)
            return s_fail(c, NRM_EINVAL, "%" JSON_INTEGER_FORMAT " is out of range", i);
        *(int32_t *) dst = (int32_t) i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        if (i < 0 || i > (json_int_t) UINT32_MAX)
            return s_fail(c, NRM_EINVAL, "%" JSON_INTEGER_FORMAT " is out of range 0-%u", i, UINT32_MAX);
        *(uint32_t *) dst = (uint32_t) i;
        return 0;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64:
        if (i < 0)
            return s_fail(c, NRM_EINVAL, "%" JSON_INTEGER_FORMAT " is negative", i);
        *(uint64_t *) dst = (uint64_t) i;
        return 0;
    default:
        *(int64_t *) dst = (int64_t) i;
        return 0;
    }
}

static size_t
s_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:     return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:     return sizeof(int);
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT:    return 4;
    case PROTOBUF_C_TYPE_STRING:   return sizeof(char *);
    case PROTOBUF_C_TYPE_MESSAGE:  return sizeof(ProtobufCMessage *);
    default:                       return 8;
    }
}

static int
s_field(s_ctx_t *c, const ProtobufCMessageDescriptor *d, ProtobufCMessage *m,
        const ProtobufCFieldDescriptor *f, const json_t *v)
{
    uint8_t *base = (uint8_t *) m;
    if (json_is_null(v))
        return s_fail(c, NRM_EINVAL, "null is not a value; leave the field out instead");
    if (f->label != PROTOBUF_C_LABEL_REPEATED) {
        int rc = s_scalar(c, d, f, v, base + f->offset);
        if (rc == 0 && f->quantifier_offset && f->type != PROTOBUF_C_TYPE_STRING
            && f->type != PROTOBUF_C_TYPE_MESSAGE)
            *(protobuf_c_boolean *) (base + f->quantifier_offset) = 1;
        return rc;
    }
    if (!json_is_array(v))
        return s_fail(c, NRM_EINVAL, "expected an array, got %s", s_json_type(v));
    size_t n = json_array_size(v);
    if (n > c->o->max_items)
        return s_fail(c, NRM_ETOOBIG, "%zu items, over the limit of %zu", n, c->o->max_items);
    if (n == 0)
        return 0;
    size_t es = s_elem_size(f);
    uint8_t *arr = calloc(n, es);
    if (!arr)
        return s_fail(c, NRM_ENOMEM, "out of memory");
    /* Hand the array to the message first, so a failure half-way frees
       what was converted so far with the rest of the message. */
    *(void **) (base + f->offset) = arr;
    for (size_t i = 0; i < n; i++) {
        size_t at = s_push_index(c, i);
        int rc = s_scalar(c, d, f, json_array_get(v, i), arr + i * es);
        s_pop(c, at);
        if (rc)
            return rc;
        *(size_t *) (base + f->quantifier_offset) = i + 1;
    }
    return 0;
}

static int
s_message(s_ctx_t *c, const ProtobufCMessageDescriptor *d, const json_t *obj,
          ProtobufCMessage **out)
{
    *out = NULL;
    if (!json_is_object(obj))
        return s_fail(c, NRM_EINVAL, "expected an object, got %s", s_json_type(obj));
    if (c->depth >= c->o->max_depth)
        return s_fail(c, NRM_ETOOBIG, "nested deeper than %zu objects", c->o->max_depth);
    ProtobufCMessage *m = calloc(1, d->sizeof_message);
    if (!m)
        return s_fail(c, NRM_ENOMEM, "out of memory");
    d->message_init(m);
    c->depth++;
    int rc = 0;
    const char *key;
    json_t *v;
    /* jansson iterates in hash order; sort the keys so that the first
       error reported does not depend on it. */
    size_t nkeys = json_object_size(obj), k = 0;
    const char **keys = nkeys ? calloc(nkeys, sizeof *keys) : NULL;
    if (nkeys && !keys) {
        rc = s_fail(c, NRM_ENOMEM, "out of memory");
        goto out;
    }
    json_object_foreach((json_t *) obj, key, v)
        keys[k++] = key;
    if (nkeys)                      /* qsort(NULL, 0) is undefined behaviour */
        qsort(keys, nkeys, sizeof *keys, s_keycmp);
    for (k = 0; k < nkeys && rc == 0; k++) {
        key = keys[k];
        v = json_object_get(obj, key);
        if (c->o->skip_comments && key[0] == '_')
            continue;
        size_t at = s_push_key(c, key);
        const ProtobufCFieldDescriptor *f = nrm_pbjson_field(d, key);
        if (!f) {
            char title[64];
            snprintf(title, sizeof title, "%s", d->short_name);
            rc = s_fail(c, NRM_EINVAL, "unknown field (not in %s)", title);
        } else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            rc = s_fail(c, NRM_EINVAL, "oneof fields are not supported by the converter");
        } else {
            rc = s_field(c, d, m, f, v);
        }
        s_pop(c, at);
    }
out:
    free(keys);
    c->depth--;
    if (rc) {
        protobuf_c_message_free_unpacked(m, NULL);
        return rc;
    }
    *out = m;
    return 0;
}

int
nrm_pbjson_from_json(const ProtobufCMessageDescriptor *d, const json_t *obj,
                     const nrm_pbjson_opts_t *opts, ProtobufCMessage **out, nrm_err_t *err)
{
    s_ctx_t c;
    memset(&c, 0, sizeof c);
    c.o = opts;
    c.err = err;
    *out = NULL;
    return s_message(&c, d, obj, out);
}

/* ---- protobuf -> JSON ---- */

static int s_to_object(s_ctx_t *c, const ProtobufCMessage *m, json_t **out);

static int
s_to_value(s_ctx_t *c, const ProtobufCFieldDescriptor *f, const void *src, json_t **out)
{
    *out = NULL;
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
        *out = json_boolean(*(const protobuf_c_boolean *) src);
        break;
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
        *out = json_integer(*(const int32_t *) src);
        break;
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
        *out = json_integer(*(const uint32_t *) src);
        break;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t u = *(const uint64_t *) src;
        if (u > INT64_MAX)
            return s_fail(c, NRM_EINVAL, "%" PRIu64 " does not fit a JSON integer", u);
        *out = json_integer((json_int_t) u);
        break;
    }
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        *out = json_integer(*(const int64_t *) src);
        break;
    case PROTOBUF_C_TYPE_FLOAT:
        *out = json_real(*(const float *) src);
        break;
    case PROTOBUF_C_TYPE_DOUBLE:
        *out = json_real(*(const double *) src);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumValue *ev =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *) src);
        if (!ev)
            return s_fail(c, NRM_EINVAL, "enum value %d is not in the schema", *(const int *) src);
        *out = json_string(nrm_pbjson_enum_name(ev));
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) src;
        if (!s || !nrm_utf8_valid(s, strlen(s), true))
            return s_fail(c, NRM_EINVAL, "not valid UTF-8 text");
        *out = json_string(s);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_to_object(c, *(ProtobufCMessage *const *) src, out);
    default:
        return s_fail(c, NRM_EINVAL, "field type %d is not supported by the converter", (int) f->type);
    }
    return *out ? 0 : s_fail(c, NRM_ENOMEM, "out of memory");
}

static int
s_to_object(s_ctx_t *c, const ProtobufCMessage *m, json_t **out)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *) m;
    *out = NULL;
    if (m->n_unknown_fields)
        return s_fail(c, NRM_EINVAL, "%u fields that %s does not have (another schema?)",
                      m->n_unknown_fields, d->short_name);
    if (c->depth >= 16)
        return s_fail(c, NRM_ETOOBIG, "nested too deep");
    json_t *o = json_object();
    if (!o)
        return s_fail(c, NRM_ENOMEM, "out of memory");
    c->depth++;
    int rc = 0;
    for (unsigned i = 0; i < d->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        size_t at = s_push_key(c, f->name);
        json_t *v = NULL;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + f->quantifier_offset);
            const uint8_t *arr = *(uint8_t *const *) (base + f->offset);
            if (n) {
                v = json_array();
                if (!v)
                    rc = s_fail(c, NRM_ENOMEM, "out of memory");
                for (size_t k = 0; k < n && rc == 0; k++) {
                    json_t *e = NULL;
                    size_t at2 = s_push_index(c, k);
                    rc = s_to_value(c, f, arr + k * s_elem_size(f), &e);
                    s_pop(c, at2);
                    if (rc == 0 && json_array_append_new(v, e) != 0)
                        rc = s_fail(c, NRM_ENOMEM, "out of memory");
                }
            }
        } else {
            bool present;
            if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
                present = *(void *const *) (base + f->offset) != NULL
                          && *(void *const *) (base + f->offset) != f->default_value;
            else if (f->quantifier_offset)
                present = *(const protobuf_c_boolean *) (base + f->quantifier_offset);
            else
                present = true;
            if (present)
                rc = s_to_value(c, f, base + f->offset, &v);
        }
        if (rc == 0 && v && json_object_set_new(o, f->name, v) != 0)
            rc = s_fail(c, NRM_ENOMEM, "out of memory");
        else if (rc)
            json_decref(v);
        s_pop(c, at);
    }
    c->depth--;
    if (rc) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

int
nrm_pbjson_to_json(const ProtobufCMessage *m, json_t **out, nrm_err_t *err)
{
    s_ctx_t c;
    memset(&c, 0, sizeof c);
    c.err = err;
    return s_to_object(&c, m, out);
}

/* ---- checking a message in place (nrm_pbjson_check) ---- */

/* Whether to_json writes the (non-repeated) field f of the message at
   base: the same test as s_to_object. */
static bool
s_written(const uint8_t *base, const ProtobufCFieldDescriptor *f)
{
    if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
        return *(void *const *) (base + f->offset) != NULL
               && *(void *const *) (base + f->offset) != f->default_value;
    if (f->quantifier_offset)
        return *(const protobuf_c_boolean *) (base + f->quantifier_offset);
    return true;
}

/* What s_to_value refuses in one value, without making it. */
static int s_out_message(s_ctx_t *c, const ProtobufCMessage *m);

static int
s_out_value(s_ctx_t *c, const ProtobufCFieldDescriptor *f, const void *src)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_BOOL:
    case PROTOBUF_C_TYPE_INT32: case PROTOBUF_C_TYPE_SINT32: case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32: case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_INT64: case PROTOBUF_C_TYPE_SINT64: case PROTOBUF_C_TYPE_SFIXED64:
        return 0;
    case PROTOBUF_C_TYPE_UINT64: case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t u = *(const uint64_t *) src;
        if (u > INT64_MAX)
            return s_fail(c, NRM_EINVAL, "%" PRIu64 " does not fit a JSON integer", u);
        return 0;
    }
    case PROTOBUF_C_TYPE_FLOAT: case PROTOBUF_C_TYPE_DOUBLE: {
        /* jansson makes no real of an infinity or a NaN */
        double v = f->type == PROTOBUF_C_TYPE_FLOAT ? (double) *(const float *) src
                                                    : *(const double *) src;
        if (!isfinite(v))
            return s_fail(c, NRM_ENOMEM, "out of memory");
        return 0;
    }
    case PROTOBUF_C_TYPE_ENUM:
        if (!protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *) src))
            return s_fail(c, NRM_EINVAL, "enum value %d is not in the schema", *(const int *) src);
        return 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) src;
        if (!s || !nrm_utf8_valid(s, strlen(s), true))
            return s_fail(c, NRM_EINVAL, "not valid UTF-8 text");
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_out_message(c, *(ProtobufCMessage *const *) src);
    default:
        return s_fail(c, NRM_EINVAL, "field type %d is not supported by the converter", (int) f->type);
    }
}

/* What s_to_object refuses, in its order. */
static int
s_out_message(s_ctx_t *c, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *) m;
    int rc = 0;
    if (m->n_unknown_fields)
        return s_fail(c, NRM_EINVAL, "%u fields that %s does not have (another schema?)",
                      m->n_unknown_fields, d->short_name);
    if (c->depth >= 16)
        return s_fail(c, NRM_ETOOBIG, "nested too deep");
    c->depth++;
    for (unsigned i = 0; i < d->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        size_t at = s_push_key(c, f->name);
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *) (base + f->quantifier_offset);
            const uint8_t *arr = *(uint8_t *const *) (base + f->offset);
            for (size_t k = 0; k < n && rc == 0; k++) {
                size_t at2 = s_push_index(c, k);
                rc = s_out_value(c, f, arr + k * s_elem_size(f));
                s_pop(c, at2);
            }
        } else if (s_written(base, f)) {
            rc = s_out_value(c, f, base + f->offset);
        }
        s_pop(c, at);
    }
    c->depth--;
    return rc;
}

/* What s_scalar refuses in a value that to_json wrote. */
static int s_in_message(s_ctx_t *c, const ProtobufCMessage *m);

static int
s_in_value(s_ctx_t *c, const ProtobufCMessageDescriptor *owner, const ProtobufCFieldDescriptor *f,
           const void *src)
{
    char why[256] = "";
    switch (f->type) {
    case PROTOBUF_C_TYPE_ENUM: {
        /* by value, as from_json finds the name to_json wrote */
        const ProtobufCEnumValue *v =
            protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *) src);
        if (c->o->check && c->o->check(c->o->user, owner, f, nrm_pbjson_enum_name(v), why, sizeof why))
            return s_fail(c, NRM_EINVAL, "%s", why);
        return 0;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *) src;
        size_t n = strlen(s);
        if (n > c->o->max_string)
            return s_fail(c, NRM_ETOOBIG, "%zu bytes, over the limit of %zu", n, c->o->max_string);
        if (c->o->check && c->o->check(c->o->user, owner, f, s, why, sizeof why))
            return s_fail(c, NRM_EINVAL, "%s", why);
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_in_message(c, *(ProtobufCMessage *const *) src);
    default:
        return 0;               /* numbers and bools: in range (s_out_value) */
    }
}

/* What s_message refuses, in its order: keys sorted by name. */
static int
s_in_message(s_ctx_t *c, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *) m;
    int rc = 0;
    if (c->depth >= c->o->max_depth)
        return s_fail(c, NRM_ETOOBIG, "nested deeper than %zu objects", c->o->max_depth);
    c->depth++;
    for (unsigned i = 0; i < d->n_fields && rc == 0; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[d->fields_sorted_by_name[i]];
        bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
        size_t n = repeated ? *(const size_t *) (base + f->quantifier_offset) : 0;
        if (repeated ? n == 0 : !s_written(base, f))
            continue;           /* not in the JSON (an empty list neither) */
        size_t at = s_push_key(c, f->name);
        if (c->o->skip_comments && f->name[0] == '_')
            rc = s_fail(c, NRM_EINVAL, "a field named like a comment cannot be checked in place");
        else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            rc = s_fail(c, NRM_EINVAL, "oneof fields are not supported by the converter");
        else if (!repeated)
            rc = s_in_value(c, d, f, base + f->offset);
        else if (n > c->o->max_items)
            rc = s_fail(c, NRM_ETOOBIG, "%zu items, over the limit of %zu", n, c->o->max_items);
        else {
            const uint8_t *arr = *(uint8_t *const *) (base + f->offset);
            for (size_t k = 0; k < n && rc == 0; k++) {
                size_t at2 = s_push_index(c, k);
                rc = s_in_value(c, d, f, arr + k * s_elem_size(f));
                s_pop(c, at2);
            }
        }
        s_pop(c, at);
    }
    c->depth--;
    return rc;
}

int
nrm_pbjson_check(const ProtobufCMessage *m, const nrm_pbjson_opts_t *opts, nrm_err_t *err)
{
    s_ctx_t c;
    memset(&c, 0, sizeof c);
    c.o = opts;
    c.err = err;
    c.lazy = true;
    int rc = s_out_message(&c, m);
    if (rc == 0)
        rc = s_in_message(&c, m);
    return rc;
}
