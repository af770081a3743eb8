/*  agent_wake -- how a send tells the running daemon that the outbox has
    new entries, so that it submits them at once instead of at its next
    look: ORG/agent.wake, a Unix datagram socket that `nrm-agent run`
    binds (mode 0600: only the organisation's own user may write to it),
    and that agent_sender_send pokes right after its outbox commit.

    A poke is a hint, never a carrier: it holds nothing, the daemon reads
    and drops whatever arrives (any bytes, any number of datagrams) and then
    scans the outbox queue, which it also does on its own every few
    seconds. So a poke lost, late, repeated or forged costs at most one
    scan, and a send while no daemon runs (no socket file: ENOENT; a file
    left by a killed daemon: ECONNREFUSED) or while pokes are already
    waiting (EAGAIN) loses nothing: the next scan finds the entry. The
    daemon drains every poke before it scans, so many sends between two
    scans cost one scan (coalesced). */
#ifndef AGENT_WAKE_H_INCLUDED
#define AGENT_WAKE_H_INCLUDED
#include "agent.h"

#define AGENT_WAKE_FILE "agent.wake"

/* Daemon: binds ORG/agent.wake, replacing a socket file that a daemon
   which died left behind (the caller holds ORG/agent.lock, so no live
   daemon owns it), and sets *fd to the non-blocking socket to poll for
   input. Refuses, with the reason in err, when the path exists and is not
   a socket. */
int agent_wake_listen(const char *dir, int *fd, nrm_err_t *err) NRM_WUR;
/* Daemon: reads and drops the pokes waiting on fd, at most max of them
   (the rest keep fd readable for the next round). Returns how many were
   read. Never blocks. */
size_t agent_wake_drain(int fd, size_t max);
/* Daemon: closes *fd (sets it to -1) and removes ORG/agent.wake. Call it
   while ORG/agent.lock is still held. Safe with *fd == -1. */
void agent_wake_close(const char *dir, int *fd);

/* Sender: pokes the daemon of dir, if one runs. Never blocks and never
   fails: every error (no daemon, queue full, a path too long...) only
   means the daemon finds the new entries at its next scan. Returns 0 when
   the poke was sent, else the errno, for tests and debug logs. */
int agent_wake_poke(const char *dir);

#endif
