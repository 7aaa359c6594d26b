#!/usr/bin/env python3
"""test_gateway.py -- `inventory-producer serve` against a fake worker.

The gateway runs as a subprocess on private topics; a FakeWorker answers
its commands with scripted outcome events (stock kept in the script), so
every answer is exact: 200 created / released, 409 insufficient stock, 404
unknown reservation, 400 invalid input (codec message), 504 when no outcome
comes, PascalCase bodies, five concurrent reservations each correlated to
its own outcome, and a clean exit on SIGTERM."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import test_producer_support as s

PRODUCT = "PROD-GW"


class Stock:
    """The fake worker's domain: one product with 100 units."""

    def __init__(self):
        self.total, self.available, self.reservations = 100, 100, {}

    def __call__(self, cmd):
        if cmd["productId"] == "PROD-SLOW":
            return []  # never answers: the gateway must give 504
        reserved = self.total - self.available
        if cmd["type"] == "reserve":
            q = cmd["quantity"]
            if q > self.available:
                return [s.make_event(cmd, "reservation.rejected", self.total, self.available,
                                     reserved, customerId=cmd["customerId"],
                                     reason="insufficient_stock",
                                     message="Insufficient stock: requested %d, available %d"
                                     % (q, self.available))]
            self.available -= q
            rid = "res-" + cmd["commandId"][:8]
            self.reservations[rid] = (cmd["customerId"], q)
            return [s.make_event(cmd, "reservation.created", self.total, self.available,
                                 self.total - self.available, reservationId=rid,
                                 customerId=cmd["customerId"],
                                 expiresAtMs=int(time.time() * 1000) + 1800000,
                                 message="Successfully reserved %d units of %s for %s"
                                 % (q, cmd["productId"], cmd["customerId"]))]
        if cmd["type"] == "release":
            rid = cmd.get("reservationId")
            if rid and rid not in self.reservations:
                return [s.make_event(cmd, "release.rejected", self.total, self.available, reserved,
                                     reservationId=rid, reason="unknown_reservation",
                                     message="No such reservation")]
            if not rid:
                rid = next(r for r, (c, _) in self.reservations.items() if c == cmd["customerId"])
            customer, q = self.reservations.pop(rid)
            self.available += q
            ev = dict(cmd, quantity=q)
            return [s.make_event(ev, "reservation.released", self.total, self.available,
                                 self.total - self.available, reservationId=rid,
                                 customerId=customer, message="Released %d units of %s"
                                 % (q, cmd["productId"]))]
        return []


