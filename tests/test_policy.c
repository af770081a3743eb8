/*  Unit tests of nrm_policy: the shipped demo policy allows every handoff
    of the routing table and of the demo and refuses the rest with the
    reason `policy`; derived rules; every malformed document is refused with
    its exact line and reason and nothing is built; the text and its hash
    are kept exactly. */
#include "nrm_policy.h"
#include "nrm_crypto.h"
#include "testutil.h"

#ifndef NRM_POLICY_INI
#error "NRM_POLICY_INI (path of config/policy.ini) must be defined"
#endif

static const char *s_orgs[] = { "police", "msdhs", "labour", "prosecutor", "ngo",
                                "immigration", "interpreter", "foreign", "mdt" };
static const char *s_msgs[] = { "tip", "referral", "response", "outcome", "withdrawal",
                                "transfer", "status", "consent", "interpreter-request",
                                "info-request", "info-reply" };
#define N_ORGS (sizeof s_orgs / sizeof s_orgs[0])
#define N_MSGS (sizeof s_msgs / sizeof s_msgs[0])

static nrm_policy_t *
s_parse(const char *text, nrm_err_t *err)
{
    nrm_policy_t *p = (nrm_policy_t *) 1;   /* must be cleared on failure */
    int rc = nrm_policy_parse(text, strlen(text), "t.ini", &p, err);
    if (rc != 0) {
        CHECK(p == NULL);
        CHECK(err->code == NRM_EINVAL);
        return NULL;
    }
    return p;
}

static bool
s_allows(const nrm_policy_t *p, const char *from, const char *type, const char *to)
{
    nrm_err_t err = { 0 };
    int rc = nrm_policy_allows(p, from, type, to, &err);
    if (rc != 0) {
        CHECK(rc == NRM_EINVAL);
        CHECK(err.code == NRM_EINVAL && err.reason == NRM_R_POLICY);
    }
    return rc == 0;
}

/* ---- the shipped policy ---- */

typedef struct { const char *from, *type, *to; } s_route_t;

/* DOMAIN.md's routing table, and every handoff of tools/demo.sh and the
   integration tests. */
static const s_route_t s_allowed[] = {
    { "ngo", "tip", "police" },             /* demo; public, hotline, ngo -> police or msdhs */
    { "ngo", "tip", "msdhs" },
    { "police", "tip", "msdhs" },           /* it_refusals (refused before policy anyway) */
    { "police", "referral", "mdt" },        /* police, labour -> MDT */
    { "labour", "referral", "mdt" },
    { "labour", "referral", "msdhs" },
    { "police", "referral", "msdhs" },      /* demo, it_handoff: first responder -> shelter */
    { "ngo", "referral", "msdhs" },
    { "mdt", "referral", "msdhs" },         /* MDT -> government or NGO shelter */
    { "mdt", "referral", "ngo" },
    { "mdt", "referral", "immigration" },   /* not a victim, no right to stay */
    { "police", "referral", "prosecutor" }, /* demo: case file */
    { "msdhs", "referral", "labour" },      /* unpaid-wage claim */
    { "ngo", "referral", "labour" },
    { "police", "referral", "labour" },     /* demo, it_handoff */
    { "msdhs", "referral", "foreign" },     /* return through the TRM */
    { "msdhs", "transfer", "foreign" },     /* border handover */
    { "msdhs", "referral", "ngo" },         /* recovery and reintegration */
    { "prosecutor", "interpreter-request", "interpreter" },  /* any -> interpreter */
    { "immigration", "interpreter-request", "interpreter" },
    /* derived from [replies]: the demo's four answers and the TRM's result */
    { "police", "response", "ngo" },
    { "msdhs", "response", "police" },
    { "labour", "response", "police" },
    { "prosecutor", "response", "police" },
    { "foreign", "outcome", "msdhs" },
    { "foreign", "status", "msdhs" },
    { "msdhs", "info-request", "police" },
    { "police", "info-reply", "msdhs" },    /* an answer to an answer */
    { "interpreter", "response", "immigration" },  /* back to whoever booked */
    { "interpreter", "response", "foreign" },
    /* derived from [follow-ups] */
    { "police", "withdrawal", "prosecutor" },
    { "msdhs", "consent", "foreign" },
    { "mdt", "status", "immigration" },
    { "police", "withdrawal", "interpreter" },
};

