"""Kubernetes object pieces shared by the components."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.versions import HelmChart


def meta(
    name: str,
    namespace: pulumi.Input[str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: Mapping[str, pulumi.Input[str]] | None = None,
) -> dict[str, Any]:
    """metadata with an explicit name: physical names come from the component's name."""
    out: dict[str, Any] = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    if labels:
        out["labels"] = labels
    if annotations:
        out["annotations"] = dict(annotations)
    return out


# checkov findings the platform accepts, each with the reason written on the object.
PINNED_TAG = (
    "CKV_K8S_43",
    "images are pinned to release tags in components/versions.py; registry digests are not resolvable offline",
)
PULL_IF_NOT_PRESENT = (
    "CKV_K8S_15",
    "release tags are immutable; Always would ask the registry (rate-limited Docker Hub) on every start and make starts depend on it",
)


def checkov_skips(*skips: tuple[str, str]) -> dict[str, str]:
    """Annotations that skip checkov checks on this object, with their reasons."""
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(skips, start=1)}


INSTALLED_BY = "llm-platform.io/installed-by"


def installed_by(release: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """An annotation naming the Helm release that installs this object's CRD.

    Reading the release's name output makes Pulumi create the object only after
    the release (and its CRDs) exist, without a resource reference as input: a
    component hosted for other languages can take only plain values and outputs.
    """
    return {INSTALLED_BY: release}


def helm_release(
    resource_name: str,
    chart: HelmChart,
    *,
    name: str,
    namespace: pulumi.Input[str],
    values: pulumi.Input[Any],
    opts: pulumi.ResourceOptions,
    timeout: int = 600,
) -> k8s.helm.v3.Release:
    """Release `name` of the pinned `chart`: atomic (a failed install or upgrade rolls back and
    fails the update), cleaned up on failure, five revisions kept for `helm rollback`."""
    return k8s.helm.v3.Release(
        resource_name,
        name=name,
        chart=chart.name,
        version=chart.version,
        repository_opts={"repo": chart.repository},
        namespace=namespace,
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        max_history=5,
        timeout=timeout,
        opts=opts,
    )
