#!/usr/bin/env python3
"""test_stage_breakdown.py -- tests/bench/stage_breakdown.py without services:
histogram_quantile-style interpolation with exact values (bounds that are
powers of two, so the arithmetic is exact), the +Inf and empty cases,
summing two workers served by a local HTTP server, diff() of two scrapes and
the CLI's --save/--before."""
import contextlib
import http.server
import io
import json
import math
import os
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import stage_breakdown as sb  # noqa: E402

INF = math.inf


def stage_text(stage, counts, total_sum):
    """A worker's exposition of one stage with cumulative `counts` for the
    bounds 0.25 0.5 1 2 +Inf."""
    lines = []
    for le, c in zip(("0.25", "0.5", "1", "2", "+Inf"), counts):
        lines.append('leasehold_stage_seconds_bucket{stage="%s",le="%s"} %d' % (stage, le, c))
    lines.append('leasehold_stage_seconds_sum{stage="%s"} %r' % (stage, total_sum))
    lines.append('leasehold_stage_seconds_count{stage="%s"} %d' % (stage, counts[-1]))
    return "\n".join(lines) + "\n"


HEAD = ("# HELP leasehold_stage_seconds Time spent per pipeline stage.\n"
        "# TYPE leasehold_stage_seconds histogram\n")


class Quantile(unittest.TestCase):
    BUCKETS = [(0.25, 0), (0.5, 40), (1, 80), (2, 96), (INF, 100)]

    def test_interpolates_inside_the_bucket_holding_the_rank(self):
        # rank 50 is the 10th of 40 in (0.5, 1]: 0.5 + 0.5 * 10/40
        self.assertEqual(sb.quantile(0.5, self.BUCKETS), 0.625)
        # rank 20 is the 20th of 40 in (0.25, 0.5]
        self.assertEqual(sb.quantile(0.2, self.BUCKETS), 0.375)
        # rank 88 is the 8th of 16 in (1, 2]
        self.assertEqual(sb.quantile(0.88, self.BUCKETS), 1.5)
        # a rank on a bucket's upper count answers its bound
        self.assertEqual(sb.quantile(0.96, self.BUCKETS), 2.0)

    def test_rank_in_inf_answers_highest_finite_bound(self):
        self.assertEqual(sb.quantile(0.99, self.BUCKETS), 2.0)
        self.assertEqual(sb.quantile(1.0, self.BUCKETS), 2.0)

    def test_first_bucket_starts_at_zero(self):
        self.assertEqual(sb.quantile(0.5, [(0.5, 8), (INF, 8)]), 0.25)
        self.assertEqual(sb.quantile(0.25, [(0.5, 8), (INF, 8)]), 0.125)

    def test_prometheus_buckets_decimal(self):
        b = [(0.001, 0), (0.005, 50), (0.01, 90), (0.1, 99), (INF, 100)]
        self.assertAlmostEqual(sb.quantile(0.5, b), 0.005, places=15)
        self.assertAlmostEqual(sb.quantile(0.95, b), 0.06, places=15)
        self.assertAlmostEqual(sb.quantile(0.99, b), 0.1, places=15)

    def test_empty_and_invalid(self):
        self.assertIsNone(sb.quantile(0.5, [(1, 0), (INF, 0)]))
        with self.assertRaises(ValueError):
            sb.quantile(0.5, [(1, 3)])


class Serve:
    """Serves fixed /metrics texts on 127.0.0.1, one port per text."""

    def __init__(self, texts):
        self.servers = []
        for text in texts:
            body = text.encode()

            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self, body=body):
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)

                def log_message(self, *a):
                    pass

            srv = http.server.HTTPServer(("127.0.0.1", 0), H)
            threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True).start()
            self.servers.append(srv)
        self.urls = ["http://127.0.0.1:%d/metrics" % s.server_address[1] for s in self.servers]

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()


WORKER1 = (HEAD + stage_text("queue_wait", [0, 10, 20, 20, 20], 10.0) +
           stage_text("apply", [5, 5, 5, 5, 5], 0.5) +
           "leasehold_lease_acquire_contended_total 3\n")
