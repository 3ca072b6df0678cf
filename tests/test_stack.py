"""The whole program for dev and prod: providers, ordering, protection and the environments' differences."""

from __future__ import annotations

import yaml

from infra.plan.mocks import Registration
from tests.conftest import REPO
from tests.graph import Graph, props


def _provider_type(g: Graph, r: Registration) -> str:
    assert r.provider, f"{r.type} {r.name} has no explicit provider"
    return g.by_urn(r.provider.rsplit("::", 1)[0]).type


def test_project_disables_default_providers_and_runs_infra() -> None:
    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "llm-platform"
    assert project["main"] == "infra/"
    assert project["runtime"]["name"] == "python"
    assert project["runtime"]["options"]["virtualenv"] == ".venv"
    assert project["config"]["pulumi:disable-default-providers"]["value"] == ["*"]
    assert project["description"]


def test_every_resource_names_its_provider(stack_graph: Graph) -> None:
    for r in stack_graph:
        if not r.custom or r.is_provider:
            continue
        expected = "pulumi:providers:" + r.type.split(":")[0]
        assert _provider_type(stack_graph, r) == expected, r.urn


def test_kubernetes_objects_wait_for_cluster_access_and_dns(stack_graph: Graph) -> None:
    association = stack_graph.of_type("eks/accessPolicyAssociation:AccessPolicyAssociation")[0]
    for r in stack_graph:
        if r.custom and r.type.startswith("kubernetes:"):
            provider = stack_graph.by_urn(r.provider.rsplit("::", 1)[0])  # type: ignore[union-attr]
            assert stack_graph.depends_on(provider, association)


def test_gpu_node_groups_wait_for_the_cni(stack_graph: Graph) -> None:
    cni = next(a for a in stack_graph.of_type("eks/addon:Addon") if a.props["addonName"] == "vpc-cni")
    gpu_groups = [
        g for g in stack_graph.of_type("eks/nodeGroup:NodeGroup") if g.props["amiType"].endswith("NVIDIA")
    ]
    assert gpu_groups
    for group in gpu_groups:
        assert stack_graph.depends_on(group, cni)
        assert group.ignore_changes == ["scalingConfig.desiredSize"]


def test_dev_is_small_spot_from_zero_and_prod_is_on_demand_and_protected(
    stack_name: str, stack_graph: Graph
) -> None:
    groups = {
        g.props["labels"].get("llm-platform.io/pool"): props(g)
        for g in stack_graph.of_type("eks/nodeGroup:NodeGroup")
    }
    subnets = stack_graph.of_type("ec2/subnet:Subnet")
    nats = stack_graph.of_type("ec2/natGateway:NatGateway")
    endpoint = props(stack_graph.one("eks/cluster:Cluster"))["vpcConfig"]
    assert endpoint["endpointPrivateAccess"] is True
    assert endpoint["publicAccessCidrs"] and "0.0.0.0/0" not in endpoint["publicAccessCidrs"]
    if stack_name == "dev":
        assert groups["l4"]["capacityType"] == "SPOT"
        assert groups["l4"]["instanceTypes"] == ["g6.xlarge"]
        assert groups["l4"]["scalingConfig"]["minSize"] == 0
        assert (len(subnets), len(nats)) == (4, 1)
        assert not any(r.protect for r in stack_graph)
    else:
        gpu = {k: v for k, v in groups.items() if k != "system"}
        assert len(gpu) == 2 and all(g["capacityType"] == "ON_DEMAND" for g in gpu.values())
        assert (len(subnets), len(nats)) == (6, 3)
        protected = {r.type.split(":")[-1] for r in stack_graph if r.protect}
        assert protected == {"Key", "Cluster", "LogGroup", "Bucket", "FileSystem"}


def test_stack_outputs_describe_the_cluster_and_pools(stack_graph: Graph, stack_name: str) -> None:
    outputs = stack_graph.outputs
    assert outputs["clusterName"] == f"llm-platform-{stack_name}"
    assert outputs["clusterEndpoint"].startswith("https://")
    assert outputs["kubeconfig"] == "[secret]"
    for pool in outputs["gpuPools"].values():
        assert pool["placement"]["tolerations"][0]["key"] == "nvidia.com/gpu"
