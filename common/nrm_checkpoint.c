/*  nrm_checkpoint -- C2SP signed notes holding tlog checkpoints. */
#include "nrm_checkpoint.h"
#include "nrm_util.h"
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DASH "\xe2\x80\x94 "          /* U+2014 em dash, then a space */
#define S_SIGB64 ((4 + NRM_SIG_BYTES + 2) / 3 * 4)   /* 92 characters */

void
nrm_checkpoint_origin(const char *network, char out[NRM_CHECKPOINT_ORIGIN_MAX + 1])
{
    snprintf(out, NRM_CHECKPOINT_ORIGIN_MAX + 1, "nrmbus/%.*s", NRM_ID_MAX, network);
}

void
nrm_checkpoint_key_id(const char *name, const uint8_t pk[NRM_PK_BYTES], uint8_t id[4])
{
    crypto_hash_sha256_state st;
    const uint8_t sep[2] = { 0x0a, 0x01 };
    uint8_t h[NRM_HASH_BYTES];
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, (const uint8_t *) name, strlen(name));
    crypto_hash_sha256_update(&st, sep, 2);
    crypto_hash_sha256_update(&st, pk, NRM_PK_BYTES);
    crypto_hash_sha256_final(&st, h);
    memcpy(id, h, 4);
}

void
nrm_checkpoint_vkey(const char *name, const uint8_t pk[NRM_PK_BYTES],
                    char out[NRM_CHECKPOINT_VKEY_MAX])
{
    uint8_t id[4], typed[1 + NRM_PK_BYTES];
    char idhex[9], b64[49];
    nrm_checkpoint_key_id(name, pk, id);
    nrm_hex_encode(id, 4, idhex);
    typed[0] = 0x01;
    memcpy(typed + 1, pk, NRM_PK_BYTES);
    sodium_bin2base64(b64, sizeof b64, typed, sizeof typed, sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, NRM_CHECKPOINT_VKEY_MAX, "%s+%s+%s", name, idhex, b64);
}

/* Origin rule: "nrmbus/" + an organisation-style id (no spaces, no '+',
   printable ASCII), which is also a valid signed-note key name. */
static bool
s_origin_valid(const char *o)
{
    return strncmp(o, "nrmbus/", 7) == 0 && nrm_id_valid(o + 7);
}

