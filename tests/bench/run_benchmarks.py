#!/usr/bin/env python3
"""run_benchmarks.py -- Leasehold's benchmark: the baseline and workloads
W1..W5, each against a fresh Azurite, written to docs/benchmarks.md.

    tests/bench/run_benchmarks.py [--only W1,W3,...] [--quick] [--out FILE]
                                  [--build DIR] [--work DIR] [--worker-env KEY=VALUE ...]

`deploy/local/bench` is the one-line form (set-up, build, services, then
this). Workloads (names for --only):
  baseline  the original sample's pattern per command (30 s lease on a lock
            blob, read, write, release): build/tests/bench_baseline, uniform
            over 1,000 products and hot on one, with the bare lease calls
            (--raw: W2's ratios) and through the lease engine
  W1        latency: 1 and 3 workers x 200, 1,000, 5,000 cmd/s, mixed 70:20:10
            over 100 products; p50/p95/p99 and the stage breakdown
  W2        throughput: unthrottled, uniform over 1,000 products and hot on one,
            1 and 3 workers; worker peak RSS, CPU us per command
  W3        lease scale: build/tests/bench_lease, 10,000 leases of 60 s for 3 min
  W4        rebalance: 3 workers at 1,000 cmd/s, a 4th joins, one gets SIGTERM,
            one SIGKILL; p99 per phase, missing outcomes, double application
  W5        reconciler: build/tests/bench_reconciler, a sweep over 10,000 products
  W6        flash sale: one product of 100,000 units, 101,000 reserves of 1 unit,
            1 and 3 workers, the paged state layout beside v1; outcome split,
            cmd/s, last vs first 10%, bytes written per command, largest
            write, handover time

Every workload (every W1/W2 cell) gets a private Azurite started with
`LEASEHOLD_AZURITE_PORT=P deploy/local/services up --session bench-...` and
stopped afterwards (Azurite wedges after a few hundred thousand overwrites in
one process lifetime); Kafka is the shared broker, with private topics and
group per run. CPU is utime+stime from /proc/PID/stat, taken before and after
each workload, for Azurite, the Kafka broker (shared: other load counts too)
and each worker; peak RSS is VmHWM read just before a worker stops. Targets
are printed beside the figures, never asserted. Programs or metrics that are
not there yet give "not available" rows. --quick uses tiny counts (a smoke
run of about three minutes, figures meaningless). Logs of every program go to
--work (default build/bench/TIMESTAMP/).
"""
import argparse
import datetime
import glob
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

WORKLOADS = ("baseline", "W1", "W2", "W3", "W4", "W5", "W6")
NA = "not available"

# Sizes of the full run (about 20-30 minutes on 2 cores) and of --quick (a
# smoke run: seconds to a minute per workload).
FULL = {
    "baseline_products": 1000, "baseline_commands": 3000, "baseline_threads": 4,
    "w1_workers": (1, 3), "w1_rates": (200, 1000, 5000), "w1_seconds": 20, "w1_products": 100,
    "w2_workers": (1, 3), "w2_uniform": (1000, 200000), "w2_hot": 100000,
    "w3": (10000, 180, 4, 60),
    "w4_rate": 1000, "w4_products": 100, "w4_phase_s": (30, 30, 30, 40),
    "w5": (10000, 100),
    "w6": (100000, 1000, (1, 3)),
    "settle_s": 2.0, "timeout": "300s", "load_timeout_s": 3600,
}
QUICK = {
    "baseline_products": 20, "baseline_commands": 100, "baseline_threads": 2,
    "w1_workers": (1,), "w1_rates": (200,), "w1_seconds": 1, "w1_products": 100,
    "w2_workers": (1,), "w2_uniform": (50, 500), "w2_hot": 300,
    "w3": (20, 12, 2, 15),
    "w4_rate": 100, "w4_products": 20, "w4_phase_s": (3, 3, 3, 15),
    "w5": (200, 10),
    "w6": (500, 20, (1,)),
    "settle_s": 0.5, "timeout": "120s", "load_timeout_s": 600,
}


# ---------------------------------------------------------------- processes

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime+stime of a live process, in seconds; None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mib(pid):
    """VmHWM of a live process in MiB; None when it is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, TypeError):
        pass
    return None


def pid_listening(port):
    """The pid of the process listening on TCP `port` (via the socket inode
    in /proc/net/tcp*), or None."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            continue
    if not inodes:
        return None
    wanted = {"socket:[%s]" % i for i in inodes}
    for fd_dir in glob.glob("/proc/[0-9]*/fd"):
        try:
            for fd in os.listdir(fd_dir):
                if os.readlink(os.path.join(fd_dir, fd)) in wanted:
                    return int(fd_dir.split("/")[2])
        except OSError:
            continue
    return None