static const s_route_t s_refused[] = {
    { "prosecutor", "tip", "police" },
    { "ngo", "referral", "prosecutor" },
    { "police", "referral", "foreign" },    /* cross-border goes through msdhs */
    { "police", "transfer", "msdhs" },
    { "interpreter", "referral", "police" },
    { "immigration", "tip", "police" },
    { "labour", "referral", "prosecutor" },
    { "police", "response", "labour" },     /* labour never sent police anything */
    { "ngo", "withdrawal", "police" },      /* a tip has no follow-ups */
    { "ngo", "outcome", "police" },         /* a tip gets no outcome */
    { "police", "info-reply", "immigration" },  /* immigration never asked police */
    { "foreign", "referral", "police" },
    { "mdt", "referral", "prosecutor" },
};

static void
s_test_shipped(void)
{
    nrm_err_t err = { 0 };
    nrm_policy_t *p = NULL;
    CHECK_RC(nrm_policy_load_file(NRM_POLICY_INI, &p, &err), 0);
    if (!p) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(nrm_policy_version(p) == 1);
    CHECK_STR_HAS(nrm_policy_description(p), "Demo network");
    for (size_t i = 0; i < sizeof s_allowed / sizeof s_allowed[0]; i++) {
        const s_route_t *r = &s_allowed[i];
        if (!s_allows(p, r->from, r->type, r->to))
            fprintf(stderr, "  should allow %s -%s-> %s\n", r->from, r->type, r->to);
        CHECK(s_allows(p, r->from, r->type, r->to));
    }
    for (size_t i = 0; i < sizeof s_refused / sizeof s_refused[0]; i++) {
        const s_route_t *r = &s_refused[i];
        if (s_allows(p, r->from, r->type, r->to))
            fprintf(stderr, "  should refuse %s -%s-> %s\n", r->from, r->type, r->to);
        CHECK(!s_allows(p, r->from, r->type, r->to));
    }
    /* The refusal names the missing rule. */
    CHECK_RC(nrm_policy_allows(p, "prosecutor", "tip", "police", &err), NRM_EINVAL);
    CHECK(err.reason == NRM_R_POLICY);
    CHECK_STR_HAS(err.msg, "policy version 1 has no rule letting prosecutor send 'tip' to police");
    CHECK_STR_HAS(err.msg, "[route.prosecutor]");
    CHECK_RC(nrm_policy_allows(p, "police", "no-such-type", "msdhs", &err), NRM_EINVAL);
    CHECK(err.reason == NRM_R_POLICY);
    CHECK_STR_HAS(err.msg, "no rule for message type 'no-such-type'");
    /* No policy, or missing arguments: everything is refused. */
    CHECK_RC(nrm_policy_allows(NULL, "ngo", "tip", "police", &err), NRM_EINVAL);
    CHECK(err.reason == NRM_R_POLICY);
    CHECK_RC(nrm_policy_allows(p, NULL, "tip", "police", &err), NRM_EINVAL);
    CHECK_RC(nrm_policy_allows(p, "ngo", "tip", NULL, &err), NRM_EINVAL);
    CHECK_RC(nrm_policy_allows(p, "ngo", NULL, "police", &err), NRM_EINVAL);
    /* "any" is the file's wildcard, never a type a caller can claim. */
    CHECK(!s_allows(p, "any", "tip", "police"));
    CHECK(!s_allows(p, "police", "response", "any"));
    CHECK(s_allows(p, "police", "interpreter-request", "interpreter"));
    /* A NULL err is fine. */
    CHECK_RC(nrm_policy_allows(p, "ngo", "tip", "prosecutor", NULL), NRM_EINVAL);
    CHECK_RC(nrm_policy_allows(p, "ngo", "tip", "police", NULL), 0);
    nrm_policy_free(&p);
    CHECK(p == NULL);
    nrm_policy_free(&p);
    nrm_policy_free(NULL);
}

/* ---- derived rules, the wildcard, the iterator ---- */

typedef struct { int total, derived, calls_left; bool saw_reply, saw_written; } s_walk_t;

static int
s_walk(void *user, const char *sender, const char *msg, const char *recipient, bool derived)
{
    s_walk_t *w = user;
    w->total++;
    w->derived += derived;
    if (strcmp(sender, "msdhs") == 0 && strcmp(msg, "response") == 0
        && strcmp(recipient, "police") == 0 && derived)
        w->saw_reply = true;
    if (strcmp(sender, "police") == 0 && strcmp(msg, "referral") == 0
        && strcmp(recipient, "msdhs") == 0 && !derived)
        w->saw_written = true;
    if (w->calls_left > 0 && --w->calls_left == 0)
        return 7;
    return 0;
}

