/*  nrm-audit -- offline audit of a broker's log: verify it, follow one case,
    export it. Thin: finds the command and runs it. */
#include "audit.h"

static const tool_cmd_t s_commands[] = {
    { "verify", audit_cmd_verify, "verify --dir NET [--checkpoint NOTE]" },
    { "case",   audit_cmd_case,   "case --dir NET REF [--json]" },
    { "export", audit_cmd_export, "export --dir NET --format jsonl [--out FILE]" },
    { "import", audit_cmd_import, "import --dir FRESH EXPORT.jsonl" },
    { "checkpoint", audit_cmd_checkpoint, "checkpoint --dir NET [--json] [--size N]" },
    { "prove", audit_cmd_prove, "prove --dir NET SEQ [--size N] [--out FILE]" },
    { "check-proof", audit_cmd_check_proof, "check-proof PROOF --broker-key KEY" },
    { "consistency", audit_cmd_consistency,
      "consistency --dir NET OLD_SIZE NEW_SIZE [--out FILE]" },
    { "check-consistency", audit_cmd_check_consistency,
      "check-consistency PROOF --broker-key KEY" },
};

int
main(int argc, char **argv)
{
    return tool_main("nrm-audit", s_commands, sizeof s_commands / sizeof s_commands[0],
                     "NET is the broker's network folder, or a copy of it; it is "
                     "opened read-only.\n", argc, argv);
}
