#!/usr/bin/env python3
"""stage_breakdown.py -- where a command's time goes, from workers' /metrics.

    tests/bench/stage_breakdown.py URL [URL...] [--save FILE] [--before FILE] [--json]

Scrapes each inventory-worker's admin endpoint (http://127.0.0.1:8081/metrics),
sums the histograms over the workers and prints, per stage of
leasehold_stage_seconds{stage} (docs/metrics.md) and for the end-to-end
leasehold_command_latency_seconds: count, p50, p95, p99 and mean, plus the
contended lease acquisitions (leasehold_lease_acquire_contended_total).

Quantiles are interpolated linearly inside the bucket that holds the rank,
like Prometheus' histogram_quantile(): the first bucket starts at 0, and a
rank that falls in +Inf answers the highest finite bound. They are estimates
as good as the buckets (a p99 of "30" means "above 30 s").

One run only: scrape before and after it and subtract. On the command line
`--save FILE` stores a scrape, `--before FILE` reports what happened since.
In a harness:

    import stage_breakdown as sb
    before = sb.breakdown(urls)
    ... run the load ...
    report = sb.diff(before, sb.breakdown(urls))
    report["stages"]["publish_ack"]["p99"]      # seconds, None when empty
    print(sb.format_table(report))

Python 3 standard library only."""
import argparse
import json
import math
import sys
import urllib.request

STAGE_FAMILY = "leasehold_stage_seconds"
COMMAND_FAMILY = "leasehold_command_latency_seconds"
CONTENDED = "leasehold_lease_acquire_contended_total"
# Pipeline order (docs/metrics.md); stages a worker does not know yet are
# reported after these in the order they appear.
STAGES = ["consume_delay", "queue_wait", "lease_acquire", "state_read", "apply", "fenced_write",
          "publish_ack"]
QUANTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))


def quantile(q, buckets):
    """histogram_quantile(q) over cumulative `buckets` [(upper_bound, count)]
    sorted by bound with +Inf last. None when there is no observation."""
    if not buckets or buckets[-1][0] != math.inf:
        raise ValueError("buckets must end with +Inf")
    total = buckets[-1][1]
    if total == 0:
        return None
    if q <= 0:
        return 0.0 if buckets[0][0] > 0 else buckets[0][0]
    rank = min(q, 1.0) * total
    prev_bound, prev_count = 0.0, 0
    for i, (bound, count) in enumerate(buckets):
        if count >= rank:
            if bound == math.inf:
                # Prometheus: the rank is above every finite bound.
                return buckets[-2][0] if len(buckets) > 1 else None
            if i == 0 and bound <= 0:
                return bound
            in_bucket = count - prev_count
            return prev_bound + (bound - prev_bound) * (rank - prev_count) / in_bucket
        prev_bound, prev_count = bound, count
    return None  # unreachable: the +Inf bucket holds every observation


def _parse_labels(text):
    """'stage="apply",le="0.5"' -> {"stage": "apply", "le": "0.5"}."""
    labels, i = {}, 0
    while i < len(text):
        eq = text.index("=", i)
        name = text[i:eq].strip().lstrip(",").strip()
        j, value = eq + 2, []  # skip '="'
        while text[j] != '"':
            if text[j] == "\\":
                j += 1
                value.append({"n": "\n"}.get(text[j], text[j]))
            else:
                value.append(text[j])
            j += 1
        labels[name] = "".join(value)
        i = j + 1
    return labels


def parse(text):
    """Prometheus text -> {(metric_name, frozenset(labels.items())): value}."""
    samples = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "{" in line:
            name, rest = line.split("{", 1)
            label_text, value = rest.rsplit("}", 1)
            labels = _parse_labels(label_text)
        else:
            name, value = line.split(None, 1)
            labels = {}
        key = (name, frozenset(labels.items()))
        samples[key] = samples.get(key, 0.0) + float(value.split()[0])
    return samples


def _histogram(samples, family, match):
    """One series of `family` whose labels include `match` (minus le):
    {"buckets": [[bound, count]...], "sum", "count"}, or None if absent."""
    buckets = {}
    for (name, labels), value in samples.items():
        d = dict(labels)
        if name == family + "_bucket" and all(d.get(k) == v for k, v in match.items()):
            le = float(d["le"])
            buckets[le] = buckets.get(le, 0.0) + value
    if not buckets:
        return None
    key = frozenset(match.items())
    return {"buckets": [[b, buckets[b]] for b in sorted(buckets)],
            "sum": samples.get((family + "_sum", key), 0.0),
            "count": samples.get((family + "_count", key), 0.0)}


