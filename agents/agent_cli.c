/*  agent_cli -- the commands an organisation's own system uses: send (seal,
    sign and queue durably), outbox, inbox and wait. They work on the agent
    store directly, whether or not `nrm-agent run` or the broker is up. */
#include "agent.h"
#include "agent_send.h"
#include "agent_docs.h"
#include "agent_store.h"
#include "agent_checkpoint.h"
#include "agent_verify.h"
#include "agent_views.h"
#include "nrm_codec.h"
#include "nrm_registry.h"
#include "nrm_util.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AGENT_WAIT_POLL_MS   100
#define AGENT_WAIT_MAX_S     (7u * 24u * 3600u)
#define AGENT_WAIT_DEFAULT_S 30u

typedef char s_hex_t[2 * NRM_MSGID_BYTES + 1];

/* ---- send ---- */

static void
s_send_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent send --dir ORG --to ID --type TYPE --case REF\n"
        "                      [--file DOC.json] [--reply-to MSGID] [--priority 0..3]\n"
        "                      [--purpose NAME] [--destination CC]\n"
        "\n"
        "Checks the JSON document against the body schema of TYPE (errors name\n"
        "the field path), removes the fields the policy (ORG/policy.ini,\n"
        "[minimise.<recipient type>]) does not let the recipient have for the\n"
        "purpose and says which on stderr, refuses personal data without\n"
        "consent or a lawful basis, seals the body to the recipient's key,\n"
        "signs the envelope and stores it in the outbox durably; then prints\n"
        "the message id (32 hex characters) on stdout. `nrm-agent run` sends\n"
        "it when it can; this command works whether or not the daemon or the\n"
        "broker is up. docs/referrals.md describes every type.\n"
        "\n"
        "  --dir ORG        organisation folder\n"
        "  --to ID          recipient organisation id (must be in the directory,\n"
        "                   which `nrm-agent run` refreshes from the broker)\n"
        "  --type TYPE      message type (tip, referral, response, ...)\n"
        "  --case REF       pseudonymous case reference (an id, never derived\n"
        "                   from the person's identity)\n"
        "  --file DOC.json  the document, a JSON object of at most %u bytes;\n"
        "                   '-' reads stdin; without --file the document is {}\n"
        "  --reply-to ID    message id (32 hex characters) this one answers\n"
        "  --priority N     0 routine (default) .. 3 immediate; a child, high risk\n"
        "                   or immediate urgency in the document raises it to 3\n"
        "  --purpose NAME   why the data is shared: the key of the policy's\n"
        "                   [minimise.<recipient type>] rule (default: its 'any')\n"
        "  --destination CC ISO 3166-1 alpha-2 country the data goes to (cross-\n"
        "                   border; required for a foreign recipient)\n",
        NRM_MAX_DOC_BYTES);
}

/* Reads the document (file, '-' for stdin) into *doc, at most
   NRM_MAX_DOC_BYTES; malloc'd with a NUL after it. */
