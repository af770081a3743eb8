/*  nrm_policy -- the routing policy (docs/policy.md).

    Parsing: inih splits `key = value` lines; our reader feeds it one line
    at a time from the buffer, so it knows the line number of every handler
    call, and checks each line before inih sees it (caps, NUL, UTF-8,
    control characters, syntax, section names). The first problem stops the
    parse and is reported as "NAME:LINE: reason".

    Type numbers: the names come from the codec's lists (nrm_org_type_valid,
    nrm_msg_type_valid), which stay the only lists of names. Each policy
    numbers the types it mentions in order of first appearance; organisation
    number 0 is the wildcard `any`. allow[sender][msg] is a bit set of
    recipients (bit 0 = any recipient) holding the written rules and every
    rule derived from [replies] and [follow-ups], so a lookup is two short
    name searches and one AND. */
#include "nrm_policy.h"
#include "nrm_body.h"
#include "nrm_codec.h"
#include "nrm_crypto.h"
#include "nrm_util.h"
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_ANY       0          /* organisation number of `any` */
#define S_KEY_MAX   48         /* longest key name we read (inih keeps 49) */
#define S_SEC_MAX   48         /* longest section name (inih keeps 49)     */

typedef char s_name_t[NRM_TYPE_MAX + 1];

struct nrm_policy {
    uint8_t *text;                  /* exact bytes, NUL after them */
    size_t   len;
    uint8_t  hash[NRM_HASH_BYTES];
    uint64_t version;
    char     description[NRM_POLICY_DESC_MAX + 1];
    size_t   n_org, n_msg;
    s_name_t org[NRM_POLICY_MAX_TYPES];     /* org[0] = "any" */
    s_name_t msg[NRM_POLICY_MAX_TYPES];
    uint32_t written[NRM_POLICY_MAX_TYPES][NRM_POLICY_MAX_TYPES];
    uint32_t allow[NRM_POLICY_MAX_TYPES][NRM_POLICY_MAX_TYPES];
    /* lifecycle sections (docs/policy.md): [deadlines], [escalation],
       [minimise.<recipient type>] */
    nrm_deadlines_t deadlines;
    char supervisor[NRM_POLICY_MAX_TYPES][NRM_ID_MAX + 1];  /* by sender org number; [0] = any */
    size_t n_min;
    struct {
        size_t recipient;                   /* org number */
        char purpose[NRM_TYPE_MAX + 1];
        size_t first, count;                /* in paths */
    } min[NRM_POLICY_MAX_MIN_RULES];
    size_t n_paths;
    char paths[NRM_POLICY_MAX_PATHS][NRM_STRIPPED_NAME_MAX + 1];
    const char *path_ptr[NRM_POLICY_MAX_PATHS];
};

typedef enum { S_SEC_NONE, S_SEC_POLICY, S_SEC_ROUTE, S_SEC_REPLIES, S_SEC_FOLLOW,
               S_SEC_DEADLINES, S_SEC_ESCALATION, S_SEC_MINIMISE } s_sec_t;

typedef struct {
    nrm_policy_t *p;
    const char *text;
    size_t len, pos;
    int lineno;
    bool cont;                  /* this line continues the previous key    */
    bool after_key;             /* an indented line now continues a key    */
    s_sec_t sec;
    size_t sender;              /* [route.<sender>]                         */
    int last_msg;               /* key of the line being continued, or -1  */
    int last_line;              /* its line                                 */
    int key_line[NRM_POLICY_MAX_TYPES];     /* per key of this section      */
    int policy_line, replies_line, follow_line, version_line, desc_line;
    int deadlines_line, escalation_line;
    int min_line[NRM_POLICY_MAX_TYPES];     /* per recipient type            */
    size_t min_recipient;                   /* [minimise.<recipient>]        */
    int min_rule;                           /* rule being continued, or -1   */
    int dl_line[4], esc_line[NRM_POLICY_MAX_TYPES];
    int route_line[NRM_POLICY_MAX_TYPES];   /* per sender                   */
    uint32_t replies[NRM_POLICY_MAX_TYPES]; /* [msg] -> answer types        */
    uint32_t follow[NRM_POLICY_MAX_TYPES];  /* [msg] -> follow-up types     */
    size_t rules;
    int problem_line;
    char problem[320];
} s_parse_t;

