/*  agent_referrals -- notices, `nrm-agent overdue` and `nrm-agent case`
    (see the header). A referral's state here is replayed from what this
    organisation holds (its outbox, inbox and notices) with the same state
    machine the broker decides with (nrm_lifecycle), so it never claims
    more than the organisation can prove from its own store. */
#include "agent_referrals.h"
#include "agent.h"
#include "agent_docs.h"
#include "agent_store.h"
#include "nrm_lifecycle.h"
#include "nrm_util.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef char s_hex_t[2 * NRM_MSGID_BYTES + 1];

/* ---- notices ---- */

int
agent_notice_check(const nrm_wire_t *w, const uint8_t broker_pk[NRM_PK_BYTES], const char *own_id,
                   nrm_notice_t *n, uint8_t **signed_bytes, size_t *len, nrm_err_t *err)
{
    const nrm_signed_view_t *v = &w->signed_obj;
    *signed_bytes = NULL;
    if (v->sig.len != NRM_SIG_BYTES || !v->body.data || !v->body.len)
        return nrm_err_set(err, NRM_EINVAL, "notice: malformed signed object");
    if (nrm_verify(broker_pk, NRM_CTX_NOTICE, v->body.data, v->body.len, v->sig.data) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "notice signature does not verify with the broker's "
                           "sign key");
    int rc = nrm_notice_decode(v->body.data, v->body.len, n, err);
    if (rc)
        return rc;
    if (strcmp(n->addressee, own_id) != 0)
        return nrm_err_set(err, NRM_EINVAL, "notice addressed to '%s', not to this organisation",
                           n->addressee);
    return nrm_signed_encode(v->body.data, v->body.len, v->sig.data, signed_bytes, len, err);
}

int
agent_notice_put(nrm_store_t *store, MDB_txn *txn, const nrm_notice_t *n,
                 const uint8_t *signed_bytes, size_t len, bool *is_new, nrm_err_t *err)
{
    uint8_t key[8];
    nrm_be64_put(key, n->seq);
    int rc = nrm_store_put(store, txn, "notices", key, sizeof key, signed_bytes, len,
                           MDB_NOOVERWRITE, err);
    *is_new = rc == 0;
    return rc == NRM_EEXIST ? 0 : rc;
}

/* ---- the local view of a case ---- */

typedef struct {
    bool           out;            /* sent by us (outbox) or received     */
    nrm_envelope_t env;
    uint32_t       out_state;      /* outbox state                        */
    uint32_t       reason_code;
    uint64_t       seq;            /* ACCEPTED seq                        */
    uint64_t       time;           /* created_ms                          */
    agent_in_t     in_copy;        /* inbox: byte views borrow the txn    */
} s_item_t;

typedef struct {
    const char *case_ref;          /* NULL: every case (overdue)          */
    s_item_t   *items;
    size_t      n, cap;
    nrm_notice_t *notices;
    size_t      nn, capn;
} s_case_t;

static int
s_grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t c = *cap ? *cap * 2 : 32;
    void *bigger = realloc(*arr, c * size);
    if (!bigger)
        return NRM_ENOMEM;
    *arr = bigger;
    *cap = c;
    return 0;
}

static int
s_out_one(void *ctx, const agent_out_t *rec, nrm_err_t *err)
{
    s_case_t *c = ctx;
    nrm_envelope_t env;
    if (nrm_envelope_decode(rec->envelope.data, rec->envelope.len, &env, NULL) != 0)
        return 0;
    if (c->case_ref && strcmp(env.case_ref, c->case_ref) != 0)
        return 0;
    if (s_grow((void **) &c->items, &c->cap, c->n, sizeof *c->items))
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    s_item_t *it = &c->items[c->n++];
    memset(it, 0, sizeof *it);
    it->out = true;
    it->env = env;
    it->out_state = rec->state;
    it->reason_code = rec->reason_code;
    it->seq = rec->accepted_seq;
    it->time = env.created_ms;
    return 0;
}