def _with_stats(h):
    """Adds count-derived statistics (seconds; None when empty) to `h`."""
    buckets = [(b, c) for b, c in h["buckets"]]
    out = dict(h)
    for label, q in QUANTILES:
        out[label] = quantile(q, buckets)
    out["mean"] = h["sum"] / h["count"] if h["count"] else None
    return out


def summarize(samples):
    """Parsed samples (one worker or several, already summed) -> the report
    dict of breakdown()."""
    stages = [dict(labels)["stage"] for (name, labels) in samples
              if name == STAGE_FAMILY + "_count"]
    order = [s for s in STAGES if s in stages] + [s for s in stages if s not in STAGES]
    report = {"stages": {}, "command_latency": None,
              "lease_acquire_contended": samples.get((CONTENDED, frozenset()), 0.0)}
    for stage in order:
        report["stages"][stage] = _with_stats(_histogram(samples, STAGE_FAMILY, {"stage": stage}))
    command = _histogram(samples, COMMAND_FAMILY, {})
    if command:
        report["command_latency"] = _with_stats(command)
    return report


def scrape(url, timeout=10):
    """The text of one /metrics endpoint."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode("utf-8")


def breakdown(urls, timeout=10):
    """Scrapes every URL, sums the series over them and returns
    {"stages": {stage: {"count", "sum", "buckets", "p50", "p95", "p99", "mean"}},
     "command_latency": {same keys} or None, "lease_acquire_contended": n}.
    Quantiles and means are seconds, None for an empty histogram."""
    total = {}
    for url in urls:
        for key, value in parse(scrape(url, timeout)).items():
            total[key] = total.get(key, 0.0) + value
    return summarize(total)


def _diff_histogram(before, after):
    if before is None:
        return after
    old = {b: c for b, c in before["buckets"]}
    return _with_stats({"buckets": [[b, c - old.get(b, 0.0)] for b, c in after["buckets"]],
                        "sum": after["sum"] - before["sum"],
                        "count": after["count"] - before["count"]})


def diff(before, after):
    """The observations between two breakdown() results of the same workers,
    as a breakdown() result. A worker restarted in between breaks the
    subtraction (its counters began again at 0)."""
    report = {"stages": {}, "command_latency": None,
              "lease_acquire_contended": after["lease_acquire_contended"] -
              before["lease_acquire_contended"]}
    for stage, h in after["stages"].items():
        report["stages"][stage] = _diff_histogram(before["stages"].get(stage), h)
    if after["command_latency"]:
        report["command_latency"] = _diff_histogram(before["command_latency"],
                                                    after["command_latency"])
    return report


def _ms(v):
    return "-" if v is None else "%.1f" % (v * 1000)


def format_table(report):
    """The report as a fixed-width table, milliseconds."""
    lines = ["%-16s %9s %9s %9s %9s %9s" % ("stage", "count", "p50 ms", "p95 ms", "p99 ms",
                                            "mean ms")]
    rows = list(report["stages"].items())
    if report["command_latency"]:
        rows.append(("command (total)", report["command_latency"]))
    for name, h in rows:
        lines.append("%-16s %9d %9s %9s %9s %9s" % (name, h["count"], _ms(h["p50"]),
                                                     _ms(h["p95"]), _ms(h["p99"]),
                                                     _ms(h["mean"])))
    lines.append("contended lease acquisitions: %d" % report["lease_acquire_contended"])
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("urls", nargs="+", metavar="URL", help="a worker's /metrics URL")
    ap.add_argument("--save", metavar="FILE", help="also store this scrape (JSON) for --before")
    ap.add_argument("--before", metavar="FILE", help="report only what happened since this scrape")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    try:
        now = breakdown(args.urls)
        report = now
        if args.before:
            with open(args.before) as f:
                report = diff(json.load(f), now)
    except (OSError, ValueError) as e:
        print("stage_breakdown: %s" % e, file=sys.stderr)
        return 1
    if args.save:
        with open(args.save, "w") as f:
            json.dump(now, f)
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