WORKER2 = (HEAD + stage_text("apply", [0, 0, 0, 0, 0], 0.0) +
           stage_text("queue_wait", [0, 10, 20, 30, 40], 35.5) +
           "# TYPE leasehold_command_latency_seconds histogram\n"
           'leasehold_command_latency_seconds_bucket{le="1"} 4\n'
           'leasehold_command_latency_seconds_bucket{le="+Inf"} 4\n'
           "leasehold_command_latency_seconds_sum 2\n"
           "leasehold_command_latency_seconds_count 4\n"
           "leasehold_lease_acquire_contended_total 4\n")


class Breakdown(unittest.TestCase):
    def setUp(self):
        self.srv = Serve([WORKER1, WORKER2])

    def tearDown(self):
        self.srv.close()

    def test_sums_workers_in_pipeline_order(self):
        r = sb.breakdown(self.srv.urls)
        self.assertEqual(list(r["stages"]), ["queue_wait", "apply"])
        q = r["stages"]["queue_wait"]
        self.assertEqual(q["buckets"], [[0.25, 0], [0.5, 20], [1, 40], [2, 50], [INF, 60]])
        self.assertEqual(q["count"], 60)
        self.assertEqual(q["sum"], 45.5)
        self.assertEqual(q["p50"], 0.75)  # rank 30: the 10th of 20 in (0.5, 1]
        self.assertEqual(q["p95"], 2.0)   # rank 57 lies in +Inf
        self.assertEqual(q["mean"], 45.5 / 60)
        a = r["stages"]["apply"]
        self.assertEqual((a["count"], a["p50"]), (5, 0.125))  # worker 2's zeros add nothing
        self.assertAlmostEqual(a["p99"], 0.2475, places=15)
        self.assertEqual(r["lease_acquire_contended"], 7)
        c = r["command_latency"]
        self.assertEqual((c["count"], c["p50"], c["mean"]), (4, 0.5, 0.5))

    def test_diff_keeps_only_the_run(self):
        before = sb.summarize(sb.parse(WORKER1))
        after_text = (HEAD + stage_text("queue_wait", [0, 10, 20, 28, 30], 20.0) +
                      stage_text("apply", [5, 5, 5, 5, 5], 0.5) +
                      stage_text("publish_ack", [1, 1, 1, 1, 1], 0.25) +
                      "leasehold_lease_acquire_contended_total 5\n")
        d = sb.diff(before, sb.summarize(sb.parse(after_text)))
        q = d["stages"]["queue_wait"]
        self.assertEqual(q["buckets"], [[0.25, 0], [0.5, 0], [1, 0], [2, 8], [INF, 10]])
        self.assertEqual((q["count"], q["sum"], q["p50"], q["mean"]), (10, 10.0, 1.625, 1.0))
        self.assertEqual(d["stages"]["apply"]["count"], 0)
        self.assertIsNone(d["stages"]["apply"]["p50"])
        self.assertIsNone(d["stages"]["apply"]["mean"])
        self.assertEqual(d["stages"]["publish_ack"]["count"], 1)  # new since `before`
        self.assertEqual(d["lease_acquire_contended"], 2)
        self.assertIsNone(d["command_latency"])

    def test_cli_save_then_before(self):
        with tempfile.TemporaryDirectory() as tmp:
            saved = os.path.join(tmp, "before.json")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                self.assertEqual(sb.main(self.srv.urls + ["--save", saved]), 0)
            self.assertIn("queue_wait", out.getvalue())
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                self.assertEqual(sb.main(self.srv.urls + ["--before", saved, "--json"]), 0)
            report = json.loads(out.getvalue())
            self.assertEqual(report["stages"]["queue_wait"]["count"], 0)
            self.assertEqual(report["lease_acquire_contended"], 0)

    def test_table(self):
        text = sb.format_table(sb.breakdown(self.srv.urls))
        self.assertEqual(text.splitlines()[1],
                         "queue_wait              60     750.0    2000.0    2000.0     758.3")
        self.assertEqual(text.splitlines()[-1], "contended lease acquisitions: 7")

    def test_unreachable_worker_is_an_error(self):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            self.assertEqual(sb.main(["http://127.0.0.1:1/metrics"]), 1)
        self.assertIn("stage_breakdown: ", err.getvalue())


if __name__ == "__main__":
    unittest.main()