static bool s_problem(s_parse_t *c, const char *fmt, ...) NRM_PRINTF(2, 3);

/* Records the first problem, on the current line; returns false so that
   handlers can `return s_problem(...)`. */
static bool
s_problem(s_parse_t *c, const char *fmt, ...)
{
    if (c->problem[0])
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->problem, sizeof c->problem, fmt, ap);
    va_end(ap);
    c->problem_line = c->lineno;
    return false;
}

/* Index of name in names[from..n), or -1. At most NRM_POLICY_MAX_TYPES
   short strcmp: cheaper than hashing for lists this small. */
static int
s_find(const s_name_t *names, size_t from, size_t n, const char *name)
{
    for (size_t i = from; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int) i;
    return -1;
}

/* Number of a name in names[from..*n), adding it if new; -1 after recording
   a problem when the table is full. The codec's lists hold fewer names than
   NRM_POLICY_MAX_TYPES, so that cannot happen today; the check keeps the
   bit sets safe if they grow. */
static int
s_intern(s_parse_t *c, s_name_t *names, size_t *n, size_t from, const char *name,
         const char *what)
{
    int i = s_find(names, from, *n, name);
    if (i >= 0)
        return i;
    if (*n == NRM_POLICY_MAX_TYPES) {
        s_problem(c, "more than %zu %s types", NRM_POLICY_MAX_TYPES - from, what);
        return -1;
    }
    size_t len = strlen(name);
    if (len >= sizeof names[0]) {
        s_problem(c, "%s type '%.*s...': longer than %zu characters", what, 16, name,
                  sizeof names[0] - 1);
        return -1;
    }
    memcpy(names[*n], name, len + 1);
    return (int) (*n)++;
}

/* Number of an organisation type (validated; `any` is 0), adding it if new;
   -1 after recording a problem. */
static int
s_org(s_parse_t *c, const char *name)
{
    nrm_policy_t *p = c->p;
    if (strcmp(name, "any") == 0)
        return S_ANY;
    if (!nrm_org_type_valid(name)) {
        s_problem(c, "unknown organisation type '%.40s' (see docs/protocol.md section 8)", name);
        return -1;
    }
    return s_intern(c, p->org, &p->n_org, 1, name, "organisation");
}

/* Number of a message type (validated), adding it if new; -1 after
   recording a problem. */
static int
s_msg(s_parse_t *c, const char *name)
{
    nrm_policy_t *p = c->p;
    if (!nrm_msg_type_valid(name)) {
        s_problem(c, "unknown message type '%.40s' (see docs/protocol.md section 8)", name);
        return -1;
    }
    return s_intern(c, p->msg, &p->n_msg, 0, name, "message");
}

/* ---- the reader: one line per call, checked before inih sees it ---- */

/* Bytes of one line (without its newline): no NUL, no control character
   but tab, valid UTF-8. */
static bool
s_line_bytes(s_parse_t *c, const char *s, size_t n)
{
    char copy[NRM_POLICY_LINE_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char) s[i];
        if (ch == 0)
            return s_problem(c, "NUL byte at column %zu", i + 1);
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return s_problem(c, "control character 0x%02x at column %zu", ch, i + 1);
        copy[i] = ch == '\t' ? ' ' : (char) ch;
    }
    copy[n] = '\0';
    if (!nrm_text_valid(copy, NRM_POLICY_LINE_MAX))
        return s_problem(c, "not valid UTF-8");
    return true;
}

static bool
s_name_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
}

