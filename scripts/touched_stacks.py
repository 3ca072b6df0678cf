"""Which stacks a change touches, for the pull-request previews: prints a JSON list.

    python3 scripts/touched_stacks.py FILE...      # the files the change touches

A stack file touches only its stack; code, pins, the project file and what deploys
it (scripts, workflows) touch every stack; docs, examples and tests touch none
(the credential-free job covers them).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STACK_FILE = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$")
# What the stack program is made of: a change here can change what any stack deploys.
PROGRAM = (
    "components/",
    "infra/",
    "policy/",
    "scripts/",
    ".github/workflows/",
    "Pulumi.yaml",
    "pyproject.toml",
    "requirements.txt",
)


def all_stacks() -> list[str]:
    return sorted(m.group(1) for p in ROOT.iterdir() if (m := STACK_FILE.match(p.name)))


def touched(files: list[str]) -> list[str]:
    stacks = set()
    for file in files:
        match = STACK_FILE.match(file)
        if match:
            stacks.add(match.group(1))
        elif file.startswith(PROGRAM):
            return all_stacks()
    return sorted(s for s in stacks if s in all_stacks())


if __name__ == "__main__":
    print(json.dumps(touched(sys.argv[1:])))
