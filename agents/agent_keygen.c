/*  agent_keygen -- `nrm-agent keygen`: an organisation makes its own keys on
    its own machine and the enrollment request it sends to the
    administrators. The secret keys never leave ORG/secret.keys. */
#include "agent.h"
#include "nrm_codec.h"
#include "nrm_util.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define AGENT_INI_LINE_MAX 198   /* longest line nrm_config reads (its 199 counts the newline) */

static const char *const s_cmd = "keygen";

static void
s_help(FILE *out)
{
    fprintf(out,
        "Usage: nrm-agent keygen --dir ORG --id ID --type TYPE --name NAME\n"
        "                        [--jurisdiction TEXT]\n"
        "       nrm-agent keygen --dir ORG --rotate\n"
        "\n"
        "Makes the keys of a new organisation in folder ORG (created with mode\n"
        "0700 if needed) and its enrollment request. Refuses to run if\n"
        "ORG/secret.keys already exists.\n"
        "\n"
        "  --dir ORG            organisation folder\n"
        "  --id ID              organisation id: 1-%d of [a-z0-9._-], starting\n"
        "                       with a letter or digit\n"
        "  --type TYPE          police, msdhs, labour, prosecutor, ngo,\n"
        "                       immigration, interpreter, foreign, ...\n"
        "  --name NAME          display name (at most %zu bytes of UTF-8)\n"
        "  --jurisdiction TEXT  area the organisation serves (optional, at most\n"
        "                       %zu bytes)\n"
        "\n"
        "Writes ORG/secret.keys (mode 0600; never send it anywhere),\n"
        "ORG/org.ini and ORG/request.nrm, and prints the request path and the\n"
        "fingerprints of the public keys. Send request.nrm to the network\n"
        "administrators; they answer with connect.ini, to be saved as\n"
        "ORG/connect.ini.\n"
        "\n"
        "--rotate makes new keys for an enrolled organisation: writes\n"
        "ORG/%s (mode 0600) and ORG/%s, the rotation\n"
        "request (the new public keys, signed by the new key and by the key in\n"
        "force). Send it to the administrators (nrm-admin rotate). When they\n"
        "have approved it, the running agent receives the new certificate from\n"
        "the broker and switches to the new keys by itself; the old ones are\n"
        "kept in ORG/%s/ to open bodies sealed to them.\n", NRM_ID_MAX, AGENT_INI_LINE_MAX - strlen("name = "),
        AGENT_INI_LINE_MAX - strlen("jurisdiction = "), AGENT_NEXT_KEYS, AGENT_ROTATE_REQUEST,
        AGENT_RETIRED_DIR);
}

/* inih, which reads org.ini, ends a value at " ;" (inline comment) and trims
   blanks at both ends, so such text would not read back as written. */
static bool
s_ini_safe(const char *s)
{
    size_t len = strlen(s);

    if (strchr(s, ';') != NULL)
        return false;
    if (len > 0 && (s[0] == ' ' || s[len - 1] == ' '))
        return false;
    return true;
}

static int
s_write_org_ini(const char *dir, const char *id, const char *type, const char *name,
                const char *jurisdiction, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    char text[64 + NRM_ID_MAX + NRM_TYPE_MAX + 2 * NRM_NAME_MAX];
    int n, rc;

    rc = agent_org_path(path, dir, "org.ini", err);
    if (rc != 0)
        return rc;
    n = snprintf(text, sizeof text,
                 "[org]\nid = %s\ntype = %s\nname = %s\njurisdiction = %s\n",
                 id, type, name, jurisdiction);
    if (n < 0 || (size_t) n >= sizeof text)
        return nrm_err_set(err, NRM_ETOOBIG, "org.ini text too long");
    return nrm_file_write(path, text, (size_t) n, 0644, err);
}

