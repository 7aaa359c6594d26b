#!/usr/bin/env python3
"""test_gateway_e2e.py -- the original sample's REST calls end to end:
gateway + two real inventory-workers + Kafka + Azurite, on private topics,
consumer group and containers.

Restock 100 (CLI --wait), five concurrent reservations of 10 units -> each
200, availabilities 90..50 in some order, GET shows 100/50/50 with five
reservations; then 409 insufficient stock, release by id (200), unknown
reservation (404, PascalCase body), release by customer (200), unknown
product (404), and the CLI `get`. Skipped (exit 77) when the worker is not
built."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

import test_producer_support as s

WORKER = os.path.join(s.BIN, "inventory-worker")
PRODUCT = "PROD-001"


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_ok(url, proc, what):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)  # polling readiness with a deadline
    raise RuntimeError("%s not ready within 60 s" % what)


class GatewayEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sfx = s.suffix()
        cls.topics, env = s.topic_env(cls.sfx)
        env.update({"LEASEHOLD_KAFKA_GROUP_ID": "ptest-group-" + cls.sfx,
                    "LEASEHOLD_STORAGE_CONTAINER": "ptest-inv-" + cls.sfx,
                    "LEASEHOLD_STORAGE_LEASE_CONTAINER": "ptest-leases-" + cls.sfx})
        cls.env = env
        s.create_topics(cls.topics.values())
        assert s.container_request("PUT", env["LEASEHOLD_STORAGE_CONTAINER"]) == 201
        penv = dict(os.environ, **env)
        cls.procs = []
        for i in (1, 2):
            port = free_port()
            p = subprocess.Popen([WORKER, "--id", "ptest-w%d-%s" % (i, cls.sfx), "--admin",
                                  "127.0.0.1:%d" % port], env=penv)
            cls.procs.append(p)
            wait_ok("http://127.0.0.1:%d/readyz" % port, p, "worker %d" % i)
        cls.base = "http://127.0.0.1:%d" % free_port()
        cls.gateway = subprocess.Popen([s.PRODUCER, "serve", "--listen", cls.base[7:],
                                        "--timeout", "30s"], env=penv)
        cls.procs.insert(0, cls.gateway)
        wait_ok(cls.base + "/healthz", cls.gateway, "gateway")

    @classmethod
    def tearDownClass(cls):
        for p in cls.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in cls.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        s.container_request("DELETE", cls.env["LEASEHOLD_STORAGE_CONTAINER"])
        s.container_request("DELETE", cls.env["LEASEHOLD_STORAGE_LEASE_CONTAINER"])
        s.delete_topics(cls.sfx)

    def api(self, method, path, body=None):
        return http(method, self.base + "/api/inventory/" + path, body)

    def test_original_sample_flow(self):
        r = s.run_producer(["restock", PRODUCT, "100", "--wait", "--timeout", "60s"], self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        ev = json.loads(r.stdout)
        self.assertEqual((ev["type"], ev["total"], ev["available"], ev["reserved"]),
                         ("stock.restocked", 100, 100, 0))

        answers = []
        lock = threading.Lock()

        def reserve(i):
            got = self.api("POST", PRODUCT + "/reserve",
                           {"quantity": 10, "customerId": "CUST-00%d" % i})
            with lock:
                answers.append((i, got))

        threads = [threading.Thread(target=reserve, args=(i,)) for i in range(1, 6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        answers.sort()
        self.assertEqual([a[1][0] for a in answers], [200] * 5)
        self.assertEqual(sorted(a[1][1]["availableQuantity"] for a in answers), [50, 60, 70, 80, 90])
        for i, (status, doc) in answers:
            self.assertEqual((doc["success"], doc["productId"], doc["requestedQuantity"],
                              doc["acquiredLease"], doc["message"]),
                             (True, PRODUCT, 10, True,
                              "Successfully reserved 10 units of %s for CUST-00%d" % (PRODUCT, i)))
        rids = {i: doc["reservationId"] for i, (status, doc) in answers}
        self.assertEqual(len(set(rids.values())), 5)

        status, state = self.api("GET", PRODUCT)
        self.assertEqual(status, 200)
        self.assertEqual((state["total"], state["available"], state["reserved"]), (100, 50, 50))
        self.assertEqual(sorted(r["reservationId"] for r in state["activeReservations"]),
                         sorted(rids.values()))

        status, doc = self.api("POST", PRODUCT + "/reserve", {"quantity": 60, "customerId": "CUST-9"})
        self.assertEqual(status, 409)
        self.assertEqual(doc, {"success": False, "productId": PRODUCT, "requestedQuantity": 60,
                               "availableQuantity": 50, "reservationId": None,
                               "message": "Insufficient stock: requested 60, available 50",
                               "acquiredLease": True})

        status, doc = self.api("POST", PRODUCT + "/release", {"reservationId": rids[1]})
        self.assertEqual((status, doc["success"], doc["availableQuantity"], doc["reservationId"],
                          doc["requestedQuantity"]), (200, True, 60, rids[1], 10))
        status, doc = self.api("POST", PRODUCT + "/release", {"ReservationId": "R-nope"})
        self.assertEqual((status, doc["success"], doc["message"]), (404, False, "No such reservation"))
        status, doc = self.api("POST", PRODUCT + "/release", {"CustomerId": "CUST-002", "Quantity": 10})
        self.assertEqual((status, doc["success"], doc["availableQuantity"]), (200, True, 70))
        status, doc = self.api("POST", "PROD-NOPE/reserve", {"quantity": 1, "customerId": "C"})
        self.assertEqual((status, doc["success"], doc["message"]), (404, False, "Unknown product"))

        r = s.run_producer(["get", PRODUCT], self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        state = json.loads(r.stdout)
        self.assertEqual((state["total"], state["available"], state["reserved"],
                          len(state["activeReservations"])), (100, 70, 30, 3))
        r = s.run_producer(["get", "PROD-NOPE"], self.env)
        self.assertEqual(r.returncode, 3)

    def test_zz_everything_stops_cleanly_on_sigterm(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        self.assertEqual([p.wait(timeout=60) for p in self.procs], [0, 0, 0])


if __name__ == "__main__":
    if not os.access(WORKER, os.X_OK):
        print("skipped: %s not built" % WORKER)
        sys.exit(77)
    unittest.main(verbosity=2, argv=sys.argv[:1])
