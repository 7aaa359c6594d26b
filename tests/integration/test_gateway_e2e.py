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
import sys
import threading
import unittest

import test_producer_support as s

PRODUCT = "PROD-001"


class GatewayEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pipeline = s.RealPipeline(workers=2)
        cls.env = cls.pipeline.env
        cls.base = "http://127.0.0.1:%d" % s.free_port()
        gateway = cls.pipeline.start([s.PRODUCER, "serve", "--listen", cls.base[7:],
                                      "--timeout", "30s"])
        s.wait_ok(cls.base + "/healthz", gateway, "gateway")

    @classmethod
    def tearDownClass(cls):
        cls.pipeline.cleanup()

    def api(self, method, path, body=None):
        return s.http(method, self.base + "/api/inventory/" + path, body)

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
        self.assertEqual(self.pipeline.stop(), [0, 0, 0])


if __name__ == "__main__":
    if not os.access(s.WORKER, os.X_OK):
        print("skipped: %s not built" % s.WORKER)
        sys.exit(77)
    unittest.main(verbosity=2, argv=sys.argv[:1])
