"""Resources for the policy tests, from real offline plans of this project.

The plans are made by the project's own environment (its .venv, or the python
in LLM_PLATFORM_PYTHON), since the policy pack's environment pins a different
protobuf; here they are read back as the engine would hand them to a policy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
PACK = HERE.parent
REPO = PACK.parent
sys.path.insert(0, str(PACK))

from pulumi_policy import (  # noqa: E402
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy  # noqa: E402


def project_python() -> str:
    return os.environ.get("LLM_PLATFORM_PYTHON", str(REPO / ".venv" / "bin" / "python"))


@pytest.fixture(scope="session")
def plan(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], list[dict[str, Any]]]:
    made: dict[str, list[dict[str, Any]]] = {}

    def records(stack: str) -> list[dict[str, Any]]:
        if stack not in made:
            out = tmp_path_factory.mktemp("plan") / stack
            result = subprocess.run(
                [project_python(), "-m", "infra", "plan", "--stack", stack, "--out", str(out)],
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert result.returncode == 0, result.stderr
            made[stack] = json.loads((out / "resources.json").read_text())
        return json.loads(json.dumps(made[stack]))  # a copy each test may change

    return records


def options(record: dict[str, Any]) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=record["protect"],
        ignore_changes=record["ignoreChanges"],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=record["parent"],
    )


def resource_args(record: dict[str, Any]) -> ResourceValidationArgs:
    """As pulumi-policy's analyzer hands a resource to a policy: props behind its proxy, which
    raises UnknownValueError on a value the preview does not know."""
    return ResourceValidationArgs(
        resource_type=record["type"],
        props=unknown_checking_proxy(record["props"]),
        urn=record["urn"],
        name=record["name"],
        opts=options(record),
        provider=None,
    )


def stack_args(records: list[dict[str, Any]]) -> StackValidationArgs:
    """Every resource with its parent and dependencies linked, as the engine links them."""
    resources = {
        r["urn"]: PolicyResource(
            r["type"], unknown_checking_proxy(r["props"]), r["urn"], r["name"], options(r), None, None, [], {}
        )
        for r in records
    }
    for r in records:
        made = resources[r["urn"]]
        made.parent = resources.get(r["parent"]) if r["parent"] else None
        made.dependencies = [resources[d] for d in r["dependencies"] if d in resources]
    return StackValidationArgs(resources=list(resources.values()))
