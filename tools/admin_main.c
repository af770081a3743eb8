/*  nrm-admin -- network administration: make a network, enroll
    organisations, list them. Thin: parses the command and runs it. */
#include <stdio.h>
#include <string.h>

#include "admin.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} s_commands[] = {
    { "init",    admin_cmd_init,    "init --dir NET [--network NAME] [--listen ENDPOINT]" },
    { "enroll",  admin_cmd_enroll,  "enroll --dir NET REQUEST [--days N] [--endpoint EP] [--out FILE]" },
    { "list",    admin_cmd_list,    "list --dir NET" },
    { "connect", admin_cmd_connect, "connect --dir NET ID [--endpoint EP] [--out FILE]" },
};

static void
s_usage(FILE *f)
{
    fprintf(f, "usage:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(f, "  nrm-admin %s\n", s_commands[i].help);
    fprintf(f, "  nrm-admin COMMAND --help\n");
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
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            return s_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "nrm-admin: unknown command '%s'\n", argv[1]);
    s_usage(stderr);
    return TOOL_EXIT_USAGE;
}
