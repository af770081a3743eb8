/*  Unit tests of the daemon's wake-up socket (agents/agent_wake.h): the
    socket is made mode 0600; a poke reaches the listener and many are read
    in one drain; garbage and a flood are read and dropped, never block the
    sender and never fail it loudly; a poke with no daemon (no file, or the
    file of a killed one) fails quietly; a stale socket file is replaced at
    the next listen, anything else at that path is refused; an organisation
    folder whose path is too long for a Unix socket address still works;
    close removes the file. */
#include "agent_wake.h"
#include "testutil.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int
s_mode(const char *dir, mode_t *mode)
{
    char path[AGENT_PATH_MAX];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", dir, AGENT_WAKE_FILE);
    if (lstat(path, &st) != 0)
        return -1;
    *mode = st.st_mode;
    return 0;
}

/* Sends len bytes of garbage straight to the socket, as any process of the
   same user could; returns what sendto returned (or -1). */
static ssize_t
s_raw(const char *dir, const void *buf, size_t len)
{
    struct sockaddr_un sun;
    ssize_t n;
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0);

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s/%s", dir, AGENT_WAKE_FILE);
    n = sendto(s, buf, len, MSG_DONTWAIT, (struct sockaddr *) &sun, sizeof sun);
    close(s);
    return n;
}

int
main(void)
{
    char dir[128], deep[AGENT_PATH_MAX], path[AGENT_PATH_MAX];
    nrm_err_t err;
    mode_t mode = 0;
    int fd = -1, fd2 = -1, e;
    size_t i, n;

    t_tmpdir(dir, sizeof dir);

    /* No daemon yet: the poke fails quietly with ENOENT. */
    CHECK_RC(agent_wake_poke(dir), ENOENT);

    /* Listening makes a socket of mode 0600, whatever the umask. */
    mode_t old = umask(0);
    CHECK_RC(agent_wake_listen(dir, &fd, &err), 0);
    umask(old);
    CHECK(fd >= 0);
    CHECK(s_mode(dir, &mode) == 0 && S_ISSOCK(mode) && (mode & 0777) == 0600);

    /* Nothing waiting: the drain returns at once with nothing. */
    CHECK(agent_wake_drain(fd, 100) == 0);
    /* One poke is read; several are read in one drain (coalesced). */
    CHECK_RC(agent_wake_poke(dir), 0);
    CHECK(agent_wake_drain(fd, 100) == 1);
    for (i = 0; i < 5; i++)
        CHECK_RC(agent_wake_poke(dir), 0);
    CHECK(agent_wake_drain(fd, 100) == 5);
    /* The drain stops at its cap; the rest waits for the next one. */
    for (i = 0; i < 5; i++)
        CHECK_RC(agent_wake_poke(dir), 0);
    CHECK(agent_wake_drain(fd, 3) == 3);
    CHECK(agent_wake_drain(fd, 100) == 2);

    /* Garbage of any size, even empty, is a poke like any other. */
    uint8_t big[60000];
    memset(big, 0xA5, sizeof big);
    CHECK(s_raw(dir, big, sizeof big) == (ssize_t) sizeof big);
    CHECK(s_raw(dir, big, 0) == 0);
    CHECK(s_raw(dir, "\0\xff\n", 3) == 3);
    CHECK(agent_wake_drain(fd, 100) == 3);

    /* A flood: once the queue is full, pokes fail with EAGAIN at once (no
       poke ever blocks a send); after a drain they go through again. */
    for (i = 0, e = 0; i < 100000 && e == 0; i++)
        e = agent_wake_poke(dir);
    CHECK_RC(e, EAGAIN);
    CHECK(i > 1);
    n = 0;
    while (agent_wake_drain(fd, 1000) > 0)
        n++;
    CHECK(n > 0);
    CHECK_RC(agent_wake_poke(dir), 0);
    CHECK(agent_wake_drain(fd, 100) == 1);

    /* A daemon killed (its socket closed without the file removed): pokes
       are refused quietly, and the next daemon replaces the file. */
    close(fd);
    fd = -1;
    CHECK(s_mode(dir, &mode) == 0 && S_ISSOCK(mode));
    CHECK_RC(agent_wake_poke(dir), ECONNREFUSED);
    CHECK_RC(agent_wake_listen(dir, &fd, &err), 0);
    CHECK_RC(agent_wake_poke(dir), 0);
    CHECK(agent_wake_drain(fd, 100) == 1);

    /* Close removes the file; closing again is harmless. */
    agent_wake_close(dir, &fd);
    CHECK(fd == -1);
    CHECK(s_mode(dir, &mode) != 0 && errno == ENOENT);
    agent_wake_close(dir, &fd);
    CHECK_RC(agent_wake_poke(dir), ENOENT);

    /* Something else at the path is not ours: refused, left alone. */
    snprintf(path, sizeof path, "%s/%s", dir, AGENT_WAKE_FILE);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f != NULL)
        fclose(f);
    CHECK(agent_wake_listen(dir, &fd2, &err) != 0 && fd2 == -1);
    CHECK_STR_HAS(err.msg, "is not a socket");
    CHECK(s_mode(dir, &mode) == 0 && S_ISREG(mode));
    CHECK(agent_wake_poke(dir) != 0);
    unlink(path);

    /* An organisation folder deeper than a Unix socket address can name
       (107 bytes): reached through its descriptor. */
    snprintf(deep, sizeof deep, "%s", dir);
    while (strlen(deep) < 150) {
        size_t len = strlen(deep);
        snprintf(deep + len, sizeof deep - len, "/%s", "a-rather-long-folder-name");
        CHECK(mkdir(deep, 0700) == 0);
    }
    CHECK_RC(agent_wake_listen(deep, &fd, &err), 0);
    CHECK(s_mode(deep, &mode) == 0 && S_ISSOCK(mode) && (mode & 0777) == 0600);
    CHECK_RC(agent_wake_poke(deep), 0);
    CHECK(agent_wake_drain(fd, 100) == 1);
    agent_wake_close(deep, &fd);
    CHECK(s_mode(deep, &mode) != 0);

    t_rmdir(dir);
    TEST_DONE();
}
