#!/usr/bin/env python3
"""test_worker_pipeline.py -- inventory-worker against real Kafka and Azurite.

Usage: test_worker_pipeline.py SCENARIO
  SCENARIO: semantics | duplicates | empty_blob | dead_letters | expiry_reconciler |
            lease_stolen | storage_outage | kafka_outage | drain_storage_hang |
            sigterm_handover | close_while_joining | load | load_kill | blocked_state |
            blocked_rebalance

Every run uses its own topics (wtest<random>.*), consumer group and storage
container, so runs never see each other; the container and the topics are
deleted at the end. Commands are produced with kcat; outcome events are read
by one long-running `kcat -C` per run into memory, and tests wait for them
with a deadline (a polled condition, never a fixed sleep). State is read
straight from the product's blob in Azurite (SharedKey with Azurite's
published development account key), which is also how lease states are
checked. kafka_outage runs its own broker (deploy/local/services with
LEASEHOLD_KAFKA_PORT, a session and a --persistent folder of its own), as it
stops and starts it; the others share the broker on 127.0.0.1:9092.

Assertions are exact: quantities after every command, one outcome (one
distinct eventId) per command, the same eventId for a retried commandId,
dead letters with reason and origin, stock conservation under load, and a
released lease right after a SIGTERMed worker exits.
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from azurite_rest import ACCOUNT, ACCOUNT_KEY, blob_request

BROKERS = "127.0.0.1:9092"
PARTITIONS = 6
DEADLINE_S = 120

ROOT = os.environ.get("LEASEHOLD_SOURCE_DIR",
                      os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BIN = os.environ.get("LEASEHOLD_BIN", os.path.join(ROOT, "build", "bin"))


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def check_eq(have, want, what):
    if have != want:
        raise Failure("%s: expected %r, got %r" % (what, want, have))


def wait_for(cond, what, deadline_s=DEADLINE_S, interval_s=0.1):
    """Polls cond() until it returns a true value or the deadline passes."""
    end = time.monotonic() + deadline_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > end:
            raise Failure("timed out waiting for " + what)
        time.sleep(interval_s)


# ---- Azurite ----------------------------------------------------------------

def decode_state(body):
    """A state blob as one v1-shaped dict: schema v1 is one document; schema
    v2 (docs/state-layout.md) is a head followed by the ledger pages and the
    reservation pages, at the byte lengths the head lists."""
    text = body.decode("utf-8")
    head, pos = json.JSONDecoder().raw_decode(text)
    if head.get("schemaVersion") != 2:
        return json.loads(text)
    raw, at = body, len(text[:pos].encode("utf-8"))
    for key, pages in (("ledger", "ledgerPages"), ("reservations", "reservationPages")):
        head[key] = []
        for page in head[pages]:
            items = json.loads(raw[at:at + page["bytes"]])
            check_eq(len(items), page["count"], "entries of a %s page" % key)
            head[key].extend(items)
            at += page["bytes"]
    check_eq(at, len(raw), "v2 state blob length")
    return head


def read_state(container, product):
    status, _, body = blob_request("GET", "/%s/%s.json" % (container, product))
    if status == 404 or (status == 200 and not body):
        return None
    check_eq(status, 200, "GET state of " + product)
    return decode_state(body)


def lease_state(container, product):
    status, headers, _ = blob_request("HEAD", "/%s/%s.json" % (container, product))
    check_eq(status, 200, "HEAD " + product)
    return headers.get("x-ms-lease-state")


def lease_action(container, product, action, **headers):
    h = {"x-ms-lease-action": action}
    h.update({"x-ms-" + k.replace("_", "-"): str(v) for k, v in headers.items()})
    status, _, body = blob_request("PUT", "/%s/%s.json" % (container, product), {"comp": "lease"}, h)
    return status, body


# ---- Kafka ------------------------------------------------------------------

def kafka_tool(*args):
    """Runs a Kafka CLI class through deploy/local/lib.sh (best effort)."""
    script = 'LH_PROG=test; . "%s/deploy/local/lib.sh"; lh_kafka_tool "$@"' % ROOT
    return subprocess.run(["bash", "-c", script, "kafka-tool"] + list(args),
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def ensure_topic(topic, brokers=BROKERS):
    """kcat's metadata request auto-creates the topic (num.partitions=6)."""
    def ready():
        out = subprocess.run(["kcat", "-L", "-b", brokers, "-t", topic, "-m", "5"],
                             capture_output=True, text=True).stdout
        return ('topic "%s" with %d partitions' % (topic, PARTITIONS)) in out
    wait_for(ready, "topic " + topic, 60, 0.5)


def produce(topic, messages, brokers=BROKERS):
    """messages: list of (key, value str). One kcat run, keys split on \\x1f."""
    data = "".join("%s\x1f%s\n" % (k, v) for k, v in messages)
    subprocess.run(["kcat", "-P", "-b", brokers, "-t", topic, "-K", "\x1f", "-z", "none"],
                   input=data.encode(), check=True, timeout=120)