/* A [section] header: known, not reserved, not seen before. */
static bool
s_section(s_parse_t *c, const char *name)
{
    int *seen = NULL;
    c->after_key = false;
    c->last_msg = -1;
    for (size_t i = 0; i < NRM_POLICY_MAX_TYPES; i++)
        c->key_line[i] = 0;
    if (strcmp(name, "policy") == 0) {
        c->sec = S_SEC_POLICY;
        seen = &c->policy_line;
    } else if (strcmp(name, "replies") == 0) {
        c->sec = S_SEC_REPLIES;
        seen = &c->replies_line;
    } else if (strcmp(name, "follow-ups") == 0) {
        c->sec = S_SEC_FOLLOW;
        seen = &c->follow_line;
    } else if (strncmp(name, "route.", 6) == 0) {
        if (name[6] == '\0')
            return s_problem(c, "section [route.] names no organisation type");
        int o = s_org(c, name + 6);
        if (o < 0)
            return false;
        c->sec = S_SEC_ROUTE;
        c->sender = (size_t) o;
        seen = &c->route_line[o];
    } else if (strcmp(name, "deadlines") == 0) {
        c->sec = S_SEC_DEADLINES;
        seen = &c->deadlines_line;
    } else if (strcmp(name, "escalation") == 0) {
        c->sec = S_SEC_ESCALATION;
        seen = &c->escalation_line;
    } else if (strncmp(name, "minimise.", 9) == 0) {
        if (name[9] == '\0')
            return s_problem(c, "section [minimise.] names no organisation type");
        if (strcmp(name + 9, "any") == 0)
            return s_problem(c, "section [minimise.any]: name a recipient type; minimisation "
                             "is per recipient type");
        int o = s_org(c, name + 9);
        if (o < 0)
            return false;
        c->sec = S_SEC_MINIMISE;
        c->min_recipient = (size_t) o;
        c->min_rule = -1;
        seen = &c->min_line[o];
    } else {
        return s_problem(c, "unknown section [%s] (expected [policy], [route.<type>], "
                         "[replies], [follow-ups], [deadlines], [escalation] or "
                         "[minimise.<type>])", name);
    }
    if (*seen)
        return s_problem(c, "section [%s] already began on line %d", name, *seen);
    *seen = c->lineno;
    return true;
}

/* Syntax of one line (NUL-terminated, without newline). Sets c->cont for
   a line that continues the previous key's list. */
static bool
s_line_syntax(s_parse_t *c, const char *line)
{
    const char *p = line;
    if (c->lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
        p += 3;                         /* a UTF-8 BOM, as inih skips it */
    const char *start = p;
    while (*p == ' ' || *p == '\t')
        p++;
    c->cont = false;
    if (*p == '\0' || *p == ';' || *p == '#')
        return true;
    if (p > start && c->after_key) {
        c->cont = true;
        return true;
    }
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (!end)
            return s_problem(c, "syntax error: '[' without ']'");
        size_t n = (size_t) (end - p - 1);
        const char *q = end + 1;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q != '\0' && *q != ';' && *q != '#')
            return s_problem(c, "syntax error: text after the section header");
        if (n == 0)
            return s_problem(c, "syntax error: empty section name");
        if (n > S_SEC_MAX)
            return s_problem(c, "section name longer than %d characters", S_SEC_MAX);
        char name[S_SEC_MAX + 1];
        memcpy(name, p + 1, n);
        name[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (!s_name_char(name[i]))
                return s_problem(c, "section name '%s' may hold only a-z 0-9 . -", name);
        return s_section(c, name);
    }
    const char *eq = strchr(p, '=');
    if (!eq)
        return s_problem(c, "syntax error (expected [section], key = value or a comment)");
    const char *e = eq;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (e == p)
        return s_problem(c, "syntax error: no key before '='");
    if (e - p > S_KEY_MAX)
        return s_problem(c, "key longer than %d characters", S_KEY_MAX);
    for (const char *k = p; k < e; k++)
        if (!s_name_char(*k) || *k == '.')
            return s_problem(c, "key '%.*s' may hold only a-z 0-9 -", (int) (e - p), p);
    if (c->sec == S_SEC_NONE)
        return s_problem(c, "'%.*s' before any [section]", (int) (e - p), p);
    c->after_key = true;
    return true;
}

