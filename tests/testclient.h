/*  testclient.h -- what nrm-testclient's parts share: the connection of a
    hostile client holding one organisation's keys. */
#ifndef NRM_TESTCLIENT_H_INCLUDED
#define NRM_TESTCLIENT_H_INCLUDED
#include "nrm_codec.h"
#include "nrm_crypto.h"

typedef struct {
    void *ctx, *sock;
    nrm_keys_t *keys;
    char org[NRM_ID_MAX + 1];
    char to[NRM_ID_MAX + 1];
    uint8_t broker_sign[32], broker_curve[32], admin[32];
    nrm_genesis_t genesis;
    nrm_cert_t recipient;
    bool have_recipient;
    uint8_t last_id[16];
    uint8_t *last_frame;
    size_t last_len;
    uint8_t dir[32];                 /* the first Welcome's directory digest */
    bool has_dir;
} client_t;

/* Sends one frame (more_after: another part follows). */
void tc_send(client_t *c, const uint8_t *data, size_t len, bool more_after);
/* Waits up to ms for a receipt (deliveries and notices are skipped); checks
   the broker's signature and decodes it. Returns true if one came. */
bool tc_receipt(client_t *c, int ms, nrm_receipt_t *r);
/* Waits up to ms for a Welcome (other frames are dropped). */
bool tc_welcome(client_t *c, int ms);

/* Runs the table of hostile inputs (tests/hostile.c); prints one line per
   case and returns the number of cases whose answer was not the expected
   one. */
int hostile_table_run(client_t *c);

#endif
