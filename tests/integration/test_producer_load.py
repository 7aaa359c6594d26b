#!/usr/bin/env python3
"""test_producer_load.py -- `inventory-producer load` against two real
workers on private topics: the summary accounts for every operation.

With --seed the operation mix is fixed, so two runs of the plan send the
same numbers of commands, duplicates and invalid payloads; every fresh
command gets exactly one outcome (missing 0), every invalid payload shows
up as a dead letter, and the outcomes by type add up to the commands sent.
--latency-log writes one line per outcome: send time, latency, commandId,
event type.
Skipped (exit 77) when the worker is not built."""
import os
import re
import sys
import tempfile
import time
import unittest

import test_producer_support as s

ARGS = ["load", "--products", "4", "--count", "300", "--mix", "6:3:1", "--hot", "0.5",
        "--duplicates", "0.1", "--invalid", "0.05", "--seed", "7", "--initial-stock", "200",
        "--timeout", "60s"]


def field(text, pattern):
    m = re.search(pattern, text, re.M)
    if not m:
        raise AssertionError("no %r in summary:\n%s" % (pattern, text))
    return [int(g) for g in m.groups()]


class ProducerLoad(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pipeline = s.RealPipeline(workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.pipeline.cleanup()

    def run_load(self, run_id, extra=()):
        r = s.run_producer(ARGS + ["--run-id", run_id, "--prefix", "L%s-" % run_id] + list(extra),
                           self.pipeline.env, timeout=240)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_summary_accounts_for_every_operation(self):
        log = tempfile.NamedTemporaryFile(prefix="latency-", suffix=".log")
        started_ms = time.time() * 1000
        out = self.run_load("a", ["--latency-log", log.name])
        total, commands, dups, invalid, failures = field(
            out, r"sent: +(\d+) \(commands (\d+), duplicates (\d+), invalid (\d+)\), "
                 r"delivery failures (\d+)")
        self.assertEqual(total, 300)
        self.assertEqual(commands + dups + invalid, 300)
        self.assertEqual(failures, 0)
        self.assertGreater(dups, 0)
        self.assertGreater(invalid, 0)
        missing, expected = field(out, r"missing: +(\d+) of (\d+) commands")
        self.assertEqual((missing, expected), (0, commands))
        outcomes = sum(int(n) for n in re.findall(r" [a-z.]+ (\d+)",
                                                  re.search(r"outcomes: (.*)$", out, re.M).group(1)))
        self.assertEqual(outcomes, commands)
        self.assertEqual(field(out, r"dead letters: +(\d+) seen"), [invalid])
        self.assertEqual(field(out, r"latency ms: .*\(n=(\d+)\)"), [commands])
        self.check_latency_log(log.name, commands, started_ms)
        log.close()
        # Same seed, same plan: the second run sends exactly the same mix.
        again = self.run_load("b")
        self.assertEqual(field(again, r"\(commands (\d+), duplicates (\d+), invalid (\d+)\)"),
                         [commands, dups, invalid])

    def check_latency_log(self, path, commands, started_ms):
        with open(path) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[0], "# send_unix_ms latency_us command_id event_type")
        rows = [line.split(" ") for line in lines[1:]]
        self.assertEqual(len(rows), commands)
        self.assertEqual(len({r[2] for r in rows}), commands, "one line per command")
        for send_ms, latency_us, command_id, event_type in rows:
            self.assertTrue(command_id.startswith("a-"), command_id)
            self.assertGreaterEqual(int(send_ms), started_ms)
            self.assertLessEqual(int(send_ms), time.time() * 1000)
            self.assertGreater(int(latency_us), 0)
            self.assertRegex(event_type, r"^[a-z]+\.[a-z]+$")


if __name__ == "__main__":
    if not os.access(s.WORKER, os.X_OK):
        print("skipped: %s not built" % s.WORKER)
        sys.exit(77)
    unittest.main(verbosity=2, argv=sys.argv[:1])