static int
s_read_doc(const char *path, uint8_t **doc, size_t *len, nrm_err_t *err)
{
    size_t cap = 4096, n = 0;
    uint8_t *buf, *bigger;

    *doc = NULL;
    *len = 0;
    if (strcmp(path, "-") != 0) {
        int rc = nrm_file_read(path, NRM_MAX_DOC_BYTES, doc, len, err);
        if (rc == NRM_ETOOBIG)
            return nrm_err_set(err, rc, "%s is larger than %u bytes, the cap on a document",
                               path, NRM_MAX_DOC_BYTES);
        return rc;
    }
    buf = malloc(cap + 1);
    if (buf == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory reading stdin");
    for (;;) {
        size_t got;
        if (n == cap) {
            if (cap > NRM_MAX_DOC_BYTES) {
                free(buf);
                return nrm_err_set(err, NRM_ETOOBIG, "the document on stdin is larger "
                                   "than %u bytes, the cap on a document", NRM_MAX_DOC_BYTES);
            }
            cap *= 2;
            bigger = realloc(buf, cap + 1);
            if (bigger == NULL) {
                free(buf);
                return nrm_err_set(err, NRM_ENOMEM, "out of memory reading stdin");
            }
            buf = bigger;
        }
        got = fread(buf + n, 1, cap - n, stdin);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(stdin)) {
        free(buf);
        return nrm_err_set(err, NRM_EIO, "reading stdin: %s", strerror(errno));
    }
    if (n > NRM_MAX_DOC_BYTES) {
        free(buf);
        return nrm_err_set(err, NRM_ETOOBIG, "the document on stdin is larger than %u "
                           "bytes, the cap on a document", NRM_MAX_DOC_BYTES);
    }
    buf[n] = '\0';
    *doc = buf;
    *len = n;
    return 0;
}

typedef struct {
    const char *dir, *to, *type, *case_ref, *file, *reply_to, *purpose, *destination;
    uint64_t    priority;
} s_send_args_t;

/* Tells the user what minimisation removed (names only) and whether the
   priority was raised. */
static void
s_send_report(const s_send_args_t *a, const nrm_cert_t *cert, const nrm_envelope_t *env,
              const agent_doc_report_t *rep)
{
    if (rep->raised)
        fprintf(stderr, "nrm-agent send: priority raised to 3 (a child, high risk or immediate "
                "urgency)\n");
    if (!rep->minimised)
        return;
    if (env->n_stripped == 0) {
        fprintf(stderr, "nrm-agent send: nothing removed for %s (%s, purpose %s)\n", a->to,
                cert->org_type, a->purpose ? a->purpose : "any");
        return;
    }
    fprintf(stderr, "nrm-agent send: removed for %s (%s, purpose %s) by the policy's "
            "[minimise.%s]:", a->to, cert->org_type, a->purpose ? a->purpose : "any",
            cert->org_type);
    for (size_t i = 0; i < env->n_stripped; i++)
        fprintf(stderr, " %s", env->stripped[i]);
    fprintf(stderr, "\n");
}

static int
s_send(const s_send_args_t *a, s_hex_t hex, nrm_err_t *err)
{
    agent_sender_t *sender = NULL;
    agent_send_req_t req;
    agent_doc_report_t report;
    nrm_envelope_t env;
    nrm_cert_t cert;
    uint8_t *doc = NULL;
    size_t doc_len = 0;
    uint8_t id[1][NRM_MSGID_BYTES];
    int rc;

    memset(&req, 0, sizeof req);
    if (a->reply_to != NULL) {
        req.has_reply_to = true;
        if (agent_parse_msgid(a->reply_to, req.reply_to) != 0)
            return nrm_err_set(err, NRM_EINVAL, "bad --reply-to");  /* checked before */
    }
    /* The document first: the commonest mistake, and needs nothing else. */
    if (a->file != NULL) {
        rc = s_read_doc(a->file, &doc, &doc_len, err);
        if (rc != 0)
            goto out;
    } else {
        doc = (uint8_t *) strdup("{}");
        if (doc == NULL) {
            rc = nrm_err_set(err, NRM_ENOMEM, "out of memory");
            goto out;
        }
        doc_len = 2;
    }
    rc = agent_sender_open(a->dir, &sender, err);
    if (rc != 0)
        goto out;
    req.to = a->to;
    req.type = a->type;
    req.case_ref = a->case_ref;
    req.doc = doc;
    req.doc_len = doc_len;
    req.doc_name = a->file == NULL ? "(no --file)" : strcmp(a->file, "-") == 0 ? "stdin" : a->file;
    req.purpose = a->purpose;
    req.destination = a->destination;
    req.priority = (uint32_t) a->priority;
    req.report = &report;
    req.env_out = &env;
    req.cert_out = &cert;
    rc = agent_sender_send(sender, &req, 1, id, err);
    if (rc != 0)
        goto out;
    s_send_report(a, &cert, &env, &report);
    nrm_hex_encode(id[0], NRM_MSGID_BYTES, hex);
out:
    if (doc != NULL)
        explicit_bzero(doc, doc_len);
    free(doc);
    agent_sender_destroy(&sender);
    return rc;
}

int
agent_cmd_send(int argc, char **argv)
{
    static const char *const cmd = "send";
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "to", required_argument, NULL, 't' },
        { "type", required_argument, NULL, 'y' },
        { "case", required_argument, NULL, 'c' },
        { "file", required_argument, NULL, 'f' },
        { "reply-to", required_argument, NULL, 'r' },
        { "priority", required_argument, NULL, 'p' },
        { "purpose", required_argument, NULL, 'u' },
        { "destination", required_argument, NULL, 'D' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    s_send_args_t a = { 0 };
    nrm_err_t err = { 0 };
    s_hex_t hex;

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': a.dir = optarg; break;
        case 't': a.to = optarg; break;
        case 'y': a.type = optarg; break;
        case 'c': a.case_ref = optarg; break;
        case 'f': a.file = optarg; break;
        case 'r': a.reply_to = optarg; break;
        case 'u': a.purpose = optarg; break;
        case 'D': a.destination = optarg; break;
        case 'p':
            if (agent_parse_u64(optarg, 0, 3, &a.priority) != 0)
                return agent_usage_error(cmd, "--priority '%s' is not 0, 1, 2 or 3", optarg);
            break;
        case 'h': s_send_help(stdout); return AGENT_EXIT_OK;
        default:  return agent_opt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return agent_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (a.dir == NULL || a.to == NULL || a.type == NULL || a.case_ref == NULL)
        return agent_usage_error(cmd, "--dir, --to, --type and --case are required");
    if (a.dir[0] == '\0')
        return agent_usage_error(cmd, "--dir is empty");
    if (!nrm_id_valid(a.to))
        return agent_usage_error(cmd, "--to '%s' is not a valid organisation id", a.to);
    if (!nrm_msg_type_valid(a.type))
        return agent_usage_error(cmd, "--type '%s' is not a known message type", a.type);
    if (!nrm_id_valid(a.case_ref))
        return agent_usage_error(cmd, "--case '%s' is not a valid case reference (1-%d "
                                 "of a-z, 0-9, '.', '_', '-', starting with a letter "
                                 "or digit)", a.case_ref, NRM_ID_MAX);
    if (a.reply_to != NULL && agent_parse_msgid(a.reply_to, (uint8_t[NRM_MSGID_BYTES]){ 0 }) != 0)
        return agent_usage_error(cmd, "--reply-to '%s' is not a message id (32 hex "
                                 "characters)", a.reply_to);
    if (a.file != NULL && a.file[0] == '\0')
        return agent_usage_error(cmd, "--file is empty");
    if (s_send(&a, hex, &err) != 0)
        return agent_fail(cmd, &err);
    printf("%s\n", hex);
    if (fflush(stdout) != 0) {
        /* The message is queued all the same; say so. */
        fprintf(stderr, "nrm-agent send: message %s is queued, but writing its id to "
                "stdout failed: %s\n", hex, strerror(errno));
        return AGENT_EXIT_ERROR;
    }
    return AGENT_EXIT_OK;
}

/* ---- outbox ---- */

static void
s_outbox_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent outbox --dir ORG [--json]\n"
        "\n"
        "Lists sent messages in the order they were sent, one per line:\n"
        "message id, recipient, type, case, created time (UTC), state. The state\n"
        "is one of: queued | accepted seq N | delivered seq N |\n"
        "refused REASON: text | refused by recipient | purged seq N: text (not\n"
        "delivered within the broker's body retention; N is the PURGED record)\n"
        "(N is the broker's audit-log sequence number).\n"
        "\n"
        "  --dir ORG  organisation folder\n"
        "  --json     JSON Lines: one JSON object per message with msg_id, to,\n"
        "             type, case, priority, reply_to, created_ms, state\n"
        "             (queued, accepted, delivered, refused,\n"
        "             refused_by_recipient, purged), accepted_seq, delivered_seq,\n"
        "             reason_code, reason_name, reason, and the broker's receipt\n"
        "             once answered: receipt {seq, record_hash, status}\n");
}

