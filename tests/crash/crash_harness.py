#!/usr/bin/env python3
"""Crash harness: many referrals between several agents through a broker,
while the broker and the agents are killed with SIGKILL at moments drawn
from a seeded PRNG and restarted. At the end, after everything drained:

  1. every message that `nrm-agent send` acknowledged (exit 0: durable in
     the outbox) is exactly once in its recipient's inbox, with its own
     document (a unique token), and nothing else is there;
  2. every receipt the broker gave (kept in the sender's outbox) names an
     audit record that exists, has that leaf hash, is the ACCEPTED record
     of that message, and each message has exactly one ACCEPTED and one
     DELIVERED record;
  3. no queue entry is orphaned: the broker's queue and body stores are
     empty once everything is delivered (read with mdb_dump);
  4. `nrm-audit verify` passes;
  5. each inbox lists its messages in the order the broker accepted them
     (increasing ACCEPTED sequence numbers), however often the broker and
     the agent were killed in between.

Reproducible from the seed it prints: the seed fixes the messages (sender,
recipient, document), the moments of the kills (as positions in the
sequence of sends) and the restart delays. The processes' own timing is
not fixed, so a rerun explores the same schedule, not the same
interleaving.

usage: crash_harness.py --build BUILD [--messages N] [--broker-kills K]
         [--agent-kills K] [--seed S] [--outage SECONDS] [--keep]
Exit 0 if every property holds; 1 otherwise (the folder is kept)."""
import argparse
import base64
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

ORGS = [("police", "police", "Provincial Police Anti-Trafficking Unit"),
        ("msdhs", "msdhs", "MSDHS Provincial Office"),
        ("labour", "labour", "Labour Protection Office"),
        ("ngo-a", "ngo", "Foundation for Women"),
        ("prosecutor", "prosecutor", "Office of the Attorney General")]
# Handoffs that the shipped routing policy (config/policy.ini) allows, with
# a valid document of each type (docs/referrals.md); the unique token goes
# into a free-text field.
ROUTES = [("police", "msdhs", "referral"), ("police", "labour", "referral"),
          ("police", "prosecutor", "referral"), ("police", "msdhs", "tip"),
          ("msdhs", "police", "tip"), ("msdhs", "labour", "referral"),
          ("msdhs", "ngo-a", "referral"), ("labour", "msdhs", "referral"),
          ("ngo-a", "police", "tip"), ("ngo-a", "msdhs", "tip"),
          ("ngo-a", "msdhs", "referral"), ("ngo-a", "labour", "referral")]
DOCS = {"referral": lambda tok: {"request": {"ext_Service": "crash-" + tok}},
        "tip": lambda tok: {"cas_OutgoingReferralDetails": "crash-" + tok}}
TOKEN = re.compile(r"crash-([0-9a-f]{16})")
PARALLEL = 4          # sends in flight at once (one batch)


class Failure(Exception):
    pass


