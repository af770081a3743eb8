/*  nrm-audit -- offline audit of a broker's log: verify it, follow one case,
    export it. Thin: finds the command and runs it. */
#include "audit.h"

static const tool_cmd_t s_commands[] = {
    { "verify", audit_cmd_verify, "verify --dir NET" },
    { "case",   audit_cmd_case,   "case --dir NET REF [--json]" },
    { "export", audit_cmd_export, "export --dir NET --format jsonl [--out FILE]" },
};

int
main(int argc, char **argv)
{
    return tool_main("nrm-audit", s_commands, sizeof s_commands / sizeof s_commands[0],
                     "NET is the broker's network folder, or a copy of it; it is "
                     "opened read-only.\n", argc, argv);
}