class TopicReader:
    """Reads a topic from the beginning into memory, in a background thread."""

    def __init__(self, topic, brokers=BROKERS):
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(
            ["kcat", "-C", "-b", brokers, "-t", topic, "-o", "beginning", "-q", "-u",
             "-f", "%p\t%o\t%s\n"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        for line in self.proc.stdout:
            part, off, value = line.rstrip("\n").split("\t", 2)
            with self.lock:
                self.lines.append(json.loads(value))

    def all(self):
        with self.lock:
            return list(self.lines)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def free_port_pair():
    """A free port P with P+1 free too (a broker's listener and controller).
    Nothing holds them after this returns: a race with another program
    picking the same port shows as the broker failing to start."""
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port


class PrivateKafka:
    """A broker of the run's own, started and stopped with
    deploy/local/services: LEASEHOLD_KAFKA_PORT on a free port, a unique
    session (so `down` stops only it) and a --persistent folder (so a
    restart keeps its topics and committed offsets). Azurite is reused."""

    def __init__(self, suffix):
        self.port = free_port_pair()
        self.brokers = "127.0.0.1:%d" % self.port
        self.session = suffix + "-kafka"
        self.dir = tempfile.mkdtemp(prefix=self.session)
        self.log = os.path.join(ROOT, ".services", "logs", "kafka-%d.log" % self.port)
        try:
            self.start()
        except BaseException:
            self.close()
            raise

    def _services(self, action, *args):
        env = dict(os.environ, LEASEHOLD_KAFKA_PORT=str(self.port))
        proc = subprocess.run([os.path.join(ROOT, "deploy", "local", "services"), action,
                               "--session", self.session] + list(args),
                              env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise Failure("services %s --session %s: %s" % (action, self.session, proc.stderr))

    def start(self):
        self._services("up", "--persistent", self.dir)

    def stop(self):
        self._services("down")

    def log_tail(self, lines=40):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return str(e)

    def close(self):
        """Stops the broker if it runs, and deletes its data and log."""
        try:
            self.stop()
        except (Failure, subprocess.TimeoutExpired) as e:  # reported: the result stands
            print("warning: %s" % e)
        shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.exists(self.log):
            os.remove(self.log)


class StallingProxy:
    """A TCP relay to Azurite that can go silent, as a hung storage service
    or a partition looks to a client: while frozen it forwards nothing, and
    the connections open at the freeze are dropped, never resumed, so a
    request caught in it can never reach the service later."""

    def __init__(self, target_port=10000):
        self.target = ("127.0.0.1", target_port)
        self.cond = threading.Condition()
        self.frozen = False
        self.generation = 0
        self.swallowed = []  # first line of each request held back by a freeze
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self):
        with self.cond:
            self.frozen = True
            self.generation += 1

    def thaw(self):
        with self.cond:
            self.frozen = False
            self.cond.notify_all()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self.cond:
                gen = self.generation
            for a, b, to_service in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pump, args=(a, b, gen, to_service),
                                 daemon=True).start()

    def requests_held(self):
        with self.cond:
            return list(self.swallowed)

    def _pump(self, src, dst, gen, to_service):
        try:
            while True:
                data = src.recv(65536)
                with self.cond:
                    if self.frozen and to_service and data:
                        self.swallowed.append(data.split(b"\r\n", 1)[0].decode("latin-1"))
                    while self.frozen:
                        self.cond.wait()
                    if gen != self.generation:
                        break  # caught in a freeze: dropped
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.listener.close()
        self.thaw()


# ---- one test run -----------------------------------------------------------

class Run:
    def __init__(self, name, own_broker=False, **worker_env):
        self.suffix = "wtest%s%d" % (name.replace("_", ""), random.randrange(10**6))
        # The broker is the last thing close() stops: made first, and closed
        # here when anything after it fails (main() gets no Run to close).
        self.broker = PrivateKafka(self.suffix) if own_broker else None
        self.brokers = self.broker.brokers if self.broker else BROKERS
        try:
            self._setup(worker_env)
        except BaseException:
            if self.broker:
                self.broker.close()
            raise

    def _setup(self, worker_env):
        self.topics = {k: "%s.%s" % (self.suffix, k)
                       for k in ("reservations", "releases", "admin", "events", "dlq")}
        self.container = self.suffix
        self.tmp = tempfile.mkdtemp(prefix=self.suffix)
        self.passed = False
        self.workers = {}
        self.command_seq = 0
        self.env = dict(os.environ)
        self.env.update({
            "LEASEHOLD_KAFKA_BROKERS": self.brokers,
            "LEASEHOLD_KAFKA_GROUP_ID": self.suffix,
            "LEASEHOLD_KAFKA_SESSION_TIMEOUT": "6s",
            "LEASEHOLD_STORAGE_CONTAINER": self.container,
            "LEASEHOLD_STORAGE_LEASE_CONTAINER": self.suffix + "-leases",
            "LEASEHOLD_LEASE_DURATION": "15",
            "LEASEHOLD_RECONCILER_ENABLED": "false",
            "LEASEHOLD_WORKER_THREADS": "2",
            "LEASEHOLD_WORKER_RETRY_MAX": "1s",
            # Every state write as Put Block + Put Block List (the paged
            # layout's block path, fenced by Azurite), however small.
            "LEASEHOLD_STORAGE_STATE_SINGLE_MAX": "0",
        })
        for k, topic in self.topics.items():
            self.env["LEASEHOLD_TOPIC_" + k.upper()] = topic
        self.env.update(worker_env)
        for topic in self.topics.values():
            ensure_topic(topic, self.brokers)
        self.open_readers()

    def open_readers(self):
        """(Re)reads the events and dead letters from the beginning."""
        self.events = TopicReader(self.topics["events"], self.brokers)
        self.dlq = TopicReader(self.topics["dlq"], self.brokers)

    # workers
    def start_worker(self, wid):
        log = open(os.path.join(self.tmp, wid + ".log"), "w")
        proc = subprocess.Popen([os.path.join(BIN, "inventory-worker"), "--id", wid],
                                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.workers[wid] = (proc, log)
        return proc

    def worker_log(self, wid):
        with open(os.path.join(self.tmp, wid + ".log")) as f:
            return f.read()

    def stop_worker(self, wid, sig=signal.SIGTERM, timeout=60):
        proc, log = self.workers.pop(wid)
        proc.send_signal(sig)
        rc = proc.wait(timeout=timeout)
        log.close()
        return rc

    def close(self):
        for wid in list(self.workers):
            self.stop_worker(wid, signal.SIGKILL)
        self.events.close()
        self.dlq.close()
        if self.broker and not self.passed and os.path.exists(self.broker.log):
            shutil.copy(self.broker.log, self.tmp)  # close() deletes it
        # Best effort: a busy shared service must not turn a result into a crash.
        cleanups = [
            lambda: blob_request("DELETE", "/" + self.container, {"restype": "container"}),
            lambda: blob_request("DELETE", "/" + self.suffix + "-leases", {"restype": "container"}),
            # A private broker's topics go with its data folder.
            self.broker.close if self.broker else
            lambda: kafka_tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", BROKERS,
                               "--delete", "--topic", self.suffix + "\\..*"),
        ]
        for cleanup in cleanups:
            try:
                cleanup()
            except Exception as e:  # noqa: BLE001 -- reported, not fatal
                print("warning: cleanup failed: %s" % e)
        if self.passed:  # a failed run keeps its workers' full logs
            shutil.rmtree(self.tmp, ignore_errors=True)

    def dump_logs(self):
        for name in sorted(os.listdir(self.tmp)):
            print("---- %s (last 40 lines)" % name)
            with open(os.path.join(self.tmp, name)) as f:
                print("".join(f.readlines()[-40:]))
        if self.broker:
            print("---- %s (last 40 lines)" % self.broker.log)
            print(self.broker.log_tail())

    # commands
    def command(self, ctype, product, **fields):
        self.command_seq += 1
        cmd = {"schemaVersion": 1, "type": ctype,
               "commandId": fields.pop("commandId", "%s-c%d" % (self.suffix, self.command_seq)),
               "productId": product}
        cmd.update(fields)
        return cmd

    def send(self, topic_key, cmds):
        produce(self.topics[topic_key], [(c["productId"], json.dumps(c)) for c in cmds],
                self.brokers)

    def outcomes(self, command_id):
        return [e for e in self.events.all() if e["commandId"] == command_id]

    def run_one(self, topic_key, cmd):
        """Sends one command and returns its (first) outcome event."""
        self.send(topic_key, [cmd])
        return wait_for(lambda: (self.outcomes(cmd["commandId"]) or [None])[0],
                        "outcome of %s %s" % (cmd["type"], cmd["commandId"]))


TOPIC_OF = {"reserve": "reservations", "release": "releases", "restock": "admin",
            "expire": "admin"}


def expect(ev, **want):
    for k, v in want.items():
        check_eq(ev.get(k), v, "%s of %s event for %s" % (k, ev.get("type"), ev.get("commandId")))


def step(run, ctype, product, **fields):
    cmd = run.command(ctype, product, **fields)
    return run.run_one(TOPIC_OF[ctype], cmd)


# ---- scenarios --------------------------------------------------------------

def scenario_semantics(run):
    run.start_worker("w1")
    p = "PROD-A"
    ev = step(run, "restock", p, quantity=100)
    expect(ev, type="stock.restocked", quantity=100, total=100, available=100, reserved=0)
    check(ev["epoch"] >= 1, "restock event carries the lease epoch")
    r1 = step(run, "reserve", p, quantity=10, customerId="CUST-1")
    expect(r1, type="reservation.created", quantity=10, total=100, available=90, reserved=10,
           customerId="CUST-1", message="Successfully reserved 10 units of PROD-A for CUST-1")
    check(r1["expiresAtMs"] - r1["timestampMs"] == 1800 * 1000, "default TTL is 30 min")
    ev = step(run, "reserve", p, quantity=95, customerId="CUST-2")
    expect(ev, type="reservation.rejected", reason="insufficient_stock", available=90, reserved=10)
    step(run, "reserve", p, quantity=20, customerId="CUST-1")
    ev = step(run, "release", p, reservationId=r1["reservationId"])
    expect(ev, type="reservation.released", quantity=10, customerId="CUST-1",
           reservationId=r1["reservationId"], total=100, available=80, reserved=20)
    ev = step(run, "release", p, customerId="CUST-1", quantity=5)
    expect(ev, type="reservation.released", quantity=5, available=85, reserved=15)
    ev = step(run, "release", p, customerId="CUST-3", quantity=1)
    expect(ev, type="release.rejected", reason="no_reservation", available=85)
    ev = step(run, "release", p, reservationId="R-000000000000000000000000")
    expect(ev, type="release.rejected", reason="unknown_reservation")
    ev = step(run, "restock", p, quantity=15)
    expect(ev, type="stock.restocked", quantity=15, total=115, available=100, reserved=15)

    # Expiry: a 1 s reservation, then the reconciler's expire command.
    short = step(run, "reserve", p, quantity=7, customerId="CUST-4", ttlSeconds=1)
    expect(short, type="reservation.created", available=93, reserved=22)
    wait_for(lambda: time.time() * 1000 > short["expiresAtMs"] + 50, "reservation expiry", 10)
    ev = step(run, "expire", p, commandId="expire-" + short["reservationId"],
              reservationId=short["reservationId"])
    expect(ev, type="reservation.expired", quantity=7, customerId="CUST-4",
           reservationId=short["reservationId"], total=115, available=100, reserved=15)

    # Unknown products are rejected and never created.
    ev = step(run, "reserve", "PROD-NONE", quantity=1, customerId="C")
    expect(ev, type="reservation.rejected", reason="unknown_product")
    ev = step(run, "release", "PROD-NONE", customerId="C", quantity=1)
    expect(ev, type="release.rejected", reason="unknown_product")
    check(read_state(run.container, "PROD-NONE") is None, "unknown product was created")

    st = read_state(run.container, p)
    check_eq((st["total"], st["available"], st["reserved"]), (115, 100, 15), "final state")
    check_eq([r["quantity"] for r in st["reservations"]], [15], "active reservations")
    check_eq(run.stop_worker("w1"), 0, "exit code after SIGTERM")
    log = run.worker_log("w1")
    for line in ("Acquired lease ", "Successfully reserved 10 units of PROD-A for CUST-1",
                 "Releasing lease "):
        check(line in log, "log line %r missing" % line)


# Fields of a re-emitted event that describe the moment it was sent: its
# time, its lease epoch and the product's quantities then (docs/schemas.md).
REEMISSION_FIELDS = ("timestampMs", "epoch", "total", "available", "reserved")


def event_validator():
    sys.path.insert(0, os.path.join(ROOT, "tests", "schemas"))
    import check_schemas  # noqa: E402 -- the schema loader of check_schemas
    schemas, registry = check_schemas.load_schemas()
    return check_schemas.validator_for(schemas, registry, "event")


def check_same_outcome(run, cmd, first, validator):
    """Sends cmd again (a client retry: new message, same commandId) and
    checks the re-emitted event equals `first` but for REEMISSION_FIELDS,
    and is schema-valid."""
    n = len(run.outcomes(cmd["commandId"]))
    run.send(TOPIC_OF[cmd["type"]], [cmd])
    dup = wait_for(lambda: len(run.outcomes(cmd["commandId"])) > n and
                   run.outcomes(cmd["commandId"])[n], "re-emitted outcome of " + cmd["commandId"])
    errors = [e.message for e in validator.iter_errors(dup)]
    check_eq(errors, [], "schema errors of the re-emitted %s" % dup.get("type"))
    strip = lambda ev: {k: v for k, v in ev.items() if k not in REEMISSION_FIELDS}
    check_eq(strip(dup), strip(first), "re-emitted event")
    return dup


def scenario_duplicates(run):
    validator = event_validator()
    run.start_worker("w1")
    p = "PROD-D"
    step(run, "restock", p, quantity=50)
    cmd = run.command("reserve", p, quantity=5, customerId="CUST-1")
    first = run.run_one("reservations", cmd)
    expect(first, type="reservation.created", available=45, reserved=5)
    # The original was published (its outbox entry is gone): rebuilt from the ledger.
    check_same_outcome(run, cmd, first, validator)
    # A later command proves the duplicate changed nothing.
    ev = step(run, "reserve", p, quantity=1, customerId="CUST-2")
    expect(ev, type="reservation.created", available=44, reserved=6)
    # Released by id: the command names no customer, the event (and its copy) must.
    rel = run.command("release", p, reservationId=first["reservationId"])
    one = run.run_one("releases", rel)
    expect(one, type="reservation.released", customerId="CUST-1", quantity=5)
    dup = check_same_outcome(run, rel, one, validator)
    expect(dup, available=49, reserved=1)
    # A rejection keeps its reason, even when the retry would now succeed.
    big = run.command("reserve", p, quantity=60, customerId="CUST-3")
    rejected = run.run_one("reservations", big)
    expect(rejected, type="reservation.rejected", reason="insufficient_stock")
    step(run, "restock", p, quantity=100)
    dup = check_same_outcome(run, big, rejected, validator)
    expect(dup, total=150, available=149)
    st = read_state(run.container, p)
    check_eq((st["total"], st["available"], st["reserved"]), (150, 149, 1), "state after duplicates")


def scenario_empty_blob(run):
    # A restock batch abandoned right after creating the product's blob
    # leaves it empty: that is still an unknown product, for the worker and
    # for the admin API, until a restock writes a state.
    p = "PROD-E"
    check_eq(blob_request("PUT", "/" + run.container, {"restype": "container"})[0], 201,
             "create container")
    status, _, _ = blob_request("PUT", "/%s/%s.json" % (run.container, p),
                                ms_headers={"x-ms-blob-type": "BlockBlob"})
    check_eq(status, 201, "create the empty blob")
    run.env["LEASEHOLD_ADMIN_LISTEN"] = "127.0.0.1:0"
    run.start_worker("w1")
    ev = step(run, "reserve", p, quantity=1, customerId="C")
    expect(ev, type="reservation.rejected", reason="unknown_product")
    ev = step(run, "release", p, customerId="C", quantity=1)
    expect(ev, type="release.rejected", reason="unknown_product")
    status, body = http_get("http://127.0.0.1:%s/api/inventory/%s" % (admin_port(run, "w1"), p))
    check_eq((status, json.loads(body)), (404, {"error": "product %s not found" % p}),
             "admin GET of the empty blob")
    _, _, content = blob_request("GET", "/%s/%s.json" % (run.container, p))
    check_eq(content, b"", "blob content after rejected commands")
    ev = step(run, "restock", p, quantity=4)
    expect(ev, type="stock.restocked", total=4, available=4, reserved=0)
    status, body = http_get("http://127.0.0.1:%s/api/inventory/%s" % (admin_port(run, "w1"), p))
    check_eq((status, json.loads(body)["total"]), (200, 4), "admin GET after the restock")


def scenario_dead_letters(run):
    run.start_worker("w1")
    p = "PROD-DL"
    step(run, "restock", p, quantity=50)
    before = read_state(run.container, p)
    bad = [
        ("not JSON", "this is not json"),
        ("schema", json.dumps(run.command("reserve", p, quantity=0, customerId="C"))),
        ("oversize", json.dumps(run.command("reserve", p, quantity=1, customerId="C",
                                            padding="x" * (70 * 1024)))),
        ("unknown type", json.dumps(run.command("teleport", p, quantity=1))),
    ]
    produce(run.topics["reservations"], [(p, v) for _, v in bad])
    letters = wait_for(lambda: len(run.dlq.all()) >= 4 and run.dlq.all(), "4 dead letters")
    check_eq(len(letters), 4, "dead letters")
    by_payload = {d.get("payload"): d for d in letters}
    reasons = {}
    for kind, value in bad:
        d = by_payload.get(value)
        check(d is not None, "dead letter for %s missing" % kind)
        check_eq(d["topic"], run.topics["reservations"], "dead letter topic")
        check(d["offset"] >= 0 and 0 <= d["partition"] < PARTITIONS, "dead letter origin")
        check_eq(d["key"], p, "dead letter key")
        reasons[kind] = d["reason"]
    check(reasons["not JSON"].startswith("message: not valid JSON"), reasons["not JSON"])
    check_eq(reasons["schema"], "quantity: must be an integer from 1 to 1000000", "schema reason")
    check(reasons["oversize"].startswith("message: larger than"), reasons["oversize"])
    check(reasons["unknown type"].startswith("type: unknown command type"), reasons["unknown type"])
    # Offsets moved on: a valid command behind them is applied.
    ev = step(run, "reserve", p, quantity=2, customerId="C")
    expect(ev, type="reservation.created", available=48)
    after = read_state(run.container, p)
    check_eq(before["total"], after["total"], "total unchanged by bad input")
    check_eq(len([e for e in run.events.all()]), 2, "events: restock and the one reserve")


def mixed_commands(run, products, count, rng):
    cmds = []
    customers = ["CUST-%d" % i for i in range(6)]
    for _ in range(count):
        p = rng.choice(products)
        x = rng.random()
        if x < 0.55:
            c = run.command("reserve", p, quantity=rng.randint(1, 6), customerId=rng.choice(customers))
        elif x < 0.85:
            c = run.command("release", p, quantity=rng.randint(1, 6), customerId=rng.choice(customers))
        elif x < 0.95:
            c = run.command("restock", p, quantity=rng.randint(1, 10))
        else:
            c = run.command("release", p, reservationId="R-%024x" % rng.randrange(16**24))
        cmds.append(c)
    return cmds


def check_invariants(run, products, commands, initial):
    events = run.events.all()
    by_cmd = {}
    for e in events:
        by_cmd.setdefault(e["commandId"], set()).add(e["eventId"])
        check(e["available"] >= 0 and e["reserved"] >= 0, "negative quantity in %r" % e)
        check_eq(e["total"], e["available"] + e["reserved"], "total = available + reserved")
    for c in commands:
        check_eq(len(by_cmd.get(c["commandId"], ())), 1, "distinct outcomes of " + c["commandId"])
    unique = list({e["eventId"]: e for e in events}.values())
    kinds = {}
    for e in unique:
        kinds[e["type"]] = kinds.get(e["type"], 0) + 1
    print("%d commands, %d events (%d distinct): %s" % (
        len(commands), len(events), len(unique), json.dumps(kinds, sort_keys=True)))
    for p in products:
        evs = [e for e in unique if e["productId"] == p]
        restocked = sum(e["quantity"] for e in evs if e["type"] == "stock.restocked")
        reserved = sum(e["quantity"] for e in evs if e["type"] == "reservation.created")
        returned = sum(e["quantity"] for e in evs
                       if e["type"] in ("reservation.released", "reservation.expired"))
        st = read_state(run.container, p)
        check_eq(st["total"], restocked, "%s total = restocked" % p)
        check(restocked >= initial, "%s initial restock counted" % p)
        check_eq(st["reserved"], reserved - returned, "%s reserved = created - returned" % p)
        check_eq(st["available"], st["total"] - st["reserved"], "%s available" % p)
        check_eq(sum(r["quantity"] for r in st["reservations"]), st["reserved"],
                 "%s reservations sum" % p)


def run_load(run, kill):
    rng = random.Random(42)
    products = ["PROD-%02d" % i for i in range(20)]
    for w in ("w1", "w2", "w3"):
        run.start_worker(w)
    restocks = [run.command("restock", p, quantity=150) for p in products]
    run.send("admin", restocks)
    wait_for(lambda: all(run.outcomes(c["commandId"]) for c in restocks), "initial restocks")
    cmds = mixed_commands(run, products, 2000 - len(restocks), rng)
    for topic_key in ("reservations", "releases", "admin"):
        run.send(topic_key, [c for c in cmds if TOPIC_OF[c["type"]] == topic_key])
    if kill:
        wait_for(lambda: len(run.events.all()) >= len(restocks) + len(cmds) // 4, "a quarter done")
        run.stop_worker("w2", signal.SIGKILL)
    every = restocks + cmds
    wait_for(lambda: all(run.outcomes(c["commandId"]) for c in every), "all outcomes", 240, 1)
    check_invariants(run, products, every, 150)
    for w in list(run.workers):
        check_eq(run.stop_worker(w), 0, "exit code of " + w)


def scenario_load(run):
    run_load(run, kill=False)


def scenario_load_kill(run):
    run_load(run, kill=True)


def scenario_expiry_reconciler(run):
    # The leader's sweep (1 s interval) publishes `expire`; the worker applies it.
    run.env["LEASEHOLD_RECONCILER_ENABLED"] = "true"
    run.env["LEASEHOLD_RECONCILER_INTERVAL"] = "1s"
    run.env["LEASEHOLD_RECONCILER_LEASE_NAME"] = run.suffix + "-reconciliation"
    run.start_worker("w1")
    p = "PROD-E"
    step(run, "restock", p, quantity=20)
    short = step(run, "reserve", p, quantity=6, customerId="CUST-E", ttlSeconds=1)
    keep = step(run, "reserve", p, quantity=4, customerId="CUST-K")
    expect(keep, available=10, reserved=10)
    ev = wait_for(lambda: next((e for e in run.events.all() if e["type"] == "reservation.expired"),
                               None), "reservation.expired")
    expect(ev, reservationId=short["reservationId"], quantity=6, customerId="CUST-E",
           total=20, available=16, reserved=4)
    check_eq(ev["commandId"], "expire-" + short["reservationId"], "expire commandId")
    st = read_state(run.container, p)
    check_eq([r["reservationId"] for r in st["reservations"]], [keep["reservationId"]],
             "remaining reservations")
    # A later sweep may publish the same expire again: same eventId, no effect.
    check_eq({e["eventId"] for e in run.events.all() if e["type"] == "reservation.expired"},
             {ev["eventId"]}, "expired once")


def scenario_lease_stolen(run):
    # Decision 8: a fenced write refused because the lease was taken abandons
    # the batch; the command waits (nothing applied) and is applied once the
    # lease can be acquired again, under a new epoch.
    run.env["LEASEHOLD_WORKER_IDLE_RELEASE"] = "10m"
    run.start_worker("w1")
    p = "PROD-L"
    first = step(run, "restock", p, quantity=100)
    check_eq(lease_state(run.container, p), "leased", "w1 holds the product lease")
    status, body = lease_action(run.container, p, "break", lease_break_period=0)
    check_eq(status, 202, "break lease (%r)" % body)
    thief = "00000000-0000-4000-8000-00000000beef"
    status, body = lease_action(run.container, p, "acquire", lease_duration=-1,
                                proposed_lease_id=thief)
    check_eq(status, 201, "steal lease (%r)" % body)
    cmd = run.command("reserve", p, quantity=5, customerId="C")
    run.send("reservations", [cmd])
    wait_for(lambda: "Could not acquire lease for product " + p in run.worker_log("w1"),
             "w1 to find the lease held elsewhere")
    check(" lost" in run.worker_log("w1") or "refused" in run.worker_log("w1"),
          "w1 noticed the loss")
    check_eq(run.outcomes(cmd["commandId"]), [], "no outcome while the lease is elsewhere")
    check_eq(read_state(run.container, p)["available"], 100, "state untouched by w1")
    status, body = lease_action(run.container, p, "release", lease_id=thief)
    check_eq(status, 200, "release stolen lease (%r)" % body)
    ev = wait_for(lambda: (run.outcomes(cmd["commandId"]) or [None])[0], "outcome after release")
    expect(ev, type="reservation.created", total=100, available=95, reserved=5)
    check(ev["epoch"] > first["epoch"], "new epoch after re-acquire")
    check_eq(len({e["eventId"] for e in run.outcomes(cmd["commandId"])}), 1, "applied once")


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def admin_port(run, wid):
    """The port a worker started with admin.listen=...:0 logged."""
    return wait_for(lambda: [l.split("(port ")[1].rstrip(")") for l in
                             run.worker_log(wid).splitlines() if "Admin HTTP on" in l],
                    "admin port of " + wid)[0]


def scenario_storage_outage(run):
    # Storage unreachable: the command is retried, readiness goes false, and
    # it is never skipped: a worker with working storage applies it later.
    good_env = dict(run.env)
    run.env["LEASEHOLD_STORAGE_CONNECTION_STRING"] = (
        "DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;"
        "BlobEndpoint=http://127.0.0.1:9/%s;" % (ACCOUNT, ACCOUNT_KEY, ACCOUNT))
    run.env["LEASEHOLD_WORKER_DRAIN_TIMEOUT"] = "2s"
    run.env["LEASEHOLD_ADMIN_LISTEN"] = "127.0.0.1:0"
    run.start_worker("w1")
    cmd = run.command("restock", "PROD-O", quantity=9)
    run.send("admin", [cmd])
    wait_for(lambda: "Acquiring lease for product PROD-O failed" in run.worker_log("w1"),
             "a failed storage attempt")
    status, body = http_get("http://127.0.0.1:%s/readyz" % admin_port(run, "w1"))
    check_eq(status, 503, "readiness during the outage (%s)" % body)
    check("storage" in body, "readiness names storage: " + body)
    check_eq(run.outcomes(cmd["commandId"]), [], "no outcome without storage")
    check_eq(run.dlq.all(), [], "nothing dead-lettered")
    check_eq(run.stop_worker("w1"), 2, "exit code when the drain times out")
    run.env = good_env
    run.start_worker("w2")
    ev = wait_for(lambda: (run.outcomes(cmd["commandId"]) or [None])[0], "outcome after the outage")
    expect(ev, type="stock.restocked", quantity=9, total=9, available=9)


def ready_status(url):
    """(status, body) of /readyz when it says 503, else None."""
    status, body = http_get(url)
    return (status, body) if status == 503 else None


# How long kafka_outage keeps checking that /readyz says 503 while the broker
# is down: longer than librdkafka's 30 s suppression of repeated errors.
OUTAGE_HOLD_S = 40


def scenario_kafka_outage(run):
    # Issue 3: Kafka goes away while commands are in the middle of their
    # pipeline and comes back on the same data. Readiness goes false naming
    # Kafka, comes back, and every command sent before and after the outage
    # has exactly one outcome. To put commands in that window for certain,
    # the test holds their product's lease while they are consumed, stops
    # the broker, then lets the lease go: the worker applies them to the
    # blob with no broker to publish to, and a short delivery timeout makes
    # those publications fail and be retried. The session timeout outlasts
    # the outage, so the worker keeps its partitions (and those commands)
    # meanwhile; a lost assignment would only replay them later.
    run.env["LEASEHOLD_ADMIN_LISTEN"] = "127.0.0.1:0"
    run.env["LEASEHOLD_KAFKA_DELIVERY_TIMEOUT"] = "3s"
    run.env["LEASEHOLD_KAFKA_SESSION_TIMEOUT"] = "%ds" % (OUTAGE_HOLD_S + 60)
    run.env["LEASEHOLD_WORKER_IDLE_RELEASE"] = "2s"  # the lease comes back to the test below
    run.start_worker("w1")
    readyz = "http://127.0.0.1:%s/readyz" % admin_port(run, "w1")
    p = "PROD-K"
    first = [run.command("restock", p, quantity=100),
             run.command("reserve", p, quantity=10, customerId="CUST-1")]
    expect(run.run_one("admin", first[0]), type="stock.restocked", total=100, available=100)
    expect(run.run_one("reservations", first[1]), type="reservation.created", total=100,
           available=90, reserved=10)
    wait_for(lambda: http_get(readyz)[0] == 200, "readiness before the outage")

    # Idle, the worker lets the lease go (worker.idle_release, set to 2 s) with the
    # published outbox cleared in the blob: nothing of before is pending.
    wait_for(lambda: lease_state(run.container, p) == "available", "w1 to release the lease")
    check_eq(read_state(run.container, p)["outbox"], [], "outbox after the idle release")
    holder = "00000000-0000-4000-8000-00000000cafe"
    status, body = lease_action(run.container, p, "acquire", lease_duration=-1,
                                proposed_lease_id=holder)
    check_eq(status, 201, "take lease (%r)" % body)
    before = [run.command("reserve", p, quantity=3, customerId="CUST-2"),
              run.command("reserve", p, quantity=4, customerId="CUST-3"),
              run.command("restock", p, quantity=20)]
    for c in before:
        run.send(TOPIC_OF[c["type"]], [c])
    wait_for(lambda: "Could not acquire lease for product " + p in run.worker_log("w1"),
             "w1 to find the lease held elsewhere")
    t0 = time.monotonic()
    run.broker.stop()  # returns once the broker has exited
    status, body = wait_for(lambda: ready_status(readyz), "readiness 503 during the outage")
    print("readiness 503 %.1f s after the broker was told to stop: %s"
          % (time.monotonic() - t0, body.strip()))
    check_eq(body, "not ready: kafka: unreachable or failing\n", "readiness reason")
    # And it stays so while nothing is published (the publisher has no
    # failure to report): librdkafka reports a broker's repeated identical
    # errors once per 30 s, which once let /readyz say 200 mid-outage.
    end = time.monotonic() + OUTAGE_HOLD_S
    while time.monotonic() < end:
        check_eq(http_get(readyz), (503, body), "readiness %.1f s into the outage"
                 % (time.monotonic() - t0))
        time.sleep(0.5)  # the interval between checks, not a synchronisation
    status, body = lease_action(run.container, p, "release", lease_id=holder)
    check_eq(status, 200, "release lease (%r)" % body)
    # A batch of them is applied during the outage, and its events fail to
    # be published (retried; the product's later commands wait behind them).
    wait_for(lambda: "Publishing " in run.worker_log("w1"), "a failed publication")
    st = read_state(run.container, p)
    check((st["total"], st["reserved"]) != (100, 10), "applied during the outage: %r" % st)
    check_eq(http_get(readyz)[0], 503, "readiness while events wait for Kafka")
    run.broker.start()
    t0 = time.monotonic()
    wait_for(lambda: http_get(readyz)[0] == 200, "readiness after the broker returned", 180, 0.25)
    print("ready again %.1f s after the broker answered" % (time.monotonic() - t0))
    # A reader's kcat may have given up while the broker was away.
    run.events.close()
    run.dlq.close()
    run.open_readers()
    after = [run.command("reserve", p, quantity=6, customerId="CUST-4"),
             run.command("release", p, quantity=5, customerId="CUST-1"),
             run.command("restock", p, quantity=5)]
    for c in after:
        run.send(TOPIC_OF[c["type"]], [c])
    every = first + before + after
    wait_for(lambda: all(run.outcomes(c["commandId"]) for c in every), "all outcomes")
    want = {"reserve": "reservation.created", "release": "reservation.released",
            "restock": "stock.restocked"}
    for c in every:
        evs = run.outcomes(c["commandId"])
        # A publication retried across the outage may repeat the event: the
        # same event (one eventId), never a second outcome.
        check_eq(len({e["eventId"] for e in evs}), 1, "outcomes of %s" % c["commandId"])
        expect(evs[0], type=want[c["type"]], quantity=c["quantity"])
    print("%d commands, %d events" % (len(every), len(run.events.all())))
    st = read_state(run.container, p)
    check_eq((st["total"], st["available"], st["reserved"]), (125, 107, 18), "final state")
    check_eq(sorted(r["quantity"] for r in st["reservations"]), [3, 4, 5, 6], "reservations")
    check_eq(run.dlq.all(), [], "nothing dead-lettered")
    check_eq(run.stop_worker("w1"), 0, "exit code after SIGTERM")


def scenario_drain_storage_hang(run):
    # SIGTERM while a state write hangs in a storage service that stopped
    # answering: the exit keeps to the drain deadline (the write is aborted
    # there) instead of waiting out the 2-minute storage request timeout,
    # and the command is not lost: the next worker applies it once.
    proxy = StallingProxy()
    try:
        hung_env = dict(run.env)
        run.env["LEASEHOLD_STORAGE_CONNECTION_STRING"] = (
            "DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;"
            "BlobEndpoint=http://127.0.0.1:%d/%s;" % (ACCOUNT, ACCOUNT_KEY, proxy.port, ACCOUNT))
        run.env["LEASEHOLD_STORAGE_REQUEST_TIMEOUT"] = "120s"
        run.env["LEASEHOLD_WORKER_DRAIN_TIMEOUT"] = "2s"
        run.env["LEASEHOLD_WORKER_IDLE_RELEASE"] = "10m"
        run.start_worker("w1")
        p = "PROD-S"
        expect(step(run, "restock", p, quantity=10), type="stock.restocked", total=10)
        proxy.freeze()
        cmd = run.command("reserve", p, quantity=3, customerId="C")
        run.send("reservations", [cmd])
        # Put Blob, or Put Block / Put Block List (?comp=...) in the paged layout
        write = "PUT /%s/%s/%s.json" % (ACCOUNT, run.container, p)
        def state_write(line):
            target = line.split(" ")[1] if line.startswith("PUT ") else ""
            path, _, query = target.partition("?")
            return path == write[4:] and ("comp=lease" not in query)
        wait_for(lambda: any(state_write(r) for r in proxy.requests_held()),
                 "the reserve's state write, held")
        t0 = time.monotonic()
        check_eq(run.stop_worker("w1", timeout=60), 2, "exit code when the drain times out")
        print("w1 exited %.1f s after SIGTERM (drain timeout 2 s, storage timeout 120 s)"
              % (time.monotonic() - t0))
        check_eq(run.outcomes(cmd["commandId"]), [], "no outcome from the aborted write")
        proxy.thaw()
        run.env = hung_env
        run.start_worker("w2")  # takes over once w1's abandoned lease expires
        ev = wait_for(lambda: (run.outcomes(cmd["commandId"]) or [None])[0], "outcome from w2")
        expect(ev, type="reservation.created", total=10, available=7, reserved=3)
        check_eq(len(run.outcomes(cmd["commandId"])), 1, "one outcome")
        check_eq(read_state(run.container, p)["available"], 7, "available in the blob")
    finally:
        proxy.close()


def scenario_sigterm_handover(run):
    run.env["LEASEHOLD_WORKER_IDLE_RELEASE"] = "10m"  # only SIGTERM releases it
    run.start_worker("w1")
    p = "PROD-H"
    step(run, "restock", p, quantity=10)
    check_eq(lease_state(run.container, p), "leased", "lease state while w1 works")
    check_eq(run.stop_worker("w1"), 0, "exit code after SIGTERM")
    # Right after exit, nobody holds it: no waiting for the 15 s expiry.
    check_eq(lease_state(run.container, p), "available", "lease state after SIGTERM")
    run.env["LEASEHOLD_ADMIN_LISTEN"] = "127.0.0.1:0"
    run.start_worker("w2")
    ev = step(run, "reserve", p, quantity=3, customerId="C")
    expect(ev, type="reservation.created", total=10, available=7, reserved=3)
    check("Acquired lease " in run.worker_log("w2"), "w2 acquired the product lease")
    check_eq(len(run.outcomes(ev["commandId"])), 1, "one outcome")
    check_eq(read_state(run.container, p)["total"], 10, "total after handover")
    # w1 committed its offsets when it left: w2 did not consume the restock
    # again (a replay would be counted with outcome="replay").
    _, metrics = http_get("http://127.0.0.1:%s/metrics" % admin_port(run, "w2"))
    commands = [l for l in metrics.splitlines() if l.startswith("leasehold_commands_total{")]
    check_eq(commands, ['leasehold_commands_total{type="reserve",outcome="reservation.created"} 1'],
             "commands applied by w2")
    # w2's one command went through every stage once: received (its Kafka
    # timestamp gives consume_delay), queued, lease, read, apply, write,
    # publish (docs/metrics.md, "Stages of a command").
    stages = [l for l in metrics.splitlines() if l.startswith("leasehold_stage_seconds_count{")]
    check_eq(stages, ['leasehold_stage_seconds_count{stage="%s"} 1' % s
                      for s in ("consume_delay", "queue_wait", "lease_acquire", "state_read",
                                "apply", "fenced_write", "publish_ack")],
             "stage observations of w2")


# Delays between starting a group's workers and SIGTERMing them. Around
# 0.5-1.6 s most land between a member's JoinGroup and its first assignment.
CLOSE_DELAYS_S = [0.5, 0.8, 1.2, 1.6, 0.2, 2.0, 2.5, 3.0]


def scenario_close_while_joining(run):
    # librdkafka < 2.3.0 aborts when a cooperative-sticky consumer is closed
    # before its first assignment (issue #4312). Each round starts 3 workers
    # in a fresh group and SIGTERMs them while the group forms; every one
    # must exit 0. LEASEHOLD_CLOSE_ROUNDS (default 8) sets the number of
    # rounds (before the mitigation, 40 rounds aborted 8 of 120 workers).
    run.env["LEASEHOLD_WORKER_DRAIN_TIMEOUT"] = "10s"
    run.env["LEASEHOLD_KAFKA_ASSIGNMENT_STRATEGY"] = "cooperative-sticky"
    rounds = int(os.environ.get("LEASEHOLD_CLOSE_ROUNDS", "8"))
    exits = []
    for r in range(rounds):
        run.env["LEASEHOLD_KAFKA_GROUP_ID"] = "%s-g%d" % (run.suffix, r)
        wids = ["r%dw%d" % (r, i) for i in range(3)]
        for wid in wids:
            run.start_worker(wid)
        # The moment under test, not a synchronisation: nothing to wait for.
        time.sleep(CLOSE_DELAYS_S[r % len(CLOSE_DELAYS_S)])
        for wid in wids:
            run.workers[wid][0].send_signal(signal.SIGTERM)
        exits += [(wid, run.stop_worker(wid, signal.SIGTERM)) for wid in wids]
    aborted = [wid for wid, _ in exits if "assignor_state" in run.worker_log(wid)]
    waited = [wid for wid, _ in exits if "before its first assignment" in run.worker_log(wid)]
    print("%d workers: %d aborted on close, %d closed before their first assignment"
          % (len(exits), len(aborted), len(waited)))
    check_eq(aborted, [], "workers that aborted in rd_kafka_sticky_assignor_state_destroy")
    check_eq([e for e in exits if e[1] != 0], [], "non-zero exits")


def assignment(run, wid):
    status, body = http_get("http://127.0.0.1:%s/api/assignment" % admin_port(run, wid))
    check_eq(status, 200, "GET /api/assignment of " + wid)
    return json.loads(body)


def scenario_ownership(run):
    # Issue 6, one owner per product: with co-partitioned command topics and
    # the range assignor, each worker owns partition i of all three topics,
    # so in steady state no two workers ever take turns at a product lease.
    # The mixed load sends every product's commands on all three topics.
    run.env["LEASEHOLD_ADMIN_LISTEN"] = "127.0.0.1:0"
    wids = ("w1", "w2", "w3")
    for wid in wids:
        run.start_worker(wid)
    command_topics = [run.topics[k] for k in ("reservations", "releases", "admin")]

    def stable():
        docs = [assignment(run, wid) for wid in wids]
        owned = [(p["topic"], p["partition"]) for d in docs for p in d["partitions"]]
        return (sorted(owned) == sorted((t, i) for t in command_topics for i in range(PARTITIONS))
                and all(d["partitions"] for d in docs) and docs)
    docs = wait_for(stable, "a stable group of three owning every partition once")
    for wid, d in zip(wids, docs):
        check_eq(d["strategy"], "range", "assignment strategy of " + wid)
        check_eq(d["coPartitioned"], True, "co-partitioned assignment of " + wid)
        numbers = [sorted(p["partition"] for p in d["partitions"] if p["topic"] == t)
                   for t in command_topics]
        check(numbers[0] == numbers[1] == numbers[2],
              "%s owns the same partitions of every command topic: %r" % (wid, numbers))
    rng = random.Random(7)
    products = ["PROD-O%02d" % i for i in range(30)]
    restocks = [run.command("restock", p, quantity=100) for p in products]
    run.send("admin", restocks)
    cmds = mixed_commands(run, products, 600, rng)
    for topic_key in ("reservations", "releases", "admin"):
        run.send(topic_key, [c for c in cmds if TOPIC_OF[c["type"]] == topic_key])
    every = restocks + cmds
    wait_for(lambda: all(run.outcomes(c["commandId"]) for c in every), "all outcomes", 240, 0.5)
    check_invariants(run, products, every, 100)
    contended = {wid: metric_value(run, wid, "leasehold_lease_acquire_contended_total")
                 for wid in wids}
    print("contended acquisitions per worker: %r" % contended)
    check_eq(sum(contended.values()), 0, "contended lease acquisitions between the workers")

    # Leases follow ownership through an eager rebalance: a fourth worker
    # joins; every product whose partition stays with its worker keeps the
    # very same lease (no release, no re-acquire), every product whose
    # partition moved has been released by its old owner, and the next
    # round of commands is applied exactly once.
    before = {wid: held_leases(run, wid) for wid in wids}
    check_eq(sorted(p for held in before.values() for p in held), products,
             "each product leased by exactly one worker")
    run.start_worker("w4")
    wids4 = wids + ("w4",)

    def stable4():
        docs = {wid: assignment(run, wid) for wid in wids4}
        owned = sorted((p["topic"], p["partition"]) for d in docs.values() for p in d["partitions"])
        full = sorted((t, i) for t in command_topics for i in range(PARTITIONS))
        return owned == full and all(d["partitions"] for d in docs.values()) and docs
    docs = wait_for(stable4, "a stable group of four")
    kept = moved = 0
    for wid in wids:
        mine = {p["partition"] for p in docs[wid]["partitions"]}
        after = held_leases(run, wid)
        for product, (partition, lease_id) in before[wid].items():
            if partition in mine:
                kept += 1
                check_eq(after.get(product), (partition, lease_id), "%s kept on %s" % (product, wid))
            else:
                moved += 1
                check(product not in after, "%s released by %s after its partition moved" % (product, wid))
    print("after the rebalance: %d product leases kept, %d released to new owners" % (kept, moved))
    check(kept > 0 and moved > 0, "the rebalance kept some products and moved others")
    more = mixed_commands(run, products, 300, rng)
    for topic_key in ("reservations", "releases", "admin"):
        run.send(topic_key, [c for c in more if TOPIC_OF[c["type"]] == topic_key])
    every += more
    wait_for(lambda: all(run.outcomes(c["commandId"]) for c in every), "all outcomes", 240, 0.5)
    check_invariants(run, products, every, 100)
    for wid in wids4:
        check_eq(run.stop_worker(wid), 0, "exit code of " + wid)


def held_leases(run, wid):
    """product -> (partition, leaseId) of the product leases a worker holds."""
    status, body = http_get("http://127.0.0.1:%s/api/leases" % admin_port(run, wid))
    check_eq(status, 200, "GET /api/leases of " + wid)
    return {l["productId"]: (l["partition"], l["leaseId"]) for l in json.loads(body)["leases"]}


def metric_value(run, wid, name):
    """The value of an unlabelled counter on a worker's /metrics."""
    status, body = http_get("http://127.0.0.1:%s/metrics" % admin_port(run, wid))
    check_eq(status, 200, "GET /metrics of " + wid)
    for line in body.splitlines():
        if line.split(" ")[0] == name:
            return float(line.split(" ")[1])
    raise Failure("%s not on the /metrics of %s" % (name, wid))


def scenario_copartition_mismatch(run):
    # Unequal partition counts would split a product's commands between
    # workers: the worker refuses to start, naming every topic and count.
    kafka_tool("org.apache.kafka.tools.TopicCommand", "--bootstrap-server", run.brokers, "--alter",
               "--topic", run.topics["releases"], "--partitions", "8")
    wait_for(lambda: ('topic "%s" with 8 partitions' % run.topics["releases"]) in subprocess.run(
        ["kcat", "-L", "-b", run.brokers, "-t", run.topics["releases"], "-m", "5"],
        capture_output=True, text=True).stdout, "8 partitions on the releases topic", 60, 0.5)
    proc = run.start_worker("w1")
    check_eq(proc.wait(timeout=60), 1, "exit code of a worker on unequal topics")
    log = run.worker_log("w1")
    want = ("command topics are not co-partitioned: %s has 6 partitions, %s has 8 partitions, %s "
            "has 6 partitions" % (run.topics["reservations"], run.topics["releases"],
                                  run.topics["admin"]))
    check(want in log, "the start-up error names the topics and counts:\n" + log[-2000:])


def http_post(url):
    req = urllib.request.Request(url, method="POST", data=b"")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def put_blob(container, product, content, meta=None):
    """Writes a product's state blob from outside (no lease: it must be free)."""
    headers = {"x-ms-blob-type": "BlockBlob"}
    headers.update({k: v for k, v in (meta or {}).items()})
    status, _, body = blob_request("PUT", "/%s/%s.json" % (container, product),
                                   ms_headers=headers, body=content)
    check_eq(status, 201, "PUT %s from outside (%s)" % (product, body[:200]))


def producer_cli(run, *args):
    return subprocess.run([os.path.join(BIN, "inventory-producer")] + list(args), env=run.env,
                          capture_output=True, text=True, timeout=60)


def blocked_list(run, wid):
    status, body = http_get("http://127.0.0.1:%s/api/blocked" % admin_port(run, wid))
    check_eq(status, 200, "GET /api/blocked of " + wid)
    return json.loads(body)["blocked"]


def wait_blocked(run, wid, product, queued):
    def named():
        entries = [e for e in blocked_list(run, wid) if e["productId"] == product]
        return entries and entries[0]["queued"] == queued and entries[0]
    return wait_for(named, "%s blocked on %s with %d queued" % (product, wid, queued))


def scenario_blocked_state(run):
    # A product whose state blob does not decode is blocked: the other
    # products carry on, the gauge and /api/blocked name it, SIGTERM does
    # not wait for it (exit 0), and an operator repairs it with a retry
    # (applied exactly once) or a dead-letter (reason state_unreadable).
    run.env["LEASEHOLD_ADMIN_LISTEN"] = "127.0.0.1:0"
    run.env["LEASEHOLD_WORKER_IDLE_RELEASE"] = "1s"  # so the blob is free to overwrite
    run.env["LEASEHOLD_WORKER_DRAIN_TIMEOUT"] = "30s"
    run.start_worker("w1")
    bad, ok = "PROD-BAD", "PROD-OK"
    step(run, "restock", bad, quantity=10)
    step(run, "restock", ok, quantity=10)
    wait_for(lambda: lease_state(run.container, bad) == "available", "idle release of " + bad)
    status, headers, good = blob_request("GET", "/%s/%s.json" % (run.container, bad))
    check_eq(status, 200, "GET the good state")
    meta = {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-ms-meta-")}
    put_blob(run.container, bad, b"this is not JSON")

    blocked_cmds = [run.command("reserve", bad, quantity=3, customerId="C1"),
                    run.command("reserve", bad, quantity=2, customerId="C2")]
    run.send("reservations", blocked_cmds)
    ev = step(run, "reserve", ok, quantity=4, customerId="C3")
    expect(ev, type="reservation.created", available=6)
    entry = wait_blocked(run, "w1", bad, 2)
    check(entry["reason"].startswith("decode: "), "reason: " + entry["reason"])
    check_eq(metric_value(run, "w1", "leasehold_products_blocked"), 1.0, "blocked gauge")
    check_eq(lease_state(run.container, bad), "available", "lease of the blocked product")
    for c in blocked_cmds:
        check_eq(run.outcomes(c["commandId"]), [], "no outcome while blocked")
    warns = [l for l in run.worker_log("w1").splitlines()
             if " WARN " in l and "Product %s is blocked" % bad in l]
    check_eq(len(warns), 1, "WARN lines naming the blocked product")

    t0 = time.monotonic()
    check_eq(run.stop_worker("w1"), 0, "exit code of SIGTERM with a blocked product")
    took = time.monotonic() - t0
    check(took < 10, "SIGTERM took %.1f s with a 30 s drain timeout" % took)

    # The next owner consumes the commands again and blocks the product too.
    run.start_worker("w2")
    wait_blocked(run, "w2", bad, 2)
    put_blob(run.container, bad, good, meta)
    status, body = http_post("http://127.0.0.1:%s/api/blocked/%s/retry" % (admin_port(run, "w2"), bad))
    check_eq((status, json.loads(body)),
             (202, {"productId": bad, "action": "retry", "status": "scheduled"}), "POST retry")
    for c in blocked_cmds:
        wait_for(lambda: run.outcomes(c["commandId"]), "outcome of " + c["commandId"])
    check_eq([(e["type"], e["quantity"]) for c in blocked_cmds for e in run.outcomes(c["commandId"])],
             [("reservation.created", 3), ("reservation.created", 2)], "applied exactly once")
    state = read_state(run.container, bad)
    check_eq((state["total"], state["available"]), (10, 5), "state after the retry")
    check_eq(blocked_list(run, "w2"), [], "/api/blocked after the retry")
    check_eq(metric_value(run, "w2", "leasehold_products_blocked"), 0.0, "gauge after the retry")

    # Unreadable again, and this time the operator gives the commands up.
    wait_for(lambda: lease_state(run.container, bad) == "available", "idle release of " + bad)
    put_blob(run.container, bad, b"{\"truncated\":")
    dl_cmds = [run.command("reserve", bad, quantity=1, customerId="C4"),
               run.command("reserve", bad, quantity=1, customerId="C5")]
    run.send("reservations", dl_cmds)
    wait_blocked(run, "w2", bad, 2)
    # This time through the CLI, which calls the same admin API.
    worker = "127.0.0.1:%s" % admin_port(run, "w2")
    listed = producer_cli(run, "blocked", "--worker", worker)
    check_eq((listed.returncode, [e["productId"] for e in json.loads(listed.stdout)["blocked"]]),
             (0, [bad]), "inventory-producer blocked")
    done = producer_cli(run, "dead-letter-blocked", bad, "--worker", worker)
    check_eq((done.returncode, json.loads(done.stdout)),
             (0, {"productId": bad, "action": "dead-letter", "status": "scheduled"}),
             "inventory-producer dead-letter-blocked")
    letters = wait_for(lambda: len(run.dlq.all()) >= 2 and run.dlq.all(), "2 dead letters")
    check_eq(len(letters), 2, "dead letters")
    for c, d in zip(dl_cmds, sorted(letters, key=lambda d: d["offset"])):
        check_eq((d["reason"], d["topic"], d["key"]),
                 ("state_unreadable", run.topics["reservations"], bad), "dead letter")
        check_eq(json.loads(d["payload"])["commandId"], c["commandId"], "dead letter payload")
    check_eq(blocked_list(run, "w2"), [], "/api/blocked after the dead-letter")
    check_eq(producer_cli(run, "retry-blocked", bad, "--worker", worker).returncode, 3,
             "exit code of retry-blocked for a product that is not blocked")
    # The offsets moved past them: a command behind them on another product is
    # applied, and none of the dead-lettered ones has an outcome.
    ev = step(run, "reserve", ok, quantity=1, customerId="C6")
    expect(ev, type="reservation.created", available=5)
    for c in dl_cmds:
        check_eq(run.outcomes(c["commandId"]), [], "no outcome for a dead-lettered command")
    check_eq(run.stop_worker("w2"), 0, "exit code of w2")


def scenario_blocked_rebalance(run):
    # Blocked products follow their partitions: when a second worker joins,
    # the first drops the commands of the partitions it gives up (without
    # waiting for them: they cannot finish) and stops listing those
    # products; the new owner consumes the commands again and blocks them.
    import zlib
    run.env["LEASEHOLD_ADMIN_LISTEN"] = "127.0.0.1:0"
    run.env["LEASEHOLD_WORKER_IDLE_RELEASE"] = "1s"
    # librdkafka's default partitioner for keyed messages: crc32(key) % count.
    products = ["PROD-RB%d" % i for i in range(40)]
    low = [p for p in products if zlib.crc32(p.encode()) % PARTITIONS < PARTITIONS // 2][:2]
    high = [p for p in products if zlib.crc32(p.encode()) % PARTITIONS >= PARTITIONS // 2][:2]
    bad = low + high
    check_eq(blob_request("PUT", "/" + run.container, {"restype": "container"})[0], 201,
             "create container")
    for p in bad:
        put_blob(run.container, p, b"not a state")
    run.start_worker("w1")
    run.send("reservations", [run.command("reserve", p, quantity=1, customerId="C") for p in bad])
    wait_for(lambda: sorted(e["productId"] for e in blocked_list(run, "w1")) == sorted(bad),
             "all four blocked on w1")
    run.start_worker("w2")

    def split():
        on1 = {e["productId"] for e in blocked_list(run, "w1")}
        on2 = {e["productId"] for e in blocked_list(run, "w2")}
        return on1 and on2 and not on1 & on2 and on1 | on2 == set(bad) and (on1, on2)
    on1, on2 = wait_for(split, "each blocked product on exactly one worker, both used")
    check(on1 in (set(low), set(high)) and on2 in (set(low), set(high)),
          "split by partition halves: %r / %r" % (on1, on2))
    check_eq(metric_value(run, "w1", "leasehold_products_blocked")
             + metric_value(run, "w2", "leasehold_products_blocked"), 4.0, "gauges")
    for wid in ("w1", "w2"):
        check_eq(run.stop_worker(wid), 0, "exit code of " + wid)


SCENARIOS = {name[len("scenario_"):]: fn for name, fn in globals().items()
             if name.startswith("scenario_")}
# Scenarios that stop and start their broker: they get one of their own.
OWN_BROKER = {"kafka_outage"}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in SCENARIOS:
        print("usage: %s %s" % (sys.argv[0], "|".join(sorted(SCENARIOS))), file=sys.stderr)
        return 2
    name = sys.argv[1]
    run = Run(name, own_broker=name in OWN_BROKER)
    t0 = time.monotonic()
    try:
        SCENARIOS[name](run)
    except Exception as e:  # report, show the workers' logs, clean up
        print("FAIL %s: %s" % (name, e))
        run.dump_logs()
        print("full logs in " + run.tmp)
        return 1
    else:
        run.passed = True
    finally:
        run.close()
    print("PASS %s (%.1f s)" % (name, time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