static int
s_in_one(void *ctx, const agent_in_t *rec, nrm_err_t *err)
{
    s_case_t *c = ctx;
    nrm_envelope_t env;
    if (nrm_envelope_decode(rec->envelope.data, rec->envelope.len, &env, NULL) != 0)
        return 0;
    if (c->case_ref && strcmp(env.case_ref, c->case_ref) != 0)
        return 0;
    if (s_grow((void **) &c->items, &c->cap, c->n, sizeof *c->items))
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    s_item_t *it = &c->items[c->n++];
    memset(it, 0, sizeof *it);
    it->env = env;
    it->seq = rec->accepted_seq;
    it->time = env.created_ms;
    it->in_copy = *rec;            /* byte views borrow from the read txn */
    return 0;
}

static int
s_notices_load(nrm_store_t *store, MDB_txn *txn, s_case_t *c, nrm_err_t *err)
{
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int mrc = mdb_cursor_open(txn, nrm_store_dbi(store, "notices"), &cur);
    if (mrc)
        return nrm_store_lmdb_error(mrc, "notices", err);
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint8_t *body = NULL, sig[NRM_SIG_BYTES];
        size_t len = 0;
        nrm_notice_t n;
        if (nrm_signed_decode(v.mv_data, v.mv_size, 1024, &body, &len, sig, NULL) != 0)
            continue;
        int ok = nrm_notice_decode(body, len, &n, NULL) == 0;
        free(body);
        if (!ok || (c->case_ref && strcmp(n.case_ref, c->case_ref) != 0))
            continue;
        if (s_grow((void **) &c->notices, &c->capn, c->nn, sizeof *c->notices)) {
            mdb_cursor_close(cur);
            return nrm_err_set(err, NRM_ENOMEM, "out of memory");
        }
        c->notices[c->nn++] = n;
    }
    mdb_cursor_close(cur);
    return 0;
}

static int
s_case_load(nrm_store_t *store, MDB_txn *txn, s_case_t *c, nrm_err_t *err)
{
    int rc = agent_out_each(store, txn, 1, s_out_one, c, err);
    if (rc == 0)
        rc = agent_in_each(store, txn, s_in_one, c, err);
    if (rc == 0)
        rc = s_notices_load(store, txn, c, err);
    return rc;
}

static void
s_case_free(s_case_t *c)
{
    free(c->items);
    free(c->notices);
}

/* An answer counts once the broker accepted it: every received message
   was, and a sent one in state accepted, delivered, refused by the
   recipient or purged. */
static bool
s_counts(const s_item_t *it)
{
    return !it->out || it->out_state == AGENT_OUT_ACCEPTED || it->out_state == AGENT_OUT_DELIVERED
           || it->out_state == AGENT_OUT_REFUSED_BY_RECIPIENT || it->out_state == AGENT_OUT_PURGED;
}

typedef struct { uint64_t time; nrm_ref_event_t ev; nrm_role_t who; } s_event_t;

static int
s_event_cmp(const void *a, const void *b)
{
    const s_event_t *x = a, *y = b;
    return x->time < y->time ? -1 : x->time > y->time;
}

