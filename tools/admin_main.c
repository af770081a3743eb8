/*  nrm-admin -- network administration: make a network, enroll, approve,
    revoke, suspend, resume and rotate organisations, cancel a pending request, set the routing
    policy, list and show the registry. Thin: finds the command and runs it. */
#include "admin.h"

static const tool_cmd_t s_commands[] = {
    { "init",    admin_cmd_init,    "init --dir NET [--network NAME] [--listen EP] [--admins N] [--quorum M] [--policy FILE]" },
    { "enroll",  admin_cmd_enroll,  "enroll --dir NET REQUEST [--key ADMIN.key] [--days N] [--endpoint EP]" },
    { "approve", admin_cmd_approve, "approve --dir NET ID [--key ADMIN.key]" },
    { "revoke",  admin_cmd_revoke,  "revoke --dir NET ID --reason TEXT [--key ADMIN.key]" },
    { "suspend", admin_cmd_suspend, "suspend --dir NET ID --reason TEXT [--key ADMIN.key]" },
    { "resume",  admin_cmd_resume,  "resume --dir NET ID [--reason TEXT] [--key ADMIN.key]" },
    { "cancel",  admin_cmd_cancel,  "cancel --dir NET ID --reason TEXT [--key ADMIN.key]" },
    { "rotate",  admin_cmd_rotate,  "rotate --dir NET REQUEST [--key ADMIN.key] [--days N]" },
    { "policy",  admin_cmd_policy,  "policy --dir NET [FILE] [--key ADMIN.key]" },
    { "list",    admin_cmd_list,    "list --dir NET" },
    { "show",    admin_cmd_show,    "show --dir NET ID" },
    { "connect", admin_cmd_connect, "connect --dir NET ID [--endpoint EP] [--out FILE]" },
};

int
main(int argc, char **argv)
{
    return tool_main("nrm-admin", s_commands, sizeof s_commands / sizeof s_commands[0],
                     "NET is the network folder made by `nrm-admin init`. Changes go through the\n"
                     "running broker's admin endpoint, or into the folder when no broker runs.\n",
                     argc, argv);
}
