/*  agent_wake -- the daemon's wake-up socket (see agent_wake.h). */
#include "agent_wake.h"
#include "nrm_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Fills *sun with the address of ORG/agent.wake. A Unix socket address
   holds at most 107 bytes of path; a longer organisation folder is reached
   through /proc/self/fd/N of the folder opened as *dirfd, which the caller
   closes after bind or sendto (-1 when not used). Returns 0 or an errno. */
static int
s_addr(const char *dir, struct sockaddr_un *sun, int *dirfd)
{
    int n;

    *dirfd = -1;
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    n = snprintf(sun->sun_path, sizeof sun->sun_path, "%s/%s", dir, AGENT_WAKE_FILE);
    if (n > 0 && (size_t) n < sizeof sun->sun_path)
        return 0;
    *dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0)
        return errno;
    n = snprintf(sun->sun_path, sizeof sun->sun_path, "/proc/self/fd/%d/%s", *dirfd,
                 AGENT_WAKE_FILE);
    if (n < 0 || (size_t) n >= sizeof sun->sun_path) {
        close(*dirfd);
        *dirfd = -1;
        return ENAMETOOLONG;
    }
    return 0;
}

int
agent_wake_listen(const char *dir, int *fd, nrm_err_t *err)
{
    char path[AGENT_PATH_MAX];
    struct sockaddr_un sun;
    struct stat st;
    int dirfd = -1, s = -1, e, rc;
    mode_t old;

    *fd = -1;
    rc = agent_org_path(path, dir, AGENT_WAKE_FILE, err);
    if (rc != 0)
        return rc;
    /* A socket file is what a daemon killed before it could remove its own
       leaves; the lock says none runs now. Anything else is not ours. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return nrm_err_set(err, NRM_EEXIST, "%s exists and is not a socket: remove it "
                               "(the agent binds its wake-up socket there)", path);
        if (unlink(path) != 0 && errno != ENOENT)
            return nrm_err_set(err, NRM_EIO, "cannot remove the stale %s: %s", path,
                               strerror(errno));
    } else if (errno != ENOENT) {
        return nrm_err_set(err, NRM_EIO, "%s: %s", path, strerror(errno));
    }
    e = s_addr(dir, &sun, &dirfd);
    if (e != 0)
        return nrm_err_set(err, NRM_EIO, "address of %s: %s", path, strerror(e));
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        rc = nrm_err_set(err, NRM_EIO, "socket: %s", strerror(errno));
        goto out;
    }
    /* Created 0600 from the start: no moment when another user may write. */
    old = umask(0177);
    e = bind(s, (const struct sockaddr *) &sun, sizeof sun) == 0 ? 0 : errno;
    umask(old);
    if (e != 0) {
        rc = nrm_err_set(err, NRM_EIO, "cannot bind the wake-up socket %s: %s", path,
                         strerror(e));
        goto out;
    }
    *fd = s;
    s = -1;
out:
    if (s >= 0)
        close(s);
    if (dirfd >= 0)
        close(dirfd);
    return rc;
}

size_t
agent_wake_drain(int fd, size_t max)
{
    uint8_t buf[16];
    size_t n = 0;

    /* The content does not matter: a longer datagram is cut, and dropped. */
    while (n < max && recv(fd, buf, sizeof buf, MSG_DONTWAIT) >= 0)
        n++;
    return n;
}

void
agent_wake_close(const char *dir, int *fd)
{
    char path[AGENT_PATH_MAX];

    if (fd == NULL || *fd < 0)
        return;
    close(*fd);
    *fd = -1;
    if (agent_org_path(path, dir, AGENT_WAKE_FILE, NULL) == 0)
        (void) unlink(path);
}

int
agent_wake_poke(const char *dir)
{
    static const uint8_t poke = 'w';
    struct sockaddr_un sun;
    int dirfd = -1, s, e;

    e = s_addr(dir, &sun, &dirfd);
    if (e != 0)
        return e;
    s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) {
        e = errno;
    } else {
        e = sendto(s, &poke, 1, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *) &sun,
                   sizeof sun) == 1 ? 0 : errno;
        close(s);
    }
    if (dirfd >= 0)
        close(dirfd);
    return e;
}