/* Builds Signed{EnrollRequest} bytes for keys and the organisation fields. */
static int
s_make_request(const nrm_keys_t *keys, const nrm_keys_t *old, const char *id, const char *type,
               const char *name, const char *jurisdiction, uint8_t **out,
               size_t *out_len, nrm_err_t *err)
{
    nrm_cosig_t cosig;
    nrm_cert_t req;
    uint8_t *body = NULL;
    size_t body_len = 0;
    uint8_t sig[NRM_SIG_BYTES];
    int rc;

    memset(&req, 0, sizeof req);
    /* Lengths were checked by the caller; snprintf cannot truncate here. */
    snprintf(req.org_id, sizeof req.org_id, "%s", id);
    snprintf(req.org_type, sizeof req.org_type, "%s", type);
    snprintf(req.name, sizeof req.name, "%s", name);
    snprintf(req.jurisdiction, sizeof req.jurisdiction, "%s", jurisdiction);
    memcpy(req.sign_pk, nrm_keys_sign_pk(keys), NRM_PK_BYTES);
    memcpy(req.curve_pk, nrm_keys_curve_pk(keys), NRM_PK_BYTES);
    memcpy(req.box_pk, nrm_keys_box_pk(keys), NRM_PK_BYTES);
    req.created_ms = nrm_now_ms();
    rc = nrm_request_encode(&req, &body, &body_len, err);
    if (rc != 0)
        goto out;
    rc = nrm_sign(keys, NRM_CTX_REQUEST, body, body_len, sig);
    if (rc != 0) {
        rc = nrm_err_set(err, rc, "signing the enrollment request failed");
        goto out;
    }
    if (old == NULL) {
        rc = nrm_signed_encode(body, body_len, sig, out, out_len, err);
        goto out;
    }
    /* A rotation: the key in force vouches for the new keys. */
    memcpy(cosig.signer_pk, nrm_keys_sign_pk(old), NRM_PK_BYTES);
    if (nrm_sign(old, NRM_CTX_ROTATE, body, body_len, cosig.sig) != 0) {
        rc = nrm_err_set(err, NRM_ECRYPTO, "signing the rotation request with the old key failed");
        goto out;
    }
    rc = nrm_signed_encode_cosigs(body, body_len, sig, &cosig, 1, out, out_len, err);
out:
    free(body);
    return rc;
}

/* Prints the public keys of a new key set. */
static void
s_print_keys(const nrm_keys_t *keys)
{
    char fp_sign[17], fp_curve[17], fp_box[17], z85[41];

    nrm_fingerprint(nrm_keys_sign_pk(keys), fp_sign);
    nrm_fingerprint(nrm_keys_curve_pk(keys), fp_curve);
    nrm_fingerprint(nrm_keys_box_pk(keys), fp_box);
    if (nrm_z85_encode(nrm_keys_curve_pk(keys), z85) != 0)
        snprintf(z85, sizeof z85, "%s", "?");
    printf("sign key:     %s\n", fp_sign);
    printf("curve key:    %s  %s\n", fp_curve, z85);
    printf("box key:      %s\n", fp_box);
}

/* `keygen --rotate`: new keys for an enrolled organisation, kept aside in
   secret.keys.next until the rotated certificate arrives, and the request
   signed by the new key and countersigned by the key in force. */