/* ini_reader: the next line of the buffer, like fgets. */
static char *
s_reader(char *buf, int num, void *stream)
{
    s_parse_t *c = stream;
    if (c->problem[0] || c->pos >= c->len)
        return NULL;
    c->lineno++;
    const char *s = c->text + c->pos;
    size_t left = c->len - c->pos;
    const char *nl = memchr(s, '\n', left);
    size_t n = nl ? (size_t) (nl - s) : left;
    c->pos += n + (nl ? 1 : 0);
    size_t content = n;
    if (content > 0 && s[content - 1] == '\r')
        content--;
    /* inih needs room for "\r\n" and the NUL too. */
    if (content > NRM_POLICY_LINE_MAX || num < 0 || n + 2 > (size_t) num) {
        s_problem(c, "line longer than %d characters", NRM_POLICY_LINE_MAX);
        return NULL;
    }
    if (!s_line_bytes(c, s, content))
        return NULL;
    memcpy(buf, s, content);
    buf[content] = '\0';
    if (!s_line_syntax(c, buf))
        return NULL;
    buf[content] = '\n';
    buf[content + 1] = '\0';
    return buf;
}

/* ---- the handler: meaning of each key ---- */

/* Splits a list of names separated by spaces or tabs; calls add for each.
   False after recording a problem. */
static bool
s_list_max(s_parse_t *c, const char *value, const char *key, size_t max,
           bool (*add)(s_parse_t *, const char *, const char *))
{
    const char *p = value;
    bool any = false;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        /* inih strips a ';' comment after a key's value, but not (in the
           version Debian ships) after a continuation line's */
        if (*p == '\0' || *p == ';')
            break;
        size_t n = strcspn(p, " \t");
        if (n > max)
            return s_problem(c, "'%.40s...' in the list of '%s' is longer than %zu characters",
                             p, key, max);
        char name[NRM_STRIPPED_NAME_MAX + 1];
        memcpy(name, p, n);
        name[n] = '\0';
        if (strchr(name, ','))
            return s_problem(c, "'%s': separate the names with spaces, not commas", name);
        if (!add(c, key, name))
            return false;
        any = true;
        p += n;
    }
    if (!any)
        return s_problem(c, "empty list: '%s' needs at least one name", key);
    return true;
}

static bool
s_list(s_parse_t *c, const char *value, const char *key, bool (*add)(s_parse_t *, const char *, const char *))
{
    return s_list_max(c, value, key, NRM_TYPE_MAX, add);
}

/* ---- [deadlines], [escalation], [minimise.<type>] ---- */

/* "90s", "30m", "3h", "1d": from 1 second to 30 days. */
static bool
s_duration(s_parse_t *c, const char *key, const char *value, uint64_t *ms)
{
    size_t n = strlen(value);
    uint64_t v = 0, unit;
    if (n < 2 || n > 8 || strspn(value, "0123456789") != n - 1)
        return s_problem(c, "'%s' must be a duration such as 90s, 30m, 3h or 1d (got '%.40s')",
                         key, value);
    for (size_t i = 0; i + 1 < n; i++)
        v = v * 10 + (uint64_t) (value[i] - '0');
    switch (value[n - 1]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60000; break;
    case 'h': unit = 3600000; break;
    case 'd': unit = 86400000; break;
    default:
        return s_problem(c, "'%s': unit '%c' is not s, m, h or d", key, value[n - 1]);
    }
    if (v == 0 || v * unit > NRM_POLICY_DEADLINE_MAX_MS)
        return s_problem(c, "'%s' must be from 1 second to 30 days (got '%s')", key, value);
    *ms = v * unit;
    return true;
}

static bool
s_deadlines_key(s_parse_t *c, const char *name, const char *value)
{
    if (c->cont)
        return s_problem(c, "indented line continues '%s'; [deadlines] values fit on one line", name);
    if (strncmp(name, "priority-", 9) != 0 || name[9] < '0' || name[9] > '3' || name[10] != '\0')
        return s_problem(c, "unknown key '%s' in [deadlines] (expected priority-0 .. priority-3)",
                         name);
    int i = name[9] - '0';
    if (c->dl_line[i])
        return s_problem(c, "'%s' already given on line %d", name, c->dl_line[i]);
    c->dl_line[i] = c->lineno;
    return s_duration(c, name, value, &c->p->deadlines.ms[i]);
}

