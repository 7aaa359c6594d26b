#!/usr/bin/env python3
"""test_reconciler_failover.py -- the reconciler's leader fails over.

Two inventory-worker processes share private topics, containers and a
consumer group (random suffix). Their reconciler interval is one hour, so
the only sweep a worker runs is the one right after it is elected. The test
restocks a product and reserves 3 units with a 1 s TTL, waits until the
reservation has expired, then SIGKILLs the leader. The survivor must be
elected and sweep within the lease library's failover bound (lease duration
plus renew interval: the dead leader's lease has to expire, and a candidate
retries once per renew interval), publish exactly one expire command, and,
once it owns the product's partition, return the 3 units to stock with one
reservation.expired event.

Uses the real Kafka and Azurite (label integration), build/bin's
inventory-worker and inventory-producer, kcat, and the producer tests'
helpers (test_producer_support.py) for topics.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

import test_producer_support as s

WORKER = os.path.join(s.BIN, "inventory-worker")
PRODUCT = "PROD-FAILOVER"
LEASE_DURATION_S = 15
RENEW_INTERVAL_S = 10  # the default: 2/3 of the duration


def poll(what, predicate, timeout_s, interval_s=0.2):
    """Calls predicate() until it returns a true value or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0f s waiting for %s" % (timeout_s, what))
        time.sleep(interval_s)


def delete_container(name):
    """Delete Container against Azurite (404 is fine)."""
    status = s.container_request("DELETE", name)
    if status not in (202, 404):
        raise AssertionError("delete container %s: HTTP %d" % (name, status))


LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:%s)(?:,%s)*\})? '
                    r'([-+]?[0-9.]+(?:e[-+][0-9]+)?|[-+]Inf|NaN)$' % (LABEL, LABEL))


