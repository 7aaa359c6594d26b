#!/usr/bin/env python3
"""test_producer_publish.py -- inventory-producer's one-shot commands against
real Kafka: what it publishes (read back with kcat, exact JSON), input
validation by the codec (exit 1, nothing published), --wait with scripted
outcomes from a fake worker (exit 0 / 3, the event printed) and the timeout
(exit 1 with a message)."""
import json
import sys
import time
import unittest

import test_producer_support as s


class ProducerPublish(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sfx = s.suffix()
        cls.topics, cls.env = s.topic_env(cls.sfx)
        s.create_topics(cls.topics.values())

    @classmethod
    def tearDownClass(cls):
        s.delete_topics(cls.sfx)

    def last_record(self, topic):
        rows = s.read_topic(self.topics[topic])
        self.assertTrue(rows, "nothing on " + topic)
        key, value = rows[-1]
        return key, json.loads(value)

    def check_common(self, doc, cmd_type, command_id, product):
        before = int(time.time() * 1000) - 60000
        self.assertEqual(doc.pop("schemaVersion"), 1)
        self.assertEqual(doc.pop("type"), cmd_type)
        self.assertEqual(doc.pop("commandId"), command_id)
        self.assertEqual(doc.pop("productId"), product)
        issued = doc.pop("issuedAtMs")
        self.assertTrue(before < issued <= int(time.time() * 1000))

    def test_restock_publishes_exact_command(self):
        r = s.run_producer(["restock", "PROD-P1", "100", "--command-id", "cmd-restock-1"], self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "sent restock cmd-restock-1 for PROD-P1 to %s\n"
                         % self.topics["admin"])
        key, doc = self.last_record("admin")
        self.assertEqual(key, "PROD-P1")
        self.check_common(doc, "restock", "cmd-restock-1", "PROD-P1")
        self.assertEqual(doc, {"quantity": 100})

    def test_reserve_publishes_exact_command(self):
        r = s.run_producer(["reserve", "PROD-P1", "10", "--customer", "CUST-123", "--ttl", "60",
                            "--command-id", "cmd-reserve-1"], self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        key, doc = self.last_record("reservations")
        self.assertEqual(key, "PROD-P1")
        self.check_common(doc, "reserve", "cmd-reserve-1", "PROD-P1")
        self.assertEqual(doc, {"quantity": 10, "customerId": "CUST-123", "ttlSeconds": 60})

    def test_release_both_forms_publish_exact_commands(self):
        r = s.run_producer(["release", "PROD-P1", "--reservation", "res-1", "--command-id",
                            "cmd-release-1"], self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        key, doc = self.last_record("releases")
        self.check_common(doc, "release", "cmd-release-1", "PROD-P1")
        self.assertEqual(doc, {"reservationId": "res-1"})
        r = s.run_producer(["release", "PROD-P1", "--customer", "CUST-1", "--quantity", "3",
                            "--command-id", "cmd-release-2"], self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        key, doc = self.last_record("releases")
        self.check_common(doc, "release", "cmd-release-2", "PROD-P1")
        self.assertEqual(doc, {"customerId": "CUST-1", "quantity": 3})

    def test_invalid_input_exits_1_and_publishes_nothing(self):
        before = len(s.read_topic(self.topics["reservations"]))
        cases = [(["reserve", "PROD-P1", "0", "--customer", "C"],
                  "quantity: must be an integer from 1 to 1000000"),
                 (["reserve", "PROD-P1", "ten", "--customer", "C"], "quantity: must be an integer"),
                 (["reserve", "BAD PRODUCT", "1", "--customer", "C"], "productId: must match"),
                 (["reserve", "PROD-P1", "1", "--customer", "C", "--command-id", "x" * 129],
                  "commandId: must be at most 128 characters")]
        for args, message in cases:
            r = s.run_producer(args, self.env)
            self.assertEqual(r.returncode, 1, args)
            self.assertIn("invalid command: " + message, r.stderr)
        self.assertEqual(len(s.read_topic(self.topics["reservations"])), before)

    def test_wait_prints_outcome_and_maps_exit_codes(self):
        def script(cmd):
            if cmd["type"] == "restock":
                return [s.make_event(cmd, "stock.restocked", 100, 100, 0,
                                     message="Restocked 100 units")]
            return [s.make_event(cmd, "reservation.rejected", 100, 5, 95,
                                 customerId=cmd["customerId"], reason="insufficient_stock",
                                 message="Insufficient stock: requested 10, available 5")]
        worker = s.FakeWorker([self.topics["admin"], self.topics["reservations"]],
                              self.topics["events"], script)
        try:
            r = s.run_producer(["restock", "PROD-W1", "100", "--wait", "--command-id",
                                "cmd-wait-1"], self.env)
            self.assertEqual(r.returncode, 0, r.stderr)
            ev = json.loads(r.stdout)
            self.assertEqual((ev["type"], ev["commandId"], ev["total"], ev["available"]),
                             ("stock.restocked", "cmd-wait-1", 100, 100))
            self.assertEqual(ev["eventId"], s.event_id("cmd-wait-1", "stock.restocked"))
            r = s.run_producer(["reserve", "PROD-W1", "10", "--customer", "C", "--wait",
                                "--command-id", "cmd-wait-2"], self.env)
            self.assertEqual(r.returncode, 3, r.stderr)
            ev = json.loads(r.stdout)
            self.assertEqual((ev["type"], ev["reason"], ev["available"]),
                             ("reservation.rejected", "insufficient_stock", 5))
        finally:
            worker.stop()

    def test_wait_times_out_with_exit_1(self):
        r = s.run_producer(["restock", "PROD-T1", "5", "--wait", "--timeout", "1s",
                            "--command-id", "cmd-timeout-1"], self.env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no outcome for command cmd-timeout-1 within 1000 ms", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=sys.argv[:1])
