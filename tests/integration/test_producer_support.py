"""test_producer_support.py -- shared helpers for the producer and gateway
integration tests (not a test itself).

Everything talks to the real Kafka on 127.0.0.1:9092 through kcat, on topics
with a random suffix so tests can run concurrently. A FakeWorker stands in
for inventory-worker: it reads commands from the command topics and answers
with outcome events produced by a test-supplied script, so the producer and
the gateway can be checked against exact, scripted outcomes.
"""
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import azurite_rest

BROKERS = os.environ.get("LEASEHOLD_KAFKA_BROKERS", "127.0.0.1:9092")
SOURCE = os.environ.get("LEASEHOLD_SOURCE_DIR",
                        os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("LEASEHOLD_BIN", os.path.join(SOURCE, "build", "bin"))
PRODUCER = os.path.join(BIN, "inventory-producer")


def suffix():
    return uuid.uuid4().hex[:10]


def topic_env(sfx):
    """LEASEHOLD_TOPIC_* for a private set of topics."""
    names = {k: "ptest.%s.%s" % (k, sfx) for k in ("reservations", "releases", "admin", "events", "dlq")}
    env = {"LEASEHOLD_TOPIC_" + k.upper(): v for k, v in names.items()}
    return names, env


def create_topics(names):
    """The broker auto-creates topics on first produce; a marker record makes
    each exist before a consumer asks for its metadata."""
    for name in names:
        subprocess.run(["kcat", "-P", "-b", BROKERS, "-t", name, "-k", "_"], input=b"marker\n",
                       check=True, timeout=30)


def count_records(topic):
    """Records on a topic, markers included."""
    out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", topic, "-o", "beginning", "-e", "-q",
                          "-f", "x\n"], capture_output=True, check=True, timeout=30)
    return out.stdout.count(b"x\n")


def read_topic(topic, timeout=30):
    """Every record of a topic as (key, value-string), markers skipped."""
    out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", topic, "-o", "beginning", "-e", "-q",
                          "-f", "%k\t%s\n"], capture_output=True, check=True, timeout=timeout)
    rows = []
    for line in out.stdout.decode().splitlines():
        key, _, value = line.partition("\t")
        if key != "_":
            rows.append((key, value))
    return rows


def event_id(command_id, event_type):
    return hashlib.sha256(("%s|%s" % (command_id, event_type)).encode()).hexdigest()[:32]


def make_event(cmd, event_type, total, available, reserved, epoch=7, **extra):
    ev = {"schemaVersion": 1, "type": event_type, "eventId": event_id(cmd["commandId"], event_type),
          "commandId": cmd["commandId"], "productId": cmd["productId"],
          "quantity": cmd.get("quantity", 0), "total": total, "available": available,
          "reserved": reserved, "epoch": epoch, "timestampMs": int(time.time() * 1000)}
    ev.update(extra)
    return ev


def run_producer(args, env_extra, timeout=60):
    env = dict(os.environ)
    env.update(env_extra)
    return subprocess.run([PRODUCER] + args, env=env, capture_output=True, text=True,
                          timeout=timeout)


class FakeWorker:
    """Consumes command topics and publishes the events `script(cmd)` returns.

    `seen` collects every decoded command in arrival order."""

    def __init__(self, command_topics, events_topic, script):
        self.script = script
        self.seen = []
        self.lock = threading.Lock()
        self.events_topic = events_topic
        self.consumers = []
        self.threads = []
        for topic in command_topics:
            p = subprocess.Popen(["kcat", "-C", "-b", BROKERS, "-t", topic, "-o", "beginning", "-u",
                                  "-q", "-f", "%k\t%s\n"], stdout=subprocess.PIPE, text=True)
            t = threading.Thread(target=self._serve, args=(p,), daemon=True)
            self.consumers.append(p)
            self.threads.append(t)
            t.start()

    def _serve(self, proc):
        for line in proc.stdout:
            key, _, value = line.rstrip("\n").partition("\t")
            if key == "_":
                continue
            try:
                cmd = json.loads(value)
            except ValueError:
                continue
            with self.lock:
                self.seen.append(cmd)
                events = self.script(cmd)
            # One kcat per event: kcat -P reads stdin in blocks and would hold
            # a single line back until more input or EOF.
            for ev in events:
                subprocess.run(["kcat", "-P", "-b", BROKERS, "-t", self.events_topic,
                                "-k", ev["productId"]], input=json.dumps(ev).encode(),
                               check=True, timeout=30)

    def commands(self):
        with self.lock:
            return list(self.seen)

    def stop(self):
        for p in self.consumers:
            p.terminate()
            p.wait(timeout=10)
            p.stdout.close()


