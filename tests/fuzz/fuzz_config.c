/*  fuzz_config -- the INI files every program reads (nrm_config over
    inih): the input is written as NET/broker.ini (nrm_netconf_load, the
    broker's and nrm-admin's table), ORG/org.ini (agent_org_load) and
    ORG/connect.ini (agent_identity_load, with its hex certificate on
    continuation lines and its certificate check; a valid secret.keys is
    there). Property: every refusal
    names the file. */
#include "fuzz.h"
#include "agent.h"
#include "nrm_netconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static nrm_keys_t *s_keys;

static void
s_refusal_names(const nrm_err_t *err, const char *file)
{
    FUZZ_CHECK(err->code != 0);
    FUZZ_CHECK(strstr(err->msg, file) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_setup();
    nrm_err_t err = { 0, 0, "" };
    if (!s_keys) {
        char path[512];
        s_keys = nrm_keys_generate(NRM_KEYS_ALL);
        FUZZ_CHECK(s_keys != NULL);
        snprintf(path, sizeof path, "%s/secret.keys", dir);
        FUZZ_CHECK(nrm_keys_save(s_keys, path, NULL) == 0);
    }
    fuzz_write("broker.ini", data, size, 0644);
    nrm_netconf_t conf;
    if (nrm_netconf_load(dir, &conf, &err) != 0)
        s_refusal_names(&err, "broker.ini");
    else
        FUZZ_CHECK(conf.batch_max >= 1 && conf.window >= 1 && conf.map_max_mb >= 16);

    agent_org_t org;
    fuzz_write("org.ini", data, size, 0644);
    memset(&err, 0, sizeof err);
    if (agent_org_load(dir, &org, &err) != 0) {
        s_refusal_names(&err, "org.ini");
        snprintf(org.id, sizeof org.id, "police");
    }
    agent_connect_t conn;
    nrm_keys_t *keys = NULL;
    fuzz_write("connect.ini", data, size, 0644);
    memset(&err, 0, sizeof err);
    if (agent_identity_load(dir, &org, &keys, &conn, &err) != 0)
        s_refusal_names(&err, "connect.ini");
    nrm_keys_destroy(&keys);
    agent_connect_clear(&conn);
    return 0;
}
