#!/usr/bin/env python3
"""Checks deploy/k8s: every file parses as YAML, every object is well formed,
and the rules the README states hold (grace period above the drain timeout,
probes on the admin endpoints, a PodDisruptionBudget per Deployment, every
referenced ConfigMap/Secret defined). Exit 0 when all hold; otherwise each
problem is printed and the exit status is 1."""
import pathlib
import re
import sys

import yaml

HERE = pathlib.Path(__file__).resolve().parent


def load_objects():
    objects = []
    kustomization = yaml.safe_load((HERE / "kustomization.yaml").read_text())
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((HERE / name).read_text()):
            if doc is not None:
                objects.append((name, doc))
    return objects


def duration_seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)?", text)
    if not m:
        raise ValueError(f"not a duration: {text!r}")
    value, unit = int(m.group(1)), m.group(2) or "ms"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def check(objects):
    problems = []
    by_kind = {}
    for source, obj in objects:
        for field in ("apiVersion", "kind", "metadata"):
            if field not in obj:
                problems.append(f"{source}: object without {field}")
        name = obj.get("metadata", {}).get("name")
        if not name:
            problems.append(f"{source}: {obj.get('kind')} without metadata.name")
        by_kind.setdefault(obj.get("kind"), {})[name] = obj

    config = {}
    for cm in by_kind.get("ConfigMap", {}).values():
        config.update(cm.get("data", {}))

    deployments = by_kind.get("Deployment", {})
    pdbs = by_kind.get("PodDisruptionBudget", {}).values()
    for name, dep in deployments.items():
        labels = dep["spec"]["selector"]["matchLabels"]
        if dep["spec"]["template"]["metadata"]["labels"].items() < labels.items():
            problems.append(f"Deployment {name}: template labels do not match its selector")
        if not any(p["spec"]["selector"]["matchLabels"] == labels for p in pdbs):
            problems.append(f"Deployment {name}: no PodDisruptionBudget selects it")
        pod = dep["spec"]["template"]["spec"]
        for c in pod["containers"]:
            for ref in c.get("envFrom", []):
                kind, ref_name = (("ConfigMap", ref["configMapRef"]["name"]) if "configMapRef" in ref
                                  else ("Secret", ref["secretRef"]["name"]))
                if ref_name not in by_kind.get(kind, {}):
                    problems.append(f"Deployment {name}: {kind} {ref_name} is not defined")
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    problems.append(f"Deployment {name}: container {c['name']} has no {probe}")

    worker = deployments.get("inventory-worker")
    if worker is None:
        problems.append("no Deployment inventory-worker")
    else:
        pod = worker["spec"]["template"]["spec"]
        c = pod["containers"][0]
        if c["livenessProbe"]["httpGet"]["path"] != "/healthz":
            problems.append("inventory-worker: liveness probe must be /healthz")
        if c["readinessProbe"]["httpGet"]["path"] != "/readyz":
            problems.append("inventory-worker: readiness probe must be /readyz")
        drain = duration_seconds(config.get("LEASEHOLD_WORKER_DRAIN_TIMEOUT", "30s"))
        grace = pod.get("terminationGracePeriodSeconds", 30)
        if grace <= drain:
            problems.append(f"inventory-worker: terminationGracePeriodSeconds {grace} must exceed "
                            f"the drain timeout {drain:g}s")
        admin_port = config.get("LEASEHOLD_ADMIN_LISTEN", "").rsplit(":", 1)[-1]
        ports = [str(p["containerPort"]) for p in c.get("ports", [])]
        if admin_port not in ports:
            problems.append(f"inventory-worker: admin port {admin_port!r} is not a container port {ports}")
    return problems


def main():
    problems = check(load_objects())
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s) in {HERE}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
