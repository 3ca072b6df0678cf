"""Cluster: encryption, logs, access entries, pinned add-ons in a working order, system nodes, provider."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components import Cluster, versions
from components.cluster import ADMIN_POLICY, CONTROL_PLANE_LOGS
from tests.conftest import RunPulumi
from tests.graph import Graph, on_aws, policy, props
from tests.pod_identity import scoped_to

ADMINS = ["arn:aws:iam::111111111111:role/platform-admin", "arn:aws:iam::111111111111:user/ops"]


def build(run_pulumi: RunPulumi, **overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "subnet_ids": ["subnet-0a", "subnet-0b"],
        "public_access_cidrs": ["203.0.113.0/24"],
        "admin_arns": ADMINS,
        "log_retention_days": 30,
        "system_instance_types": ["m7i.large"],
        "system_min_size": 2,
        "system_max_size": 3,
        "system_desired_size": 2,
        "system_disk_gib": 50,
        **overrides,
    }
    return run_pulumi(lambda: Cluster("llm-test", args, on_aws()))  # type: ignore[arg-type]


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build(run_pulumi)


def test_secrets_are_envelope_encrypted_with_a_rotating_key(graph: Graph) -> None:
    key = graph.one("kms/key:Key")
    cluster = props(graph.one("eks/cluster:Cluster"))
    assert props(key)["enableKeyRotation"] is True
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["encryptionConfig"]["provider"]["keyArn"].startswith("arn:aws:kms:us-east-1:")


def test_all_control_plane_logs_go_to_a_group_with_retention_made_first(graph: Graph) -> None:
    cluster = graph.one("eks/cluster:Cluster")
    logs = graph.one("cloudwatch/logGroup:LogGroup")
    assert sorted(props(cluster)["enabledClusterLogTypes"]) == sorted(CONTROL_PLANE_LOGS)
    assert len(CONTROL_PLANE_LOGS) == 5
    assert props(logs)["name"] == "/aws/eks/llm-test/cluster"
    assert props(logs)["retentionInDays"] == 30
    assert graph.depends_on(cluster, logs)


def test_pinned_kubernetes_version_and_standard_support(graph: Graph) -> None:
    cluster = props(graph.one("eks/cluster:Cluster"))
    assert cluster["version"] == versions.KUBERNETES_VERSION
    assert cluster["upgradePolicy"] == {"supportType": "STANDARD"}


def test_access_is_by_explicit_entries_only(graph: Graph) -> None:
    access = props(graph.one("eks/cluster:Cluster"))["accessConfig"]
    assert access == {"authenticationMode": "API", "bootstrapClusterCreatorAdminPermissions": False}
    entries = {props(e)["principalArn"] for e in graph.of_type("eks/accessEntry:AccessEntry")}
    assert entries == set(ADMINS)
    associations = graph.of_type("eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert {props(a)["principalArn"] for a in associations} == set(ADMINS)
    assert all(props(a)["policyArn"] == ADMIN_POLICY for a in associations)
    assert all(props(a)["accessScope"] == {"type": "cluster"} for a in associations)


def test_endpoint_is_public_only_for_listed_cidrs(run_pulumi: RunPulumi) -> None:
    public = props(build(run_pulumi).one("eks/cluster:Cluster"))["vpcConfig"]
    assert public["endpointPublicAccess"] is True
    assert public["publicAccessCidrs"] == ["203.0.113.0/24"]
    private = props(build(run_pulumi, public_access_cidrs=[]).one("eks/cluster:Cluster"))["vpcConfig"]
    assert private["endpointPublicAccess"] is False
    assert private["endpointPrivateAccess"] is True
    assert "publicAccessCidrs" not in private


def test_core_addons_are_the_pinned_versions(graph: Graph) -> None:
    addons = {props(a)["addonName"]: props(a) for a in graph.of_type("eks/addon:Addon")}
    assert set(addons) == {*versions.EKS_ADDONS, "aws-ebs-csi-driver"}
    for name, pinned in versions.EKS_ADDONS.items():
        assert addons[name]["addonVersion"] == pinned.version
    assert addons["aws-ebs-csi-driver"]["addonVersion"] == versions.EBS_CSI_ADDON.version
    assert json.loads(addons["vpc-cni"]["configurationValues"]) == {"enableNetworkPolicy": "true"}
    assert props(graph.one("eks/cluster:Cluster"))["bootstrapSelfManagedAddons"] is False


def _addon(g: Graph, name: str) -> Any:
    return next(a for a in g.of_type("eks/addon:Addon") if a.props["addonName"] == name)


def test_add_ons_and_nodes_come_up_in_an_order_that_works(graph: Graph) -> None:
    nodes = graph.one("eks/nodeGroup:NodeGroup")
    for early in ("vpc-cni", "kube-proxy", "eks-pod-identity-agent"):
        assert graph.depends_on(nodes, _addon(graph, early)), f"nodes must wait for {early}"
    # CoreDNS is a Deployment: created before any node, it times out DEGRADED.
    assert graph.depends_on(_addon(graph, "coredns"), nodes)
    assert graph.depends_on(_addon(graph, "vpc-cni"), _addon(graph, "eks-pod-identity-agent"))


def test_vpc_cni_has_its_own_pod_identity_role_limited_to_this_cluster(graph: Graph) -> None:
    cni = props(_addon(graph, "vpc-cni"))
    (association,) = cni["podIdentityAssociations"]
    assert association["serviceAccount"] == "aws-node"
    role = next(r for r in graph.of_type("iam/role:Role") if r.state["arn"] == association["roleArn"])
    (statement,) = policy(role, "assumeRolePolicy")["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    cluster_arn = graph.one("eks/cluster:Cluster").state["arn"]
    assert cluster_arn.endswith(":cluster/llm-test")
    assert scoped_to(policy(role, "assumeRolePolicy"), cluster_arn, "kube-system", "aws-node")
    attached = [
        a.props["policyArn"]
        for a in graph.of_type("iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.props["role"] == role.state["name"]
    ]
    assert attached == ["arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy"]


def test_system_nodes_use_a_hardened_launch_template_and_keep_their_size_to_an_autoscaler(
    graph: Graph,
) -> None:
    nodes = graph.one("eks/nodeGroup:NodeGroup")
    template = props(graph.one("ec2/launchTemplate:LaunchTemplate"))
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
    (disk,) = template["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true" and disk["ebs"]["volumeType"] == "gp3"
    assert props(nodes)["amiType"] == "AL2023_x86_64_STANDARD"
    assert props(nodes)["launchTemplate"]["id"].startswith("lt-")
    assert nodes.ignore_changes == ["scalingConfig.desiredSize"]


def test_node_role_has_only_what_a_node_needs(graph: Graph) -> None:
    role = next(r for r in graph.of_type("iam/role:Role") if r.name.endswith("-system-node"))
    assert policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    attached = sorted(
        a.props["policyArn"].rsplit("/", 1)[1]
        for a in graph.of_type("iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.props["role"] == role.state["name"]
    )
    assert attached == ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy"]


def test_provider_authenticates_with_the_callers_identity_and_waits_for_access(graph: Graph) -> None:
    provider = graph.one("pulumi:providers:kubernetes")
    assert props(provider)["kubeconfig"] == "[secret]"
    config = json.loads(provider.props["kubeconfig"]["value"])
    (user,) = config["users"]
    assert "token" not in user["user"]
    assert user["user"]["exec"]["command"] == "aws"
    assert user["user"]["exec"]["args"][:4] == ["eks", "get-token", "--cluster-name", "llm-test"]
    assert config["clusters"][0]["cluster"]["server"].startswith("https://")
    for association in graph.of_type("eks/accessPolicyAssociation:AccessPolicyAssociation"):
        assert graph.depends_on(provider, association)
    assert graph.depends_on(provider, _addon(graph, "coredns"))


def test_kubeconfig_output_is_secret(run_pulumi: RunPulumi) -> None:
    captured: dict[str, Cluster] = {}

    def program() -> None:
        import pulumi

        captured["c"] = cluster = Cluster(
            "llm-test",
            {"subnet_ids": ["subnet-0a"], "admin_arns": ADMINS[:1]},
            on_aws(),
        )
        pulumi.export("kubeconfig", cluster.kubeconfig)
        pulumi.export("endpoint", cluster.endpoint)

    g = run_pulumi(program)
    assert g.outputs["kubeconfig"] == "[secret]"
    assert g.outputs["endpoint"].startswith("https://")


def test_protect_covers_the_stateful_resources_only(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, protect=True)
    protected = {r.type.split(":")[-1] for r in g if r.protect}
    assert protected == {"Key", "Cluster", "LogGroup"}
    assert all(r.retain_on_delete for r in g if r.protect)
    assert props(g.one("eks/cluster:Cluster"))["deletionProtection"] is True
    assert not any(r.protect for r in build(run_pulumi).resources)


def test_default_volumes_are_encrypted_gp3_from_a_driver_with_its_own_role(graph: Graph) -> None:
    sc = graph.one("storage.k8s.io/v1:StorageClass")
    assert props(sc)["provisioner"] == "ebs.csi.aws.com"
    assert props(sc)["parameters"]["type"] == "gp3" and props(sc)["parameters"]["encrypted"] == "true"
    assert props(sc)["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert props(sc)["volumeBindingMode"] == "WaitForFirstConsumer"  # a volume in the zone its pod lands in
    ebs = _addon(graph, "aws-ebs-csi-driver")
    (association,) = props(ebs)["podIdentityAssociations"]
    assert association["serviceAccount"] == "ebs-csi-controller-sa"
    assert graph.depends_on(sc, ebs)
    assert graph.depends_on(ebs, graph.one("eks/nodeGroup:NodeGroup"))


def test_system_nodes_launch_with_the_cost_tags(run_pulumi: RunPulumi) -> None:
    tags = {"project": "llm-platform", "stack": "test", "cost-center": "ml"}
    template = props(build(run_pulumi, node_tags=tags).one("ec2/launchTemplate:LaunchTemplate"))
    specs = {s["resourceType"]: s["tags"] for s in template["tagSpecifications"]}
    assert specs == {
        kind: {**tags, "Name": "llm-test-system"} for kind in ("instance", "volume", "network-interface")
    }


def test_system_node_group_is_an_output_that_resolves_after_the_nodes(graph: Graph) -> None:
    nodes = graph.one("eks/nodeGroup:NodeGroup")
    component = graph.one("llmplatform:index:Cluster")
    assert component.outputs["system_node_group_name"] == nodes.state["nodeGroupName"]