static int
s_print_json_line(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text == NULL)
        return NRM_ENOMEM;
    printf("%s\n", text);
    free(text);
    return 0;
}

static const char *
s_jstr(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? v : "-";
}

static unsigned long long
s_jint(const json_t *o, const char *key)
{
    return (unsigned long long) json_integer_value(json_object_get(o, key));
}

/* Prints an entry the view could not show on stderr; true if it was one. */
static bool
s_print_bad(const char *cmd, const json_t *o)
{
    if (json_object_get(o, "error") == NULL)
        return false;
    fprintf(stderr, "nrm-agent %s: entry %llu (msg %s): %s\n", cmd, s_jint(o, "key"),
            s_jstr(o, "msg_id"), s_jstr(o, "error"));
    return true;
}

/* One outbox line of the text form, from the view's object. */
static void
s_outbox_print(const json_t *o)
{
    char state[NRM_REASON_MAX + 64];
    const char *st = s_jstr(o, "state");

    if (strcmp(st, "accepted") == 0)
        snprintf(state, sizeof state, "accepted seq %llu", s_jint(o, "accepted_seq"));
    else if (strcmp(st, "delivered") == 0)
        snprintf(state, sizeof state, "delivered seq %llu", s_jint(o, "delivered_seq"));
    else if (strcmp(st, "refused") == 0)
        snprintf(state, sizeof state, "refused %s: %s", s_jstr(o, "reason_name"),
                 s_jstr(o, "reason"));
    else if (strcmp(st, "refused_by_recipient") == 0)
        snprintf(state, sizeof state, "refused by recipient");
    else if (strcmp(st, "purged") == 0)
        snprintf(state, sizeof state, "purged seq %llu: %s", s_jint(o, "delivered_seq"),
                 s_jstr(o, "reason"));
    else
        snprintf(state, sizeof state, "%s", st);
    printf("%s  %-20s %-14s %-20s %s  %s\n", s_jstr(o, "msg_id"), s_jstr(o, "to"),
           s_jstr(o, "type"), s_jstr(o, "case"), s_jstr(o, "created"), state);
}