int
nrm_checkpoint_sign(const nrm_keys_t *keys, const nrm_checkpoint_t *c, char **note, size_t *len,
                    nrm_err_t *err)
{
    char root64[48], body[256], sig64[S_SIGB64 + 1];
    uint8_t idsig[4 + NRM_SIG_BYTES];
    *note = NULL;
    *len = 0;
    if (!s_origin_valid(c->origin))
        return nrm_err_set(err, NRM_EINVAL, "checkpoint origin '%s' is not nrmbus/<id>", c->origin);
    sodium_bin2base64(root64, sizeof root64, c->root, NRM_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(body, sizeof body, "%s\n%llu\n%s\n", c->origin, (unsigned long long) c->size,
                     root64);
    if (n < 0 || (size_t) n >= sizeof body)
        return nrm_err_set(err, NRM_ETOOBIG, "checkpoint body too long");
    const uint8_t *pk = nrm_keys_sign_pk(keys);
    if (!pk)
        return nrm_err_set(err, NRM_EINVAL, "no signing key for the checkpoint");
    nrm_checkpoint_key_id(c->origin, pk, idsig);
    if (nrm_sign_text(keys, (const uint8_t *) body, (size_t) n, idsig + 4) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "cannot sign the checkpoint");
    sodium_bin2base64(sig64, sizeof sig64, idsig, sizeof idsig, sodium_base64_VARIANT_ORIGINAL);
    size_t cap = (size_t) n + 1 + sizeof S_DASH + strlen(c->origin) + 1 + S_SIGB64 + 2;
    char *out = malloc(cap);
    if (!out)
        return nrm_err_set(err, NRM_ENOMEM, "out of memory");
    int m = snprintf(out, cap, "%s\n" S_DASH "%s %s\n", body, c->origin, sig64);
    if (m < 0 || (size_t) m >= cap) {
        free(out);
        return nrm_err_set(err, NRM_ETOOBIG, "checkpoint note too long");
    }
    *note = out;
    *len = (size_t) m;
    return 0;
}

/* A parsed signature line: key name and the decoded key id || signature. */
typedef struct {
    char    name[NRM_CHECKPOINT_ORIGIN_MAX + 1];
    uint8_t idsig[4 + NRM_SIG_BYTES];
} s_sigline_t;

/* Splits and checks the whole note. body_len receives the length of the
   signed text (up to and including its last newline). */
static int
s_split(const uint8_t *note, size_t len, nrm_checkpoint_t *c, size_t *body_len,
        s_sigline_t *sigs, size_t *nsigs, nrm_err_t *err)
{
    memset(c, 0, sizeof *c);
    *nsigs = 0;
    if (len > NRM_CHECKPOINT_NOTE_MAX)
        return nrm_err_set(err, NRM_ETOOBIG, "checkpoint note of %zu bytes (at most %d)", len,
                           NRM_CHECKPOINT_NOTE_MAX);
    if (len == 0 || note[len - 1] != '\n')
        return nrm_err_set(err, NRM_EINVAL, "checkpoint note does not end with a newline");
    for (size_t i = 0; i < len; i++)
        if ((note[i] < 0x20 && note[i] != '\n') || note[i] == 0x7f)
            return nrm_err_set(err, NRM_EINVAL, "checkpoint note holds a control character at byte %zu", i);
    /* The body ends at the LAST blank line, as in the signed-note spec. */
    size_t split = 0;
    bool found = false;
    for (size_t i = len - 1; i-- > 0;)
        if (note[i] == '\n' && note[i + 1] == '\n') {
            split = i + 1;
            found = true;
            break;
        }
    if (!found)
        return nrm_err_set(err, NRM_EINVAL, "checkpoint note has no blank line before its signatures");
    *body_len = split;
    /* Body: exactly origin, size, root. */
    char body[NRM_CHECKPOINT_NOTE_MAX + 1];
    memcpy(body, note, split);
    body[split] = '\0';
    char *line[4] = { NULL, NULL, NULL, NULL };
    size_t nlines = 0;
    for (char *p = body; *p && nlines < 4;) {
        char *nl = strchr(p, '\n');
        *nl = '\0';
        line[nlines++] = p;
        p = nl + 1;
    }
    if (nlines != 3 || strlen(body) + strlen(line[1]) + strlen(line[2]) + 3 != split)
        return nrm_err_set(err, NRM_EINVAL, "checkpoint body must be three lines: origin, size, root");
    if (strlen(line[0]) > NRM_CHECKPOINT_ORIGIN_MAX || !s_origin_valid(line[0]))
        return nrm_err_set(err, NRM_EINVAL, "checkpoint origin is not nrmbus/<id>");
    snprintf(c->origin, sizeof c->origin, "%s", line[0]);
    const char *s = line[1];
    if (!*s || strlen(s) > 20 || (s[0] == '0' && s[1]) || strspn(s, "0123456789") != strlen(s))
        return nrm_err_set(err, NRM_EINVAL, "checkpoint tree size '%.24s' is not a decimal number", s);
    c->size = strtoull(s, NULL, 10);
    size_t rootlen = 0;
    if (strlen(line[2]) != 44
        || sodium_base642bin(c->root, NRM_HASH_BYTES, line[2], 44, NULL, &rootlen, NULL,
                             sodium_base64_VARIANT_ORIGINAL) != 0
        || rootlen != NRM_HASH_BYTES)
        return nrm_err_set(err, NRM_EINVAL, "checkpoint root is not the base64 of 32 bytes");
    /* Signature lines. */
    size_t i = split + 1;
    while (i < len) {
        const uint8_t *nl = memchr(note + i, '\n', len - i);
        size_t n = (size_t) (nl - (note + i));
        char l[NRM_CHECKPOINT_NOTE_MAX + 1];
        memcpy(l, note + i, n);
        l[n] = '\0';
        i += n + 1;
        if (*nsigs == NRM_CHECKPOINT_SIGLINES_MAX)
            return nrm_err_set(err, NRM_ETOOBIG, "checkpoint note has more than %d signatures",
                               NRM_CHECKPOINT_SIGLINES_MAX);
        char *name = l + strlen(S_DASH), *sp = strchr(name, ' ');
        if (strncmp(l, S_DASH, strlen(S_DASH)) != 0 || !sp || sp == name)
            return nrm_err_set(err, NRM_EINVAL, "checkpoint signature line %zu is not '— name signature'",
                               *nsigs + 1);
        *sp = '\0';
        s_sigline_t *sg = &sigs[*nsigs];
        size_t siglen = 0;
        if (strlen(name) > NRM_CHECKPOINT_ORIGIN_MAX || strchr(name, '+'))
            return nrm_err_set(err, NRM_EINVAL, "checkpoint signature line %zu: bad key name", *nsigs + 1);
        snprintf(sg->name, sizeof sg->name, "%s", name);
        /* Signatures of other algorithms or keys may be longer; only the
           form matters here, they are ignored unless their key is ours. */
        uint8_t raw[NRM_CHECKPOINT_NOTE_MAX];
        if (sodium_base642bin(raw, sizeof raw, sp + 1, strlen(sp + 1), NULL, &siglen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 || siglen < 5)
            return nrm_err_set(err, NRM_EINVAL, "checkpoint signature line %zu: bad base64", *nsigs + 1);
        memset(sg->idsig, 0, sizeof sg->idsig);
        memcpy(sg->idsig, raw, siglen < sizeof sg->idsig ? siglen : sizeof sg->idsig);
        if (siglen != sizeof sg->idsig)
            sg->name[0] = '\0';     /* not an Ed25519 signature: never ours */
        (*nsigs)++;
    }
    if (*nsigs == 0)
        return nrm_err_set(err, NRM_EINVAL, "checkpoint note has no signature");
    return 0;
}

int
nrm_checkpoint_parse(const uint8_t *note, size_t len, nrm_checkpoint_t *c, nrm_err_t *err)
{
    s_sigline_t sigs[NRM_CHECKPOINT_SIGLINES_MAX];
    size_t body_len, nsigs;
    return s_split(note, len, c, &body_len, sigs, &nsigs, err);
}

int
nrm_checkpoint_open(const uint8_t *note, size_t len, const uint8_t pk[NRM_PK_BYTES],
                    const char *origin, nrm_checkpoint_t *c, nrm_err_t *err)
{
    s_sigline_t sigs[NRM_CHECKPOINT_SIGLINES_MAX];
    size_t body_len, nsigs;
    int rc = s_split(note, len, c, &body_len, sigs, &nsigs, err);
    if (rc)
        return rc;
    if (origin && strcmp(origin, c->origin) != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "checkpoint is for '%s', expected '%s'", c->origin, origin);
    uint8_t id[4];
    nrm_checkpoint_key_id(c->origin, pk, id);
    for (size_t i = 0; i < nsigs; i++) {
        if (strcmp(sigs[i].name, c->origin) != 0 || memcmp(sigs[i].idsig, id, 4) != 0)
            continue;
        /* The first line of our key decides (as Go's note.Open does). */
        if (nrm_verify_text(pk, note, body_len, sigs[i].idsig + 4) != 0)
            return nrm_err_set(err, NRM_ECRYPTO, "checkpoint signature of %s does not verify",
                               c->origin);
        return 0;
    }
    return nrm_err_set(err, NRM_ECRYPTO, "checkpoint has no signature by the key of %s given",
                       c->origin);
}