static bool
s_escalation_key(s_parse_t *c, const char *name, const char *value)
{
    if (c->cont)
        return s_problem(c, "indented line continues '%s'; [escalation] values fit on one line", name);
    int o;
    if (strcmp(name, "supervisor") == 0) {
        o = S_ANY;
    } else {
        o = s_org(c, name);
        if (o < 0)
            return false;
        if (o == S_ANY)
            return s_problem(c, "'any' in [escalation]: write 'supervisor = ID' for everyone");
    }
    if (c->esc_line[o])
        return s_problem(c, "'%s' already given on line %d", name, c->esc_line[o]);
    c->esc_line[o] = c->lineno;
    if (!nrm_id_valid(value))
        return s_problem(c, "'%s' must name one organisation id (1-%d of a-z 0-9 . _ -), got "
                         "'%.40s'", name, NRM_ID_MAX, value);
    snprintf(c->p->supervisor[o], sizeof c->p->supervisor[0], "%s", value);
    return true;
}

static bool
s_add_path(s_parse_t *c, const char *key, const char *path)
{
    nrm_policy_t *p = c->p;
    if (!nrm_body_path_valid(path))
        return s_problem(c, "'%s' in '%s' is not a field of any body (docs/referrals.md lists "
                         "them, e.g. person.prs_FirstName)", path, key);
    size_t first = p->min[c->min_rule].first;
    for (size_t i = first; i < p->n_paths; i++)
        if (strcmp(p->paths[i], path) == 0)
            return s_problem(c, "'%s' listed twice for '%s'", path, key);
    if (p->n_paths == NRM_POLICY_MAX_PATHS)
        return s_problem(c, "more than %d field names in [minimise.*] sections", NRM_POLICY_MAX_PATHS);
    snprintf(p->paths[p->n_paths++], sizeof p->paths[0], "%s", path);
    p->min[c->min_rule].count++;
    return true;
}

static bool
s_minimise_key(s_parse_t *c, const char *name, const char *value)
{
    nrm_policy_t *p = c->p;
    if (c->cont) {
        if (c->min_rule < 0)
            return s_problem(c, "indented line continues nothing");
        if (strchr(value, '=') || value[0] == '[')
            return s_problem(c, "indented line is read as more of the list of '%s'; start keys "
                             "and sections at the beginning of their line", name);
        return s_list_max(c, value, name, NRM_STRIPPED_NAME_MAX, s_add_path);
    }
    if (strcmp(name, "any") != 0 && !nrm_id_valid(name))
        return s_problem(c, "'%s' is not a purpose name", name);
    for (size_t i = 0; i < p->n_min; i++)
        if (p->min[i].recipient == c->min_recipient && strcmp(p->min[i].purpose, name) == 0)
            return s_problem(c, "purpose '%s' already given in this section", name);
    if (p->n_min == NRM_POLICY_MAX_MIN_RULES)
        return s_problem(c, "more than %d purposes in [minimise.*] sections", NRM_POLICY_MAX_MIN_RULES);
    c->min_rule = (int) p->n_min;
    p->min[p->n_min].recipient = c->min_recipient;
    snprintf(p->min[p->n_min].purpose, sizeof p->min[0].purpose, "%s", name);
    p->min[p->n_min].first = p->n_paths;
    p->min[p->n_min].count = 0;
    p->n_min++;
    return s_list_max(c, value, name, NRM_STRIPPED_NAME_MAX, s_add_path);
}

static bool
s_count_rule(s_parse_t *c)
{
    if (++c->rules > NRM_POLICY_MAX_RULES)
        return s_problem(c, "more than %d rules", NRM_POLICY_MAX_RULES);
    return true;
}

/* [route.<sender>] <msg> = <recipient> ... */
static bool
s_add_recipient(s_parse_t *c, const char *key, const char *name)
{
    int r = s_org(c, name);
    if (r < 0)
        return false;
    uint32_t *to = &c->p->written[c->sender][c->last_msg];
    if (*to & (1u << r))
        return s_problem(c, "'%s' listed twice for '%s' in [route.%s]", name, key,
                         c->p->org[c->sender]);
    *to |= 1u << r;
    return s_count_rule(c);
}

