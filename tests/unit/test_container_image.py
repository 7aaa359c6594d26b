#!/usr/bin/env python3
"""test_container_image.py -- deploy/docker/Dockerfile stays in step with
the code, without a container engine (none runs on the development
machines):

- the runtime stage installs a Debian package for every shared library the
  built programs link (readelf NEEDED -> ldconfig -> dpkg -S), libc6 aside;
- the build stage installs the -dev package behind every pkg-config module
  CMakeLists.txt requires;
- it copies exactly the programs deploy/k8s starts, and runs as the user
  the manifests demand (runAsUser / runAsGroup).

Needs the default build (LEASEHOLD_BIN) and dpkg; skipped (77) otherwise."""
import os
import re
import shutil
import subprocess
import sys
import unittest

SOURCE = os.environ.get("LEASEHOLD_SOURCE_DIR",
                        os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BIN = os.environ.get("LEASEHOLD_BIN", os.path.join(SOURCE, "build", "bin"))
PROGRAMS = ["inventory-worker", "inventory-producer", "leasectl"]
BASE_IMAGE_PACKAGES = {"libc6"}  # in debian:12-slim already


def read(*parts):
    with open(os.path.join(SOURCE, *parts)) as f:
        return f.read()


def stages():
    """The Dockerfile's stages as lists of logical lines (continuations joined)."""
    text = re.sub(r"\\\n", " ", read("deploy", "docker", "Dockerfile"))
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            out.append([])
        out[-1].append(line)
    return out


def apt_packages(stage):
    pkgs = set()
    for line in stage:
        for m in re.finditer(r"apt-get install ([^&]*)", line):
            pkgs |= {w for w in m.group(1).split() if not w.startswith("-")}
    return pkgs


def owner(path):
    """The Debian package owning a library path (usrmerge: try both spellings)."""
    for p in (path, os.path.realpath(path), "/usr" + path, path.replace("/usr/lib", "/lib", 1)):
        r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0]
    raise AssertionError("no package owns " + path)


class ContainerImage(unittest.TestCase):
    def test_runtime_stage_has_every_linked_library(self):
        runtime = apt_packages(stages()[-1])
        cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
        for prog in PROGRAMS:
            dyn = subprocess.run(["readelf", "-d", os.path.join(BIN, prog)],
                                 capture_output=True, text=True, check=True).stdout
            for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn):
                m = re.search(r"^\s*%s \(.*x86-64.*\) => (\S+)$" % re.escape(soname), cache, re.M)
                self.assertIsNotNone(m, "%s: %s not in the linker cache" % (prog, soname))
                pkg = owner(m.group(1)).split(",")[0]
                self.assertIn(pkg, runtime | BASE_IMAGE_PACKAGES,
                              "%s links %s from package %s, which the runtime stage lacks"
                              % (prog, soname, pkg))

    def test_build_stage_has_every_required_module(self):
        build = apt_packages(stages()[0])
        modules = re.findall(r"pkg_check_modules\(\w+ REQUIRED IMPORTED_TARGET (\S+)\)",
                             read("CMakeLists.txt"))
        self.assertEqual(len(modules), 6)
        for mod in modules:
            pcdir = subprocess.run(["pkg-config", "--variable=pcfiledir", mod],
                                   capture_output=True, text=True, check=True).stdout.strip()
            pkg = owner(os.path.join(pcdir, mod + ".pc"))
            self.assertIn(pkg, build, "pkg-config module %s comes from %s" % (mod, pkg))
        self.assertTrue({"build-essential", "cmake", "pkg-config"} <= build)

    def test_programs_and_user_match_the_manifests(self):
        runtime = stages()[-1]
        copy = [l for l in runtime if l.startswith("COPY --from=build")]
        self.assertEqual(len(copy), 1)
        words = copy[0].split()
        self.assertEqual(words[-1], "/usr/local/bin/")
        self.assertEqual([os.path.basename(w) for w in words[2:-1]], PROGRAMS)
        manifests = read("deploy", "k8s", "worker.yaml") + read("deploy", "k8s", "gateway.yaml")
        started = set(re.findall(r'command: \["/usr/local/bin/([^"]+)"', manifests))
        self.assertEqual(started, {"inventory-worker", "inventory-producer"})
        self.assertEqual(set(re.findall(r"runAsUser: (\d+)", manifests)), {"10001"})
        self.assertEqual(set(re.findall(r"runAsGroup: (\d+)", manifests)), {"10001"})
        self.assertIn("USER 10001:10001", runtime)
        self.assertIn('CMD ["/usr/local/bin/inventory-worker"]', runtime)


if __name__ == "__main__":
    if not shutil.which("dpkg") or not all(os.access(os.path.join(BIN, p), os.X_OK)
                                           for p in PROGRAMS):
        print("skipped: needs dpkg and the programs in " + BIN)
        sys.exit(77)
    unittest.main(verbosity=2, argv=sys.argv[:1])
