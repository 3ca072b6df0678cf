"""Kubernetes object pieces shared by the components."""

from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components.core.charts import local_chart_problem, repository_problem
from components.versions import HelmChart

# What Kubernetes refuses to change on a StorageClass. A change to any of them (protect
# flips reclaimPolicy) must replace the class, and delete it first: the name stays the same.
# Deleting a StorageClass leaves the volumes made from it as they are.
STORAGE_CLASS_IMMUTABLE = ["provisioner", "parameters", "reclaimPolicy", "volumeBindingMode", "mountOptions"]


def storage_class_options(opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(replace_on_changes=STORAGE_CLASS_IMMUTABLE, delete_before_replace=True)
    )


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


class ChartSourceArgs(TypedDict, total=False):
    """Where a pinned Helm chart is installed from instead of its public repository: a mirror or a local chart (at most one; neither: the public repository)."""

    repository: str
    """A mirror of the chart's repository, https:// (a Helm repository such as ChartMuseum or Artifactory) or oci:// (a registry holding <repository>/<chart>): the same chart at its pinned version."""
    path: str
    """A local chart instead: a chart directory or a packaged .tgz. Give an absolute path: a relative one is read from the working directory of each process (the program's, the Kubernetes provider's, and for a hosted component the host's). Its Chart.yaml must name the pinned chart and version (checked before anything is created)."""
    allow_version_mismatch: bool
    """Install the local chart at path whatever its name and version: for a stand-in chart in tests, never for a real cluster. The release then also gets the value standsInFor: <pinned chart name>."""


def chart_location(chart: HelmChart, source: ChartSourceArgs | None = None) -> dict[str, Any]:
    """The Release arguments (chart, version, repository_opts) that install the pinned `chart`
    from `source`. Raises ValueError for a source that would not install the pinned chart."""
    source = source or {}
    repository, path = source.get("repository"), source.get("path")
    if repository is not None and path is not None:
        raise ValueError(f"{chart.name} chart: set repository or path, not both")
    if path is not None:
        # Helm installs a local chart as it is and ignores `version`: the check is ours.
        problem = local_chart_problem(
            Path(path), chart.name, chart.version, source.get("allow_version_mismatch", False)
        )
        if problem is not None:
            raise ValueError(f"{chart.name} chart: {problem}")
        return {"chart": path}
    if source.get("allow_version_mismatch"):
        raise ValueError(f"{chart.name} chart: allow_version_mismatch applies only to a local chart (path)")
    repo = chart.repository if repository is None else repository
    problem = repository_problem(repo)
    if problem is not None:
        raise ValueError(f"{chart.name} chart: {problem}")
    if repo.startswith("oci://"):
        # An OCI chart is addressed by its full reference; Helm's repository options are for index.yaml repositories.
        return {"chart": f"{repo.rstrip('/')}/{chart.name}", "version": chart.version}
    return {"chart": chart.name, "version": chart.version, "repository_opts": {"repo": repo}}


def helm_release(
    resource_name: str,
    chart: HelmChart,
    *,
    name: str,
    namespace: pulumi.Input[str],
    values: pulumi.Input[Any],
    opts: pulumi.ResourceOptions,
    source: ChartSourceArgs | None = None,
    timeout: int = 600,
) -> k8s.helm.v3.Release:
    """Release `name` of the pinned `chart` (from its public repository, or from `source`): atomic
    (a failed install or upgrade rolls back and fails the update), cleaned up on failure, five
    revisions kept for `helm rollback`."""
    location = chart_location(chart, source)
    if source and source.get("allow_version_mismatch"):
        values = pulumi.Output.from_input(values).apply(lambda v: {**v, "standsInFor": chart.name})
    return k8s.helm.v3.Release(
        resource_name,
        name=name,
        **location,
        namespace=namespace,
        values=values,
        atomic=True,
        cleanup_on_fail=True,
        max_history=5,
        timeout=timeout,
        opts=opts,
    )