/* [replies] and [follow-ups]: <msg> = <msg> ... */
static bool
s_add_derived(s_parse_t *c, const char *key, const char *name)
{
    int m = s_msg(c, name);
    if (m < 0)
        return false;
    uint32_t *set = c->sec == S_SEC_REPLIES ? &c->replies[c->last_msg] : &c->follow[c->last_msg];
    if (*set & (1u << m))
        return s_problem(c, "'%s' listed twice for '%s' in [%s]", name, key,
                         c->sec == S_SEC_REPLIES ? "replies" : "follow-ups");
    *set |= 1u << m;
    return s_count_rule(c);
}

static bool
s_policy_key(s_parse_t *c, const char *name, const char *value)
{
    nrm_policy_t *p = c->p;
    if (c->cont)
        return s_problem(c, "indented line continues '%s'; [policy] values fit on one line",
                         name);
    if (strcmp(name, "version") == 0) {
        if (c->version_line)
            return s_problem(c, "'version' already given on line %d", c->version_line);
        c->version_line = c->lineno;
        uint64_t v = 0;
        size_t n = strlen(value);
        if (n == 0 || n > 10 || strspn(value, "0123456789") != n)
            return s_problem(c, "'version' must be a whole number from 1 to %u (got '%.40s')",
                             NRM_POLICY_VERSION_MAX, value);
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (uint64_t) (value[i] - '0');
        if (v < 1 || v > NRM_POLICY_VERSION_MAX)
            return s_problem(c, "'version' must be a whole number from 1 to %u (got '%.40s')",
                             NRM_POLICY_VERSION_MAX, value);
        p->version = v;
        return true;
    }
    if (strcmp(name, "description") == 0) {
        if (c->desc_line)
            return s_problem(c, "'description' already given on line %d", c->desc_line);
        c->desc_line = c->lineno;
        if (strlen(value) > NRM_POLICY_DESC_MAX)
            return s_problem(c, "'description' longer than %d bytes", NRM_POLICY_DESC_MAX);
        snprintf(p->description, sizeof p->description, "%s", value);
        return true;
    }
    return s_problem(c, "unknown key '%s' in [policy] (expected version or description)", name);
}

/* ini_handler: one `key = value` line, or one continuation line. */
static int
s_handler(void *user, const char *section, const char *name, const char *value)
{
    s_parse_t *c = user;
    (void) section;             /* the reader tracked it, with its line */
    if (c->problem[0])
        return 0;
    if (c->sec == S_SEC_POLICY)
        return s_policy_key(c, name, value);
    if (c->sec == S_SEC_DEADLINES)
        return s_deadlines_key(c, name, value);
    if (c->sec == S_SEC_ESCALATION)
        return s_escalation_key(c, name, value);
    if (c->sec == S_SEC_MINIMISE)
        return s_minimise_key(c, name, value);
    if (c->cont) {
        if (c->last_msg < 0)
            return s_problem(c, "indented line continues nothing");
        if (strchr(value, '=') || value[0] == '[')
            return s_problem(c, "indented line is read as more of the list of '%s' (line %d); "
                             "start keys and sections at the beginning of their line",
                             name, c->last_line);
    } else {
        int m = s_msg(c, name);
        if (m < 0)
            return 0;
        if (c->key_line[m])
            return s_problem(c, "duplicate rule: '%s' already given on line %d of this section",
                             name, c->key_line[m]);
        c->key_line[m] = c->lineno;
        c->last_msg = m;
        c->last_line = c->lineno;
    }
    if (c->sec == S_SEC_ROUTE)
        return s_list(c, value, name, s_add_recipient);
    return s_list(c, value, name, s_add_derived);
}

/* ---- derived rules ---- */

/* Adds what [follow-ups] and [replies] imply until nothing changes. Monotone
   over a finite bit matrix, so it ends; with the few types there are it
   takes a handful of rounds. */
static void
s_derive(nrm_policy_t *p, const uint32_t *replies, const uint32_t *follow)
{
    memcpy(p->allow, p->written, sizeof p->allow);
    bool changed;
    do {
        changed = false;
        for (size_t x = 0; x < p->n_org; x++) {
            for (size_t q = 0; q < p->n_msg; q++) {
                uint32_t to = p->allow[x][q];
                if (!to)
                    continue;
                /* x may also send a follow-up of q to the same types */
                for (size_t f = 0; f < p->n_msg; f++) {
                    if ((follow[q] >> f & 1u) && (p->allow[x][f] | to) != p->allow[x][f]) {
                        p->allow[x][f] |= to;
                        changed = true;
                    }
                }
                /* each receiver y of q may answer it back to x */
                for (size_t y = 0; y < p->n_org; y++) {
                    if (!(to >> y & 1u))
                        continue;
                    for (size_t m = 0; m < p->n_msg; m++) {
                        if ((replies[q] >> m & 1u) && !(p->allow[y][m] >> x & 1u)) {
                            p->allow[y][m] |= 1u << x;
                            changed = true;
                        }
                    }
                }
            }
        }
    } while (changed);
}

