"""GpuRuntime: the device plugin runs on every GPU pool's nodes and nowhere else."""

from __future__ import annotations

from typing import Any

from components import GpuNodePool, GpuRuntime, versions
from components.core.placement import Placement
from tests.conftest import RunPulumi
from tests.graph import on_aws, on_k8s, props


def _selects(affinity: dict[str, Any], labels: dict[str, str]) -> bool:
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    return any(
        all(labels.get(e["key"]) in e["values"] for e in term["matchExpressions"] if e["operator"] == "In")
        for term in terms
    )


def _tolerates(tolerations: list[dict[str, str]], taint: dict[str, str]) -> bool:
    return any(
        t["key"] == taint["key"]
        and t["effect"] == taint["effect"]
        and (t["operator"] == "Exists" or t.get("value") == taint["value"])
        for t in tolerations
    )


def test_device_plugin_schedules_on_every_gpu_pool_and_not_on_system_nodes(run_pulumi: RunPulumi) -> None:
    placements: list[Placement] = []

    def program() -> None:
        aws_opts = on_aws()
        for name, types in (("a10g", ["g5.xlarge"]), ("h100", ["p5.48xlarge"])):
            pool = GpuNodePool(
                name,
                {"cluster_name": "c", "subnet_ids": ["subnet-0a"], "instance_types": types, "max_size": 1},
                aws_opts,
            )
            placements.append(pool.gpu_placement)
        GpuRuntime("gpu-runtime", {"namespace": "gpu-runtime"}, on_k8s())

    graph = run_pulumi(program)
    values = props(graph.one("helm.sh/v3:Release"))["values"]
    for placement in placements:
        assert _selects(values["affinity"], placement.node_labels)
        assert all(_tolerates(values["tolerations"], t) for t in placement.taints)
    assert not _selects(values["affinity"], {"llm-platform.io/pool": "system"})


def test_release_is_the_pinned_chart_in_a_privileged_namespace_of_its_own(run_pulumi: RunPulumi) -> None:
    graph = run_pulumi(lambda: GpuRuntime("gpu-runtime", {"namespace": "gpu-runtime"}, on_k8s()))
    release = props(graph.one("helm.sh/v3:Release"))
    chart = versions.NVIDIA_DEVICE_PLUGIN
    assert (release["chart"], release["version"], release["repositoryOpts"]["repo"]) == (
        chart.name,
        chart.version,
        chart.repository,
    )
    assert release["namespace"] == "gpu-runtime"
    assert release["atomic"] is True
    namespace = props(graph.one("core/v1:Namespace"))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert release["values"]["gfd"] == {"enabled": False}
