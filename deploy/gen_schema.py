"""Write ``deploy/policy.schema.json``: the policy file's JSON schema, from :class:`router.policy.Policy`.

    python deploy/gen_schema.py          # rewrite the file
    python deploy/gen_schema.py --check  # exit 1 if the committed file is stale

Editors use it for completion and checks in ``policy.yaml`` (``# yaml-language-server: $schema=...``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().parent / "policy.schema.json"


def policy_schema() -> dict[str, Any]:
    """The schema pydantic derives for :class:`router.policy.Policy`, with a dialect and a title."""
    from router.policy import Policy

    schema = Policy.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "thinkgate policy file",
    }


def render() -> str:
    return json.dumps(policy_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the committed schema is stale")
    ns = parser.parse_args(argv)
    text = render()
    if ns.check:
        current = SCHEMA_PATH.read_text(encoding="utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is stale: run python deploy/gen_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
