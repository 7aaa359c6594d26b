#!/usr/bin/env python3
"""worker_close_loop.py -- starts inventory-worker processes in one consumer
group and SIGTERMs them while the group is still forming, over and over,
counting abnormal exits.

Usage: worker_close_loop.py BIN_DIR [ROUNDS] [WORKERS]

Made to reproduce librdkafka < 2.3.0's abort on closing a cooperative-sticky
consumer before its first assignment (issue #4312,
`rd_kafka_sticky_assignor_state_destroy: Assertion 'assignor_state'
failed`), and to check the worker's mitigation (worker/README.md). Round i
waits a different delay (cycling through 0.2 .. 3.0 s) before the SIGTERMs, so
some land before a member joined, some between its JoinGroup and its first
assignment, some after. Needs Kafka on 127.0.0.1:9092 and Azurite; creates
topics `wclose<random>.*` and a container of the same name (left for the
services' own cleanup: deleting them is not what is measured).

Prints one line per abnormal exit and a summary: rounds, exits by code,
assertion aborts. Exit code 1 if any worker aborted.
"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

BROKERS = "127.0.0.1:9092"
DELAYS_S = [0.2, 0.5, 0.8, 1.2, 1.6, 2.0, 2.5, 3.0]


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    bin_dir = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    suffix = "wclose%d" % random.randrange(10**6)
    env = dict(os.environ)
    env.update({
        "LEASEHOLD_KAFKA_BROKERS": BROKERS,
        "LEASEHOLD_STORAGE_CONTAINER": suffix,
        "LEASEHOLD_STORAGE_LEASE_CONTAINER": suffix + "-leases",
        "LEASEHOLD_RECONCILER_ENABLED": "false",
        "LEASEHOLD_WORKER_THREADS": "2",
        "LEASEHOLD_KAFKA_SESSION_TIMEOUT": "6s",
        "LEASEHOLD_WORKER_DRAIN_TIMEOUT": "10s",
    })
    for k in ("reservations", "releases", "admin", "events", "dlq"):
        env["LEASEHOLD_TOPIC_" + k.upper()] = "%s.%s" % (suffix, k)
        subprocess.run(["kcat", "-L", "-b", BROKERS, "-t", "%s.%s" % (suffix, k)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    tmp = tempfile.mkdtemp(prefix=suffix)
    codes, aborts, early = {}, 0, 0
    t0 = time.monotonic()
    for r in range(rounds):
        env["LEASEHOLD_KAFKA_GROUP_ID"] = "%s-g%d" % (suffix, r)
        procs = []
        for w in range(workers):
            log = os.path.join(tmp, "r%d-w%d.log" % (r, w))
            procs.append((subprocess.Popen([os.path.join(bin_dir, "inventory-worker"),
                                            "--id", "r%dw%d" % (r, w)], env=env,
                                           stdout=open(log, "w"), stderr=subprocess.STDOUT),
                          log))
        time.sleep(DELAYS_S[r % len(DELAYS_S)])  # the delay under test, not a synchronisation
        for p, _ in procs:
            p.send_signal(signal.SIGTERM)
        for p, log in procs:
            rc = p.wait(timeout=120)
            codes[rc] = codes.get(rc, 0) + 1
            with open(log) as f:
                text = f.read()
            if "assignor_state" in text:
                aborts += 1
            if "before its first assignment" in text:
                early += 1
            if rc not in (0, 2):
                print("round %d: %s exited %d%s" % (r, log, rc,
                      " (assignor_state assertion)" if "assignor_state" in text else ""))
    print("rounds %d x %d workers in %.0f s: exit codes %s, assignor_state aborts %d, "
          "closed before first assignment %d" % (rounds, workers, time.monotonic() - t0,
                                                 dict(sorted(codes.items())), aborts, early))
    return 1 if aborts else 0


if __name__ == "__main__":
    sys.exit(main())