static int
s_rotate(const char *dir, nrm_err_t *err)
{
    char next_path[AGENT_PATH_MAX], req_path[AGENT_PATH_MAX];
    agent_org_t org;
    agent_connect_t conn;
    nrm_keys_t *old = NULL, *keys = NULL;
    uint8_t *request = NULL;
    size_t request_len = 0;
    struct stat st;
    int rc;

    memset(&conn, 0, sizeof conn);
    rc = agent_org_path(next_path, dir, AGENT_NEXT_KEYS, err);
    if (rc == 0)
        rc = agent_org_path(req_path, dir, AGENT_ROTATE_REQUEST, err);
    if (rc == 0 && (rc = nrm_crypto_init()) != 0)
        rc = nrm_err_set(err, rc, "libsodium could not be initialised");
    if (rc == 0)
        rc = agent_org_load(dir, &org, err);
    /* The keys in force are those of the certificate: settles a rotation
       that took effect while no agent ran. */
    if (rc == 0)
        rc = agent_identity_load(dir, &org, &old, &conn, err);
    if (rc != 0)
        goto out;
    if (lstat(next_path, &st) == 0) {
        rc = nrm_err_set(err, NRM_EEXIST, "%s exists: a rotation is already waiting for the "
                         "administrators (%s). If they refused it or it was lost, remove %s and "
                         "run this again", next_path, req_path, next_path);
        goto out;
    }
    keys = nrm_keys_generate(NRM_KEYS_ALL);
    if (keys == NULL) {
        rc = nrm_err_set(err, NRM_ENOMEM, "key generation failed");
        goto out;
    }
    rc = s_make_request(keys, old, org.id, org.type, org.name, org.jurisdiction, &request,
                        &request_len, err);
    /* The new secret keys last: until they exist, --rotate starts over. */
    if (rc == 0)
        rc = nrm_file_write(req_path, request, request_len, 0644, err);
    if (rc == 0)
        rc = nrm_keys_save(keys, next_path, err);
    if (rc != 0)
        goto out;
    printf("organisation: %s (%s): key rotation\n", org.id, org.type);
    printf("request:      %s\n", req_path);
    printf("new keys:     %s (mode 0600, never send it)\n", next_path);
    s_print_keys(keys);
    printf("Send %s to the network administrators (nrm-admin rotate). The agent\n"
           "switches to the new keys when the rotated certificate arrives.\n", req_path);
out:
    free(request);
    agent_connect_clear(&conn);
    nrm_keys_destroy(&old);
    nrm_keys_destroy(&keys);
    return rc;
}

