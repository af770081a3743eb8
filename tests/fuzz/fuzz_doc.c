/*  fuzz_doc -- the JSON documents that come from the organisation's own
    system (`nrm-agent send --file`) and, opened, from other agents
    (agent_doc_check, jansson with duplicate keys refused). Property: a
    refusal never quotes the document (it may hold a victim's data), and an
    accepted document is a JSON object. */
#include "fuzz.h"
#include "agent_verify.h"

#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nrm_err_t err = { 0, 0, "" };
    fuzz_setup();
    if (agent_doc_check(data, size, &err) != 0) {
        FUZZ_CHECK(err.code == NRM_EINVAL);
        FUZZ_CHECK(strncmp(err.msg, "document is ", 12) == 0);
        return 0;
    }
    /* An object starts with '{' after optional white space. */
    size_t i = 0;
    while (i < size && strchr(" \t\r\n", data[i]) && data[i])
        i++;
    FUZZ_CHECK(i < size && data[i] == '{');
    return 0;
}
