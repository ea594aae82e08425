#!/usr/bin/python3
"""Validates JSON-lines files of lme-ingest events against docs/event.schema.json.

Usage: validate_events.py SCHEMA FILE_OR_DIR...  (a directory: every *.jsonl in it)
A line with "sink" and "reason" is a dead-letter entry: it is validated against
$defs/dead_letter, whose "event" is an event again.
Exit 0 when every event is valid; 1 with each invalid event's file, line and reason; 77 (the
test is skipped) when python3-jsonschema is missing or no event was seen (only tests that read
none ran). Lines that are not JSON objects are
errors too: every line a sink writes is an event."""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("validate_events: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(77)


def files(args):
    for a in args:
        if os.path.isdir(a):
            for name in sorted(os.listdir(a)):
                if name.endswith(".jsonl"):
                    yield os.path.join(a, name)
        else:
            yield a


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    dead = dict(schema)
    dead["$ref"] = "#/$defs/dead_letter"
    dead_validator = jsonschema.Draft202012Validator(dead)
    events = bad = 0
    for path in files(sys.argv[2:]):
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                events += 1
                try:
                    ev = json.loads(raw)
                except ValueError as e:
                    bad += 1
                    print(f"{path}:{n}: not JSON: {e}", file=sys.stderr)
                    continue
                v = dead_validator if isinstance(ev, dict) and "sink" in ev and "reason" in ev \
                    else validator
                for err in v.iter_errors(ev):
                    bad += 1
                    where = "/".join(str(p) for p in err.absolute_path)
                    print(f"{path}:{n}: {where}: {err.message}", file=sys.stderr)
                    break
    print(f"validate_events: {events} events, {bad} invalid")
    if events == 0:  # only tests that read no event ran (ctest -R): nothing to judge
        return 77
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
