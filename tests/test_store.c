/*  Unit tests of nrm_store's last-commit probe (nrm_store_last_txn), which
    nrm-bench uses to tell a commit of another process from the page writes
    before it: it moves on with every commit, of this process or another,
    without a transaction, and a read transaction begun after a commit has
    returned sees that commit. */
#include "nrm_store.h"
#include "testutil.h"
#include <sys/wait.h>
#include <unistd.h>

static const char *const s_dbs[] = { "t", NULL };

static int
s_put(nrm_store_t *store, MDB_txn *txn, void *ctx, nrm_err_t *err)
{
    uint8_t key[8];
    nrm_be64_put(key, *(const uint64_t *) ctx);
    return nrm_store_put(store, txn, "t", key, sizeof key, "v", 1, 0, err);
}

static uint64_t
s_read_txn(nrm_store_t *store)
{
    MDB_txn *txn = NULL;
    nrm_err_t err = { 0, 0, "" };
    uint64_t id = 0;
    if (nrm_store_read_begin(store, &txn, &err) == 0)
        id = mdb_txn_id(txn);
    nrm_store_read_end(&txn);
    return id;
}

static void
test_last_txn(void)
{
    char dir[64];
    nrm_store_t *store = NULL;
    nrm_err_t err = { 0, 0, "" };
    uint64_t n = 1;

    t_tmpdir(dir, sizeof dir);
    CHECK_RC(nrm_store_open(dir, s_dbs, 0, &store, &err), 0);
    if (!store)
        return;
    uint64_t before = nrm_store_last_txn(store);
    CHECK(before == s_read_txn(store));
    /* a commit of this process */
    CHECK_RC(nrm_store_write(store, s_put, &n, &err), 0);
    CHECK(nrm_store_last_txn(store) == before + 1);
    CHECK(s_read_txn(store) == before + 1);
    /* commits of another process, with its own environment */
    pid_t pid = fork();
    if (pid == 0) {
        nrm_store_t *other = NULL;
        int rc = nrm_store_open(dir, s_dbs, 0, &other, &err);
        for (uint64_t k = 2; rc == 0 && k <= 4; k++)
            rc = nrm_store_write(other, s_put, &k, &err);
        nrm_store_destroy(&other);
        _exit(rc == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
          && WEXITSTATUS(status) == 0);
    CHECK(nrm_store_last_txn(store) == before + 4);
    CHECK(s_read_txn(store) == before + 4);
    nrm_store_destroy(&store);
    t_rmdir(dir);
}

int
main(void)
{
    test_last_txn();
    TEST_DONE();
}
