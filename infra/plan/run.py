"""Run the stack program under Pulumi's mock engine and collect what it registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import mocks, set_all_config
from pulumi.runtime.settings import ROOT, SETTINGS, get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.plan.mocks import PlatformMocks, RecordingMonitor, Registration
from infra.plan.secrets import REDACTED


@dataclass
class ProgramRun:
    registrations: list[Registration]
    stack_outputs: dict[str, Any]
    """Exported values; secret ones are "[secret]"."""


def run_program(
    program: Callable[[], None],
    *,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: frozenset[str] = frozenset(),
    mock: PlatformMocks | None = None,
) -> ProgramRun:
    """Run `program` as `pulumi up` would, against mocks, and return every registration."""
    monitor = RecordingMonitor(mock or PlatformMocks())
    set_all_config(dict(config), sorted(secret_keys))
    ROOT.set(None)  # a fresh stack resource for every run, as in a fresh process
    mocks.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    # The mock settings keep the previous run's set of pending outputs; a failed run leaves
    # its failures there, and the next run would wait on them and fail with them.
    SETTINGS.outputs.clear()
    outputs: dict[str, Any] = {}

    async def collect_outputs() -> None:
        root = get_root_resource()
        for key, value in getattr(root, "outputs", {}).items():
            out = pulumi.Output.from_input(value)
            outputs[key] = REDACTED if await out.is_secret() else await out.future()

    def body() -> Any:
        program()
        return collect_outputs()

    _sync_await(run_pulumi_func(body))
    # The engine's registration order depends on thread scheduling; URN order does not,
    # so two plans of the same config are byte-for-byte equal.
    ordered = sorted(monitor.registrations.values(), key=lambda r: r.urn)
    return ProgramRun(registrations=ordered, stack_outputs=outputs)