/* ---- public ---- */

int
nrm_policy_parse(const char *text, size_t len, const char *name, nrm_policy_t **out,
                 nrm_err_t *err)
{
    int rc = 0;
    s_parse_t *c = NULL;
    nrm_policy_t *p = NULL;
    if (!name)
        name = "policy";
    if (out)
        *out = NULL;
    if (!out || (!text && len > 0))
        return nrm_err_set(err, NRM_EINVAL, "%s: internal: no text or no place for the policy",
                           name);
    if (len > NRM_POLICY_MAX_BYTES) {
        int line = 1;
        for (size_t i = 0; i < NRM_POLICY_MAX_BYTES; i++)
            line += text[i] == '\n';
        return nrm_err_set(err, NRM_EINVAL, "%s:%d: policy longer than %u bytes", name, line,
                           NRM_POLICY_MAX_BYTES);
    }
    p = calloc(1, sizeof *p);
    c = calloc(1, sizeof *c);
    if (p)
        p->text = malloc(len + 1);
    if (!p || !c || !p->text) {
        rc = nrm_err_set(err, NRM_ENOMEM, "%s: out of memory", name);
        goto out;
    }
    snprintf(p->org[S_ANY], sizeof p->org[0], "any");
    p->n_org = 1;
    nrm_deadlines_default(&p->deadlines);
    c->p = p;
    c->text = text;
    c->len = len;
    c->last_msg = -1;
    int line = ini_parse_stream(s_reader, c, s_handler, c);
    if (c->problem[0]) {
        rc = nrm_err_set(err, NRM_EINVAL, "%s:%d: %s", name, c->problem_line, c->problem);
        goto out;
    }
    if (line != 0) {
        rc = nrm_err_set(err, NRM_EINVAL, "%s:%d: not accepted by the INI reader", name, line);
        goto out;
    }
    if (!c->version_line) {
        if (c->policy_line)
            rc = nrm_err_set(err, NRM_EINVAL, "%s:%d: [policy] has no 'version = N'", name,
                             c->policy_line);
        else
            rc = nrm_err_set(err, NRM_EINVAL, "%s:1: no [policy] section with 'version = N'",
                             name);
        goto out;
    }
    s_derive(p, c->replies, c->follow);
    for (size_t i = 0; i < p->n_paths; i++)
        p->path_ptr[i] = p->paths[i];
    if (len)
        memcpy(p->text, text, len);
    p->text[len] = '\0';
    p->len = len;
    nrm_sha256(p->text, len, p->hash);
    *out = p;
    p = NULL;
out:
    if (p)
        free(p->text);
    free(p);
    free(c);
    return rc;
}

int
nrm_policy_load_file(const char *path, nrm_policy_t **out, nrm_err_t *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (out)
        *out = NULL;
    int rc = nrm_file_read(path, NRM_POLICY_MAX_BYTES, &data, &len, err);
    if (rc == NRM_ETOOBIG)
        return nrm_err_set(err, NRM_EINVAL, "%s: policy longer than %u bytes", path,
                           NRM_POLICY_MAX_BYTES);
    if (rc)
        return rc;
    rc = nrm_policy_parse((const char *) data, len, path, out, err);
    free(data);
    return rc;
}

void
nrm_policy_free(nrm_policy_t **p)
{
    if (!p || !*p)
        return;
    free((*p)->text);
    free(*p);
    *p = NULL;
}