/* Opens the store of dir for a listing command. */
static int
s_open_for_reading(const char *dir, nrm_store_t **store, MDB_txn **txn, nrm_err_t *err)
{
    int rc = agent_store_open(dir, 0, store, err);
    if (rc != 0)
        return rc;
    rc = nrm_store_read_begin(*store, txn, err);
    if (rc != 0)
        nrm_store_destroy(store);
    return rc;
}

/* Parses the --dir / --json / --help options shared by outbox and inbox.
   Returns -1 to go on, else the exit status. */
static int
s_list_args(const char *cmd, int argc, char **argv, void (*help)(FILE *),
            const char **dir, bool *json, const char **id)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "json", no_argument, NULL, 'j' },
        { "id", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': *dir = optarg; break;
        case 'j': *json = true; break;
        case 'i':
            if (id == NULL)
                return agent_usage_error(cmd, "unknown option '--id'");
            *id = optarg;
            break;
        case 'h': help(stdout); return AGENT_EXIT_OK;
        default:  return agent_opt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return agent_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (*dir == NULL || (*dir)[0] == '\0')
        return agent_usage_error(cmd, "--dir is required");
    return -1;
}

int
agent_cmd_outbox(int argc, char **argv)
{
    static const char *const cmd = "outbox";
    const char *dir = NULL;
    bool json = false;
    int bad = 0;
    nrm_err_t err = { 0 };
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    json_t *arr = NULL;
    uint64_t last = 0;
    int rc;

    rc = s_list_args(cmd, argc, argv, s_outbox_help, &dir, &json, NULL);
    if (rc >= 0)
        return rc;
    if (s_open_for_reading(dir, &store, &txn, &err) != 0)
        return agent_fail(cmd, &err);
    rc = agent_view_outbox(store, txn, 0, SIZE_MAX, &arr, &last, &err);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    if (rc != 0)
        return agent_fail(cmd, &err);
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        if (s_print_bad(cmd, o))
            bad++;
        else if (json)
            (void) s_print_json_line(o);
        else
            s_outbox_print(o);
    }
    json_decref(arr);
    return bad > 0 ? AGENT_EXIT_ERROR : AGENT_EXIT_OK;
}

/* ---- inbox ---- */

static void
s_inbox_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent inbox --dir ORG [--json] [--id MSGID]\n"
        "\n"
        "Lists received messages in the order they arrived, each opened with\n"
        "ORG/secret.keys: message id, sender, type, case, reply-to, priority,\n"
        "received time (UTC), the broker's accepted sequence number, and the\n"
        "document.\n"
        "\n"
        "  --dir ORG   organisation folder\n"
        "  --id MSGID  only this message (32 hex characters)\n"
        "  --json      JSON Lines: one JSON object per message with msg_id, from,\n"
        "              type, case, reply_to, priority, created_ms, received_ms,\n"
        "              received, accepted_seq, body_hash, state (new or taken:\n"
        "              the organisation's system has taken it), handoff, document\n");
}

