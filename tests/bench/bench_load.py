#!/usr/bin/env python3
"""bench_load.py -- throughput and outcome latency of the inventory pipeline,
measured with `inventory-producer load` against real workers.

    tests/bench/bench_load.py [--workers N] [--count N] [--products N] [--rates R,R,...]
                              [--mix R:L:S] [--max-quantity N] [--stages]

Starts N inventory-workers on private topics, group and containers (the
integration tests' harness), runs one load per rate (0 = unthrottled) and
prints each summary (with --stages also the workers' stage breakdown of
that run, tests/bench/stage_breakdown.py); everything is cleaned up
afterwards. Timings are
printed, never asserted (they depend on the machine; see design.md section 5
for what Azurite sustains here). Needs services up and a build in build/
(or LEASEHOLD_BIN)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import test_producer_support as s  # noqa: E402
import stage_breakdown  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--products", type=int, default=20)
    ap.add_argument("--rates", default="100,200,0")
    ap.add_argument("--mix", help="the load's --mix (reserve:release:restock)")
    ap.add_argument("--max-quantity", help="the load's --max-quantity")
    ap.add_argument("--stages", action="store_true",
                    help="print the workers' per-stage latency of each run")
    args = ap.parse_args()
    pipeline = s.RealPipeline(workers=args.workers)
    try:
        extra = []
        if args.mix:
            extra += ["--mix", args.mix]
        if args.max_quantity:
            extra += ["--max-quantity", args.max_quantity]
        for i, rate in enumerate(args.rates.split(",")):
            before = stage_breakdown.breakdown(pipeline.metrics_urls) if args.stages else None
            r = s.run_producer(["load", "--products", str(args.products), "--count",
                                str(args.count), "--rate", rate, "--seed", "1", "--run-id",
                                "bench%d" % i, "--prefix", "B%d-" % i, "--timeout", "120s"] +
                               extra, pipeline.env, timeout=1800)
            print("== %d workers, rate %s/s (0 = unthrottled), exit %d" % (args.workers, rate,
                                                                         r.returncode))
            print(r.stdout, end="", flush=True)
            if before is not None:
                after = stage_breakdown.breakdown(pipeline.metrics_urls)
                print(stage_breakdown.format_table(stage_breakdown.diff(before, after)),
                      flush=True)
            if r.returncode != 0:
                print(r.stderr[-2000:], file=sys.stderr)
    finally:
        pipeline.cleanup()


if __name__ == "__main__":
    main()
