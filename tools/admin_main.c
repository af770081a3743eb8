/*  nrm-admin -- network administration: make a network, enroll
    organisations, list them. Thin: finds the command and runs it. */
#include "admin.h"

static const tool_cmd_t s_commands[] = {
    { "init",    admin_cmd_init,    "init --dir NET [--network NAME] [--listen ENDPOINT]" },
    { "enroll",  admin_cmd_enroll,  "enroll --dir NET REQUEST [--days N] [--endpoint EP] [--out FILE]" },
    { "list",    admin_cmd_list,    "list --dir NET" },
    { "connect", admin_cmd_connect, "connect --dir NET ID [--endpoint EP] [--out FILE]" },
};

int
main(int argc, char **argv)
{
    return tool_main("nrm-admin", s_commands, sizeof s_commands / sizeof s_commands[0],
                     "NET is the network folder made by `nrm-admin init`.\n", argc, argv);
}
