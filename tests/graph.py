"""Query helpers over the registrations one mocked Pulumi run produced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from infra.plan.mocks import Registration
from infra.plan.run import ProgramRun
from infra.plan.secrets import redact
from infra.plan.write import plain


@dataclass
class Graph:
    run: ProgramRun

    @property
    def resources(self) -> list[Registration]:
        return self.run.registrations

    @property
    def outputs(self) -> dict[str, Any]:
        return self.run.stack_outputs

    def __iter__(self) -> Iterator[Registration]:
        return iter(self.resources)

    def of_type(self, suffix: str) -> list[Registration]:
        """Registrations whose type token ends with `suffix` (e.g. "eks/nodeGroup:NodeGroup")."""
        return [r for r in self.resources if r.type.endswith(suffix)]

    def one(self, suffix: str, name: str | None = None) -> Registration:
        found = [r for r in self.of_type(suffix) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {suffix} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def depends_on(self, r: Registration, other: Registration) -> bool:
        """True when `r` waits for `other`, directly or through a chain of dependencies."""
        seen: set[str] = set()
        todo = list(r.dependencies)
        while todo:
            urn = todo.pop()
            if urn == other.urn:
                return True
            if urn not in seen:
                seen.add(urn)
                todo.extend(self.by_urn(urn).dependencies)
        return False

    def descendants(self, component: Registration) -> list[Registration]:
        below: list[Registration] = []
        frontier = {component.urn}
        for r in self.resources:
            if r.parent in frontier:
                below.append(r)
                frontier.add(r.urn)
        return below


def props(r: Registration) -> dict[str, Any]:
    """Inputs as written to resources.json: secrets redacted, numbers as the provider reads them."""
    return plain(redact(r.props))  # type: ignore[no-any-return]


def policy(r: Registration, key: str) -> dict[str, Any]:
    """A JSON policy document property, parsed."""
    return json.loads(r.props[key])  # type: ignore[no-any-return]


def on_aws() -> Any:
    """Options giving a component an explicit AWS provider, as infra/ does (call inside a run)."""
    import pulumi
    import pulumi_aws as aws

    return pulumi.ResourceOptions(providers=[aws.Provider("aws", region="us-east-1")])


def on_k8s() -> Any:
    """Options giving a component an explicit Kubernetes provider (call inside a run)."""
    import pulumi
    import pulumi_kubernetes as k8s

    return pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="{}")])
