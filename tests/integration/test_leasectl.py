#!/usr/bin/env python3
"""test_leasectl.py -- the operator commands of `leasectl` against Azurite:
acquire, status (held?, owner, epoch, duration, expiry), renew and release
by id, held-elsewhere exit code, infinite leases, break, leader.

Each case works in a private container that is deleted afterwards. The
expiry line is checked against the wall clock read around the call: the
service publishes no expiry, so status states when the lease frees up at
the latest ("now + duration")."""
import calendar
import os
import re
import subprocess
import sys
import time
import unittest
import uuid

import test_producer_support as s

LEASECTL = os.path.join(s.BIN, "leasectl")


def ctl(*args):
    return subprocess.run([LEASECTL, "--container", CONTAINER] + list(args),
                          capture_output=True, text=True, timeout=60)


def status(name):
    r = ctl("status", name)
    if r.returncode != 0:
        raise AssertionError("status %s: exit %d: %s" % (name, r.returncode, r.stderr))
    return dict(line.split(": ", 1) for line in r.stdout.splitlines())


CONTAINER = "ctl-" + uuid.uuid4().hex[:12]


class Leasectl(unittest.TestCase):
    @classmethod
    def tearDownClass(cls):
        s.container_request("DELETE", CONTAINER)

    def test_status_of_a_name_never_used(self):
        st = status("never-used")
        self.assertEqual((st["held"], st["state"], st["owner"], st["epoch"], st["duration"],
                          st["expiry"]),
                         ("no", "absent", "-", "0", "unknown", "- (not leased)"))

    def test_acquire_status_renew_release(self):
        r = ctl("acquire", "orders", "--duration", "20")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.fullmatch(r"acquired lease ([0-9a-f-]{36}) on orders \(epoch 1\)\n", r.stdout)
        self.assertIsNotNone(m, r.stdout)
        lease_id = m.group(1)

        before = int(time.time())
        st = status("orders")
        after = int(time.time())
        self.assertEqual((st["held"], st["state"], st["epoch"], st["duration"]),
                         ("yes", "leased", "1", "20s"))
        self.assertNotEqual(st["owner"], "-")
        m = re.fullmatch(r"free by (\S+) at the latest if its holder stops renewing now "
                         r"\(a live holder renews it within every 20s\)", st["expiry"])
        self.assertIsNotNone(m, st["expiry"])
        latest = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ"))
        self.assertIn(latest, range(before + 20, after + 21))

        r = ctl("acquire", "orders")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "lease on orders is held by another (owner %s)\n" % st["owner"])

        r = ctl("renew", "orders", "--lease-id", lease_id)
        self.assertEqual((r.returncode, r.stdout), (0, "renewed lease %s on orders\n" % lease_id))
        r = ctl("renew", "orders", "--lease-id", str(uuid.uuid4()))
        self.assertEqual(r.returncode, 2, r.stderr)

        r = ctl("release", "orders", "--lease-id", lease_id)
        self.assertEqual((r.returncode, r.stdout), (0, "released lease %s on orders\n" % lease_id))
        st = status("orders")
        # The metadata outlives the lease: the last epoch and duration stay.
        self.assertEqual((st["held"], st["state"], st["epoch"], st["duration"], st["expiry"]),
                         ("no", "available", "1", "20s", "- (not leased)"))
        r = ctl("leader", "orders")
        self.assertEqual((r.returncode, r.stdout), (3, "nobody leads orders\n"))

        r = ctl("acquire", "orders", "--duration", "15")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith(" on orders (epoch 2)\n"), r.stdout)
        self.assertEqual(status("orders")["duration"], "15s")

    def test_infinite_lease_until_broken(self):
        r = ctl("acquire", "forever", "--duration", "-1")
        self.assertEqual(r.returncode, 0, r.stderr)
        st = status("forever")
        self.assertEqual((st["held"], st["state"], st["duration"], st["expiry"]),
                         ("yes", "leased", "infinite",
                          "never (infinite lease: free only by release or break)"))
        r = ctl("leader", "forever")
        self.assertEqual((r.returncode, r.stdout), (0, st["owner"] + "\n"))
        r = ctl("break", "forever")
        self.assertEqual((r.returncode, r.stdout), (0, "broke lease on forever\n"))
        st = status("forever")
        self.assertEqual((st["held"], st["state"], st["expiry"]), ("no", "broken", "- (not leased)"))
        r = ctl("acquire", "forever", "--duration", "30")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith(" on forever (epoch 2)\n"), r.stdout)


if __name__ == "__main__":
    if not os.access(LEASECTL, os.X_OK):
        print("skipped: %s not built" % LEASECTL)
        sys.exit(77)
    unittest.main(verbosity=2, argv=sys.argv[:1])
