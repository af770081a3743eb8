/*  nrm-agent -- the organisation agent: argument dispatch only. Each command
    parses its own options and prints its own --help. */
#include "agent.h"
#include "agent_referrals.h"

#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} s_command_t;

static const s_command_t s_commands[] = {
    { "keygen", agent_cmd_keygen, "make this organisation's keys and enrollment request" },
    { "run",    agent_cmd_run,    "run the agent daemon (foreground) that talks to the broker" },
    { "send",   agent_cmd_send,   "seal, sign and queue a message for another organisation" },
    { "outbox", agent_cmd_outbox, "list sent messages and their state" },
    { "inbox",  agent_cmd_inbox,  "list received messages with their documents" },
    { "wait",   agent_cmd_wait,   "wait until a message is accepted, delivered or received" },
    { "case",   agent_cmd_case,   "this organisation's view of a case and its referrals' states" },
    { "overdue", agent_cmd_overdue, "referrals escalated because their answer is overdue" },
    { "purge",  agent_cmd_purge,  "drop opened bodies past their retention (the trail stays)" },
    { "checkpoint", agent_cmd_checkpoint,
      "show the broker checkpoint this agent trusts and any inconsistent one" },
};

static void
s_help(FILE *out)
{
    size_t i;

    fprintf(out,
        "Usage: nrm-agent COMMAND [OPTIONS]\n"
        "       nrm-agent COMMAND --help\n"
        "\n"
        "The nrmbus agent of one organisation. Every command works on an\n"
        "organisation folder (--dir ORG) made by `nrm-agent keygen`.\n"
        "\n"
        "Commands:\n");
    for (i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(out, "  %-8s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf(out,
        "\n"
        "Exit status: 0 success, 1 error, 2 wait timed out, 3 wait: message\n"
        "refused, 64 bad command line.\n");
}

int
main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        s_help(stderr);
        return AGENT_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            for (i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
                if (strcmp(argv[2], s_commands[i].name) == 0) {
                    char *hargv[] = { argv[2], (char *) "--help", NULL };
                    return s_commands[i].fn(2, hargv);
                }
        }
        s_help(stdout);
        return AGENT_EXIT_OK;
    }
    for (i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (strcmp(argv[1], s_commands[i].name) == 0)
            return s_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "nrm-agent: unknown command '%s'\n\n", argv[1]);
    s_help(stderr);
    return AGENT_EXIT_USAGE;
}