/* The state of referral `r` as this organisation can tell it. */
static nrm_ref_state_t
s_ref_state(const s_case_t *c, const s_item_t *r)
{
    s_event_t ev[64];
    size_t n = 0;
    nrm_ref_state_t s = NRM_REF_SENT;
    if (r->out && r->out_state == AGENT_OUT_DELIVERED)
        s = NRM_REF_DELIVERED;
    if (!r->out)
        s = NRM_REF_DELIVERED;
    for (size_t i = 0; i < c->n && n < 64; i++) {
        const s_item_t *a = &c->items[i];
        nrm_ref_event_t e = nrm_lifecycle_event(&a->env);
        if (!e || !a->env.has_reply_to || !s_counts(a)
            || memcmp(a->env.in_reply_to, r->env.msg_id, NRM_MSGID_BYTES) != 0)
            continue;
        ev[n].time = a->time;
        ev[n].ev = e;
        ev[n++].who = strcmp(a->env.sender, r->env.sender) == 0 ? NRM_ROLE_SENDER : NRM_ROLE_RECIPIENT;
    }
    for (size_t i = 0; i < c->nn && n < 64; i++)
        if (memcmp(c->notices[i].msg_id, r->env.msg_id, NRM_MSGID_BYTES) == 0) {
            bool purged = c->notices[i].kind == NRM_NOTICE_PURGED;
            ev[n].time = purged ? c->notices[i].time_ms : c->notices[i].due_ms;
            ev[n].ev = purged ? NRM_EV_PURGE : NRM_EV_DEADLINE;
            ev[n++].who = NRM_ROLE_BROKER;
        }
    qsort(ev, n, sizeof *ev, s_event_cmp);
    nrm_ref_state_t next;
    for (size_t i = 0; i < n; i++)
        if (nrm_lifecycle_step(s, ev[i].ev, ev[i].who, &next, NULL) == 0)
            s = next;
    /* the broker's status answer says purged even when its notice was
       missed: nothing followed the purge */
    if (r->out && r->out_state == AGENT_OUT_PURGED
        && nrm_lifecycle_step(s, NRM_EV_PURGE, NRM_ROLE_BROKER, &next, NULL) == 0)
        s = next;
    return s;
}

static int
s_item_cmp(const void *a, const void *b)
{
    const s_item_t *x = a, *y = b;
    return x->time < y->time ? -1 : x->time > y->time;
}

/* ---- nrm-agent case ---- */

static void
s_case_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent case --dir ORG REF [--json] [--documents]\n"
        "\n"
        "This organisation's own view of case REF: every message it sent and\n"
        "received for the case in time order (with the broker's state of what\n"
        "it sent), each referral's lifecycle state (sent, delivered, accepted,\n"
        "declined, completed, withdrawn, overdue, purged) replayed from what it\n"
        "holds, and the broker's notices (escalated: no answer by the deadline;\n"
        "purged: not delivered within the broker's body retention).\n"
        "\n"
        "  --documents  also open and show the received documents (a body whose\n"
        "               retention has passed shows as purged)\n"
        "  --json       one JSON object: case, messages, referrals, notices\n");
}

static json_t *
s_item_json(const s_item_t *it, const nrm_keys_t *keys, bool docs)
{
    s_hex_t hex, reply;
    json_t *o = json_object();
    nrm_hex_encode(it->env.msg_id, NRM_MSGID_BYTES, hex);
    json_object_set_new(o, "direction", json_string(it->out ? "sent" : "received"));
    json_object_set_new(o, "msg_id", json_string(hex));
    json_object_set_new(o, "type", json_string(it->env.type));
    json_object_set_new(o, "from", json_string(it->env.sender));
    json_object_set_new(o, "to", json_string(it->env.recipient));
    json_object_set_new(o, "created_ms", json_integer((json_int_t) it->env.created_ms));
    if (it->env.has_reply_to) {
        nrm_hex_encode(it->env.in_reply_to, NRM_MSGID_BYTES, reply);
        json_object_set_new(o, "reply_to", json_string(reply));
    }
    if (it->env.decision[0])
        json_object_set_new(o, "decision", json_string(it->env.decision));
    if (it->out) {
        json_object_set_new(o, "state", json_string(agent_out_state_name(it->out_state)));
        if (it->out_state == AGENT_OUT_REFUSED || it->out_state == AGENT_OUT_PURGED)
            json_object_set_new(o, "reason", json_string(nrm_reason_name(it->reason_code)));
    }
    if (it->seq)
        json_object_set_new(o, "accepted_seq", json_integer((json_int_t) it->seq));
    if (it->env.n_stripped) {
        json_t *a = json_array();
        for (size_t i = 0; i < it->env.n_stripped; i++)
            json_array_append_new(a, json_string(it->env.stripped[i]));
        json_object_set_new(o, "stripped", a);
    }
    if (docs && !it->out) {
        const agent_in_t *in = &it->in_copy;
        size_t len = 0;
        nrm_err_t err = { 0, 0, "" };
        if (in->sealed_body.len == 0) {
            json_object_set_new(o, "document", json_string("(body purged)"));
        } else if (nrm_seal_plain_len(in->sealed_body.data, in->sealed_body.len, &len,
                                      &err) != 0) {
            json_object_set_new(o, "document_error", json_string(err.msg));
        } else {
            uint8_t *plain = malloc(len + 1);
            json_t *doc = NULL;
            if (plain && nrm_seal_open(keys, NULL, in->sealed_body.data, in->sealed_body.len,
                                       plain, &err) == 0
                && agent_doc_json(&it->env, plain, len, &doc, &err) == 0)
                json_object_set_new(o, "document", doc);
            else
                json_object_set_new(o, "document_error", json_string(err.msg[0] ? err.msg : "does not open"));
            if (plain) {
                explicit_bzero(plain, len + 1);
                free(plain);
            }
        }
    }
    return o;
}