/* One inbox entry of the text form, from the view's object. */
static int
s_inbox_print(const json_t *o, nrm_err_t *err)
{
    const json_t *reply = json_object_get(o, "reply_to");
    char *text = json_dumps(json_object_get(o, "document"), JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (text == NULL)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    printf("msg       %s\nfrom      %s\ntype      %s\ncase      %s\nreply-to  %s\n"
           "priority  %llu\nreceived  %s\nseq       %llu\nstate     %s\n%s\n\n",
           s_jstr(o, "msg_id"), s_jstr(o, "from"), s_jstr(o, "type"), s_jstr(o, "case"),
           json_is_string(reply) ? json_string_value(reply) : "-", s_jint(o, "priority"),
           s_jstr(o, "received"), s_jint(o, "accepted_seq"), s_jstr(o, "state"), text);
    free(text);
    return 0;
}

int
agent_cmd_inbox(int argc, char **argv)
{
    static const char *const cmd = "inbox";
    const char *dir = NULL, *id = NULL;
    bool json = false;
    int bad = 0;
    nrm_err_t err = { 0 };
    agent_keyring_t kr;
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    uint8_t msg_id[NRM_MSGID_BYTES];
    agent_in_t rec;
    json_t *arr = NULL;
    uint64_t last = 0;
    int rc;

    rc = s_list_args(cmd, argc, argv, s_inbox_help, &dir, &json, &id);
    if (rc >= 0)
        return rc;
    if (id != NULL && agent_parse_msgid(id, msg_id) != 0)
        return agent_usage_error(cmd, "--id '%s' is not a message id (32 hex characters)", id);
    rc = agent_keyring_load(dir, &kr, &err);
    if (rc != 0)
        return agent_fail(cmd, &err);
    rc = s_open_for_reading(dir, &store, &txn, &err);
    if (rc == 0 && id != NULL) {
        json_t *o = NULL;
        rc = agent_in_find(store, txn, msg_id, &rec, &err);
        if (rc == NRM_ENOTFOUND)
            nrm_err_set(&err, rc, "message %s is not in the inbox of %s", id, dir);
        else if (rc == 0)
            rc = agent_view_in(store, txn, &kr, &rec, &o, &err);
        arr = json_array();
        if (rc == 0 && (arr == NULL || json_array_append_new(arr, o) != 0))
            rc = nrm_err_set(&err, NRM_ENOMEM, "out of memory");
    } else if (rc == 0) {
        rc = agent_view_inbox(store, txn, &kr, NULL, 0, SIZE_MAX, &arr, &last, &err);
    }
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    agent_keyring_clear(&kr);
    for (size_t i = 0; rc == 0 && i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        if (s_print_bad(cmd, o))
            bad++;
        else if (json)
            rc = s_print_json_line(o) == 0 ? 0 : nrm_err_set(&err, NRM_ENOMEM, "out of memory");
        else
            rc = s_inbox_print(o, &err);
    }
    json_decref(arr);
    if (rc != 0)
        return agent_fail(cmd, &err);
    return bad > 0 ? AGENT_EXIT_ERROR : AGENT_EXIT_OK;
}

/* ---- wait ---- */

static void
s_wait_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent wait --dir ORG --msg MSGID --state STATE [--timeout SECONDS]\n"
        "\n"
        "Waits until a message reaches STATE in this organisation's store:\n"
        "  accepted   the broker accepted the outbox message (or it is delivered)\n"
        "  delivered  the recipient acknowledged the outbox message\n"
        "  received   the message is in this organisation's inbox\n"
        "The store is updated by `nrm-agent run`, which must be running.\n"
        "\n"
        "  --timeout SECONDS  how long to wait (default %u, at most %u; 0 checks once)\n"
        "\n"
        "Exit status: 0 reached, 2 timed out, 3 the message was refused (the\n"
        "reason is printed), 1 error (e.g. no such message in the outbox).\n",
        AGENT_WAIT_DEFAULT_S, AGENT_WAIT_MAX_S);
}

static uint64_t
s_ms(const struct timespec *ts)
{
    return (uint64_t) ts->tv_sec * 1000u + (uint64_t) ts->tv_nsec / 1000000u;
}

enum { S_WAIT_ACCEPTED, S_WAIT_DELIVERED, S_WAIT_RECEIVED };

/* One look at the store: 1 reached, 0 not yet, AGENT_EXIT_REFUSED refused
   (reason in err), or a negative NRM_E code. */
