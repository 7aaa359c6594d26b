#!/usr/bin/env python3
"""check_schemas.py -- validates the v1 JSON Schemas, their examples and
what the C codec emits, with the standard `jsonschema` validator
(Draft 2020-12).

  check_schemas.py [EMITTER]

Checks, failing with a list of every problem found:
  * each schemas/v1/*.schema.json is itself a valid 2020-12 schema;
  * each examples/valid/<schema>.<case>.json validates against
    <schema>.schema.json, each examples/invalid/... does not (a file that is
    not even JSON counts as invalid); every schema but common has both kinds;
  * schemas/v2 (the paged state layout): each examples/valid/*.blob splits
    into a head that validates against product-state-head.schema.json and
    the pages it lists, each validating as a ledger or reservation page
    (counts, byte lengths, block numbers below nextBlock, nothing left
    over); each examples/invalid/*.blob fails one of these;
  * with EMITTER (the inv_emit_examples program): every line it prints,
    "<schema>\t<json>", validates, and every command and event type and
    every document kind appears.
Schemas reference each other by relative $id ("common.schema.json#/..."),
resolved through a `referencing` registry holding all of them.
"""
import json
import os
import pathlib
import subprocess
import sys

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

SOURCE = pathlib.Path(os.environ.get("LEASEHOLD_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
V1 = SOURCE / "schemas" / "v1"
V2 = SOURCE / "schemas" / "v2"
COMMAND_TYPES = {"reserve", "release", "restock", "expire"}
EVENT_TYPES = {"reservation.created", "reservation.rejected", "reservation.released", "release.rejected",
               "reservation.expired", "stock.restocked", "restock.rejected"}


def load_v2_schemas():
    return {path.name[: -len(".schema.json")]: json.loads(path.read_text())
            for path in sorted(V2.glob("*.schema.json"))}


def load_schemas():
    """The v1 schemas by name, and a registry that also resolves schemas/v2."""
    schemas = {}
    for path in sorted(V1.glob("*.schema.json")):
        schemas[path.name[: -len(".schema.json")]] = json.loads(path.read_text())
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s))
        for s in list(schemas.values()) + list(load_v2_schemas().values()))
    return schemas, registry


def v2_blob_problems(blob, v2, registry):
    """Why a paged state blob is invalid (empty list: valid)."""
    try:
        text = blob.decode("utf-8")
        head, end = json.JSONDecoder().raw_decode(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"head is not JSON: {exc}"]
    errors = [e.message for e in
              Draft202012Validator(v2["product-state-head"], registry=registry).iter_errors(head)]
    if errors:
        return errors
    page_schema = v2["product-state-page"]
    at = len(text[:end].encode("utf-8"))
    for key, kind in (("ledgerPages", "ledgerPage"), ("reservationPages", "reservationPage")):
        validator = Draft202012Validator({"$ref": page_schema["$id"] + "#/$defs/" + kind},
                                         registry=registry)
        for i, page in enumerate(head[key]):
            if page["block"] >= head["nextBlock"]:
                return [f"{key}[{i}]: block not below nextBlock"]
            if at + page["bytes"] > len(blob):
                return [f"{key}[{i}]: ends past the blob"]
            try:
                items = json.loads(blob[at:at + page["bytes"]])
            except json.JSONDecodeError as exc:
                return [f"{key}[{i}]: not JSON: {exc}"]
            errors = [e.message for e in validator.iter_errors(items)]
            if errors:
                return errors
            if len(items) != page["count"]:
                return [f"{key}[{i}]: {len(items)} entries, count says {page['count']}"]
            at += page["bytes"]
    return [] if at == len(blob) else [f"{len(blob) - at} bytes after the last page"]


def check_v2_examples(v2, registry, problems):
    n = 0
    for kind in ("valid", "invalid"):
        for path in sorted((V2 / "examples" / kind).glob("*.blob")):
            n += 1
            errors = v2_blob_problems(path.read_bytes(), v2, registry)
            if kind == "valid" and errors:
                problems.append(f"v2 valid/{path.name}: rejected: {errors[0]}")
            if kind == "invalid" and not errors:
                problems.append(f"v2 invalid/{path.name}: accepted")
    if n < 2:
        problems.append("v2: no examples")
    return n


def validator_for(schemas, registry, name):
    if name not in schemas:
        return None
    return Draft202012Validator(schemas[name], registry=registry)


def check_examples(schemas, registry, problems):
    counts = {name: {"valid": 0, "invalid": 0} for name in schemas if name != "common"}
    for kind in ("valid", "invalid"):
        for path in sorted((V1 / "examples" / kind).glob("*.json")):
            name = path.name.split(".", 1)[0]
            validator = validator_for(schemas, registry, name)
            if validator is None:
                problems.append(f"{kind}/{path.name}: no schema {name}.schema.json")
                continue
            counts[name][kind] += 1
            try:
                doc = json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                if kind == "valid":
                    problems.append(f"valid/{path.name}: not JSON: {exc}")
                continue
            errors = [e.message for e in validator.iter_errors(doc)]
            if kind == "valid" and errors:
                problems.append(f"valid/{path.name}: rejected: {errors[0]}")
            if kind == "invalid" and not errors:
                problems.append(f"invalid/{path.name}: accepted")
    for name, c in counts.items():
        for kind in ("valid", "invalid"):
            if c[kind] == 0:
                problems.append(f"{name}: no {kind} example")
    return sum(c["valid"] + c["invalid"] for c in counts.values())


def check_emitted(emitter, schemas, registry, problems):
    out = subprocess.run([emitter], check=True, capture_output=True, text=True).stdout
    seen_kinds, seen_types, n = set(), set(), 0
    for lineno, line in enumerate(out.splitlines(), 1):
        name, _, text = line.partition("\t")
        validator = validator_for(schemas, registry, name)
        if validator is None:
            problems.append(f"emitted line {lineno}: unknown schema {name!r}")
            continue
        doc = json.loads(text)
        n += 1
        seen_kinds.add(name)
        if "type" in doc:
            seen_types.add(doc["type"])
        for event in doc.get("outbox", []):
            seen_types.add(event["type"])
        for error in validator.iter_errors(doc):
            problems.append(f"emitted line {lineno} ({name}): {error.message}")
    for kind in set(schemas) - {"common"} - seen_kinds:
        problems.append(f"emitter printed no {kind} document")
    for t in (COMMAND_TYPES | EVENT_TYPES) - seen_types:
        problems.append(f"emitter printed no {t!r} document")
    return n


def main():
    schemas, registry = load_schemas()
    v2 = load_v2_schemas()
    problems = []
    for name, schema in list(schemas.items()) + list(v2.items()):
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # SchemaError: report and go on
            problems.append(f"{name}.schema.json: not a valid schema: {exc}")
    n_examples = check_examples(schemas, registry, problems)
    n_examples += check_v2_examples(v2, registry, problems)
    n_emitted = check_emitted(sys.argv[1], schemas, registry, problems) if len(sys.argv) > 1 else 0
    for p in problems:
        print(f"FAIL {p}")
    print(f"{len(schemas) + len(v2)} schemas, {n_examples} examples, {n_emitted} emitted documents, "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
