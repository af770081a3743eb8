/*  nrm-audit -- offline audit of a broker's log: verify it, follow one case,
    export it. Thin: parses the command and runs it. */
#include <stdio.h>
#include <string.h>

#include "audit.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} s_commands[] = {
    { "verify", audit_cmd_verify, "verify --dir NET" },
    { "case",   audit_cmd_case,   "case --dir NET REF [--json]" },
    { "export", audit_cmd_export, "export --dir NET --format jsonl [--out FILE]" },
};

static void
s_usage(FILE *f)
{
    fprintf(f, "usage:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(f, "  nrm-audit %s\n", s_commands[i].help);
    fprintf(f, "  nrm-audit COMMAND --help\n"
               "NET is the broker's network folder, or a copy of it; it is opened "
               "read-only.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return TOOL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        s_usage(stdout);
        return TOOL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++) {
        if (strcmp(argv[1], s_commands[i].name) == 0) {
            int code = s_commands[i].run(argc - 1, argv + 1);
            /* A full disk or a closed pipe must not pass for success. */
            if (fflush(stdout) != 0 && code == TOOL_EXIT_OK) {
                fprintf(stderr, "nrm-audit: cannot write the output\n");
                code = TOOL_EXIT_FAIL;
            }
            return code;
        }
    }
    fprintf(stderr, "nrm-audit: unknown command '%s'\n", argv[1]);
    s_usage(stderr);
    return TOOL_EXIT_USAGE;
}