int
agent_case_view(nrm_store_t *store, MDB_txn *txn, const nrm_keys_t *keys, const char *case_ref,
                json_t **out, nrm_err_t *err)
{
    s_case_t c = { case_ref, NULL, 0, 0, NULL, 0, 0 };
    json_t *root = NULL, *msgs, *refs, *nots;
    int rc;

    *out = NULL;
    rc = s_case_load(store, txn, &c, err);
    if (rc)
        goto out;
    if (c.n == 0 && c.nn == 0) {
        rc = nrm_err_set(err, NRM_ENOTFOUND, "no message of case %s", case_ref);
        goto out;
    }
    qsort(c.items, c.n, sizeof *c.items, s_item_cmp);
    root = json_object();
    msgs = json_array();
    refs = json_array();
    nots = json_array();
    json_object_set_new(root, "case", json_string(case_ref));
    json_object_set_new(root, "messages", msgs);
    json_object_set_new(root, "referrals", refs);
    json_object_set_new(root, "notices", nots);
    for (size_t i = 0; i < c.n; i++)
        json_array_append_new(msgs, s_item_json(&c.items[i], keys, keys != NULL));
    for (size_t i = 0; i < c.n; i++) {
        const s_item_t *r = &c.items[i];
        if (!nrm_lifecycle_opens(r->env.type) || (r->out && !s_counts(r)))
            continue;
        s_hex_t hex;
        char due[40];
        nrm_hex_encode(r->env.msg_id, NRM_MSGID_BYTES, hex);
        nrm_time_format(r->env.response_due_ms, due, sizeof due);
        json_t *o = json_object();
        json_object_set_new(o, "msg_id", json_string(hex));
        json_object_set_new(o, "type", json_string(r->env.type));
        json_object_set_new(o, "from", json_string(r->env.sender));
        json_object_set_new(o, "to", json_string(r->env.recipient));
        json_object_set_new(o, "state", json_string(nrm_ref_state_name(s_ref_state(&c, r))));
        json_object_set_new(o, "response_due", json_string(due));
        json_array_append_new(refs, o);
    }
    for (size_t i = 0; i < c.nn; i++) {
        s_hex_t hex;
        nrm_hex_encode(c.notices[i].msg_id, NRM_MSGID_BYTES, hex);
        json_t *o = json_object();
        json_object_set_new(o, "kind", json_string(c.notices[i].kind == NRM_NOTICE_PURGED ? "purged"
                                                                                           : "escalated"));
        json_object_set_new(o, "msg_id", json_string(hex));
        json_object_set_new(o, "seq", json_integer((json_int_t) c.notices[i].seq));
        json_array_append_new(nots, o);
    }
    *out = root;
out:
    s_case_free(&c);
    return rc;
}

static const char *
s_jstr(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "";
}

