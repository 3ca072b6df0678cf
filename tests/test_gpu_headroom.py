"""GpuHeadroom: placeholders that hold a replica's room on a pool and give it up to any workload."""

from __future__ import annotations

from typing import Any

import pytest

from components.core.placement import gpu_placement
from components.gpu_headroom import GpuHeadroom, GpuHeadroomArgs
from components.gpu_node_pool import placement_output
from tests.conftest import RunPulumi
from tests.graph import on_k8s, props

L40S = gpu_placement("l40s", ["g6e.xlarge"])
H100 = gpu_placement("h100", ["p5.48xlarge"])


def args(placement: Any, replicas: int, gpus: int, images: list[str]) -> GpuHeadroomArgs:
    return {
        "placement": placement_output(placement),
        "replicas": replicas,
        "gpus": gpus,
        "cpu": "6",
        "memory": "48Gi",
        "images": images,
    }


def test_placeholders_hold_one_replica_on_their_pool_and_keep_every_image(run_pulumi: RunPulumi) -> None:
    def program() -> None:
        opts = on_k8s()
        GpuHeadroom("headroom-l40s", args(L40S, 2, 1, ["vllm:a", "triton:b"]), opts)
        GpuHeadroom("headroom-h100", args(H100, 1, 4, ["vllm:a"]), opts)

    graph = run_pulumi(program)
    by_pool = {props(d)["metadata"]["name"]: props(d) for d in graph.of_type("kubernetes:apps/v1:Deployment")}
    l40s, h100 = by_pool["headroom-l40s"], by_pool["headroom-h100"]
    assert (l40s["spec"]["replicas"], h100["spec"]["replicas"]) == (2, 1)
    for dep, placement, gpus in ((l40s, L40S, "1"), (h100, H100, "4")):
        pod = dep["spec"]["template"]["spec"]
        assert pod["nodeSelector"] == placement.node_selector
        assert pod["tolerations"] == placement.tolerations
        first = pod["containers"][0]["resources"]
        assert first["requests"] == first["limits"] == {"nvidia.com/gpu": gpus, "cpu": "6", "memory": "48Gi"}
        assert pod["terminationGracePeriodSeconds"] == 0
    images = [c["image"] for c in l40s["spec"]["template"]["spec"]["containers"]]
    assert images == ["vllm:a", "triton:b"]
    # Only one container holds the replica's room; the others only keep their image.
    assert "nvidia.com/gpu" not in l40s["spec"]["template"]["spec"]["containers"][1]["resources"]["requests"]
    # Two pools' placeholders never share a namespace, PriorityClass or quota by accident.
    names = [props(r)["metadata"]["name"] for r in graph.of_type("kubernetes:core/v1:Namespace")]
    assert sorted(names) == ["headroom-h100", "headroom-l40s"]


def test_any_workload_preempts_a_placeholder_and_a_placeholder_preempts_nothing(
    run_pulumi: RunPulumi,
) -> None:
    graph = run_pulumi(lambda: GpuHeadroom("headroom-l40s", args(L40S, 1, 1, ["vllm:a"]), on_k8s()))
    priority = props(graph.one("kubernetes:scheduling.k8s.io/v1:PriorityClass"))
    assert priority["value"] < 0  # below the default priority 0 every serving pod has
    assert priority["preemptionPolicy"] == "Never"
    assert priority["globalDefault"] is False
    pod = props(graph.one("kubernetes:apps/v1:Deployment"))["spec"]["template"]["spec"]
    assert pod["priorityClassName"] == priority["metadata"]["name"]


def test_placeholders_sit_outside_the_tenants_with_a_quota_of_exactly_their_gpus(
    run_pulumi: RunPulumi,
) -> None:
    graph = run_pulumi(lambda: GpuHeadroom("headroom-h100", args(H100, 2, 4, ["vllm:a"]), on_k8s()))
    ns = props(graph.one("kubernetes:core/v1:Namespace"))["metadata"]["name"]
    quota = props(graph.one("kubernetes:core/v1:ResourceQuota"))
    assert quota["metadata"]["namespace"] == ns
    assert quota["spec"]["hard"]["requests.nvidia.com/gpu"] == str(2 * 4)
    deny = props(graph.one("kubernetes:networking.k8s.io/v1:NetworkPolicy"))
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert props(graph.one("kubernetes:apps/v1:Deployment"))["metadata"]["namespace"] == ns


@pytest.mark.parametrize(("replicas", "gpus", "images"), [(0, 1, ["v"]), (1, 0, ["v"]), (1, 1, [])])
def test_nonsense_is_refused_before_anything_is_built(
    run_pulumi: RunPulumi, replicas: int, gpus: int, images: list[str]
) -> None:
    with pytest.raises(Exception, match="headroom-l40s"):
        run_pulumi(lambda: GpuHeadroom("headroom-l40s", args(L40S, replicas, gpus, images), on_k8s()))