def run_measured(argv, env, log_path, timeout):
    """Runs a program to completion with its output in log_path; returns
    (exit code, output, cpu seconds, peak RSS MiB, wall seconds) from its own
    rusage. Killed at `timeout`."""
    with open(log_path, "w") as log:
        t0 = time.monotonic()
        p = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        timer = threading.Timer(timeout, p.kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
    with open(log_path) as f:
        out = f.read()
    return p.returncode, out, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, wall


def result_line(text):
    """The JSON of the last `RESULT {...}` line, or None."""
    for line in reversed(text.splitlines()):
        if line.startswith("RESULT "):
            try:
                return json.loads(line[len("RESULT "):])
            except ValueError:
                return None
    return None


# ---------------------------------------------------------------- services

class FreshAzurite:
    """A private in-memory Azurite on a free port for one workload, started
    and stopped through deploy/local/services with its own session."""

    def __init__(self, ctx, tag):
        self.ctx = ctx
        self.port = s.free_port()
        self.session = "bench-%s-%d" % (re.sub(r"[^A-Za-z0-9._-]", "-", tag), self.port)
        self.pid = None

    def _services(self, action):
        env = dict(os.environ, LEASEHOLD_AZURITE_PORT=str(self.port))
        with open(self.ctx.path("services.log"), "a") as log:
            subprocess.run([os.path.join(SOURCE, "deploy", "local", "services"), action,
                            "--session", self.session], env=env, stdout=log,
                           stderr=subprocess.STDOUT, check=True, timeout=300)

    def __enter__(self):
        self._services("up")
        pidfile = os.path.join(SOURCE, ".services", "sessions", self.session,
                               "azurite-%d.pid" % self.port)
        with open(pidfile) as f:
            self.pid = int(f.read().split()[0])
        self.connection_string = azurite_rest.use_port(self.port)
        self.env = {"LEASEHOLD_STORAGE_CONNECTION_STRING": self.connection_string}
        return self

    def __exit__(self, *exc):
        azurite_rest.use_port(10000)
        self._services("down")


class Snapshot:
    """CPU seconds of Azurite, Kafka and the workers, plus the workers'
    metrics and stage histograms, at one moment."""

    def __init__(self, ctx, azurite, pipeline=None):
        self.t = time.monotonic()
        self.azurite = cpu_seconds(azurite.pid)
        self.kafka = cpu_seconds(ctx.kafka_pid) if ctx.kafka_pid else None
        self.workers = [cpu_seconds(p.pid) for p in pipeline.workers] if pipeline else []
        self.metrics = [scrape(u) for u in pipeline.metrics_urls] if pipeline else []
        self.stages = None
        if pipeline and stage_breakdown is not None:
            try:
                self.stages = stage_breakdown.breakdown(pipeline.metrics_urls)
            except Exception as e:  # a metric that is not there yet is "not available"
                ctx.note("stage breakdown: %s" % e)


def delta(a, b):
    return None if a is None or b is None else b - a


def scrape(url):
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.read().decode()
    except OSError:
        return None


def metric_sum(text, name):
    """Sum of every sample of metric `name` in a Prometheus text page, or
    None when the page or the metric is missing."""
    if text is None:
        return None
    total, seen = 0.0, False
    for line in text.splitlines():
        m = re.match(r"^%s(\{[^}]*\})?\s+(\S+)" % re.escape(name), line)
        if m:
            total += float(m.group(2))
            seen = True
    return total if seen else None


CONTENDED = "leasehold_lease_acquire_contended_total"


def contended(before, after):
    """Contended acquisitions over the window, summed over the workers that
    still answer (a worker started in between counts from 0); None when no
    worker reports the counter."""
    total, seen = 0.0, False
    for i, page in enumerate(after.metrics):
        now = metric_sum(page, CONTENDED)
        if now is None:
            continue
        then = metric_sum(before.metrics[i], CONTENDED) if i < len(before.metrics) else None
        total += now - (then or 0.0)
        seen = True
    return int(total) if seen else None


# ---------------------------------------------------------------- load

SUMMARY = {
    "sent": r"sent: +(\d+) \(commands (\d+),",
    "missing": r"missing: +(\d+) of (\d+)",
    "latency": r"latency ms: +p50 ([\d.]+) +p95 ([\d.]+) +p99 ([\d.]+) +max ([\d.]+)",
    "elapsed": r"elapsed: +([\d.]+) s sending .*, ([\d.]+) s until the last outcome",
}


def parse_summary(text):
    """The figures of `inventory-producer load`'s summary (None for a line
    that is missing)."""
    out = {}
    for key, pattern in SUMMARY.items():
        m = re.search(pattern, text, re.M)
        out[key] = [float(g) for g in m.groups()] if m else None
    r = {"commands": int(out["sent"][1]) if out["sent"] else None,
         "missing": int(out["missing"][0]) if out["missing"] else None}
    if out["latency"]:
        r.update(zip(("p50", "p95", "p99", "max"), out["latency"]))
    if out["elapsed"] and r["commands"]:
        r["seconds"] = out["elapsed"][1]
        r["cmd_per_s"] = r["commands"] / out["elapsed"][1] if out["elapsed"][1] else None
    return r


def product_prefix(tag):
    return "B%s-" % tag.replace("-", "")


def load_args(ctx, tag, products, count, rate, extra=()):
    """The measured load: the products already restocked by warm_up()."""
    return ["load", "--products", str(products), "--count", str(count), "--rate", str(rate),
            "--mix", "70:20:10", "--seed", "1", "--run-id", "bench-" + tag, "--prefix",
            product_prefix(tag), "--initial-stock", "0", "--timeout", ctx.size["timeout"]] + \
        list(extra)


def warm_up(ctx, tag, pipe, products):
    """Restocks every product of the workload (a load of one command whose
    initial restock waits for every outcome), so the measured window holds
    only the workload's own commands, not the creation of its products."""
    r = s.run_producer(["load", "--products", str(products), "--count", "1", "--run-id",
                        "bench-%s-warm" % tag, "--prefix", product_prefix(tag), "--timeout",
                        ctx.size["timeout"]], pipe.env, timeout=ctx.size["load_timeout_s"])
    with open(ctx.path(tag + "-warm-up.log"), "w") as f:
        f.write(r.stdout + r.stderr)
    if r.returncode != 0:
        raise RuntimeError("warm-up load exited %d (see %s-warm-up.log)" % (r.returncode, tag))
    time.sleep(ctx.size["settle_s"])


def products_accepted(n):
    """Whether this build's load generator takes --products n (the limit
    was 999 before the 1,000,000-product change)."""
    r = subprocess.run([s.PRODUCER, "load", "--products", str(n), "--help"],
                       capture_output=True, timeout=30)
    return r.returncode == 0


def wait_stable_group(ctx, pipe, limit_s=120):
    """Waits until the workers' assignments (GET /api/assignment) cover every
    partition of the three command topics once, every worker holding some:
    /readyz says 200 before the group has settled (the first member owns
    everything until the last one's join is rebalanced), and a load started
    before the last rebalance would measure the handover, not the steady
    state."""
    topics = [pipe.topics[k] for k in ("reservations", "releases", "admin")]
    want = sorted((t, i) for t in topics for i in range(6))
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        owned, everyone = [], True
        for url in pipe.metrics_urls:
            page = scrape(url.replace("/metrics", "/api/assignment"))
            try:
                mine = [(p["topic"], p["partition"]) for p in json.loads(page)["partitions"]]
            except (TypeError, ValueError, KeyError):
                owned = None
                break
            owned += mine
            everyone = everyone and bool(mine)
        if owned is not None and sorted(owned) == want and everyone:
            return
        time.sleep(0.2)  # polling a condition with a deadline
    ctx.note("the group did not settle within %d s; measuring anyway" % limit_s)


def pipeline_load(ctx, tag, workers, products, count, rate, extra=()):
    """One load against `workers` fresh workers on a fresh Azurite; returns
    the summary figures plus CPU, RSS, contention and stage breakdown."""
    with FreshAzurite(ctx, tag) as az, open(ctx.path(tag + "-workers.log"), "w") as wlog:
        pipe = s.RealPipeline(workers, env=dict(az.env, **ctx.worker_env), output=wlog)
        try:
            wait_stable_group(ctx, pipe)
            warm_up(ctx, tag, pipe, products)
            before = Snapshot(ctx, az, pipe)
            r = s.run_producer(load_args(ctx, tag, products, count, rate, extra), pipe.env,
                               timeout=ctx.size["load_timeout_s"])
            after = Snapshot(ctx, az, pipe)
            rss = [peak_rss_mib(p.pid) for p in pipe.workers]
        finally:
            codes = pipe.cleanup()
    with open(ctx.path(tag + "-load.log"), "w") as f:
        f.write(r.stdout + r.stderr)
    res = parse_summary(r.stdout)
    res.update(exit=r.returncode, worker_exits=codes)
    n = res.get("commands") or count
    res["azurite_cpu_s"] = delta(before.azurite, after.azurite)
    res["kafka_cpu_s"] = delta(before.kafka, after.kafka)
    wcpu = [delta(b, a) for b, a in zip(before.workers, after.workers)]
    res["worker_cpu_s"] = None if None in wcpu else sum(wcpu)
    for k in ("azurite", "kafka", "worker"):
        v = res[k + "_cpu_s"]
        res[k + "_us_per_cmd"] = v / n * 1e6 if v is not None else None
    res["azurite_s_per_1000"] = res["azurite_cpu_s"] / n * 1000 if res["azurite_cpu_s"] is not None else None
    res["peak_rss_mib"] = None if None in rss or not rss else max(rss)
    res["contended"] = contended(before, after)
    res["stages"] = None
    if before.stages is not None and after.stages is not None:
        try:
            res["stages"] = stage_breakdown.diff(before.stages, after.stages)
        except Exception as e:
            ctx.note("stage breakdown diff: %s" % e)
    return res


# ---------------------------------------------------------------- workloads

def bench_program(ctx, name):
    path = os.path.join(ctx.build, "tests", name)
    return path if os.access(path, os.X_OK) else None


def w_baseline(ctx):
    """The original pattern, uniform and hot: with the bare Lease Blob calls
    (--raw, exactly the original's 4 requests per command; W2's ratios use
    these) and through the lease engine."""
    prog = bench_program(ctx, "bench_baseline")
    if not prog:
        return {"error": NA + ": build/tests/bench_baseline is not built (arrives with another branch)"}
    z = ctx.size
    rows = {}
    for kind, products, extra in (("uniform", z["baseline_products"], []), ("hot", 1, ["--hot"])):
        for mode, flag in (("raw", ["--raw"]), ("engine", [])):
            tag = "baseline-%s-%s" % (kind, mode)
            ctx.log(tag)
            with FreshAzurite(ctx, tag) as az:
                a0 = cpu_seconds(az.pid)
                rc, out, _, _, wall = run_measured(
                    [prog, "--products", str(products), "--commands", str(z["baseline_commands"]),
                     "--threads", str(z["baseline_threads"])] + extra + flag,
                    dict(os.environ, **az.env), ctx.path(tag + ".log"), 3600)
                acpu = delta(a0, cpu_seconds(az.pid))
            res = result_line(out) or {}
            res.update(exit=rc, wall=wall, products=products, mode=mode, kind=kind)
            n = res.get("commands")
            res["azurite_s_per_1000"] = acpu / n * 1000 if acpu is not None and n else None
            rows[kind if mode == "raw" else kind + " (engine)"] = res
    return {"rows": rows}


def cell(ctx, tag, *args):
    """pipeline_load, with a failure recorded in the cell's row and the
    notes instead of ending the workload."""
    try:
        return pipeline_load(ctx, tag, *args)
    except Exception as e:
        traceback.print_exc()
        ctx.note("%s failed: %s: %s" % (tag, type(e).__name__, e))
        return {"exit": "failed"}


def w1(ctx):
    z = ctx.size
    rows = []
    for workers in z["w1_workers"]:
        for rate in z["w1_rates"]:
            tag = "w1-%dw-%d" % (workers, rate)
            ctx.log("%s: %d workers at %d cmd/s" % (tag, workers, rate))
            res = cell(ctx, tag, workers, z["w1_products"], rate * z["w1_seconds"], rate)
            res.update(workers=workers, rate=rate)
            rows.append(res)
    return {"rows": rows}


def w2(ctx):
    z = ctx.size
    products, count = z["w2_uniform"]
    note = None
    if not products_accepted(products):
        note = ("this build's load generator takes at most 999 products "
                "(1,000,000 after the products change lands): uniform ran over 999")
        products = 999
    rows = []
    for kind, p, n, extra in (("uniform", products, count, []),
                              ("hot", 1, z["w2_hot"], ["--hot", "1"])):
        for workers in z["w2_workers"]:
            tag = "w2-%s-%dw" % (kind, workers)
            ctx.log("%s: %d workers, unthrottled" % (tag, workers))
            res = cell(ctx, tag, workers, p, n, 0, extra)
            res.update(kind=kind, workers=workers, products=p)
            rows.append(res)
    return {"rows": rows, "note": note}


def w3(ctx):
    prog = bench_program(ctx, "bench_lease")
    if not prog:
        return {"error": NA + ": build/tests/bench_lease is not built"}
    leases, hold, threads, duration = ctx.size["w3"]
    with FreshAzurite(ctx, "w3") as az:
        a0 = cpu_seconds(az.pid)
        rc, out, cpu, rss, wall = run_measured(
            [prog, str(leases), str(hold), str(threads), str(duration)],
            dict(os.environ, **az.env), ctx.path("w3-bench_lease.log"), hold + 3600)
        acpu = delta(a0, cpu_seconds(az.pid))
    res = result_line(out)
    if res is None:
        # The 3-argument bench_lease (before the lease-scale change): its
        # text lines, 15 s leases, CPU and RSS from its rusage over the run.
        res = {"format": "text (no RESULT line: 15 s leases, the 4th argument ignored)"}
        m = re.search(r"duration=(\d+)s hold=(\d+)s", out)
        if m:
            res.update(duration_s=int(m.group(1)), hold_s=int(m.group(2)))
        m = re.search(r"renewals during the hold: (\d+) \((\d+)/s", out)
        if m:
            res.update(renewals=int(m.group(1)), renewals_per_s=float(m.group(2)))
        m = re.search(r"failed renewal attempts: (\d+), lost: (\d+)", out)
        if m:
            res.update(failed_renewals=int(m.group(1)), lost=int(m.group(2)))
        m = re.search(r"least time left before expiry at a renewal: (-?\d+) ms", out)
        if m:
            res["min_remaining_ms"] = int(m.group(1))
        res.update(leases=leases, cpu_pct_core=cpu / wall * 100 if wall else None,
                   peak_rss_mib=rss, cpu_scope="whole run incl. acquire and release (rusage)")
    res.update(exit=rc)
    n = res.get("renewals")
    res["azurite_s_per_1000"] = acpu / n * 1000 if acpu is not None and n else None
    return {"result": res}


def percentile(sorted_values, q):
    """Nearest-rank percentile (the load generator's definition)."""
    if not sorted_values:
        return None
    rank = max(1, int(-(-q * len(sorted_values) // 100)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def read_latency_log(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) == 4:
                rows.append((int(parts[0]), int(parts[1]) / 1000.0, parts[2]))
    return rows


def check_applied_once(pipe, run_id, products):
    """Double application, from the outcome events and the final state:
    copies of one eventId must agree, and each product's blob must equal
    what its distinct outcome events add up to (restocked - reserved +
    released + expired). Returns (problems, products checked)."""
    events = {}
    problems = []
    for _, value in s.read_topic(pipe.topics["events"], timeout=600):
        try:
            ev = json.loads(value)
        except ValueError:
            continue
        if not ev.get("commandId", "").startswith(run_id):
            continue
        key = ev["eventId"]
        view = (ev.get("type"), ev.get("total"), ev.get("available"), ev.get("reserved"))
        if key in events and events[key][0] != view:
            problems.append("event %s of %s seen with two contents: %s and %s"
                            % (key, ev["commandId"], events[key][0], view))
        events.setdefault(key, (view, ev))
    sums = {}
    for _, ev in events.values():
        t = sums.setdefault(ev["productId"], {"total": 0, "reserved": 0})
        q = ev.get("quantity", 0)
        if ev["type"] == "stock.restocked":
            t["total"] += q
        elif ev["type"] == "reservation.created":
            t["reserved"] += q
        elif ev["type"] in ("reservation.released", "reservation.expired"):
            t["reserved"] -= q
    for product in products:
        # `get` decodes either state layout (v1 document, paged blocks).
        r = s.run_producer(["get", product], pipe.env, timeout=120)
        if r.returncode != 0:
            problems.append("%s: get exited %d: %s" % (product, r.returncode, r.stderr.strip()))
            continue
        st = json.loads(r.stdout)
        want = sums.get(product, {"total": 0, "reserved": 0})
        if (st.get("total"), st.get("reserved")) != (want["total"], want["reserved"]):
            problems.append("%s: state total %s reserved %s, events add up to %s %s"
                            % (product, st.get("total"), st.get("reserved"), want["total"],
                               want["reserved"]))
    return problems, len(products)


def w4(ctx):
    z = ctx.size
    rate, products, durations = z["w4_rate"], z["w4_products"], z["w4_phase_s"]
    names = ("steady, 3 workers", "a 4th worker joins", "one worker gets SIGTERM",
             "one worker gets SIGKILL")
    count = int(rate * sum(durations))
    tag = "w4"
    run_id = "bench-" + tag
    latency_log = ctx.path("w4-latency.log")
    with FreshAzurite(ctx, tag) as az, open(ctx.path("w4-workers.log"), "w") as wlog:
        pipe = s.RealPipeline(3, env=dict(az.env, **ctx.worker_env), output=wlog)
        rss = {}
        try:
            warm_up(ctx, tag, pipe, products)
            before = Snapshot(ctx, az, pipe)
            with open(ctx.path("w4-load.log"), "w") as out:
                load = subprocess.Popen(
                    [s.PRODUCER] + load_args(ctx, tag, products, count, rate,
                                             ["--latency-log", latency_log]),
                    env=pipe.full_env(), stdout=out, stderr=subprocess.STDOUT)
                try:
                    # Products are restocked already: the load sends at once.
                    bounds = [time.time()]
                    time.sleep(durations[0])
                    bounds.append(time.time())
                    pipe.start_worker()
                    time.sleep(max(0.0, bounds[1] + durations[1] - time.time()))
                    bounds.append(time.time())
                    victim = pipe.workers[0]
                    rss["SIGTERM"] = peak_rss_mib(victim.pid)
                    victim.send_signal(signal.SIGTERM)
                    time.sleep(durations[2])
                    bounds.append(time.time())
                    victim = pipe.workers[1]
                    rss["SIGKILL"] = peak_rss_mib(victim.pid)
                    victim.send_signal(signal.SIGKILL)
                    load.wait(timeout=z["load_timeout_s"])
                finally:
                    if load.poll() is None:  # a phase failed: do not leave the load behind
                        load.kill()
                        load.wait()
            after = Snapshot(ctx, az, pipe)
            for i, p in enumerate(pipe.workers):
                if p.poll() is None:
                    rss["w%d" % (i + 1)] = peak_rss_mib(p.pid)
            product_ids = ["%s%03d" % (product_prefix(tag), i + 1) for i in range(products)]
            problems, checked = check_applied_once(pipe, run_id, product_ids)
        finally:
            codes = pipe.cleanup()
    with open(ctx.path("w4-load.log")) as f:
        summary = parse_summary(f.read())
    rows = read_latency_log(latency_log)
    # The first phase starts with the first measured command, the last runs
    # to the end of the load.
    start_ms = min((t for t, _, _ in rows), default=bounds[0] * 1000)
    bounds_ms = [float("-inf")] + [b * 1000 for b in bounds[1:]] + [float("inf")]
    phases = []
    for i, name in enumerate(names):
        lat = sorted(l for t, l, _ in rows if bounds_ms[i] <= t < bounds_ms[i + 1])
        phases.append({"name": name, "from_s": max(0.0, bounds_ms[i] - start_ms) / 1000.0,
                       "n": len(lat),
                       "p50": percentile(lat, 50), "p99": percentile(lat, 99),
                       "max": lat[-1] if lat else None})
    n = summary.get("commands") or count
    acpu = delta(before.azurite, after.azurite)
    return {"phases": phases, "summary": summary, "problems": problems, "checked": checked,
            "exit": load.returncode, "worker_exits": codes,
            "peak_rss_mib": max(v for v in rss.values() if v is not None) if rss else None,
            "azurite_s_per_1000": acpu / n * 1000 if acpu is not None else None,
            "contended": contended(before, after)}


def w5(ctx):
    prog = bench_program(ctx, "bench_reconciler")
    if not prog:
        return {"error": NA + ": build/tests/bench_reconciler is not built (arrives with another branch)"}
    products, due = ctx.size["w5"]
    with FreshAzurite(ctx, "w5") as az:
        a0 = cpu_seconds(az.pid)
        rc, out, _, _, _ = run_measured([prog, str(products), str(due)], dict(os.environ, **az.env),
                                        ctx.path("w5-bench_reconciler.log"), 3600)
        acpu = delta(a0, cpu_seconds(az.pid))
    res = result_line(out)
    if res is None:
        return {"error": NA + ": bench_reconciler printed no RESULT line (exit %d)" % rc}
    res.update(exit=rc)
    res["azurite_s_per_1000"] = acpu / products * 1000 if acpu is not None else None
    return {"result": res}


def max_bucket(text, name):
    """The smallest bucket bound holding every observation of histogram
    `name` (summed over series): an upper bound of the largest one."""
    if text is None:
        return None
    buckets = {}
    for line in text.splitlines():
        m = re.match(r'^%s_bucket\{.*le="([^"]+)"\}\s+(\S+)' % re.escape(name), line)
        if m:
            buckets[m.group(1)] = buckets.get(m.group(1), 0.0) + float(m.group(2))
    total = buckets.pop("+Inf", None)
    if not total:
        return None
    for bound, count in sorted((float(b), v) for b, v in buckets.items()):
        if count >= total:
            return bound
    return float("inf")


def decile_rates(rows):
    """Outcomes per second over the first and the last 10% of outcomes."""
    done = sorted(send + latency * 1000 for send, latency, _ in rows)
    k = len(done) // 10
    if k < 2:
        return None, None
    first = (k - 1) / ((done[k - 1] - done[0]) / 1000.0 or 1e-3)
    last = (k - 1) / ((done[-1] - done[-k]) / 1000.0 or 1e-3)
    return first, last


def w6_cell(ctx, tag, layout, workers, stock, extra_cmds):
    """One flash sale: `stock` units of one product, stock + extra_cmds
    reserve commands of 1 unit, then the owner stops and a survivor (3
    workers) takes the product over for one more command."""
    count = stock + extra_cmds
    env = dict(LEASEHOLD_STORAGE_STATE_LAYOUT=layout)
    latency_log = ctx.path(tag + "-latency.log")
    with FreshAzurite(ctx, tag) as az, open(ctx.path(tag + "-workers.log"), "w") as wlog:
        pipe = s.RealPipeline(workers, env=dict(az.env, **env, **ctx.worker_env), output=wlog)
        try:
            before = Snapshot(ctx, az, pipe)
            r = s.run_producer(["load", "--products", "1", "--count", str(count), "--rate", "0",
                                "--mix", "100:0:0", "--max-quantity", "1", "--initial-stock",
                                str(stock), "--seed", "1", "--run-id", "bench-" + tag, "--prefix",
                                product_prefix(tag), "--timeout", ctx.size["timeout"],
                                "--latency-log", latency_log], pipe.env,
                               timeout=ctx.size["load_timeout_s"])
            after = Snapshot(ctx, az, pipe)
            rss = [peak_rss_mib(p.pid) for p in pipe.workers]
            handover = None
            if workers > 1:
                product = product_prefix(tag) + "001"
                owner = next((i for i, u in enumerate(pipe.metrics_urls)
                              if product in (scrape(u.replace("/metrics", "/api/leases")) or "")),
                             None)
                if owner is not None:
                    pipe.workers[owner].send_signal(signal.SIGTERM)
                    pipe.workers[owner].wait(120)
                    t = time.monotonic()
                    h = s.run_producer(["reserve", product, "1", "--customer", "C-HANDOVER",
                                        "--wait"], pipe.env, timeout=300)
                    handover = time.monotonic() - t if h.returncode in (0, 3) else None
        finally:
            pipe.cleanup()
    with open(ctx.path(tag + "-load.log"), "w") as f:
        f.write(r.stdout + r.stderr)
    res = parse_summary(r.stdout)
    res.update(exit=r.returncode, layout=layout, workers=workers, handover_s=handover)
    for kind in ("reservation.created", "reservation.rejected"):
        m = re.search(r"%s (\d+)" % re.escape(kind), r.stdout)
        res[kind] = int(m.group(1)) if m else None
    written = [delta(metric_sum(b, "leasehold_state_bytes_written_total"),
                     metric_sum(a, "leasehold_state_bytes_written_total"))
               for b, a in zip(before.metrics, after.metrics)]
    n = res.get("commands") or count
    res["bytes_per_cmd"] = sum(written) / n if written and None not in written else None
    res["max_write"] = max((max_bucket(a, "leasehold_state_write_bytes") or 0)
                           for a in after.metrics) if after.metrics else None
    res["azurite_s_per_1000"] = (delta(before.azurite, after.azurite) or 0) / n * 1000
    res["peak_rss_mib"] = max(rss) if rss and None not in rss else None
    try:
        res["first10"], res["last10"] = decile_rates(read_latency_log(latency_log))
    except OSError:
        res["first10"] = res["last10"] = None
    return res


def w6(ctx):
    """W6, flash sale: one product, stock units, stock + extra reserve
    commands of 1 unit; the paged layout beside v1 in the same run."""
    stock, extra, worker_counts = ctx.size["w6"]
    rows = []
    for layout in ("paged", "v1"):
        for workers in worker_counts:
            tag = "w6-%s-%dw" % (layout, workers)
            ctx.log("%s: flash sale of %d units, %d workers" % (tag, stock, workers))
            try:
                rows.append(w6_cell(ctx, tag, layout, workers, stock, extra))
            except Exception as e:
                traceback.print_exc()
                ctx.note("%s failed: %s: %s" % (tag, type(e).__name__, e))
                rows.append({"exit": "failed", "layout": layout, "workers": workers})
    return {"rows": rows, "stock": stock, "extra": extra}


def report_w6(r, ctx):
    stock, extra = r["stock"], r["extra"]
    out = ["## W6 — flash sale (state layout)", "",
           "One product with %s units, %s reserve commands of 1 unit, unthrottled; `paged` is the "
           "new layout, `v1` the whole-document layout of before, in the same run. Handover: the "
           "owner gets SIGTERM, then one more reserve is timed to its outcome on the survivor "
           "(lease, state load, apply)." % (format(stock, ","), format(stock + extra, ",")), ""]
    rows = []
    for x in r["rows"]:
        ok = x.get("reservation.created") == stock and x.get("reservation.rejected") == extra
        ratio = (x["last10"] / x["first10"]) if x.get("first10") and x.get("last10") else None
        rows.append([x.get("layout"), x.get("workers"),
                     "%s / %s %s" % (x.get("reservation.created"), x.get("reservation.rejected"),
                                     mark(ok)),
                     fmt(x.get("cmd_per_s"), 0), fmt(ratio, 2),
                     fmt(x.get("bytes_per_cmd"), 0), fmt(x.get("max_write"), 0),
                     fmt(x.get("handover_s"), 2), fmt(x.get("azurite_s_per_1000"), 2),
                     fmt(x.get("peak_rss_mib"), 1)])
    out += [table(["layout", "workers", "created / rejected", "cmd/s (≥ 10,000)",
                   "last 10% ÷ first 10% (≥ 0.8)", "bytes written / cmd (≤ 1,024)",
                   "largest write ≤ bytes (≤ 262,144)", "handover s (≤ 2)",
                   "Azurite CPU s / 1,000 cmd", "worker peak RSS MiB"], rows), ""]
    return out


RUNNERS = {"baseline": w_baseline, "W1": w1, "W2": w2, "W3": w3, "W4": w4, "W5": w5, "W6": w6}


# ---------------------------------------------------------------- report

def fmt(v, digits=1, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return ("%%.%df" % digits) % v + unit
    return "%s%s" % (v, unit)


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def mark(ok):
    return "" if ok is None else (" ✓" if ok else " ✗")


def machine():
    def first(path, key, sep):
        """The value of the first `key SEP value` line of a file."""
        try:
            with open(path) as f:
                for line in f:
                    name, _, value = line.partition(sep)
                    if name.strip() == key:
                        return value.strip().strip('"')
        except OSError:
            pass
        return "n/a"

    def cmd(*argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                  cwd=SOURCE).stdout.strip() or "n/a"
        except OSError:
            return "n/a"

    mem = first("/proc/meminfo", "MemTotal", ":")
    try:
        mem = "%.1f GiB" % (int(mem.split()[0]) / 1024.0 / 1024.0)
    except (ValueError, IndexError):
        pass
    try:
        with open(os.path.join(SOURCE, "deploy", "local", "node_modules", "azurite",
                               "package.json")) as f:
            azurite = json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        azurite = "n/a"
    kafka = [os.path.basename(j)[len("kafka_2.13-"):-4] for j in
             glob.glob(os.path.join(SOURCE, ".cache", "kafka", "libs", "kafka_2.13-*.jar"))]
    commit = cmd("git", "rev-parse", "--short=12", "HEAD")
    if cmd("git", "status", "--porcelain", "--untracked-files=no") not in ("", "n/a"):
        commit += " (with uncommitted changes)"
    return [("CPU", "%s, %d cores (nproc)" % (first("/proc/cpuinfo", "model name", ":"), os.cpu_count())),
            ("RAM", mem), ("OS", "%s, kernel %s" % (first("/etc/os-release", "PRETTY_NAME", "="),
                                                     os.uname().release)),
            ("Kafka", ", ".join(kafka) or "n/a"), ("Azurite", azurite),
            ("librdkafka", cmd("pkg-config", "--modversion", "rdkafka")),
            ("libcurl", cmd("pkg-config", "--modversion", "libcurl")),
            ("gcc", cmd("gcc", "-dumpfullversion")), ("Python", sys.version.split()[0]),
            ("commit", "%s on %s" % (commit, cmd("git", "rev-parse", "--abbrev-ref", "HEAD")))]


def report_baseline(r):
    out = ["## Baseline: the original sample's pattern", "",
           "Per command: a 30 s lease on a separate lock blob, read the state blob, write it, "
           "release (`build/tests/bench_baseline`, fresh Azurite each). `raw`: the bare Lease "
           "Blob calls, exactly the original's 4 requests per command (W2's ratios use these); "
           "`engine`: the lease through the lease engine (which also stamps an epoch).", ""]
    if "error" in r:
        return out + [r["error"], ""]
    rows = []
    for x in r["rows"].values():
        rows.append([x.get("kind"), x.get("mode"), x.get("products"), fmt(x.get("commands")),
                     fmt(x.get("threads")), fmt(x.get("cmd_per_s"), 0), fmt(x.get("p50_ms")),
                     fmt(x.get("p99_ms")), fmt(x.get("contended")), fmt(x.get("requests_per_cmd"), 2),
                     fmt(x.get("azurite_s_per_1000"), 2), x.get("exit")])
    return out + [table(["load", "mode", "products", "commands", "threads", "cmd/s", "p50 ms",
                         "p99 ms", "contended", "requests/cmd", "Azurite CPU s / 1,000 cmd",
                         "exit"], rows), ""]


def stage_table(report):
    """stage_breakdown's report (seconds) as a Markdown table in ms, or None
    when the workers have no stage histogram."""
    rows = list((report.get("stages") or {}).items())
    if not rows:
        return None
    if report.get("command_latency"):
        rows.append(("command (total)", report["command_latency"]))
    return table(["stage", "count", "p50 ms", "p95 ms", "p99 ms", "mean ms"],
                 [[name, fmt(h.get("count"), 0), fmt(ms(h.get("p50"))), fmt(ms(h.get("p95"))),
                   fmt(ms(h.get("p99"))), fmt(ms(h.get("mean")))] for name, h in rows])


def ms(seconds):
    return seconds * 1000.0 if isinstance(seconds, (int, float)) else None


def report_w1(r, ctx):
    out = ["## W1: latency", "",
           "Mixed 70:20:10 (reserve:release:restock) over 100 products at a fixed rate; latency is "
           "publish → outcome event consumed (`inventory-producer load`). Target at 1,000 cmd/s "
           "with 3 workers: p50 ≤ 20 ms, p99 ≤ 100 ms; 3-worker p99 ≤ 1.5 × 1-worker p99.", ""]
    rows, p99 = [], {}
    for x in r["rows"]:
        target = x["rate"] == 1000 and x["workers"] == 3
        p99[(x["workers"], x["rate"])] = x.get("p99")
        rows.append([x["workers"], x["rate"], fmt(x.get("commands")), fmt(x.get("missing")),
                     fmt(x.get("p50")) + (mark(x.get("p50") is not None and x["p50"] <= 20) if target else ""),
                     "≤ 20" if target else "",
                     fmt(x.get("p95")),
                     fmt(x.get("p99")) + (mark(x.get("p99") is not None and x["p99"] <= 100) if target else ""),
                     "≤ 100" if target else "", fmt(x.get("contended")),
                     fmt(x.get("azurite_s_per_1000"), 2), x.get("exit")])
    out.append(table(["workers", "cmd/s", "commands", "missing", "p50 ms", "target", "p95 ms",
                      "p99 ms", "target", "contended acquisitions", "Azurite CPU s / 1,000 cmd",
                      "load exit"], rows))
    out.append("")
    for rate in ctx.size["w1_rates"]:
        a, b = p99.get((1, rate)), p99.get((3, rate))
        if a and b is not None:
            ratio = b / a
            out.append("- %d cmd/s: 3-worker p99 / 1-worker p99 = %.2f (target ≤ 1.5)%s"
                       % (rate, ratio, mark(ratio <= 1.5)))
    out += ["", "### Stage breakdown", "",
            "From the workers' `leasehold_stage_seconds` histograms over the measured window, summed "
            "over the workers (`tests/bench/stage_breakdown.py`; quantiles interpolated within "
            "buckets; the count is observations, per command or per batch as docs/metrics.md says).",
            ""]
    for x in r["rows"]:
        out.append("%d worker(s), %d cmd/s:" % (x["workers"], x["rate"]))
        out.append("")
        out.append((x.get("stages") and stage_table(x["stages"])) or
                   "stage breakdown: not available (no `leasehold_stage_seconds` histogram or "
                   "no tests/bench/stage_breakdown.py in this build)")
        out.append("")
    return out


def report_w2(r, base):
    out = ["## W2: throughput", "",
           "Unthrottled mixed 70:20:10 load; uniform over the products, or every command on one "
           "product. cmd/s = commands / time until the last outcome. Targets: uniform ≥ 20,000 "
           "cmd/s, hot ≥ 10,000 cmd/s, both ≥ 50 × the baseline, 3 workers never worse than 1, "
           "worker peak RSS ≤ 128 MiB.", ""]
    if r.get("note"):
        out += ["Note: " + r["note"] + ".", ""]
    rows, by = [], {}
    for x in r["rows"]:
        goal = 20000 if x["kind"] == "uniform" else 10000
        b = ((base or {}).get("rows") or {}).get(x["kind"], {}).get("cmd_per_s")
        ratio = x["cmd_per_s"] / b if b and x.get("cmd_per_s") else None
        by[(x["kind"], x["workers"])] = x.get("cmd_per_s")
        rows.append([x["kind"], x["products"], x["workers"], fmt(x.get("commands")),
                     fmt(x.get("missing")),
                     fmt(x.get("cmd_per_s"), 0) + mark(x.get("cmd_per_s") is not None and x["cmd_per_s"] >= goal),
                     "≥ %d" % goal, fmt(ratio, 1, "×") + mark(ratio and ratio >= 50), "≥ 50×",
                     fmt(x.get("p99")),
                     fmt(x.get("peak_rss_mib")) + mark(x.get("peak_rss_mib") is not None and x["peak_rss_mib"] <= 128),
                     fmt(x.get("worker_us_per_cmd"), 0), fmt(x.get("kafka_us_per_cmd"), 0),
                     fmt(x.get("azurite_us_per_cmd"), 0), fmt(x.get("azurite_s_per_1000"), 2),
                     fmt(x.get("contended"))])
    out.append(table(["load", "products", "workers", "commands", "missing", "cmd/s", "target",
                      "× baseline", "target", "p99 ms", "worker peak RSS MiB (≤ 128)",
                      "worker CPU µs/cmd", "Kafka CPU µs/cmd", "Azurite CPU µs/cmd",
                      "Azurite CPU s / 1,000 cmd", "contended"], rows))
    out.append("")
    for kind in ("uniform", "hot"):
        a, b = by.get((kind, 1)), by.get((kind, 3))
        if a and b:
            out.append("- %s: 3 workers %.0f cmd/s vs 1 worker %.0f cmd/s (target: never worse)%s"
                       % (kind, b, a, mark(b >= a)))
    out += ["", "Kafka's CPU is the shared broker's over the run (other load on it counts too); "
            "worker CPU is summed over the workers.", ""]
    return out


def report_w3(r, ctx):
    leases, hold, threads, duration = ctx.size["w3"]
    out = ["## W3: lease scale", "",
           "`build/tests/bench_lease %d %d %d %d`: %d leases of %d s on one lease manager, held for "
           "%d s while the single scheduler renews them. Targets: 0 lost, ≤ 10 %% of a core, peak "
           "RSS ≤ 64 MiB." % (leases, hold, threads, duration, leases, duration, hold), ""]
    if "error" in r:
        return out + [r["error"], ""]
    x = r["result"]
    rows = [["leases", fmt(x.get("leases")), ""], ["lease duration s", fmt(x.get("duration_s")), ""],
            ["hold s", fmt(x.get("hold_s")), ""], ["renewals", fmt(x.get("renewals")), ""],
            ["renewals/s", fmt(x.get("renewals_per_s")), ""],
            ["lost", fmt(x.get("lost")) + mark(x.get("lost") == 0 if x.get("lost") is not None else None), "0"],
            ["failed renewal attempts", fmt(x.get("failed_renewals")), ""],
            ["least time left at a renewal ms", fmt(x.get("min_remaining_ms")), ""],
            ["CPU % of a core", fmt(x.get("cpu_pct_core")) + mark(x.get("cpu_pct_core") is not None and x["cpu_pct_core"] <= 10), "≤ 10"],
            ["peak RSS MiB", fmt(x.get("peak_rss_mib")) + mark(x.get("peak_rss_mib") is not None and x["peak_rss_mib"] <= 64), "≤ 64"],
            ["Azurite CPU s / 1,000 renewals (whole run: acquire, hold, release)",
             fmt(x.get("azurite_s_per_1000"), 2), ""],
            ["exit", fmt(x.get("exit")), "0"]]
    out.append(table(["", "result", "target"], rows))
    if x.get("format"):
        out += ["", "Output format: %s; CPU and RSS: %s." % (x["format"], x.get("cpu_scope", ""))]
    return out + [""]


def report_w4(r, ctx):
    rate, products = ctx.size["w4_rate"], ctx.size["w4_products"]
    out = ["## W4: rebalance", "",
           "3 workers, %d cmd/s mixed over %d products; phases by send time: steady, a 4th "
           "worker joins, one worker gets SIGTERM, another SIGKILL (its partitions move after the "
           "session timeout, its leases after they expire). Targets: no missing outcome, nothing "
           "applied twice, p99 during a rebalance ≤ 2 s." % (rate, products), ""]
    rows = []
    for i, ph in enumerate(r["phases"]):
        goal = 2000 if i else 100
        rows.append([ph["name"], fmt(ph["from_s"]), ph["n"], fmt(ph["p50"]),
                     fmt(ph["p99"]) + mark(ph["p99"] is not None and ph["p99"] <= goal),
                     "≤ 2000" if i else "≤ 100 (W1)", fmt(ph["max"])])
    out.append(table(["phase", "starts at s", "outcomes", "p50 ms", "p99 ms", "target", "max ms"],
                     rows))
    sm = r["summary"]
    out += ["", "- missing outcomes: %s of %s commands (target 0)%s"
            % (fmt(sm.get("missing")), fmt(sm.get("commands")),
               mark(sm.get("missing") == 0 if sm.get("missing") is not None else None)),
            "- applied twice: %d problem(s) over %d products (target 0)%s. Checked: the copies of "
            "each outcome event (eventId) agree, and each product's final state equals what its "
            "distinct outcome events add up to; a mismatch means a command applied twice or "
            "outcome events lost" % (len(r["problems"]), r["checked"], mark(not r["problems"]))]
    out += ["  - " + p for p in r["problems"][:10]]
    out += ["- contended acquisitions (surviving workers): %s" % fmt(r.get("contended")),
            "- worker peak RSS: %s MiB; Azurite CPU s / 1,000 cmd: %s; load exit %s, worker exits %s"
            % (fmt(r.get("peak_rss_mib")), fmt(r.get("azurite_s_per_1000"), 2), r.get("exit"),
               r.get("worker_exits")), ""]
    return out


def report_w5(r, ctx):
    products, due = ctx.size["w5"]
    out = ["## W5: reconciler", "",
           "`build/tests/bench_reconciler %d %d`: one expiry sweep over %d products, %d of them "
           "with a reservation past its expiry. Target: ≤ 5 s, ≤ 10 list requests plus the due "
           "products' reads." % (products, due, products, due), ""]
    if "error" in r:
        return out + [r["error"], ""]
    x = r["result"]
    rows = [["products", fmt(x.get("products")), ""], ["due", fmt(x.get("due")), ""],
            ["list requests", fmt(x.get("list_requests")) + mark(x.get("list_requests") is not None and x["list_requests"] <= 10), "≤ 10"],
            ["state reads", fmt(x.get("state_reads")) + mark(x.get("state_reads") is not None and x["state_reads"] <= due), "≤ %d (due)" % due],
            ["seconds", fmt(x.get("seconds"), 2) + mark(x.get("seconds") is not None and x["seconds"] <= 5), "≤ 5"],
            ["Azurite CPU s / 1,000 products (whole run: creating them, then the sweep)",
             fmt(x.get("azurite_s_per_1000"), 2), ""],
            ["exit", fmt(x.get("exit")), "0"]]
    return out + [table(["", "result", "target"], rows), ""]


def report(ctx, results):
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = ["# Benchmarks", "",
           "Written by `deploy/local/bench` (`tests/bench/run_benchmarks.py%s`) on %s in %.0f min. "
           "Targets stand beside the figures (✓ met, ✗ not met); nothing is asserted."
           % (" --quick" if ctx.quick else "", when, (time.monotonic() - ctx.t0) / 60), ""]
    if ctx.quick:
        out += ["**Quick run (`--quick`): tiny counts for a smoke test; the figures mean nothing.**", ""]
    out += ["## Machine and versions", "", table(["", ""], machine()), "",
            "## Method", "",
            "- Every workload (every W1 and W2 cell) runs against a fresh in-memory Azurite on its "
            "own port, started and stopped by `deploy/local/services --session bench-…`; Azurite "
            "wedges after a few hundred thousand overwrites in one process lifetime.",
            "- Kafka is the shared local broker; each run has private topics (6 partitions), "
            "consumer group and containers. Workers run with the defaults%s."
            % ("" if not ctx.worker_env else " plus " + ", ".join(
                "`%s=%s`" % kv for kv in sorted(ctx.worker_env.items()))),
            "- The load generator, the workers, Kafka and Azurite share this machine's cores. "
            "Workers log at their default level (info, a line per command) into the work folder.",
            "- CPU: utime + stime from `/proc/PID/stat` before and after the run (Azurite, the "
            "Kafka broker, each worker); peak RSS: `VmHWM` just before a worker stops. Every "
            "product is restocked by a warm-up load first, so the measured window (CPU, stage "
            "breakdown, contention) holds only the workload's own commands.",
            "- Azurite CPU s / 1,000 cmd: Azurite's CPU seconds over the run per 1,000 commands "
            "(per 1,000 renewals in W3, per 1,000 products swept in W5).",
            "- Raw output of every program: `%s`." % os.path.relpath(ctx.work, SOURCE), ""]
    for name in WORKLOADS:
        if name not in results:
            continue
        r = results[name]
        if "crash" in r:
            out += ["## %s" % name, "", "Failed: `%s` (see the log in the work folder)." % r["crash"], ""]
            continue
        out += {"baseline": lambda: report_baseline(r), "W1": lambda: report_w1(r, ctx),
                "W2": lambda: report_w2(r, results.get("baseline")), "W3": lambda: report_w3(r, ctx),
                "W4": lambda: report_w4(r, ctx), "W5": lambda: report_w5(r, ctx),
                "W6": lambda: report_w6(r, ctx)}[name]()
    if ctx.notes:
        out += ["## Notes from the run", ""] + ["- " + n for n in ctx.notes] + [""]
    return "\n".join(out)


# ---------------------------------------------------------------- main

class Context:
    def __init__(self, args):
        self.quick = args.quick
        self.size = QUICK if args.quick else FULL
        self.build = os.path.abspath(args.build)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.work = os.path.abspath(args.work or os.path.join(self.build, "bench", stamp))
        os.makedirs(self.work, exist_ok=True)
        self.worker_env = dict(kv.split("=", 1) for kv in args.worker_env)
        port = int(s.BROKERS.split(",")[0].rsplit(":", 1)[1])
        self.kafka_pid = pid_listening(port)
        self.notes = []
        self.t0 = time.monotonic()
        if self.kafka_pid is None:
            self.note("Kafka broker's pid not found (port %d): its CPU is not available" % port)

    def path(self, name):
        return os.path.join(self.work, name)

    def log(self, text):
        """Progress on stdout."""
        print("[bench] " + text, flush=True)

    def note(self, text):
        """Progress that also goes into the report's notes."""
        self.log(text)
        self.notes.append(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(WORKLOADS),
                    help="comma-separated workloads: %s" % ",".join(WORKLOADS))
    ap.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    ap.add_argument("--out", default=os.path.join(SOURCE, "docs", "benchmarks.md"))
    ap.add_argument("--build", default=os.path.join(SOURCE, "build"))
    ap.add_argument("--work", help="folder for the programs' output")
    ap.add_argument("--worker-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the workers (repeatable)")
    args = ap.parse_args()
    only = [w.strip() for w in args.only.split(",") if w.strip()]
    unknown = [w for w in only if w not in WORKLOADS]
    if unknown or any("=" not in kv for kv in args.worker_env):
        ap.error("unknown workload %s (choose from %s) or --worker-env without '='"
                 % (unknown, ",".join(WORKLOADS)))
    os.environ.setdefault("LEASEHOLD_BIN", os.path.join(os.path.abspath(args.build), "bin"))
    global s, azurite_rest, stage_breakdown
    import azurite_rest
    import test_producer_support as s
    try:
        import stage_breakdown
    except ImportError:
        stage_breakdown = None
    # SIGTERM unwinds like Ctrl-C: workers, loads and private Azurites are
    # stopped by the finally blocks on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ctx = Context(args)
    if stage_breakdown is None:
        ctx.note("tests/bench/stage_breakdown.py not present: stage breakdown not available")
    results = {}
    for name in WORKLOADS:
        if name not in only:
            continue
        ctx.log("%s: starting" % name)
        t = time.monotonic()
        try:
            results[name] = RUNNERS[name](ctx)
        except Exception as e:  # one failed workload must not cost the others
            traceback.print_exc()
            results[name] = {"crash": "%s: %s" % (type(e).__name__, e)}
        ctx.log("%s: done in %.0f s" % (name, time.monotonic() - t))
        with open(ctx.path("results.json"), "w") as f:
            json.dump(results, f, indent=1, default=str)
    text = report(ctx, results)
    with open(args.out, "w") as f:
        f.write(text + "\n")
    print("[bench] wrote %s (raw output in %s)" % (args.out, ctx.work), flush=True)


if __name__ == "__main__":
    main()