/* The text form of the case view. */
static void
s_case_print(json_t *root)
{
    json_t *msgs = json_object_get(root, "messages"), *refs = json_object_get(root, "referrals");
    json_t *nots = json_object_get(root, "notices");

    printf("case %s, as this organisation holds it\n\nmessages:\n", s_jstr(root, "case"));
    for (size_t i = 0; i < json_array_size(msgs); i++) {
        json_t *m = json_array_get(msgs, i);
        bool out = strcmp(s_jstr(m, "direction"), "sent") == 0;
        char when[40];
        nrm_time_format((uint64_t) json_integer_value(json_object_get(m, "created_ms")), when,
                        sizeof when);
        printf("  %s  %-8s %-20s %s %-12s msg %.8s  %s%s%s\n", when, out ? "sent" : "received",
               s_jstr(m, "type"), out ? "->" : "<-", out ? s_jstr(m, "to") : s_jstr(m, "from"),
               s_jstr(m, "msg_id"), out ? s_jstr(m, "state") : "stored",
               json_object_get(m, "reason") ? ": " : "", s_jstr(m, "reason"));
        json_t *doc = json_object_get(m, "document");
        if (doc) {
            char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            if (text)
                printf("%s\n", text);
            free(text);
        }
    }
    printf("\nreferrals:\n");
    for (size_t i = 0; i < json_array_size(refs); i++) {
        json_t *o = json_array_get(refs, i);
        printf("  msg %.8s  %-20s %s -> %-12s %-10s due %s\n", s_jstr(o, "msg_id"),
               s_jstr(o, "type"), s_jstr(o, "from"), s_jstr(o, "to"), s_jstr(o, "state"),
               s_jstr(o, "response_due"));
    }
    if (json_array_size(nots)) {
        printf("\nbroker notices (escalated: no answer by the deadline; purged: not "
               "delivered within the retention):\n");
        for (size_t i = 0; i < json_array_size(nots); i++) {
            json_t *o = json_array_get(nots, i);
            printf("  msg %.8s  %-9s record %lld\n", s_jstr(o, "msg_id"), s_jstr(o, "kind"),
                   (long long) json_integer_value(json_object_get(o, "seq")));
        }
    }
}

static int
s_run_case(const char *dir, const char *case_ref, bool json, bool docs, nrm_err_t *err)
{
    nrm_store_t *store = NULL;
    nrm_keys_t *keys = NULL;
    MDB_txn *txn = NULL;
    json_t *root = NULL;
    int rc = docs ? nrm_crypto_init() : 0;
    if (rc == 0 && docs)
        rc = agent_keys_load(dir, &keys, err);
    if (rc == 0)
        rc = agent_store_open(dir, 0, &store, err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, err);
    if (rc == 0)
        rc = agent_case_view(store, txn, keys, case_ref, &root, err);
    if (rc == NRM_ENOTFOUND)
        nrm_err_prefix(err, "%s", dir);
    if (rc == 0 && json) {
        char *text = json_dumps(root, JSON_COMPACT | JSON_ENSURE_ASCII);
        if (text)
            printf("%s\n", text);
        free(text);
    } else if (rc == 0) {
        s_case_print(root);
    }
    json_decref(root);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    nrm_keys_destroy(&keys);
    return rc;
}

int
agent_cmd_case(int argc, char **argv)
{
    static const char *const cmd = "case";
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "documents", no_argument, NULL, 'D' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL;
    bool json = false, docs = false;
    nrm_err_t err = { 0, 0, "" };
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': dir = optarg; break;
        case 'j': json = true; break;
        case 'D': docs = true; break;
        case 'h': s_case_help(stdout); return AGENT_EXIT_OK;
        default:  return agent_opt_error(cmd, c, argv);
        }
    }
    if (!dir || !dir[0] || optind != argc - 1)
        return agent_usage_error(cmd, "--dir and one case reference are required");
    if (!nrm_id_valid(argv[optind]))
        return agent_usage_error(cmd, "'%s' is not a case reference", argv[optind]);
    if (s_run_case(dir, argv[optind], json, docs, &err) != 0)
        return agent_fail(cmd, &err);
    return AGENT_EXIT_OK;
}