static int
s_keygen(const char *dir, const char *id, const char *type, const char *name,
         const char *jurisdiction, nrm_err_t *err)
{
    char keys_path[AGENT_PATH_MAX], req_path[AGENT_PATH_MAX];
    nrm_keys_t *keys = NULL;
    uint8_t *request = NULL;
    size_t request_len = 0;
    struct stat st;
    int rc;

    rc = agent_org_path(keys_path, dir, "secret.keys", err);
    if (rc == 0)
        rc = agent_org_path(req_path, dir, "request.nrm", err);
    if (rc != 0)
        goto out;
    rc = nrm_crypto_init();
    if (rc != 0) {
        rc = nrm_err_set(err, rc, "libsodium could not be initialised");
        goto out;
    }
    rc = nrm_mkdirs(dir, 0700, err);
    if (rc != 0)
        goto out;
    if (stat(dir, &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr, "nrm-agent keygen: warning: %s is readable by other users "
                "(mode %03o); 0700 is recommended\n", dir, (unsigned) (st.st_mode & 0777));
    if (lstat(keys_path, &st) == 0) {
        rc = nrm_err_set(err, NRM_EEXIST, "%s already exists: this organisation has keys; "
                         "refusing to overwrite them", keys_path);
        goto out;
    }
    if (errno != ENOENT) {
        rc = nrm_err_set(err, NRM_EIO, "%s: %s", keys_path, strerror(errno));
        goto out;
    }
    keys = nrm_keys_generate(NRM_KEYS_ALL);
    if (keys == NULL) {
        rc = nrm_err_set(err, NRM_ENOMEM, "key generation failed");
        goto out;
    }
    rc = s_make_request(keys, NULL, id, type, name, jurisdiction, &request, &request_len, err);
    if (rc != 0)
        goto out;
    /* The secret keys are written last: until they exist, running keygen
       again simply starts over. */
    rc = s_write_org_ini(dir, id, type, name, jurisdiction, err);
    if (rc != 0)
        goto out;
    rc = nrm_file_write(req_path, request, request_len, 0644, err);
    if (rc != 0)
        goto out;
    rc = nrm_keys_save(keys, keys_path, err);
    if (rc != 0)
        goto out;
    printf("organisation: %s (%s)\n", id, type);
    printf("request:      %s\n", req_path);
    printf("secret keys:  %s (mode 0600, never send it)\n", keys_path);
    s_print_keys(keys);
    printf("Send %s to the network administrators and save the connect.ini\n"
           "they return as %s/connect.ini.\n", req_path, dir);
out:
    free(request);
    nrm_keys_destroy(&keys);
    return rc;
}

int
agent_cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "id", required_argument, NULL, 'i' },
        { "type", required_argument, NULL, 't' },
        { "name", required_argument, NULL, 'n' },
        { "jurisdiction", required_argument, NULL, 'j' },
        { "rotate", no_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *dir = NULL, *id = NULL, *type = NULL, *name = NULL;
    const char *jurisdiction = NULL;
    bool rotate = false;
    nrm_err_t err = { 0 };

    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, ":h", opts, NULL);
        if (c == -1)
            break;
        switch (c) {
        case 'd': dir = optarg; break;
        case 'i': id = optarg; break;
        case 't': type = optarg; break;
        case 'n': name = optarg; break;
        case 'j': jurisdiction = optarg; break;
        case 'r': rotate = true; break;
        case 'h': s_help(stdout); return AGENT_EXIT_OK;
        default:  return agent_opt_error(s_cmd, c, argv);
        }
    }
    if (optind < argc)
        return agent_usage_error(s_cmd, "unexpected argument '%s'", argv[optind]);
    if (rotate) {
        /* The organisation stays what org.ini and its certificate say. */
        if (dir == NULL || dir[0] == '\0')
            return agent_usage_error(s_cmd, "--rotate needs --dir");
        if (id != NULL || type != NULL || name != NULL || jurisdiction != NULL)
            return agent_usage_error(s_cmd, "--rotate takes only --dir (id, type, name and "
                                     "jurisdiction stay those of org.ini)");
        if (s_rotate(dir, &err) != 0)
            return agent_fail(s_cmd, &err);
        return AGENT_EXIT_OK;
    }
    if (jurisdiction == NULL)
        jurisdiction = "";
    if (dir == NULL || id == NULL || type == NULL || name == NULL)
        return agent_usage_error(s_cmd, "--dir, --id, --type and --name are required");
    if (dir[0] == '\0')
        return agent_usage_error(s_cmd, "--dir is empty");
    if (!nrm_id_valid(id))
        return agent_usage_error(s_cmd, "--id '%s' is not a valid organisation id "
                                 "(1-%d of a-z, 0-9, '.', '_', '-', starting with a "
                                 "letter or digit)", id, NRM_ID_MAX);
    if (!nrm_org_type_valid(type))
        return agent_usage_error(s_cmd, "--type '%s' is not a known organisation type", type);
    if (name[0] == '\0' || !nrm_text_valid(name, NRM_NAME_MAX))
        return agent_usage_error(s_cmd, "--name must be 1-%d bytes of UTF-8 text "
                                 "without control characters", NRM_NAME_MAX);
    if (!nrm_text_valid(jurisdiction, NRM_NAME_MAX))
        return agent_usage_error(s_cmd, "--jurisdiction must be at most %d bytes of "
                                 "UTF-8 text without control characters", NRM_NAME_MAX);
    /* nrm_config reads lines of at most 199 characters. */
    if (strlen("name = ") + strlen(name) > AGENT_INI_LINE_MAX
        || strlen("jurisdiction = ") + strlen(jurisdiction) > AGENT_INI_LINE_MAX)
        return agent_usage_error(s_cmd, "--name may have at most %zu bytes and "
                                 "--jurisdiction at most %zu (org.ini lines are limited "
                                 "to %d characters)",
                                 AGENT_INI_LINE_MAX - strlen("name = "),
                                 AGENT_INI_LINE_MAX - strlen("jurisdiction = "),
                                 AGENT_INI_LINE_MAX);
    if (!s_ini_safe(name) || !s_ini_safe(jurisdiction))
        return agent_usage_error(s_cmd, "--name and --jurisdiction may not contain ';' "
                                 "or start or end with a space (org.ini could not "
                                 "hold them)");
    if (s_keygen(dir, id, type, name, jurisdiction, &err) != 0)
        return agent_fail(s_cmd, &err);
    return AGENT_EXIT_OK;
}
