"""GpuNodePool: GPU nodes only GPU pods land on, and a placement that matches them exactly."""

from __future__ import annotations

from typing import Any

import pytest

from components import GpuNodePool
from components.core.placement import GPU_TAINT_KEY
from components.gpu_node_pool import GPU_AMI_TYPE
from tests.conftest import RunPulumi
from tests.graph import Graph, on_aws, policy, props


def build(run_pulumi: RunPulumi, **overrides: Any) -> tuple[Graph, GpuNodePool]:
    made: dict[str, GpuNodePool] = {}
    args: dict[str, Any] = {
        "cluster_name": "llm-test",
        "subnet_ids": ["subnet-0a", "subnet-0b"],
        "instance_types": ["g6e.12xlarge"],
        "capacity_type": "SPOT",
        "min_size": 0,
        "max_size": 3,
        "root_volume_gib": 300,
        "pool_label": "l40s",
        **overrides,
    }

    def program() -> None:
        made["pool"] = GpuNodePool("llm-test-l40s", args, on_aws())  # type: ignore[arg-type]

    return run_pulumi(program), made["pool"]


@pytest.fixture
def built(run_pulumi: RunPulumi) -> tuple[Graph, GpuNodePool]:
    return build(run_pulumi)


def test_nodes_are_tainted_and_labelled_as_the_placement_says(built: tuple[Graph, GpuNodePool]) -> None:
    graph, pool = built
    group = props(graph.one("eks/nodeGroup:NodeGroup"))
    assert group["amiType"] == GPU_AMI_TYPE == "AL2023_x86_64_NVIDIA"
    assert group["taints"] == [{"key": GPU_TAINT_KEY, "value": "true", "effect": "NO_SCHEDULE"}]
    # every toleration matches a taint the nodes carry, and the selector matches their labels
    for toleration in pool.gpu_placement.tolerations:
        assert {
            "key": toleration["key"],
            "value": toleration["value"],
            "effect": "NO_SCHEDULE" if toleration["effect"] == "NoSchedule" else toleration["effect"],
        } in group["taints"]
    assert pool.gpu_placement.node_selector.items() <= group["labels"].items()
    assert group["labels"]["llm-platform.io/gpu-model"] == "l40s"


def test_placement_describes_the_gpu_shape(built: tuple[Graph, GpuNodePool]) -> None:
    _, pool = built
    p = pool.gpu_placement
    assert (p.pool, p.gpu_model, p.gpus_per_node, p.gpu_memory_mib) == ("l40s", "L40S", 4, 45_776)
    assert (p.vcpu_per_node, p.memory_gib_per_node) == (48, 384)


def test_group_sizes_capacity_and_autoscaler_ownership(built: tuple[Graph, GpuNodePool]) -> None:
    graph, _ = built
    group = graph.one("eks/nodeGroup:NodeGroup")
    assert props(group)["capacityType"] == "SPOT"
    assert props(group)["instanceTypes"] == ["g6e.12xlarge"]
    assert props(group)["scalingConfig"] == {"minSize": 0, "maxSize": 3, "desiredSize": 0}
    assert group.ignore_changes == ["scalingConfig.desiredSize"]
    assert props(group)["nodeRepairConfig"] == {"enabled": True}


def test_timeouts_allow_for_slow_gpu_capacity(built: tuple[Graph, GpuNodePool]) -> None:
    graph, _ = built
    timeouts = graph.one("eks/nodeGroup:NodeGroup").custom_timeouts
    assert timeouts == {"create": "60m", "update": "120m", "delete": "60m"}


def test_launch_template_requires_imdsv2_and_encrypts_a_fast_root_volume(
    built: tuple[Graph, GpuNodePool],
) -> None:
    graph, _ = built
    template = props(graph.one("ec2/launchTemplate:LaunchTemplate"))
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
        "instanceMetadataTags": "disabled",
    }
    assert "imageId" not in template  # the node group chooses the AMI by its type
    (disk,) = template["blockDeviceMappings"]
    assert disk["ebs"] == {
        "volumeSize": 300,
        "volumeType": "gp3",
        "iops": 6000,
        "throughput": 500,
        "encrypted": "true",
        "deleteOnTermination": "true",
    }


def test_node_role_holds_only_the_node_policies(built: tuple[Graph, GpuNodePool]) -> None:
    graph, _ = built
    role = graph.one("iam/role:Role")
    assert policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = sorted(
        a.props["policyArn"] for a in graph.of_type("iam/rolePolicyAttachment:RolePolicyAttachment")
    )
    assert attached == [
        "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
        "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    ]
    group = graph.one("eks/nodeGroup:NodeGroup")
    for attachment in graph.of_type("iam/rolePolicyAttachment:RolePolicyAttachment"):
        assert graph.depends_on(group, attachment)


def test_placement_is_a_component_output(built: tuple[Graph, GpuNodePool]) -> None:
    graph, pool = built
    outputs = graph.one("llmplatform:index:GpuNodePool").outputs
    p = pool.gpu_placement
    assert outputs["placement"] == {
        "pool": "l40s",
        "node_selector": p.node_selector,
        "tolerations": p.tolerations,
        "gpu_model": "L40S",
        "gpus_per_node": 4,
        "gpu_memory_mib": 45_776,
    }
    assert outputs["placement"]["tolerations"][0]["key"] == GPU_TAINT_KEY


def test_launched_instances_volumes_and_interfaces_carry_the_cost_tags(run_pulumi: RunPulumi) -> None:
    tags = {"project": "llm-platform", "stack": "test", "cost-center": "ml"}
    graph, _ = build(run_pulumi, node_tags=tags)
    specs = {
        s["resourceType"]: s["tags"]
        for s in props(graph.one("ec2/launchTemplate:LaunchTemplate"))["tagSpecifications"]
    }
    assert specs == {
        kind: {**tags, "Name": "llm-test-l40s"} for kind in ("instance", "volume", "network-interface")
    }