/* ---- nrm-agent overdue ---- */

static void
s_overdue_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent overdue --dir ORG [--json] [--all]\n"
        "\n"
        "Referrals the broker escalated because no answer came by their\n"
        "response-due time, from the broker's signed notices: to this\n"
        "organisation as their sender, or as the supervisor the policy names.\n"
        "Without --all, a referral this organisation can see was answered or\n"
        "withdrawn since is left out.\n"
        "\n"
        "  --json  JSON Lines: msg_id, case, type, from, to, due_ms, due,\n"
        "          escalated_seq, role (sender or supervisor), state\n");
}

int
agent_cmd_overdue(int argc, char **argv)
{
    static const char *const cmd = "overdue";
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "all", no_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL;
    bool json = false, all = false;
    nrm_err_t err = { 0, 0, "" };
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': dir = optarg; break;
        case 'j': json = true; break;
        case 'a': all = true; break;
        case 'h': s_overdue_help(stdout); return AGENT_EXIT_OK;
        default:  return agent_opt_error(cmd, c, argv);
        }
    }
    if (!dir || !dir[0] || optind != argc)
        return agent_usage_error(cmd, "--dir is required (and nothing else)");
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    json_t *arr = NULL;
    agent_org_t org;
    int rc = agent_org_load(dir, &org, &err);
    if (rc == 0)
        rc = agent_store_open(dir, 0, &store, &err);
    if (rc == 0)
        rc = nrm_store_read_begin(store, &txn, &err);
    if (rc == 0)
        rc = agent_overdue_view(store, txn, org.id, all, &arr, &err);
    for (size_t i = 0; rc == 0 && i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        if (json) {
            char *text = json_dumps(o, JSON_COMPACT);
            if (text)
                printf("%s\n", text);
            free(text);
        } else {
            printf("%s  %-20s %-20s %s -> %-12s due %s  escalated seq %lld  (%s, %s)\n",
                   s_jstr(o, "msg_id"), s_jstr(o, "case"), s_jstr(o, "type"), s_jstr(o, "from"),
                   s_jstr(o, "to"), s_jstr(o, "due"),
                   (long long) json_integer_value(json_object_get(o, "escalated_seq")),
                   s_jstr(o, "role"), s_jstr(o, "state"));
        }
    }
    json_decref(arr);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    if (rc)
        return agent_fail(cmd, &err);
    return AGENT_EXIT_OK;
}

int
agent_overdue_view(nrm_store_t *store, MDB_txn *txn, const char *own_id, bool all,
                   json_t **out, nrm_err_t *err)
{
    s_case_t c = { NULL, NULL, 0, 0, NULL, 0, 0 };
    json_t *arr = json_array();
    int rc = arr ? s_case_load(store, txn, &c, err) : nrm_err_set(err, NRM_ENOMEM, "out of memory");

    *out = NULL;
    for (size_t i = 0; rc == 0 && i < c.nn; i++) {
        const nrm_notice_t *n = &c.notices[i];
        const char *state = "overdue";
        if (n->kind != NRM_NOTICE_ESCALATED)
            continue;                   /* purge notices: nrm-agent case */
        for (size_t k = 0; k < c.n; k++)
            if (memcmp(c.items[k].env.msg_id, n->msg_id, NRM_MSGID_BYTES) == 0)
                state = nrm_ref_state_name(s_ref_state(&c, &c.items[k]));
        if (!all && strcmp(state, "overdue") != 0)
            continue;
        s_hex_t hex;
        char due[40];
        const char *role = strcmp(n->sender, own_id) == 0 ? "sender" : "supervisor";
        nrm_hex_encode(n->msg_id, NRM_MSGID_BYTES, hex);
        nrm_time_format(n->due_ms, due, sizeof due);
        json_t *o = json_object();
        json_object_set_new(o, "msg_id", json_string(hex));
        json_object_set_new(o, "case", json_string(n->case_ref));
        json_object_set_new(o, "type", json_string(n->type));
        json_object_set_new(o, "from", json_string(n->sender));
        json_object_set_new(o, "to", json_string(n->recipient));
        json_object_set_new(o, "due_ms", json_integer((json_int_t) n->due_ms));
        json_object_set_new(o, "due", json_string(due));
        json_object_set_new(o, "escalated_seq", json_integer((json_int_t) n->seq));
        json_object_set_new(o, "role", json_string(role));
        json_object_set_new(o, "state", json_string(state));
        json_array_append_new(arr, o);
    }
    s_case_free(&c);
    if (rc != 0) {
        json_decref(arr);
        return rc;
    }
    *out = arr;
    return 0;
}