static int
s_wait_check(nrm_store_t *store, const uint8_t msg_id[NRM_MSGID_BYTES], int want,
             nrm_err_t *err)
{
    MDB_txn *txn = NULL;
    agent_out_t out;
    agent_in_t in;
    int rc;

    rc = nrm_store_read_begin(store, &txn, err);
    if (rc != 0)
        return rc;
    if (want == S_WAIT_RECEIVED) {
        rc = agent_in_find(store, txn, msg_id, &in, err);
        rc = rc == 0 ? 1 : rc == NRM_ENOTFOUND ? 0 : rc;
        goto out;
    }
    rc = agent_out_find(store, txn, msg_id, &out, err);
    if (rc == NRM_ENOTFOUND) {
        rc = nrm_err_set(err, NRM_ENOTFOUND, "no such message in the outbox");
        goto out;
    }
    if (rc != 0)
        goto out;
    switch (out.state) {
    case AGENT_OUT_REFUSED:
        nrm_err_set(err, NRM_EINVAL, "refused by the broker: %s: %s",
                    nrm_reason_name(out.reason_code), out.reason);
        rc = AGENT_EXIT_REFUSED;
        break;
    case AGENT_OUT_REFUSED_BY_RECIPIENT:
        nrm_err_set(err, NRM_EINVAL, "refused by the recipient");
        rc = AGENT_EXIT_REFUSED;
        break;
    case AGENT_OUT_PURGED:
        nrm_err_set(err, NRM_EINVAL, "purged: %s", out.reason);
        rc = AGENT_EXIT_REFUSED;
        break;
    case AGENT_OUT_DELIVERED:
        rc = 1;
        break;
    case AGENT_OUT_ACCEPTED:
        rc = want == S_WAIT_ACCEPTED ? 1 : 0;
        break;
    default:
        rc = 0;
        break;
    }
out:
    nrm_store_read_end(&txn);
    return rc;
}

int
agent_cmd_wait(int argc, char **argv)
{
    static const char *const cmd = "wait";
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "msg", required_argument, NULL, 'm' },
        { "state", required_argument, NULL, 's' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *msg = NULL, *state = NULL;
    uint64_t timeout_s = AGENT_WAIT_DEFAULT_S;
    uint8_t msg_id[NRM_MSGID_BYTES];
    nrm_err_t err = { 0 };
    nrm_store_t *store = NULL;
    struct timespec start, now;
    int want, rc;

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': dir = optarg; break;
        case 'm': msg = optarg; break;
        case 's': state = optarg; break;
        case 't':
            if (agent_parse_u64(optarg, 0, AGENT_WAIT_MAX_S, &timeout_s) != 0)
                return agent_usage_error(cmd, "--timeout '%s' is not a number of seconds "
                                         "from 0 to %u", optarg, AGENT_WAIT_MAX_S);
            break;
        case 'h': s_wait_help(stdout); return AGENT_EXIT_OK;
        default:  return agent_opt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return agent_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || msg == NULL || state == NULL || dir[0] == '\0')
        return agent_usage_error(cmd, "--dir, --msg and --state are required");
    if (agent_parse_msgid(msg, msg_id) != 0)
        return agent_usage_error(cmd, "--msg '%s' is not a message id (32 hex characters)",
                                 msg);
    if (strcmp(state, "accepted") == 0)
        want = S_WAIT_ACCEPTED;
    else if (strcmp(state, "delivered") == 0)
        want = S_WAIT_DELIVERED;
    else if (strcmp(state, "received") == 0)
        want = S_WAIT_RECEIVED;
    else
        return agent_usage_error(cmd, "--state '%s' is not accepted, delivered or received",
                                 state);

    if (agent_store_open(dir, 0, &store, &err) != 0)
        return agent_fail(cmd, &err);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        rc = s_wait_check(store, msg_id, want, &err);
        if (rc != 0)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (s_ms(&now) - s_ms(&start) >= timeout_s * 1000u)
            break;
        nanosleep(&(struct timespec){ 0, AGENT_WAIT_POLL_MS * 1000000L }, NULL);
    }
    nrm_store_destroy(&store);
    if (rc == 1)
        return AGENT_EXIT_OK;
    if (rc == AGENT_EXIT_REFUSED) {
        fprintf(stderr, "nrm-agent wait: message %s was %s\n", msg, err.msg);
        return AGENT_EXIT_REFUSED;
    }
    if (rc < 0) {
        nrm_err_prefix(&err, "message %s", msg);
        return agent_fail(cmd, &err);
    }
    fprintf(stderr, "nrm-agent wait: message %s did not become %s within %llu s\n",
            msg, state, (unsigned long long) timeout_s);
    return AGENT_EXIT_TIMEOUT;
}

