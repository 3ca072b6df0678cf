"""Shared fixtures: the recording mock engine and the stack files."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.config import StackConfig, load_stack_config
from infra.plan.mocks import PlatformMocks
from infra.plan.run import run_program
from infra.plan.stackfile import read_stack
from infra.program import main as stack_program
from tests.graph import Graph

REPO = Path(__file__).resolve().parents[1]

RunPulumi = Callable[..., Graph]


@pytest.fixture
def run_pulumi() -> RunPulumi:
    """Run a function as a Pulumi program under the recording mock engine.

    Every registration is kept with its options, and computed outputs (ids,
    ARNs, endpoints, certificate data) look like AWS's, so code that consumes
    them runs as it will for real.
    """

    def run(
        program: Callable[[], None],
        *,
        stack: str = "test",
        config: dict[str, str] | None = None,
        secret_keys: frozenset[str] = frozenset(),
        region: str = "us-east-1",
    ) -> Graph:
        return Graph(
            run_program(
                program,
                project="llm-platform",
                stack=stack,
                config=config or {},
                secret_keys=secret_keys,
                mock=PlatformMocks(region=region),
            )
        )

    return run


def stack_sections(stack: str) -> dict[str, Any]:
    """The llm-platform:* sections of Pulumi.<stack>.yaml as the program sees them, to mutate in tests."""
    return read_stack(REPO, stack).sections("llm-platform")[0]


def stack_config(stack: str) -> StackConfig:
    return load_stack_config(*read_stack(REPO, stack).sections("llm-platform"))


@pytest.fixture(scope="session", params=["dev", "prod"])
def stack_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def stack_graph(run_pulumi: RunPulumi, stack_name: str) -> Graph:
    """The whole stack program of dev or prod, run from its stack file."""
    files = read_stack(REPO, stack_name)
    return run_pulumi(stack_program, stack=stack_name, config=files.config, secret_keys=files.secret_keys)


def plan_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`python -m infra ...` in a child process, exactly as a user or CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "infra", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="session")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The offline plan of a stack, made once per test session by the real command line."""
    made: dict[str, Path] = {}

    def plan(stack: str) -> Path:
        if stack not in made:
            out = tmp_path_factory.mktemp("plan") / stack
            result = plan_cli("plan", "--stack", stack, "--out", str(out))
            assert result.returncode == 0, result.stderr
            made[stack] = out
        return made[stack]

    return plan