class Harness:
    def __init__(self, args, root):
        self.a = args
        self.root = root
        self.net = os.path.join(root, "net")
        b = args.build
        self.bin_admin = os.path.join(b, "tools", "nrm-admin")
        self.bin_audit = os.path.join(b, "tools", "nrm-audit")
        self.bin_broker = os.path.join(b, "broker", "nrm-broker")
        self.bin_agent = os.path.join(b, "agents", "nrm-agent")
        self.endpoint = "tcp://127.0.0.1:0"
        self.broker = None
        self.agents = {}
        self.lock = threading.Lock()      # guards processes and counters
        self.timers = []
        self.kills = {"broker": 0, "agent": 0}
        self.restarts = 0

    # ---- processes ----
    def run(self, *cmd, check=True):
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if check and p.returncode != 0:
            raise Failure("%s exited %d: %s" % (" ".join(cmd[:2]), p.returncode, p.stderr.strip()))
        return p

    def log(self, name):
        return open(os.path.join(self.root, name + ".log"), "a")

    def broker_start(self):
        epfile = os.path.join(self.net, "broker.endpoint")
        if os.path.exists(epfile):
            os.unlink(epfile)
        self.broker = subprocess.Popen([self.bin_broker, "--dir", self.net, "--listen", self.endpoint],
                                       stdout=self.log("broker"), stderr=subprocess.STDOUT)
        for _ in range(400):
            if os.path.exists(epfile) and os.path.getsize(epfile) > 0:
                self.endpoint = open(epfile).read().strip()
                return
            if self.broker.poll() is not None:
                break
            time.sleep(0.025)
        raise Failure("the broker did not start (see broker.log)")

    def agent_start(self, org):
        self.agents[org] = subprocess.Popen(
            [self.bin_agent, "run", "--dir", os.path.join(self.root, org), "--endpoint", self.endpoint],
            stdout=self.log(org), stderr=subprocess.STDOUT)

    def kill(self, what, rng):
        """SIGKILL the broker or one agent; restart it after a drawn delay,
        from a timer, so that sends go on meanwhile."""
        delay = rng.uniform(0.0, 0.5)
        with self.lock:
            proc = self.broker if what == "broker" else self.agents[what]
            if proc is None or proc.poll() is not None:
                return False
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            if what == "broker":
                self.broker = None
                self.kills["broker"] += 1
            else:
                self.agents[what] = None
                self.kills["agent"] += 1
        t = threading.Timer(delay, self.restart, args=(what,))
        t.start()
        self.timers.append(t)
        return True

    def restart(self, what):
        with self.lock:
            if what == "broker":
                if self.broker is None:
                    self.broker_start()
            elif self.agents.get(what) is None:
                self.agent_start(what)
            self.restarts += 1

    def wait_up(self, what):
        for t in self.timers:
            t.join()
        with self.lock:
            proc = self.broker if what == "broker" else self.agents[what]
            if proc is None or proc.poll() is not None:
                raise Failure("%s is not running (exit %s)" % (what, proc.poll() if proc else "killed"))

    def stop_all(self):
        for t in self.timers:
            t.join()
        procs = [p for p in list(self.agents.values()) + [self.broker] if p is not None]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    # ---- setup ----
    def setup(self):
        self.run(self.bin_admin, "init", "--dir", self.net, "--listen", "tcp://127.0.0.1:0")
        for org, typ, name in ORGS:
            d = os.path.join(self.root, org)
            self.run(self.bin_agent, "keygen", "--dir", d, "--id", org, "--type", typ, "--name", name)
            self.run(self.bin_admin, "enroll", "--dir", self.net, os.path.join(d, "request.nrm"))
            shutil.copy(os.path.join(self.net, "enrolled", org + ".connect.ini"),
                        os.path.join(d, "connect.ini"))
        self.broker_start()
        for org, _, _ in ORGS:
            self.agent_start(org)
        # Every agent needs one Welcome (the directory) before it can send.
        deadline = time.time() + 60
        for org, _, _ in ORGS:
            while self.grep_log(org, "welcome from the broker") == 0:
                if time.time() > deadline:
                    raise Failure("%s never received the directory (see %s.log)" % (org, org))
                time.sleep(0.1)

    # ---- the run ----
    def send(self, m):
        path = os.path.join(self.root, "docs", "%d.json" % m["n"])
        with open(path, "w") as f:
            json.dump(DOCS[m["type"]](m["token"]), f)
        p = subprocess.run([self.bin_agent, "send", "--dir", os.path.join(self.root, m["from"]),
                            "--to", m["to"], "--type", m["type"], "--case", m["case"], "--file", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.unlink(path)
        if p.returncode == 0:
            m["msg_id"] = p.stdout.strip().split()[0]
        else:
            m["error"] = p.stderr.strip()
        return m

    def plan(self, rng):
        orgs = [o for o, _, _ in ORGS]
        msgs = []
        for n in range(self.a.messages):
            s, r, typ = rng.choice(ROUTES)
            msgs.append({"n": n, "from": s, "to": r, "type": typ,
                         "case": "case-%04d" % rng.randrange(500),
                         "token": "%016x" % rng.getrandbits(64)})
        events = [(rng.randrange(self.a.messages), "broker") for _ in range(self.a.broker_kills)]
        events += [(rng.randrange(self.a.messages), rng.choice(orgs)) for _ in range(self.a.agent_kills)]
        events.sort()
        outage_at = rng.randrange(self.a.messages) if self.a.outage else None
        return msgs, events, outage_at

    def drive(self, rng, msgs, events, outage_at):
        os.makedirs(os.path.join(self.root, "docs"), exist_ok=True)
        ev = 0
        t0 = time.time()
        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            for start in range(0, len(msgs), PARALLEL):
                end = start + PARALLEL
                while ev < len(events) and events[ev][0] < end:
                    what = events[ev][1]
                    time.sleep(rng.uniform(0.0, 0.05))
                    if not self.kill(what, rng):
                        # Still down from the last kill: wait for its restart.
                        self.wait_up(what)
                        self.kill(what, rng)
                    ev += 1
                if outage_at is not None and start <= outage_at < end:
                    self.wait_up("broker")
                    with self.lock:
                        self.broker.send_signal(signal.SIGKILL)
                        self.broker.wait()
                        self.broker = None
                        self.kills["broker"] += 1
                    print("broker down for %d s (sends go on)" % self.a.outage, flush=True)
                    t = threading.Timer(self.a.outage, self.restart, args=("broker",))
                    t.start()
                    self.timers.append(t)
                list(pool.map(self.send, msgs[start:end]))
                if (end // PARALLEL) % max(1, len(msgs) // PARALLEL // 10) == 0:
                    print("  %d/%d sent, %d kills so far, %.0f s" %
                          (min(end, len(msgs)), len(msgs), sum(self.kills.values()), time.time() - t0),
                          flush=True)
        for t in self.timers:
            t.join()
        return time.time() - t0

    def outbox(self, org):
        p = self.run(self.bin_agent, "outbox", "--dir", os.path.join(self.root, org), "--json")
        return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]

    def inbox(self, org):
        """Inbox entries, each with the token found in its document."""
        p = self.run(self.bin_agent, "inbox", "--dir", os.path.join(self.root, org), "--json")
        out = []
        for line in p.stdout.splitlines():
            if line.strip():
                e = json.loads(line)
                t = TOKEN.search(json.dumps(e.get("document")))
                e["token"] = t.group(1) if t else None
                out.append(e)
        return out

    def drain(self, acked, timeout):
        """Waits until every acknowledged message is delivered."""
        by_sender = {}
        for m in acked:
            by_sender.setdefault(m["from"], set()).add(m["msg_id"])
        deadline = time.time() + timeout
        while True:
            pending = 0
            for org, ids in by_sender.items():
                states = {e["msg_id"]: e["state"] for e in self.outbox(org)}
                pending += sum(1 for i in ids if states.get(i) != "delivered")
            if pending == 0:
                return
            if time.time() > deadline:
                raise Failure("%d acknowledged messages not delivered after %d s" % (pending, timeout))
            time.sleep(1)

    def grep_log(self, name, text):
        path = os.path.join(self.root, name + ".log")
        if not os.path.exists(path):
            return 0
        with open(path, errors="replace") as f:
            return sum(1 for line in f if text in line)

    def grep_logs(self, text):
        n = 0
        for name in os.listdir(self.root):
            if name.endswith(".log"):
                with open(os.path.join(self.root, name), errors="replace") as f:
                    n += sum(1 for line in f if text in line)
        return n

    # ---- the checks ----
    def mdb_entries(self, db):
        p = self.run("mdb_dump", "-s", db, os.path.join(self.net, "data"))
        lines = p.stdout.splitlines()
        body = lines[lines.index("HEADER=END") + 1:lines.index("DATA=END")]
        return len(body) // 2          # key line, value line

    def check(self, msgs):
        problems = []
        acked = [m for m in msgs if "msg_id" in m]
        by_token = {m["token"]: m for m in msgs}
        # 1. exactly once in the recipient's inbox, with its own document
        seen = {}
        for org, _, _ in ORGS:
            last = 0
            for e in self.inbox(org):
                if e["accepted_seq"] <= last:
                    problems.append("%s's inbox has record %d after record %d" % (org, e["accepted_seq"], last))
                last = e["accepted_seq"]
                tok = e["token"]
                m = by_token.get(tok)
                if m is None:
                    problems.append("%s has a message nobody sent: %s" % (org, e.get("msg_id")))
                    continue
                if m.get("msg_id") not in (None, e["msg_id"]) or m["to"] != org:
                    problems.append("token %s arrived as %s at %s, sent as %s to %s" %
                                    (tok, e["msg_id"], org, m.get("msg_id"), m["to"]))
                seen[tok] = seen.get(tok, 0) + 1
        for m in acked:
            if seen.get(m["token"], 0) != 1:
                problems.append("message %s (n=%d) is %d times in %s's inbox" %
                                (m["msg_id"], m["n"], seen.get(m["token"], 0), m["to"]))
        for tok, k in seen.items():
            if k > 1 and "msg_id" not in by_token[tok]:
                problems.append("unacknowledged token %s arrived %d times" % (tok, k))
        # 2. receipts against the log
        p = self.run(self.bin_audit, "export", "--dir", self.net, "--format", "jsonl")
        log = {}
        accepted, delivered = {}, {}
        for line in p.stdout.splitlines():
            r = json.loads(line)
            raw = base64.b64decode(r["record"])
            leaf = hashlib.sha256(b"\x00" + raw).hexdigest()
            if leaf != r["leaf_hash"]:
                problems.append("record %s: leaf hash in the export is not the hash of its bytes" % r["seq"])
            log[int(r["seq"])] = r
            mid = r.get("msg_id")
            if r["kind"] == "ACCEPTED":
                accepted.setdefault(mid, []).append(int(r["seq"]))
            elif r["kind"] == "DELIVERED":
                delivered.setdefault(mid, []).append(int(r["seq"]))
            elif r["kind"] == "REJECTED":
                problems.append("record %s: REJECTED %s (%s)" % (r["seq"], r.get("reason_code"), r.get("reason")))
        receipts = 0
        for org, _, _ in ORGS:
            for e in self.outbox(org):
                rc = e.get("receipt")
                if rc is None:
                    if e["state"] != "queued":
                        problems.append("%s outbox %s is %s without a receipt" % (org, e["msg_id"], e["state"]))
                    continue
                receipts += 1
                rec = log.get(rc["seq"])
                if rec is None:
                    problems.append("receipt of %s names record %d, which is not in the log" % (e["msg_id"], rc["seq"]))
                elif rec["leaf_hash"] != rc["record_hash"]:
                    problems.append("receipt of %s: record %d has another hash" % (e["msg_id"], rc["seq"]))
                elif rec["kind"] != "ACCEPTED" or rec.get("msg_id") != e["msg_id"]:
                    problems.append("receipt of %s names record %d, a %s of %s" %
                                    (e["msg_id"], rc["seq"], rec["kind"], rec.get("msg_id")))
        for m in acked:
            a, d = accepted.get(m["msg_id"], []), delivered.get(m["msg_id"], [])
            if len(a) != 1 or len(d) != 1:
                problems.append("message %s: %d ACCEPTED and %d DELIVERED records" % (m["msg_id"], len(a), len(d)))
        # 3. no orphaned queue entry or body
        for db in ("queue", "bodies"):
            n = self.mdb_entries(db)
            if n:
                problems.append("%d entries left in the broker's %s database after the drain" % (n, db))
        # 4. the log verifies
        p = self.run(self.bin_audit, "verify", "--dir", self.net, check=False)
        if p.returncode != 0:
            problems.append("nrm-audit verify: " + (p.stdout + p.stderr).strip())
        return problems, receipts, len(log)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--broker-kills", type=int, default=10)
    ap.add_argument("--agent-kills", type=int, default=10)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--outage", type=int, default=0, help="one broker outage of this many seconds")
    ap.add_argument("--drain-timeout", type=int, default=600)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    a.build = os.path.abspath(a.build)
    env_seed = os.environ.get("NRM_CRASH_SEED")
    seed = a.seed if a.seed is not None else int(env_seed) if env_seed else random.SystemRandom().getrandbits(32)
    print("crash harness: seed %d, %d messages, %d broker kills, %d agent kills%s (rerun: --seed %d)" %
          (seed, a.messages, a.broker_kills, a.agent_kills,
           ", one %d s broker outage" % a.outage if a.outage else "", seed), flush=True)
    rng = random.Random(seed)
    root = tempfile.mkdtemp(prefix="nrm-crash-")
    h = Harness(a, root)
    ok = False
    try:
        h.setup()
        msgs, events, outage_at = h.plan(rng)
        elapsed = h.drive(rng, msgs, events, outage_at)
        for org, _, _ in ORGS:
            h.wait_up(org)
        h.wait_up("broker")
        acked = [m for m in msgs if "msg_id" in m]
        failed = [m for m in msgs if "msg_id" not in m]
        t1 = time.time()
        h.drain(acked, a.drain_timeout)
        drain = time.time() - t1
        h.stop_all()
        problems, receipts, records = h.check(msgs)
        print("sent %d, acknowledged %d, send failures %d; kills: broker %d, agents %d; restarts %d" %
              (len(msgs), len(acked), len(failed), h.kills["broker"], h.kills["agent"], h.restarts))
        print("sending took %.1f s (%.0f msg/s), drain %.1f s; %d receipts checked, %d log records" %
              (elapsed, len(msgs) / elapsed if elapsed else 0, drain, receipts, records))
        print("recoveries seen in the logs: %d redeliveries recognised, %d submits resent" %
              (h.grep_logs("delivered again"), h.grep_logs("again (try")))
        for m in failed[:10]:
            print("send %d failed: %s" % (m["n"], m["error"]))
        if failed:
            problems.append("%d sends failed (no send is killed, so none should)" % len(failed))
        for p in problems[:50]:
            print("FAIL: " + p)
        ok = not problems
        print("crash harness: %s (seed %d)" % ("PASS" if ok else "FAIL, %d problems" % len(problems), seed))
    except Failure as e:
        print("FAIL: %s (seed %d)" % (e, seed))
    finally:
        h.stop_all()
        if ok and not a.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("logs and data kept in " + root)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
