/*  tool_util -- helpers shared by nrm-admin and nrm-audit. */
#include "tool_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "nrm_crypto.h"
#include "nrm_util.h"

/* The option of cl named by arg ("--name" or "--name=value"), or NULL. */
static const tool_opt_t *
s_opt_find(const tool_cmdline_t *cl, const char *arg, const char **inline_value)
{
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t n = eq ? (size_t) (eq - name) : strlen(name);
    *inline_value = eq ? eq + 1 : NULL;
    for (const tool_opt_t *o = cl->opts; o->name != NULL; o++)
        if (strlen(o->name) == n && strncmp(o->name, name, n) == 0)
            return o;
    return NULL;
}

/* Prints "<prog> <cmd>: <what> '<arg>'" (or without arg), then the usage. */
static int
s_args_error(const tool_cmdline_t *cl, const char *what, const char *arg)
{
    fprintf(stderr, "%s %s: %s", cl->prog, cl->cmd, what);
    if (arg != NULL) {
        fputs(" '", stderr);
        tool_print_safe(stderr, arg);
        fputc('\'', stderr);
    }
    fprintf(stderr, "\n%s", cl->usage);
    return TOOL_EXIT_USAGE;
}

int
tool_args(const tool_cmdline_t *cl, int argc, char **argv)
{
    size_t npos = 0;
    bool options_done = false;
    const char **dir = NULL;

    for (const tool_opt_t *o = cl->opts; o->name != NULL; o++) {
        if (o->value != NULL)
            *o->value = NULL;
        if (o->flag != NULL)
            *o->flag = false;
        if (strcmp(o->name, "dir") == 0)
            dir = o->value;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            fputs(cl->usage, stdout);
            return TOOL_EXIT_OK;
        }
        if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            const char *inline_value;
            const tool_opt_t *o = arg[1] == '-' ? s_opt_find(cl, arg, &inline_value) : NULL;
            if (o == NULL)
                return s_args_error(cl, "unknown option", arg);
            if (o->flag != NULL) {
                if (inline_value != NULL)
                    return s_args_error(cl, "this option takes no value:", arg);
                *o->flag = true;
                continue;
            }
            if (inline_value == NULL) {
                if (i + 1 >= argc)
                    return s_args_error(cl, "this option needs a value:", arg);
                inline_value = argv[++i];
            }
            if (*o->value != NULL)
                return s_args_error(cl, "this option is given twice:", arg);
            *o->value = inline_value;
            continue;
        }
        if (npos == cl->npos)
            return s_args_error(cl, "unexpected argument", arg);
        cl->pos[npos++] = arg;
    }
    if (npos < cl->npos)
        return s_args_error(cl, "missing argument", NULL);
    if (dir != NULL) {
        nrm_err_t err;
        memset(&err, 0, sizeof err);
        if (tool_dir_check(*dir, &err) != 0)
            return s_args_error(cl, err.msg, NULL);
    }
    return -1;
}

int
tool_main(const char *prog, const tool_cmd_t *cmds, size_t n, const char *footer,
          int argc, char **argv)
{
    int code = TOOL_EXIT_USAGE;
    if (argc < 2)
        goto usage;
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        code = TOOL_EXIT_OK;
        goto usage;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[1], cmds[i].name) != 0)
            continue;
        code = cmds[i].run(argc - 1, argv + 1);
        if (fflush(stdout) != 0 && code == TOOL_EXIT_OK) {
            fprintf(stderr, "%s: cannot write the output\n", prog);
            code = TOOL_EXIT_FAIL;
        }
        return code;
    }
    fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
usage:;
    FILE *f = code == TOOL_EXIT_OK ? stdout : stderr;
    fprintf(f, "usage:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %s %s\n", prog, cmds[i].synopsis);
    fprintf(f, "  %s COMMAND --help\n%s", prog, footer);
    return code;
}

int
tool_dir_check(const char *net_dir, nrm_err_t *err)
{
    if (net_dir == NULL || net_dir[0] == '\0')
        return nrm_err_set(err, NRM_EINVAL, "--dir NET is required");
    /* Room for the longest name appended ("/enrolled/<id>.connect.ini"). */
    if (strlen(net_dir) > TOOL_PATH_MAX - NRM_ID_MAX - 64)
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long");
    return 0;
}