int
nrm_policy_allows(const nrm_policy_t *p, const char *sender_type, const char *msg_type,
                  const char *recipient_type, nrm_err_t *err)
{
    if (!p || !sender_type || !msg_type || !recipient_type)
        return nrm_err_refuse(err, NRM_R_POLICY, "no routing policy is loaded");
    int m = s_find(p->msg, 0, p->n_msg, msg_type);
    if (m < 0)
        return nrm_err_refuse(err, NRM_R_POLICY,
                              "policy version %llu has no rule for message type '%.32s'",
                              (unsigned long long) p->version, msg_type);
    uint32_t to = p->allow[S_ANY][m];
    int s = s_find(p->org, 1, p->n_org, sender_type);
    if (s > 0)
        to |= p->allow[s][m];
    uint32_t want = 1u << S_ANY;
    int r = s_find(p->org, 1, p->n_org, recipient_type);
    if (r > 0)
        want |= 1u << r;
    if (to & want)
        return 0;
    return nrm_err_refuse(err, NRM_R_POLICY,
                          "policy version %llu has no rule letting %.32s send '%.32s' to %.32s "
                          "(none in [route.%.32s] or [route.any], none derived)",
                          (unsigned long long) p->version, sender_type, msg_type,
                          recipient_type, sender_type);
}

const uint8_t *
nrm_policy_text(const nrm_policy_t *p, size_t *len)
{
    if (len)
        *len = p ? p->len : 0;
    return p ? p->text : NULL;
}

void
nrm_policy_hash(const nrm_policy_t *p, uint8_t out[32])
{
    if (p)
        memcpy(out, p->hash, NRM_HASH_BYTES);
    else
        memset(out, 0, NRM_HASH_BYTES);
}

uint64_t
nrm_policy_version(const nrm_policy_t *p)
{
    return p ? p->version : 0;
}

const char *
nrm_policy_description(const nrm_policy_t *p)
{
    return p ? p->description : "";
}

int
nrm_policy_each(const nrm_policy_t *p, nrm_policy_rule_fn fn, void *user)
{
    if (!p || !fn)
        return 0;
    for (size_t s = 0; s < p->n_org; s++)
        for (size_t m = 0; m < p->n_msg; m++)
            for (size_t r = 0; r < p->n_org; r++) {
                if (!(p->allow[s][m] >> r & 1u))
                    continue;
                int rc = fn(user, p->org[s], p->msg[m], p->org[r], !(p->written[s][m] >> r & 1u));
                if (rc)
                    return rc;
            }
    return 0;
}

void
nrm_policy_deadlines(const nrm_policy_t *p, nrm_deadlines_t *out)
{
    if (p)
        *out = p->deadlines;
    else
        nrm_deadlines_default(out);
}

const char *
nrm_policy_supervisor(const nrm_policy_t *p, const char *sender_type)
{
    if (!p)
        return "";
    int s = sender_type ? s_find(p->org, 1, p->n_org, sender_type) : -1;
    if (s > 0 && p->supervisor[s][0])
        return p->supervisor[s];
    return p->supervisor[S_ANY];
}

int
nrm_policy_minimise(const nrm_policy_t *p, const char *recipient_type, const char *purpose,
                    const char *const **paths, size_t *n, nrm_err_t *err)
{
    *paths = NULL;
    *n = 0;
    if (!p || !recipient_type)
        return 0;
    int r = s_find(p->org, 1, p->n_org, recipient_type);
    const char *want = purpose && *purpose ? purpose : "any";
    int any = -1, exact = -1;
    bool section = false;
    for (size_t i = 0; r > 0 && i < p->n_min; i++) {
        if (p->min[i].recipient != (size_t) r)
            continue;
        section = true;
        if (strcmp(p->min[i].purpose, want) == 0)
            exact = (int) i;
        if (strcmp(p->min[i].purpose, "any") == 0)
            any = (int) i;
    }
    if (!section)
        return 0;
    int i = exact >= 0 ? exact : any;
    if (i < 0)
        return nrm_err_set(err, NRM_EINVAL, "policy version %llu: [minimise.%s] has no rule for "
                           "purpose '%s' and no 'any' rule, so nothing may be sent to a %s for it",
                           (unsigned long long) p->version, recipient_type, want, recipient_type);
    *paths = &p->path_ptr[p->min[i].first];
    *n = p->min[i].count;
    return 1;
}