/* ---- retention: nrm-agent purge, and the daemon's periodic purge ---- */

typedef struct {
    uint64_t before, now;
    size_t purged;
} s_purge_t;

static int
s_purge_fn(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    s_purge_t *p = ctx;
    return agent_in_purge(store, txn, p->before, p->now, AGENT_PURGE_MAX, &p->purged, err);
}

int
agent_purge_run(nrm_store_t *store, uint64_t older_than_ms, size_t *purged, nrm_err_t *err)
{
    uint64_t now = nrm_now_ms();
    s_purge_t p = { now > older_than_ms ? now - older_than_ms : 0, now, 0 };
    *purged = 0;
    int rc = nrm_store_write(store, s_purge_fn, &p, err);
    if (rc == 0)
        *purged = p.purged;
    return rc;
}

static void
s_purge_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent purge --dir ORG [--older-than DURATION]\n"
        "\n"
        "Retention: drops the sealed body of every inbox message received more\n"
        "than DURATION ago (30d, 12h, 15m, 0s for all), keeping its envelope,\n"
        "signature and the broker's sequence number, so the entry still proves\n"
        "what arrived and when; the audit trail is untouched. Without\n"
        "--older-than, ORG/org.ini [retention] inbox_days applies (the daemon\n"
        "applies it by itself every minute). Bodies of sent messages are\n"
        "dropped already when they reach a final state.\n");
}

int
agent_cmd_purge(int argc, char **argv)
{
    static const char *const cmd = "purge";
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "older-than", required_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *older = NULL;
    nrm_err_t err = { 0, 0, "" };
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': dir = optarg; break;
        case 'o': older = optarg; break;
        case 'h': s_purge_help(stdout); return AGENT_EXIT_OK;
        default:  return agent_opt_error(cmd, c, argv);
        }
    }
    if (!dir || !dir[0] || optind != argc)
        return agent_usage_error(cmd, "--dir is required (and nothing else)");
    uint64_t ms = 0;
    if (older && (nrm_duration_parse(older, &ms) != 0 || ms > 3650ull * 86400000u))
        return agent_usage_error(cmd, "--older-than '%s' is not a duration such as 30d, 12h, 15m "
                                 "or 0s (at most 3650d)", older);
    agent_org_t org;
    if (agent_org_load(dir, &org, &err) != 0)
        return agent_fail(cmd, &err);
    if (!older) {
        if (org.retention_days == 0) {
            fprintf(stderr, "nrm-agent purge: no retention in %s/org.ini ([retention] "
                    "inbox_days) and no --older-than: nothing purged\n", dir);
            return AGENT_EXIT_OK;
        }
        ms = org.retention_days * 86400000u;
    }
    nrm_store_t *store = NULL;
    size_t n = 0, total = 0;
    int rc = agent_store_open(dir, 0, &store, &err);
    do {
        if (rc == 0)
            rc = agent_purge_run(store, ms, &n, &err);
        total += n;
    } while (rc == 0 && n == AGENT_PURGE_MAX);
    nrm_store_destroy(&store);
    if (rc)
        return agent_fail(cmd, &err);
    printf("purged the bodies of %zu received messages\n", total);
    return AGENT_EXIT_OK;
}