class Gateway(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sfx = s.suffix()
        cls.topics, env = s.topic_env(cls.sfx)
        s.create_topics(cls.topics.values())
        cls.worker = s.FakeWorker([cls.topics["reservations"], cls.topics["releases"]],
                                  cls.topics["events"], Stock())
        cls.base = "http://127.0.0.1:%d" % s.free_port()
        genv = dict(os.environ, **env)
        genv["LEASEHOLD_STORAGE_CONTAINER"] = "ptest-" + cls.sfx
        cls.gateway = subprocess.Popen([s.PRODUCER, "serve", "--listen", cls.base[7:], "--timeout",
                                        "3s"], env=genv)
        s.wait_ok(cls.base + "/healthz", cls.gateway, "gateway", limit=30)

    @classmethod
    def tearDownClass(cls):
        if cls.gateway.poll() is None:
            cls.gateway.kill()
            cls.gateway.wait()
        cls.worker.stop()
        s.delete_topics(cls.sfx)

    @classmethod
    def request(cls, method, path, body=None, raw=None):
        return s.http(method, cls.base + path, body, raw)

    def reserve(self, body, product=PRODUCT, raw=None):
        return self.request("POST", "/api/inventory/%s/reserve" % product, body, raw)

    def test_1_reserve_release_sequence(self):
        status, doc = self.reserve({"quantity": 10, "customerId": "CUST-123"})
        self.assertEqual(status, 200, doc)
        rid = doc.pop("reservationId")
        self.assertTrue(rid.startswith("res-"))
        self.assertEqual(doc, {"success": True, "productId": PRODUCT, "requestedQuantity": 10,
                               "availableQuantity": 90, "acquiredLease": True,
                               "message": "Successfully reserved 10 units of PROD-GW for CUST-123"})
        # PascalCase body, as the original sample's clients sent it.
        status, doc = self.reserve({"Quantity": 5, "CustomerId": "CUST-9"})
        self.assertEqual((status, doc["success"], doc["availableQuantity"]), (200, True, 85))
        status, doc = self.reserve({"quantity": 500, "customerId": "CUST-1"})
        self.assertEqual(status, 409)
        self.assertEqual(doc, {"success": False, "productId": PRODUCT, "requestedQuantity": 500,
                               "availableQuantity": 85, "reservationId": None,
                               "acquiredLease": True,
                               "message": "Insufficient stock: requested 500, available 85"})
        status, doc = self.request("POST", "/api/inventory/%s/release" % PRODUCT,
                                   {"reservationId": "res-missing"})
        self.assertEqual((status, doc["success"], doc["message"]), (404, False, "No such reservation"))
        status, doc = self.request("POST", "/api/inventory/%s/release" % PRODUCT,
                                   {"customerId": "CUST-123", "quantity": 10})
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["success"], doc["availableQuantity"], doc["reservationId"]),
                         (True, 95, rid))
        cmds = [c for c in self.worker.commands() if c["productId"] == PRODUCT]
        self.assertEqual([(c["type"], c.get("quantity"), c.get("customerId"), c.get("reservationId"))
                          for c in cmds],
                         [("reserve", 10, "CUST-123", None), ("reserve", 5, "CUST-9", None),
                          ("reserve", 500, "CUST-1", None), ("release", None, None, "res-missing"),
                          ("release", 10, "CUST-123", None)])

    def test_2_invalid_input_is_400_with_field_message(self):
        cases = [({"quantity": 0, "customerId": "C"}, None, 0,
                  "quantity: must be an integer from 1 to 1000000"),
                 ({"quantity": 5}, None, 5, "customerId: required"),
                 ({"quantity": "5", "customerId": "C"}, None, None, "quantity: must be an integer"),
                 (None, b"{not json", None, "body: not valid JSON ("),
                 ({"quantity": 1, "customerId": "C"}, None, 1, "productId: must match")]
        for body, raw, requested, message in cases:
            product = "BAD*ID" if message.startswith("productId") else PRODUCT
            status, doc = self.reserve(body, product=product, raw=raw)
            self.assertEqual(status, 400, doc)
            self.assertEqual((doc["success"], doc["requestedQuantity"], doc["availableQuantity"],
                              doc["reservationId"], doc["acquiredLease"]),
                             (False, requested, None, None, False))
            self.assertTrue(doc["message"].startswith(message), doc["message"])

    def test_3_no_outcome_is_504(self):
        status, doc = self.reserve({"quantity": 1, "customerId": "C"}, product="PROD-SLOW")
        self.assertEqual(status, 504)
        self.assertFalse(doc["success"])
        self.assertRegex(doc["message"], r"^no outcome for command [0-9a-f-]{36} within 3000 ms$")

    def test_4_concurrent_reservations_each_get_their_own_outcome(self):
        results = []
        lock = threading.Lock()

        def one(i):
            r = self.reserve({"quantity": 1, "customerId": "CUST-C%d" % i})
            with lock:
                results.append(r)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual([r[0] for r in results], [200] * 5)
        self.assertEqual(len({r[1]["reservationId"] for r in results}), 5)
        self.assertEqual(len({r[1]["availableQuantity"] for r in results}), 5)
        messages = sorted(r[1]["message"] for r in results)
        self.assertEqual(messages, ["Successfully reserved 1 units of PROD-GW for CUST-C%d" % i
                                    for i in range(5)])

    def test_5_get_unknown_product_is_404_and_routes(self):
        status, doc = self.request("GET", "/api/inventory/NOPE-1")
        self.assertEqual((status, doc["success"], doc["message"]), (404, False,
                                                                    "product NOPE-1 not found"))
        # An empty state blob: a restock that created the blob and was
        # abandoned before its first state write. Not a product, like for the
        # worker's admin API; the CLI's `get` says so with exit code 3.
        container = "ptest-" + self.sfx
        self.assertEqual(s.container_request("PUT", container), 201)
        try:
            self.assertEqual(s.container_request("PUT", container, "EMPTY-1.json"), 201)
            status, doc = self.request("GET", "/api/inventory/EMPTY-1")
            self.assertEqual((status, doc["message"]), (404, "product EMPTY-1 not found"))
            r = s.run_producer(["get", "EMPTY-1"], {"LEASEHOLD_STORAGE_CONTAINER": container})
            self.assertEqual((r.returncode, r.stdout, r.stderr),
                             (3, "", "inventory-producer: product EMPTY-1 not found\n"))
        finally:
            s.container_request("DELETE", container)
        status, doc = self.request("GET", "/api/inventory/BAD*ID")
        self.assertEqual(status, 400)
        self.assertTrue(doc["message"].startswith("productId: must match"), doc["message"])
        self.assertEqual(self.request("GET", "/api/elsewhere")[0], 404)
        self.assertEqual(self.request("GET", "/api/inventory/%s/reserve" % PRODUCT)[0], 405)

    def test_9_sigterm_stops_cleanly(self):
        self.gateway.send_signal(signal.SIGTERM)
        self.assertEqual(self.gateway.wait(timeout=30), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=sys.argv[:1])