def check_exposition(text):
    """Checks Prometheus text format 0.0.4 the way a scraper reads it: one
    TYPE per family before its samples, valid sample lines, and histograms
    whose buckets are cumulative and end with +Inf equal to _count.
    Returns {family: type}."""
    types, buckets = {}, {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, "second TYPE for " + name
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        kind = types.get(name) or types.get(family)
        assert kind, "sample before its TYPE: " + line
        if kind != "histogram" or name.endswith("_sum"):
            continue
        series = (family, re.sub(r',?le="[^"]*"', "", labels).replace("{}", ""))
        if name.endswith("_bucket"):
            counts = buckets.setdefault(series, [])
            assert not counts or value >= counts[-1], "buckets not cumulative: " + line
            counts.append(value)
            buckets[series + ("inf",)] = 'le="+Inf"' in labels
        else:
            assert buckets[series + ("inf",)], "no +Inf bucket before " + line
            assert buckets[series][-1] == value, "+Inf bucket differs from " + line
    return types


class Worker:
    """One inventory-worker process; its log lines are collected as they come."""

    def __init__(self, name, env):
        self.name = name
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen([WORKER, "--id", name, "--admin", "127.0.0.1:0"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        line = poll("%s admin port" % name, lambda: self.find(r"Admin HTTP on .* \(port (\d+)\)"),
                    30)
        self.port = int(re.search(r"\(port (\d+)\)", line).group(1))

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def find(self, pattern):
        with self.lock:
            return next((l for l in self.lines if re.search(pattern, l)), None)

    def count(self, pattern):
        with self.lock:
            return sum(1 for l in self.lines if re.search(pattern, l))

    def get(self, path):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path),
                                        timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metric(self, name):
        status, text = self.get("/metrics")
        if status != 200:
            return None
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None

    def log(self):
        with self.lock:
            return "\n".join(self.lines)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=60)
        self.reader.join(timeout=10)
        self.proc.stderr.close()
        return rc


class ReconcilerFailoverTest(unittest.TestCase):
    def setUp(self):
        self.sfx = s.suffix()
        self.topics, topic_env = s.topic_env(self.sfx)
        self.containers = ("inv-rf-" + self.sfx, "leases-rf-" + self.sfx)
        self.env = dict(os.environ)
        self.env.update(topic_env)
        self.env.update({
            "LEASEHOLD_STORAGE_CONTAINER": self.containers[0],
            "LEASEHOLD_STORAGE_LEASE_CONTAINER": self.containers[1],
            "LEASEHOLD_KAFKA_GROUP_ID": "rf-" + self.sfx,
            "LEASEHOLD_LEASE_DURATION": str(LEASE_DURATION_S),
            "LEASEHOLD_RECONCILER_INTERVAL": "1h",
        })
        s.create_topics(self.topics.values())
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            w.stop(signal.SIGKILL)
        for c in self.containers:
            delete_container(c)
        s.delete_topics(self.sfx)

    def producer(self, *args):
        env = {k: v for k, v in self.env.items() if k.startswith("LEASEHOLD_")}
        r = s.run_producer(list(args), env)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def admin_commands(self):
        return [json.loads(v) for _, v in s.read_topic(self.topics["admin"])
                if v.startswith("{") and json.loads(v).get("type") == "expire"]

    def test_survivor_sweeps_after_leader_is_killed(self):
        a = Worker("rf-a-" + self.sfx, self.env)
        self.workers.append(a)
        poll("first worker elected", lambda: a.find("elected reconciler leader"), 30)
        b = Worker("rf-b-" + self.sfx, self.env)
        self.workers.append(b)
        poll("second worker ready", lambda: b.get("/readyz")[0] == 200, 60)
        self.assertEqual(a.metric("leasehold_leader"), 1)
        self.assertEqual(b.metric("leasehold_leader"), 0)

        self.assertEqual(self.producer("restock", PRODUCT, "10", "--wait")["type"],
                         "stock.restocked")
        created = self.producer("reserve", PRODUCT, "3", "--customer", "CUST-RF", "--ttl", "1",
                                "--wait")
        self.assertEqual(created["type"], "reservation.created")
        rid = created["reservationId"]
        poll("reservation expiry", lambda: time.time() * 1000 > created["expiresAtMs"], 10)
        # A swept once, at its election, before the reservation existed.
        self.assertEqual(a.count("sweep found"), 1)
        self.assertEqual(self.admin_commands(), [])

        a.stop(signal.SIGKILL)
        poll("survivor elected and swept", lambda: b.count("sweep found") >= 1,
             LEASE_DURATION_S + RENEW_INTERVAL_S + 5)
        self.assertIsNotNone(b.find("elected reconciler leader as rf-b-"))
        self.assertIsNotNone(b.find("sweep found 1 expired reservations in 1 products"), b.log())
        self.assertEqual(b.metric("leasehold_leader"), 1)
        self.assertEqual(b.metric("leasehold_reservations_expired_total"), 1)
        status, text = b.get("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(check_exposition(text)["leasehold_lease_handoff_seconds"], "histogram")
        # B campaigned against A's lock before winning it: a measured handoff.
        self.assertGreaterEqual(b.metric("leasehold_lease_acquire_contended_total"), 1)
        self.assertGreaterEqual(b.metric("leasehold_lease_handoff_seconds_count"), 1)

        expires = self.admin_commands()
        self.assertEqual(len(expires), 1)
        self.assertEqual(expires[0]["commandId"], "expire-" + rid)
        self.assertEqual(expires[0]["productId"], PRODUCT)
        self.assertEqual(expires[0]["reservationId"], rid)

        # The survivor takes over the dead worker's partitions (session
        # timeout) and applies the command under the product lease.
        def state():
            status, body = b.get("/api/inventory/" + PRODUCT)
            st = json.loads(body) if status == 200 else None
            return st if st and not st["activeReservations"] else None
        st = poll("reservation returned to stock", state, 90)
        self.assertEqual((st["total"], st["available"], st["reserved"]), (10, 10, 0))
        expired = [json.loads(v) for _, v in s.read_topic(self.topics["events"])
                   if '"reservation.expired"' in v]
        self.assertEqual(len(expired), 1)
        self.assertEqual(expired[0]["reservationId"], rid)
        self.assertEqual(expired[0]["quantity"], 3)

        self.assertEqual(b.stop(), 0)
        self.workers.remove(b)
        self.assertIsNotNone(b.find("reconciler resigned leadership"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
