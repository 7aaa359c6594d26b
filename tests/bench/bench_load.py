#!/usr/bin/env python3
"""bench_load.py -- throughput and outcome latency of the inventory pipeline,
measured with `inventory-producer load` against real workers.

    tests/bench/bench_load.py [--workers N] [--count N] [--products N] [--rates R,R,...]

Starts N inventory-workers on private topics, group and containers (the
integration tests' harness), runs one load per rate (0 = unthrottled) and
prints each summary; everything is cleaned up afterwards. Timings are
printed, never asserted (they depend on the machine; see design.md section 5
for what Azurite sustains here). Needs services up and a build in build/
(or LEASEHOLD_BIN)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import test_producer_support as s  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--rates", default="100,200,0")
    args = ap.parse_args()
    pipeline = s.RealPipeline(workers=args.workers)
    try:
        for i, rate in enumerate(args.rates.split(",")):
            r = s.run_producer(["load", "--products", str(args.products), "--count",
                                str(args.count), "--rate", rate, "--seed", "1", "--run-id",
                                "bench%d" % i, "--prefix", "B%d-" % i, "--timeout", "120s"],
                               pipeline.env, timeout=1800)
            print("== %d workers, rate %s/s (0 = unthrottled), exit %d" % (args.workers, rate,
                                                                         r.returncode))
            print(r.stdout, end="", flush=True)
            if r.returncode != 0:
                print(r.stderr[-2000:], file=sys.stderr)
    finally:
        pipeline.cleanup()


if __name__ == "__main__":
    main()
