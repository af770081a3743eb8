/*  tool_util -- helpers shared by nrm-admin and nrm-audit: the broker's
    database list, opening a network folder's store, argument parsing of
    numbers and endpoints, a capped growable text buffer, and printing text
    from the log without letting it drive the terminal.

    Everything here is compiled into both tools (see tools/CMakeLists.txt).
    Some of it would sit better in nrm_common; the report that came with it
    says which. */
#ifndef TOOL_UTIL_H_INCLUDED
#define TOOL_UTIL_H_INCLUDED
#include <stdio.h>
#include "nrm.h"
#include "nrm_store.h"
#include "nrm_auditlog.h"
#include "nrm_registry.h"

/* The databases of the broker's environment NET/data, exactly as the broker
   opens them: audit log, registry, message ids, delivery queue, sealed
   bodies. LMDB cannot open a database read-only that was never created, so
   nrm-admin init creates all of them and the read-only tools name them all. */

/* Longest endpoint we accept ("tcp://host:port", "ipc:///path"). */
#define TOOL_ENDPOINT_MAX 255
/* Longest path of a file inside a network folder. */
#define TOOL_PATH_MAX 4096

/* Process exit codes shared by the tools. */
enum { TOOL_EXIT_OK = 0, TOOL_EXIT_FAIL = 1, TOOL_EXIT_USAGE = 2 };

/* One long option of a command: either it takes a value (value set) or it
   is a switch (flag set). */
typedef struct {
    const char  *name;      /* without the leading "--" */
    const char **value;     /* where the value goes (borrowed from argv) */
    bool        *flag;      /* set to true when the switch is given */
} tool_opt_t;

/* A command's command line. */
typedef struct {
    const char       *prog;     /* "nrm-admin" */
    const char       *cmd;      /* "enroll" */
    const char       *usage;    /* printed for --help, and after an error */
    const tool_opt_t *opts;     /* ends with a NULL name */
    const char      **pos;      /* where the positional arguments go */
    size_t            npos;     /* exactly this many are required */
} tool_cmdline_t;

/* Parses argv (argv[0] is the command name): "--name value", "--name=value",
   "--" ends the options. An option named "dir" is required and checked
   with tool_dir_check. Returns -1 to go on; otherwise the exit code the
   command should return: TOOL_EXIT_OK after --help (usage on stdout),
   TOOL_EXIT_USAGE after an error (the error and the usage on stderr). */
int tool_args(const tool_cmdline_t *cl, int argc, char **argv);

/* One command of a tool. run gets argv with argv[0] = the command name
   and returns a TOOL_EXIT_* code. */
typedef struct {
    const char *name;
    int       (*run)(int argc, char **argv);
    const char *synopsis;   /* "init --dir NET [--network NAME]" */
} tool_cmd_t;

/* The whole main() of a tool: finds argv[1] among cmds and runs it, or
   prints the usage (the synopses, then footer). An exit code of success
   becomes TOOL_EXIT_FAIL if stdout could not be written (a full disk or a
   closed pipe must not pass for success). */
int tool_main(const char *prog, const tool_cmd_t *cmds, size_t n, const char *footer,
              int argc, char **argv);

/* Checks a --dir argument: set, and short enough for the file names the
   tools append to it. */
int tool_dir_check(const char *net_dir, nrm_err_t *err) NRM_WUR;

/* Initialises libsodium and opens NET/data with NRM_BROKER_DBS.
   flags: 0 or NRM_STORE_RDONLY. max_map_mb: 0 for the store's default. */
int tool_store_open(const char *net_dir, int flags, uint64_t max_map_mb,
                    nrm_store_t **out, nrm_err_t *err) NRM_WUR;

/* Parses a decimal unsigned integer in [min, max]; what names the option
   in the error message. */
int tool_u64_parse(const char *text, uint64_t min, uint64_t max, uint64_t *out,
                   const char *what, nrm_err_t *err) NRM_WUR;

/* True if s looks like a ZeroMQ endpoint we can write into an INI file:
   tcp:// or ipc:// followed by printable characters without spaces,
   ';' or '#', at most TOOL_ENDPOINT_MAX bytes. */
bool tool_endpoint_valid(const char *s);

/* Growable text buffer with a cap. A failed append (out of memory, over
   the cap) marks the buffer failed; later appends do nothing, and
   tool_buf_status reports the first failure. */
typedef struct {
    char  *data;
    size_t len, cap, max;
    int    status;           /* 0 or the first NRM_E* code */
} tool_buf_t;

void tool_buf_init(tool_buf_t *b, size_t max);
void tool_buf_printf(tool_buf_t *b, const char *fmt, ...) NRM_PRINTF(2, 3);
void tool_buf_hex(tool_buf_t *b, const uint8_t *data, size_t len);
int  tool_buf_status(const tool_buf_t *b, nrm_err_t *err) NRM_WUR;
void tool_buf_free(tool_buf_t *b);

/* Writes s to f, replacing control characters and DEL by '?', so text from
   the log or a request cannot move the cursor or change the terminal. */
void tool_print_safe(FILE *f, const char *s);

/* Hex of an id of NRM_MSGID_BYTES into out (33 bytes). */
void tool_msgid_hex(const uint8_t id[NRM_MSGID_BYTES], char out[2 * NRM_MSGID_BYTES + 1]);

#endif