int
tool_store_open(const char *net_dir, int flags, uint64_t max_map_mb,
                nrm_store_t **out, nrm_err_t *err)
{
    static const char *const names[] = { NRM_BROKER_DBS, NULL };
    char path[TOOL_PATH_MAX];
    *out = NULL;
    if (nrm_crypto_init() != 0)
        return nrm_err_set(err, NRM_ECRYPTO, "cannot initialise libsodium");
    if (nrm_path(path, sizeof path, "%s/data", net_dir) != 0)
        return nrm_err_set(err, NRM_ETOOBIG, "folder name too long: %s", net_dir);
    int rc = nrm_store_open(path, names, flags, out, err);
    if (rc != 0) {
        nrm_err_prefix(err, "cannot open the store in %s", path);
        return rc;
    }
    /* map_max_mb from broker.ini; the cap is in bytes and size_t. */
    if (max_map_mb > 0 && max_map_mb <= SIZE_MAX / (1024u * 1024u))
        nrm_store_set_max_map(*out, (size_t) max_map_mb * 1024u * 1024u);
    return 0;
}

int
tool_u64_parse(const char *text, uint64_t min, uint64_t max, uint64_t *out,
               const char *what, nrm_err_t *err)
{
    *out = 0;
    /* strtoull accepts leading blanks and a minus sign; we do not. */
    if (text == NULL || text[0] < '0' || text[0] > '9')
        return nrm_err_set(err, NRM_EINVAL, "%s: expected a number, got '%s'",
                           what, text ? text : "");
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return nrm_err_set(err, NRM_EINVAL, "%s: not a number: '%s'", what, text);
    if (v < min || v > max)
        return nrm_err_set(err, NRM_EINVAL, "%s: %llu is out of range %llu..%llu",
                           what, v, (unsigned long long) min,
                           (unsigned long long) max);
    *out = (uint64_t) v;
    return 0;
}

bool
tool_endpoint_valid(const char *s)
{
    size_t n = strlen(s);
    if (n > TOOL_ENDPOINT_MAX)
        return false;
    size_t pre;
    if (strncmp(s, "tcp://", 6) == 0)
        pre = 6;
    else if (strncmp(s, "ipc://", 6) == 0)
        pre = 6;
    else
        return false;
    if (n == pre)
        return false;
    for (size_t i = pre; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        if (c <= ' ' || c >= 0x7f || c == ';' || c == '#')
            return false;
    }
    return true;
}

void
tool_buf_init(tool_buf_t *b, size_t max)
{
    memset(b, 0, sizeof *b);
    b->max = max;
}

/* Makes room for extra more bytes plus a NUL. */
static bool
s_buf_reserve(tool_buf_t *b, size_t extra)
{
    if (b->status != 0)
        return false;
    if (extra > b->max || b->len > b->max - extra) {
        b->status = NRM_ETOOBIG;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->status = NRM_ENOMEM;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void
tool_buf_printf(tool_buf_t *b, const char *fmt, ...)
{
    if (b->status != 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->status = NRM_EINVAL;
        return;
    }
    if (!s_buf_reserve(b, (size_t) n))
        return;
    va_start(ap, fmt);
    (void) vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

void
tool_buf_hex(tool_buf_t *b, const uint8_t *data, size_t len)
{
    if (len > SIZE_MAX / 2 - 1 || !s_buf_reserve(b, 2 * len))
        return;
    nrm_hex_encode(data, len, b->data + b->len);
    b->len += 2 * len;
}

int
tool_buf_status(const tool_buf_t *b, nrm_err_t *err)
{
    if (b->status == NRM_ETOOBIG)
        return nrm_err_set(err, NRM_ETOOBIG, "text over %zu bytes", b->max);
    if (b->status != 0)
        return nrm_err_set(err, b->status, "cannot build text: %s",
                           nrm_strerror(b->status));
    return 0;
}

void
tool_buf_free(tool_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void
tool_print_safe(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *) s; *p; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, f);
}

void
tool_msgid_hex(const uint8_t id[NRM_MSGID_BYTES], char out[2 * NRM_MSGID_BYTES + 1])
{
    nrm_hex_encode(id, NRM_MSGID_BYTES, out);
}