static void
s_test_derived(void)
{
    nrm_err_t err;
    nrm_policy_t *p = s_parse("[policy]\nversion = 3\n"
                              "[route.police]\nreferral = msdhs\n"
                              "[route.any]\ninterpreter-request = interpreter\n"
                              "[route.msdhs]\nstatus = any\n"
                              "[replies]\nreferral = response info-request\n"
                              "info-request = info-reply\n"
                              "interpreter-request = response\n"
                              "[follow-ups]\nreferral = withdrawal\n"
                              "withdrawal = consent\n", &err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(nrm_policy_version(p) == 3);
    CHECK_STR_HAS(nrm_policy_description(p), "");
    CHECK(s_allows(p, "police", "referral", "msdhs"));
    CHECK(!s_allows(p, "msdhs", "referral", "police"));
    CHECK(s_allows(p, "msdhs", "response", "police"));
    CHECK(!s_allows(p, "msdhs", "response", "labour"));
    CHECK(s_allows(p, "msdhs", "info-request", "police"));
    CHECK(s_allows(p, "police", "info-reply", "msdhs"));       /* chained */
    CHECK(!s_allows(p, "msdhs", "info-reply", "police"));
    CHECK(s_allows(p, "police", "withdrawal", "msdhs"));
    CHECK(s_allows(p, "police", "consent", "msdhs"));          /* follow-up of a follow-up */
    CHECK(!s_allows(p, "msdhs", "withdrawal", "police"));
    /* any -> interpreter, and the interpreter answers whoever asked */
    for (size_t i = 0; i < N_ORGS; i++) {
        CHECK(s_allows(p, s_orgs[i], "interpreter-request", "interpreter"));
        CHECK(s_allows(p, "interpreter", "response", s_orgs[i]));
        CHECK(s_allows(p, "msdhs", "status", s_orgs[i]));      /* written "any" recipient */
    }
    CHECK(!s_allows(p, "interpreter", "referral", "police"));
    /* the iterator: every allowed triple once, derived ones marked */
    s_walk_t w = { 0 };
    CHECK_RC(nrm_policy_each(p, s_walk, &w), 0);
    CHECK(w.saw_reply && w.saw_written);
    int n = 0, nd = 0;
    for (size_t s = 0; s < N_ORGS; s++)
        for (size_t m = 0; m < N_MSGS; m++)
            for (size_t r = 0; r < N_ORGS; r++)
                n += s_allows(p, s_orgs[s], s_msgs[m], s_orgs[r]);
    /* Written: police referral msdhs, any interpreter-request interpreter,
       msdhs status any = 3. Derived: msdhs response police, msdhs
       info-request police, police info-reply msdhs, police withdrawal msdhs,
       police consent msdhs, interpreter response any = 6. */
    CHECK(w.total == 9);
    CHECK(w.derived == 6);
    nd = w.derived;
    (void) nd;
    /* 1 + 9 (any sender) + 9 (any recipient) + 5 + 9 (interpreter answers any):
       counted over real types, the wildcards expand to all nine. */
    CHECK(n == 1 + 9 + 9 + 5 + 9);
    s_walk_t stop = { 0, 0, 2, false, false };
    CHECK_RC(nrm_policy_each(p, s_walk, &stop), 7);
    CHECK(stop.total == 2);
    nrm_policy_free(&p);

    /* A policy with no routes refuses everything. */
    p = s_parse("[policy]\nversion = 1\n", &err);
    CHECK(p != NULL);
    for (size_t s = 0; s < N_ORGS; s++)
        for (size_t m = 0; m < N_MSGS; m++)
            for (size_t r = 0; r < N_ORGS; r++)
                CHECK(!s_allows(p, s_orgs[s], s_msgs[m], s_orgs[r]));
    nrm_policy_free(&p);
}

/* ---- what an administrator may write ---- */

static void
s_test_syntax_accepted(void)
{
    nrm_err_t err;
    /* continuation lines, inline comments, tabs, CRLF, a BOM, blank lines,
       '#' comments, an empty section, a 160-character line */
    char longline[200];
    snprintf(longline, sizeof longline, ";%0159d\n", 0);
    char doc[2048];
    snprintf(doc, sizeof doc,
             "\xef\xbb\xbf; policy\r\n"
             "[policy]\r\n"
             "version\t= 12 ; inline comment\r\n"
             "description = Tak province, ไทย\r\n"
             "\r\n"
             "# another comment\n"
             "%s"
             "[route.police]\n"
             "referral = msdhs\n"
             "\tlabour\n"
             "\n"
             "    prosecutor   ; the case file\n"
             "tip = msdhs\n"
             "[route.labour]\n"
             "[replies]\n"
             "referral = response\n", longline);
    nrm_policy_t *p = s_parse(doc, &err);
    CHECK(p != NULL);
    if (!p) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK(nrm_policy_version(p) == 12);
    CHECK(strcmp(nrm_policy_description(p), "Tak province, ไทย") == 0);
    CHECK(s_allows(p, "police", "referral", "msdhs"));
    CHECK(s_allows(p, "police", "referral", "labour"));
    CHECK(s_allows(p, "police", "referral", "prosecutor"));
    CHECK(s_allows(p, "police", "tip", "msdhs"));
    CHECK(s_allows(p, "prosecutor", "response", "police"));
    CHECK(!s_allows(p, "labour", "referral", "msdhs"));

    /* The text is kept exactly, and hashed. */
    size_t len = 0;
    const uint8_t *text = nrm_policy_text(p, &len);
    CHECK(len == strlen(doc) && memcmp(text, doc, len) == 0);
    uint8_t h1[32], h2[32], want[32];
    nrm_policy_hash(p, h1);
    nrm_sha256((const uint8_t *) doc, strlen(doc), want);
    CHECK(memcmp(h1, want, 32) == 0);
    nrm_policy_t *q = s_parse(doc, &err);
    CHECK(q != NULL);
    nrm_policy_hash(q, h2);
    CHECK(memcmp(h1, h2, 32) == 0);             /* stable */
    nrm_policy_free(&q);
    /* One changed comment byte: same rules, another hash. */
    doc[5] = 'P';                               /* "; Policy" */
    q = s_parse(doc, &err);
    CHECK(q != NULL);
    nrm_policy_hash(q, h2);
    CHECK(memcmp(h1, h2, 32) != 0);
    nrm_policy_free(&q);
    nrm_policy_free(&p);

    /* The last line needs no newline; `any` may be a recipient. */
    p = s_parse("[policy]\nversion = 1\n[route.msdhs]\nstatus = any", &err);
    CHECK(p != NULL && s_allows(p, "msdhs", "status", "foreign"));
    nrm_policy_free(&p);
    /* 4294967295 is the largest version. */
    p = s_parse("[policy]\nversion = 4294967295\n", &err);
    CHECK(p != NULL && nrm_policy_version(p) == 4294967295u);
    nrm_policy_free(&p);
    /* Empty text is a document without [policy]. */
    CHECK_RC(nrm_policy_parse("", 0, NULL, &p, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "policy:1: no [policy] section");
    CHECK_RC(nrm_policy_parse(NULL, 0, "x", &p, &err), NRM_EINVAL);
    CHECK(p == NULL);
}

/* ---- hostile documents ---- */

#define HEAD "[policy]\nversion = 1\n"     /* lines 1-2 */

typedef struct { const char *doc; const char *want; } s_bad_t;

static const s_bad_t s_bad[] = {
    { HEAD "[routes.police]\n", "t.ini:3: unknown section [routes.police]" },
    { HEAD "[route.spy]\ntip = police\n", "t.ini:3: unknown organisation type 'spy'" },
    { HEAD "[route.police]\nreferral = msdhs spy\n", "t.ini:4: unknown organisation type 'spy'" },
    { HEAD "[route.police]\ntipp = msdhs\n", "t.ini:4: unknown message type 'tipp'" },
    { HEAD "[route.police]\ntip = msdhs\nreferral = msdhs\ntip = labour\n",
      "t.ini:6: duplicate rule: 'tip' already given on line 4" },
    { HEAD "[route.police]\ntip = msdhs labour msdhs\n",
      "t.ini:4: 'msdhs' listed twice for 'tip' in [route.police]" },
    { HEAD "[route.police]\ntip =\n", "t.ini:4: empty list: 'tip' needs at least one name" },
    { HEAD "[route.police]\ntip =   ; nobody\n", "t.ini:4: empty list" },
    { HEAD "[route.police]\ntip = police, msdhs\n",
      "t.ini:4: 'police,': separate the names with spaces, not commas" },
    { HEAD "[route.police]\ntip = abcdefghijklmnopqrstuvwxyzabcdefgh\n",
      "t.ini:4: 'abcdefghijklmnopqrstuvwxyzabcdefgh...' in the list of 'tip' is longer than 32" },
    { "[policy]\ndescription = no version\n", "t.ini:1: [policy] has no 'version = N'" },
    { "\n\n[policy]\n", "t.ini:3: [policy] has no 'version = N'" },
    { "[route.police]\ntip = msdhs\n", "t.ini:1: no [policy] section with 'version = N'" },
    { "[policy]\nversion = 0\n", "t.ini:2: 'version' must be a whole number from 1 to 4294967295 (got '0')" },
    { "[policy]\nversion = 1.5\n", "t.ini:2: 'version' must be a whole number" },
    { "[policy]\nversion = -1\n", "t.ini:2: 'version' must be a whole number" },
    { "[policy]\nversion = 4294967296\n", "t.ini:2: 'version' must be a whole number" },
    { "[policy]\nversion = 99999999999999999999999\n", "t.ini:2: 'version' must be a whole number" },
    { "[policy]\nversion =\n", "t.ini:2: 'version' must be a whole number" },
    { HEAD "version = 2\n", "t.ini:3: 'version' already given on line 2" },
    { HEAD "owner = me\n", "t.ini:3: unknown key 'owner' in [policy]" },
    { HEAD "description = a\ndescription = b\n", "t.ini:4: 'description' already given on line 3" },
    { HEAD "description = 0123456789012345678901234567890123456789012345678901234567890123456789"
      "012345678901234567890123456789012345678901234567890\n",
      "t.ini:3: 'description' longer than 120 bytes" },
    { HEAD "description = bad \xff byte\n", "t.ini:3: not valid UTF-8" },
    { HEAD "description = overlong \xc0\xaf slash\n", "t.ini:3: not valid UTF-8" },
    { HEAD "description = surrogate \xed\xa0\x80\n", "t.ini:3: not valid UTF-8" },
    { HEAD "description = cut \xe0\xb8\n", "t.ini:3: not valid UTF-8" },
    { HEAD "description = escape \x1b[31m\n", "t.ini:3: control character 0x1b at column 22" },
    { HEAD "description = a\rb\n", "t.ini:3: control character 0x0d at column 16" },
    { HEAD "description = del \x7f\n", "t.ini:3: control character 0x7f" },
    { HEAD "[deadlines]\npriority-4 = 1h\n", "t.ini:4: unknown key 'priority-4' in [deadlines]" },
    { HEAD "[deadlines]\npriority-3 = 1w\n", "t.ini:4: 'priority-3': unit 'w' is not s, m, h or d" },
    { HEAD "[deadlines]\npriority-3 = 31d\n", "t.ini:4: 'priority-3' must be from 1 second to 30 days" },
    { HEAD "[deadlines]\npriority-3 = 0s\n", "t.ini:4: 'priority-3' must be from 1 second to 30 days" },
    { HEAD "[deadlines]\npriority-3 = soon\n", "t.ini:4: 'priority-3' must be a duration" },
    { HEAD "[deadlines]\npriority-1 = 1h\npriority-1 = 2h\n", "t.ini:5: 'priority-1' already given on line 4" },
    { HEAD "[deadlines]\npriority-1 = 1h\n  2h\n", "t.ini:5: indented line continues 'priority-1'" },
    { HEAD "[minimise.interpreter]\nreferral = prs_languages\n",
      "t.ini:4: 'prs_languages' in 'referral' is not a field of any body" },
    { HEAD "[minimise.interpreter]\ninterpretation = appointment appointment\n",
      "t.ini:4: 'appointment' listed twice for 'interpretation'" },
    { HEAD "[minimise.interpreter]\ninterpretation = appointment\ninterpretation = person\n",
      "t.ini:5: purpose 'interpretation' already given in this section" },
    { HEAD "[minimise.any]\nx = person\n", "t.ini:3: section [minimise.any]: name a recipient type" },
    { HEAD "[minimise.shelter]\nx = person\n", "t.ini:3: unknown organisation type 'shelter'" },
    { HEAD "[minimise.]\n", "t.ini:3: section [minimise.] names no organisation type" },
    { HEAD "[minimise.interpreter]\nx =\n", "t.ini:4: empty list: 'x' needs at least one name" },
    { HEAD "[escalation]\nsupervisor = Big Boss\n", "t.ini:4: 'supervisor' must name one organisation id" },
    { HEAD "[escalation]\nany = mdt\n", "t.ini:4: 'any' in [escalation]" },
    { HEAD "[escalation]\nshelter = mdt\n", "t.ini:4: unknown organisation type 'shelter'" },
    { HEAD "[escalation]\npolice = mdt\npolice = msdhs\n", "t.ini:5: 'police' already given on line 4" },
    { HEAD "[deadlines]\n[deadlines]\n", "t.ini:4: section [deadlines] already began on line 3" },
    { "tip = police\n[policy]\nversion = 1\n", "t.ini:1: 'tip' before any [section]" },
    { "[policy\nversion = 1\n", "t.ini:1: syntax error: '[' without ']'" },
    { HEAD "[route.police]\njust some words\n", "t.ini:4: syntax error (expected [section], key = value or a comment)" },
    { HEAD "[route.police]\n= msdhs\n", "t.ini:4: syntax error: no key before '='" },
    { HEAD "[]\n", "t.ini:3: syntax error: empty section name" },
    { HEAD "[route.police] tip = msdhs\n", "t.ini:3: syntax error: text after the section header" },
    { HEAD "[Policy]\n", "t.ini:3: section name 'Policy' may hold only a-z 0-9 . -" },
    { HEAD "[route. police]\n", "t.ini:3: section name 'route. police' may hold only" },
    { HEAD "[route.]\n", "t.ini:3: section [route.] names no organisation type" },
    { HEAD "[route.any]\ninterpreter-request = interpreter\n[policy]\n",
      "t.ini:5: section [policy] already began on line 1" },
    { HEAD "[route.police]\ntip = msdhs\n[route.labour]\n[route.police]\n",
      "t.ini:6: section [route.police] already began on line 3" },
    { HEAD "[route.police]\nTip = msdhs\n", "t.ini:4: key 'Tip' may hold only a-z 0-9 -" },
    { HEAD "[route.police]\ntip: msdhs\n", "t.ini:4: syntax error (expected" },
    { HEAD "[route.police]\nrefer.ral = msdhs\n", "t.ini:4: key 'refer.ral' may hold only" },
    { HEAD "[route.police]\ntip = msdhs\n  referral = labour\n",
      "t.ini:5: indented line is read as more of the list of 'tip' (line 4)" },
    { HEAD "[route.police]\ntip = msdhs\n  [route.labour]\n",
      "t.ini:5: indented line is read as more of the list of 'tip'" },
    { HEAD "[route.police]\ntip = msdhs\n\n  msdhs\n", "t.ini:6: 'msdhs' listed twice for 'tip'" },
    { HEAD "  extra\n", "t.ini:3: indented line continues 'version'" },
    { HEAD "[route.police]\ntip = any any\n", "t.ini:4: 'any' listed twice" },
    { HEAD "[route.police]\ntip = mdt\n [route.msdhs]\n", "t.ini:5: indented line" },
    { HEAD "[replies]\nreferral = response bogus\n", "t.ini:4: unknown message type 'bogus'" },
    { HEAD "[replies]\nreferral = police\n", "t.ini:4: unknown message type 'police'" },
    { HEAD "[follow-ups]\nreferral = withdrawal withdrawal\n",
      "t.ini:4: 'withdrawal' listed twice for 'referral' in [follow-ups]" },
    { HEAD "[replies]\nreferral = response\nreferral = outcome\n",
      "t.ini:5: duplicate rule: 'referral' already given on line 4" },
    { HEAD "[route.police]\nreferral = msdhs ; ok\n"
      "toolongkeytoolongkeytoolongkeytoolongkeytoolongkey = msdhs\n",
      "t.ini:5: key longer than 48 characters" },
    { HEAD "[route.policepolicepolicepolicepolicepolicepolicepolice]\n",
      "t.ini:3: section name longer than 48 characters" },
};

static void
s_test_hostile(void)
{
    nrm_err_t err;
    size_t n = sizeof s_bad / sizeof s_bad[0];
    CHECK(n >= 20);
    for (size_t i = 0; i < n; i++) {
        memset(&err, 0, sizeof err);
        nrm_policy_t *p = s_parse(s_bad[i].doc, &err);
        CHECK(p == NULL);
        nrm_policy_free(&p);
        if (!strstr(err.msg, s_bad[i].want))
            fprintf(stderr, "  hostile document %zu\n", i);
        CHECK_STR_HAS(err.msg, s_bad[i].want);
    }

    /* NUL bytes: the length, not a terminator, bounds the text. */
    static const char nul[] = "[policy]\nversion = 1\0\n[route.police]\ntip = msdhs\n";
    nrm_policy_t *p = NULL;
    CHECK_RC(nrm_policy_parse(nul, sizeof nul - 1, "t.ini", &p, &err), NRM_EINVAL);
    CHECK(p == NULL);
    CHECK_STR_HAS(err.msg, "t.ini:2: NUL byte at column 12");

    /* Lines: 160 characters pass (above), 161 are refused, with or without
       the newline, with CRLF. */
    char doc[600];
    snprintf(doc, sizeof doc, HEAD ";%0160d\n", 0);
    CHECK(s_parse(doc, &err) == NULL);
    CHECK_STR_HAS(err.msg, "t.ini:3: line longer than 160 characters");
    snprintf(doc, sizeof doc, HEAD "\n;%0160d", 0);
    CHECK(s_parse(doc, &err) == NULL);
    CHECK_STR_HAS(err.msg, "t.ini:4: line longer than 160 characters");
    snprintf(doc, sizeof doc, HEAD ";%0159d\r\n", 0);
    p = s_parse(doc, &err);
    CHECK(p != NULL);
    nrm_policy_free(&p);
    snprintf(doc, sizeof doc, HEAD ";%0500d\n", 0);
    CHECK(s_parse(doc, &err) == NULL);
    CHECK_STR_HAS(err.msg, "t.ini:3: line longer than 160 characters");

    /* The whole text: 64 KiB pass, one byte more is refused on the line
       that crosses the cap. */
    size_t cap = NRM_POLICY_MAX_BYTES;
    char *big = malloc(cap + 2);
    if (!big)
        exit(2);
    size_t used = (size_t) snprintf(big, cap, HEAD);
    int lines = 2;
    while (used + 100 <= cap) {
        memset(big + used, ';', 99);
        big[used + 99] = '\n';
        used += 100;
        lines++;
    }
    memset(big + used, ';', cap - used);        /* the last line fills the cap */
    CHECK_RC(nrm_policy_parse(big, cap, "big.ini", &p, &err), 0);
    nrm_policy_free(&p);
    big[cap] = '\n';
    CHECK_RC(nrm_policy_parse(big, cap + 1, "big.ini", &p, &err), NRM_EINVAL);
    CHECK(p == NULL);
    char want[64];
    snprintf(want, sizeof want, "big.ini:%d: policy longer than 65536 bytes", lines + 1);
    CHECK_STR_HAS(err.msg, want);
    free(big);

    /* Too many rules: every sender (9 types and any) sends every message
       type to all nine types and any; the 513th entry is refused. */
    char *many = malloc(32768);
    if (!many)
        exit(2);
    used = (size_t) snprintf(many, 32768, HEAD);
    lines = 2;
    int rules = 0, cross = 0;
    for (size_t s = 0; s <= N_ORGS; s++) {
        used += (size_t) snprintf(many + used, 32768 - used, "[route.%s]\n",
                                  s < N_ORGS ? s_orgs[s] : "any");
        lines++;
        for (size_t m = 0; m < N_MSGS; m++) {
            used += (size_t) snprintf(many + used, 32768 - used, "%s = any", s_msgs[m]);
            for (size_t r = 0; r < N_ORGS; r++)
                used += (size_t) snprintf(many + used, 32768 - used, " %s", s_orgs[r]);
            used += (size_t) snprintf(many + used, 32768 - used, "\n");
            lines++;
            rules += (int) N_ORGS + 1;
            if (!cross && rules > NRM_POLICY_MAX_RULES)
                cross = lines;
        }
    }
    CHECK(used < 32768 && cross > 0);
    CHECK(s_parse(many, &err) == NULL);
    snprintf(want, sizeof want, "t.ini:%d: more than 512 rules", cross);
    CHECK_STR_HAS(err.msg, want);
    free(many);
}

static void
s_test_files(void)
{
    nrm_err_t err;
    nrm_policy_t *p = NULL;
    CHECK_RC(nrm_policy_load_file("/nonexistent/policy.ini", &p, &err), NRM_EIO);
    CHECK(p == NULL);
    CHECK_STR_HAS(err.msg, "/nonexistent/policy.ini: No such file");
    char dir[64], path[128];
    t_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/policy.ini", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs(HEAD "[route.police]\ntip = msdhs\ntip = labour\n", f);
    fclose(f);
    CHECK_RC(nrm_policy_load_file(path, &p, &err), NRM_EINVAL);
    CHECK(p == NULL);
    char want[160];
    snprintf(want, sizeof want, "%s:5: duplicate rule", path);
    CHECK_STR_HAS(err.msg, want);
    f = fopen(path, "w");
    for (int i = 0; i < 700; i++)
        fprintf(f, ";%099d\n", i);
    fclose(f);
    CHECK_RC(nrm_policy_load_file(path, &p, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "policy longer than 65536 bytes");
    t_rmdir(dir);
}

/* [deadlines], [escalation] and [minimise.*]: values read back, defaults
   where nothing is written, and the shipped policy's rules. */
static void
s_test_lifecycle_sections(void)
{
    nrm_err_t err;
    nrm_policy_t *p = NULL;
    nrm_deadlines_t d;
    const char *const *paths = NULL;
    size_t n = 0;
    const char *text = HEAD "[deadlines]\npriority-3 = 2s\npriority-0 = 90m\n"
        "[escalation]\nsupervisor = mdt-tak\npolice = police-hq\n"
        "[minimise.interpreter]\ninterpretation = appointment person.prs_FirstName\n"
        "   person.prs_PrimaryLanguage\nany = appointment\n"
        "[minimise.labour]\nwage-claim = employment person\n";
    CHECK_RC(nrm_policy_parse(text, strlen(text), "t.ini", &p, &err), 0);
    nrm_policy_deadlines(p, &d);
    CHECK(d.ms[3] == 2000 && d.ms[0] == 90 * 60000 && d.ms[1] == 86400000 && d.ms[2] == 3 * 3600000);
    CHECK(strcmp(nrm_policy_supervisor(p, "police"), "police-hq") == 0);
    CHECK(strcmp(nrm_policy_supervisor(p, "ngo"), "mdt-tak") == 0);
    CHECK_RC(nrm_policy_minimise(p, "interpreter", "interpretation", &paths, &n, &err), 1);
    CHECK(n == 3 && strcmp(paths[2], "person.prs_PrimaryLanguage") == 0);
    CHECK_RC(nrm_policy_minimise(p, "interpreter", "", &paths, &n, &err), 1);
    CHECK(n == 1 && strcmp(paths[0], "appointment") == 0);
    CHECK_RC(nrm_policy_minimise(p, "interpreter", "shelter", &paths, &n, &err), 1);
    CHECK(n == 1);
    CHECK_RC(nrm_policy_minimise(p, "labour", "shelter", &paths, &n, &err), NRM_EINVAL);
    CHECK_STR_HAS(err.msg, "[minimise.labour] has no rule for purpose 'shelter'");
    CHECK_RC(nrm_policy_minimise(p, "msdhs", "shelter", &paths, &n, &err), 0);
    CHECK(n == 0 && paths == NULL);
    nrm_policy_free(&p);
    /* no policy: Primero's defaults, no supervisor, no minimisation */
    nrm_policy_deadlines(NULL, &d);
    CHECK(d.ms[3] == 3600000 && d.ms[0] == 3 * 86400000ull);
    CHECK(strcmp(nrm_policy_supervisor(NULL, "police"), "") == 0);
    /* the shipped policy: an interpreter gets the appointment, not the story */
    CHECK_RC(nrm_policy_load_file(NRM_POLICY_INI, &p, &err), 0);
    CHECK_RC(nrm_policy_minimise(p, "interpreter", "interpretation", &paths, &n, &err), 1);
    bool appointment = false, story = false;
    for (size_t i = 0; i < n; i++) {
        appointment |= strcmp(paths[i], "appointment") == 0;
        story |= strncmp(paths[i], "narrative", 9) == 0 || strcmp(paths[i], "victim_context") == 0;
    }
    CHECK(appointment && !story);
    CHECK(nrm_policy_supervisor(p, "police")[0] != '\0');
    nrm_policy_free(&p);
}

int
main(void)
{
    s_test_lifecycle_sections();
    s_test_shipped();
    s_test_derived();
    s_test_syntax_accepted();
    s_test_hostile();
    s_test_files();
    TEST_DONE();
}
