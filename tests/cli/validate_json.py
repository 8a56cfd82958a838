#!/usr/bin/python3
"""Validates one JSON document (stdin) against docs/schema/SCHEMA.json.

Usage: validate_json.py SCHEMA_DIR SCHEMA < output.json
Exit 0 and nothing printed when valid; exit 1 with the reasons otherwise.
Uses Debian's python3-jsonschema (4.10 in Debian 12), draft 2020-12.
"""
import json
import pathlib
import sys

import jsonschema


def main() -> int:
    folder = pathlib.Path(sys.argv[1]).resolve()
    schema = json.loads((folder / (sys.argv[2] + ".json")).read_text())
    text = sys.stdin.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        print(f"not one JSON document: {e}: {text[:300]!r}")
        return 1
    # The schemas name each other by file name ("common.json#/$defs/..."):
    # resolved against the folder, so nothing is fetched from anywhere else.
    resolver = jsonschema.RefResolver(base_uri=folder.as_uri() + "/", referrer=schema)
    validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    for error in errors:
        location = "/".join(str(p) for p in error.absolute_path) or "(top)"
        print(f"{location}: {error.message}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