/* ---- checkpoint ---- */

static void
s_checkpoint_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent checkpoint --dir ORG [--json]\n"
        "\n"
        "Shows the broker's signed checkpoint that this agent trusts (tree size,\n"
        "root, when it was received) and every checkpoint it refused because it did\n"
        "not extend the trusted one: a forked, rolled-back or rewritten log.\n"
        "Exit status 4 when such an alarm was recorded.\n"
        "\n"
        "  --dir ORG  organisation folder\n"
        "  --json     one JSON object: trusted {tree_size, root, received_ms, note}\n"
        "             and alarms [{time_ms, reason, note}]\n");
}

typedef struct {
    bool json;
    json_t *alarms;
} s_ckpt_ctx_t;

static int
s_ckpt_alarm(void *vctx, uint64_t time_ms, const char *reason, nrm_bytes_t note)
{
    s_ckpt_ctx_t *c = vctx;
    char when[32];
    if (c->json) {
        json_t *o = json_pack("{s:I, s:s, s:s%}", "time_ms", (json_int_t) time_ms, "reason", reason,
                              "note", (const char *) note.data, note.len);
        return o && json_array_append_new(c->alarms, o) == 0 ? 0 : NRM_ENOMEM;
    }
    nrm_time_format(time_ms, when, sizeof when);
    printf("INCONSISTENT checkpoint received %s: %s\n", when, reason);
    return 0;
}

int
agent_cmd_checkpoint(int argc, char **argv)
{
    static const char *const cmd = "checkpoint";
    const char *dir = NULL;
    s_ckpt_ctx_t ctx = { false, NULL };
    nrm_err_t err = { 0 };
    nrm_store_t *store = NULL;
    MDB_txn *txn = NULL;
    nrm_bytes_t note;
    nrm_checkpoint_t c;
    uint64_t received = 0, alarms = 0;
    int rc = s_list_args(cmd, argc, argv, s_checkpoint_help, &dir, &ctx.json, NULL);
    if (rc >= 0)
        return rc;
    if (s_open_for_reading(dir, &store, &txn, &err) != 0)
        return agent_fail(cmd, &err);
    ctx.alarms = json_array();
    json_t *out = json_object();
    rc = agent_ckpt_trusted(store, txn, &note, &received, &err);
    if (rc == 0 && (rc = nrm_checkpoint_parse(note.data, note.len, &c, &err)) == 0) {
        char root[2 * NRM_HASH_BYTES + 1], when[32];
        nrm_hex_encode(c.root, NRM_HASH_BYTES, root);
        nrm_time_format(received, when, sizeof when);
        if (ctx.json)
            json_object_set_new(out, "trusted", json_pack("{s:s, s:I, s:s, s:I, s:s%}", "origin",
                                c.origin, "tree_size", (json_int_t) c.size, "root", root,
                                "received_ms", (json_int_t) received, "note",
                                (const char *) note.data, note.len));
        else
            printf("trusted checkpoint: %s, %llu records, root %s, received %s\n", c.origin,
                   (unsigned long long) c.size, root, when);
    } else if (rc == NRM_ENOTFOUND) {
        rc = 0;
        if (!ctx.json)
            printf("no checkpoint received yet\n");
    }
    if (rc == 0)
        rc = agent_ckpt_alarms(store, txn, s_ckpt_alarm, &ctx, &alarms, &err);
    nrm_store_read_end(&txn);
    nrm_store_destroy(&store);
    if (rc == 0 && ctx.json) {
        json_object_set(out, "alarms", ctx.alarms);
        if (json_dumpf(out, stdout, JSON_COMPACT) != 0)
            rc = nrm_err_set(&err, NRM_EIO, "cannot write");
        printf("\n");
    }
    json_decref(ctx.alarms);
    json_decref(out);
    if (rc != 0)
        return agent_fail(cmd, &err);
    return alarms ? AGENT_EXIT_ALARM : AGENT_EXIT_OK;
}