def delete_topics(sfx):
    """Deletes this test's topics (TopicCommand from the cached Kafka jars)."""
    script = ('LH_PROG=producer-test; . "%s/deploy/local/lib.sh"; lh_kafka_tool '
              'org.apache.kafka.tools.TopicCommand --bootstrap-server %s --delete --topic '
              '"ptest\\..*\\.%s"' % (SOURCE, BROKERS, sfx))
    subprocess.run(["bash", "-c", script], capture_output=True, timeout=120)


def container_request(method, container, blob=None):
    """Create (PUT) or delete (DELETE) a container on Azurite; with `blob`,
    put an empty block blob (PUT) or delete it (DELETE) instead. Returns the
    HTTP status (201/202 on success, 409/404 when it already is/was not)."""
    if blob is None:
        status, _, _ = azurite_rest.blob_request(method, "/" + container, {"restype": "container"})
    else:
        extra = {"x-ms-blob-type": "BlockBlob"} if method == "PUT" else None
        status, _, _ = azurite_rest.blob_request(method, "/%s/%s" % (container, blob), None, extra)
    return status


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method, url, body=None, raw=None):
    """(status, decoded JSON body) of one request; errors are answers too."""
    import urllib.error
    import urllib.request
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def wait_ok(url, proc, what, limit=60):
    """Polls url until it answers 200, failing early if proc exits."""
    import urllib.error
    import urllib.request
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)  # polling readiness with a deadline
    raise RuntimeError("%s not ready within %d s" % (what, limit))


WORKER = os.path.join(BIN, "inventory-worker")


class RealPipeline:
    """Private topics, consumer group and containers, with `workers` real
    inventory-workers started and ready, each with an admin port
    (`metrics_urls`: each worker's /metrics, in `workers` order). `env` adds to the programs'
    environment (e.g. another storage account); `output` is where the
    workers write (default: inherited). start_worker() adds one more.
    stop() ends them with SIGTERM and returns their exit codes; cleanup()
    removes everything created."""

    def __init__(self, workers, env=None, output=None):
        self.sfx = suffix()
        self.topics, self.env = topic_env(self.sfx)
        self.env.update({"LEASEHOLD_KAFKA_GROUP_ID": "ptest-group-" + self.sfx,
                         "LEASEHOLD_STORAGE_CONTAINER": "ptest-inv-" + self.sfx,
                         "LEASEHOLD_STORAGE_LEASE_CONTAINER": "ptest-leases-" + self.sfx})
        self.env.update(env or {})
        self.output = output
        create_topics(self.topics.values())
        if container_request("PUT", self.env["LEASEHOLD_STORAGE_CONTAINER"]) != 201:
            raise RuntimeError("cannot create the test container")
        self.procs = []
        self.workers = []
        self.metrics_urls = []
        for _ in range(workers):
            self.start_worker()
        # The markers on the three command topics are not commands: wait for
        # their dead letters so later counts start from a settled topic.
        deadline = time.monotonic() + 60
        while count_records(self.topics["dlq"]) < 4:
            if time.monotonic() > deadline:
                raise RuntimeError("markers never reached the dead-letter topic")
            time.sleep(0.2)  # polling with a deadline

    def start_worker(self):
        """Starts one more worker and waits until it is ready (holds
        partitions); returns its process."""
        i = len(self.workers) + 1
        port = free_port()
        p = subprocess.Popen([WORKER, "--id", "ptest-w%d-%s" % (i, self.sfx), "--admin",
                              "127.0.0.1:%d" % port], env=self.full_env(), stdout=self.output,
                             stderr=self.output)
        self.procs.append(p)
        self.workers.append(p)
        self.metrics_urls.append("http://127.0.0.1:%d/metrics" % port)
        wait_ok("http://127.0.0.1:%d/readyz" % port, p, "worker %d" % i)
        return p

    def full_env(self):
        return dict(os.environ, **self.env)

    def start(self, args):
        """Starts another process (e.g. the gateway) stopped before the workers."""
        p = subprocess.Popen(args, env=self.full_env())
        self.procs.insert(0, p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(15)
        codes = []
        for p in self.procs:
            try:
                codes.append(p.wait(timeout=60))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
        return codes

    def cleanup(self):
        """Best effort: a slow Azurite must not turn a passed test into an
        error. Returns stop()'s exit codes."""
        codes = self.stop()
        for key in ("LEASEHOLD_STORAGE_CONTAINER", "LEASEHOLD_STORAGE_LEASE_CONTAINER"):
            try:
                container_request("DELETE", self.env[key])
            except OSError as e:
                print("cleanup: deleting container %s: %s" % (self.env[key], e), file=sys.stderr)
        delete_topics(self.sfx)
        return codes
