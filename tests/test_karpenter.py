"""Karpenter: the controller's IAM and interruption path, and the NodePool and EC2NodeClass
of a GPU pool, validated against the pinned upstream CRDs and chart values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import GpuNodePool, Karpenter
from components.core import karpenter as core
from components.core.placement import gpu_placement
from components.versions import KARPENTER_IMAGE_TAG
from tests.conftest import RunPulumi
from tests.crd import validate_custom
from tests.graph import Graph, policy, props
from tests.iam_eval import allows
from tests.pod_identity import may_assume, request
from tests.test_validators import unknown_keys
from tests.upstream import upstream_dir

CLUSTER = "llm-test"
CLUSTER_ARN = f"arn:aws:eks:us-east-1:111111111111:cluster/{CLUSTER}"


def build(run_pulumi: RunPulumi, capacity_type: str = "ON_DEMAND") -> tuple[Graph, GpuNodePool]:
    made: dict[str, GpuNodePool] = {}

    def program() -> None:
        aws_provider = aws.Provider("aws", region="us-east-1")
        kube = k8s.Provider("k8s", kubeconfig="{}")
        both = pulumi.ResourceOptions(providers=[aws_provider, kube])
        karpenter = Karpenter(
            "llm-test-karpenter", {"cluster_name": CLUSTER, "cluster_arn": CLUSTER_ARN}, both
        )
        made["pool"] = GpuNodePool(
            "llm-test-h100",
            {
                "cluster_name": CLUSTER,
                "subnet_ids": ["subnet-0a", "subnet-0b"],
                "instance_types": ["p5.48xlarge"],
                "capacity_type": capacity_type,
                "max_size": 3,
                "root_volume_gib": 500,
                "pool_label": "h100",
                "node_tags": {"project": "llm-platform", "cost-center": "ml"},
                "karpenter": {
                    "release_name": karpenter.release_name,
                    "node_role_name": karpenter.node_role_name,
                    "node_role_arn": karpenter.node_role_arn,
                    "availability_zones": ["us-east-1a", "us-east-1b"],
                    "subnet_tags": {
                        f"kubernetes.io/cluster/{CLUSTER}": "shared",
                        "kubernetes.io/role/internal-elb": "1",
                    },
                    "security_group_tags": {"aws:eks:cluster-name": CLUSTER},
                },
            },
            both,
        )

    return run_pulumi(program), made["pool"]


@pytest.fixture
def built(run_pulumi: RunPulumi) -> tuple[Graph, GpuNodePool]:
    return build(run_pulumi)


def _object(graph: Graph, kind: str) -> dict[str, Any]:
    r = graph.one(kind)
    p = props(r)
    return {"apiVersion": p["apiVersion"], "kind": p["kind"], "metadata": p["metadata"], "spec": p["spec"]}


def test_node_pool_and_node_class_fit_the_pinned_crds(built: tuple[Graph, GpuNodePool]) -> None:
    graph, _ = built
    for kind in ("karpenter.sh/v1:NodePool", "karpenter.k8s.aws/v1:EC2NodeClass"):
        validate_custom(_object(graph, kind))


def test_node_pool_has_the_pools_shape_taint_labels_and_gpu_limit(built: tuple[Graph, GpuNodePool]) -> None:
    graph, pool = built
    spec = _object(graph, "karpenter.sh/v1:NodePool")["spec"]
    template = spec["template"]
    assert template["metadata"]["labels"] == pool.gpu_placement.node_labels
    assert template["metadata"]["labels"]["llm-platform.io/gpu-model"] == "h100"
    assert template["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]
    reqs = {r["key"]: r["values"] for r in template["spec"]["requirements"]}
    assert reqs["node.kubernetes.io/instance-type"] == ["p5.48xlarge"]
    assert reqs["karpenter.sh/capacity-type"] == ["on-demand"]
    assert reqs["topology.kubernetes.io/zone"] == ["us-east-1a", "us-east-1b"]
    assert spec["limits"] == {"nvidia.com/gpu": "24"}  # 3 nodes x 8 GPUs
    assert template["spec"]["expireAfter"] == "720h"
    assert template["spec"]["nodeClassRef"]["name"] == "llm-test-h100"
    # never evicts a serving replica to save money: only empty nodes, one at a time
    assert spec["disruption"]["consolidationPolicy"] == "WhenEmpty"
    assert spec["disruption"]["budgets"] == [{"nodes": "1"}]
    # the placement workloads use selects and tolerates exactly these nodes
    assert pool.gpu_placement.node_selector.items() <= template["metadata"]["labels"].items()


def test_spot_pools_ask_karpenter_for_spot(run_pulumi: RunPulumi) -> None:
    graph, _ = build(run_pulumi, capacity_type="SPOT")
    reqs = _object(graph, "karpenter.sh/v1:NodePool")["spec"]["template"]["spec"]["requirements"]
    assert {"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot"]} in reqs


def test_node_class_pins_the_ami_closes_imds_to_pods_and_encrypts_the_root(
    built: tuple[Graph, GpuNodePool],
) -> None:
    graph, _ = built
    spec = _object(graph, "karpenter.k8s.aws/v1:EC2NodeClass")["spec"]
    assert spec["amiSelectorTerms"] == [{"alias": core.AMI_ALIAS}]
    assert not core.AMI_ALIAS.endswith("@latest")
    assert spec["metadataOptions"]["httpTokens"] == "required"
    assert spec["metadataOptions"]["httpPutResponseHopLimit"] == 1
    [root] = spec["blockDeviceMappings"]
    assert root["rootVolume"] is True
    assert root["ebs"] == {
        "volumeSize": "500Gi",
        "volumeType": "gp3",
        "iops": 6000,
        "throughput": 500,
        "encrypted": True,
        "deleteOnTermination": True,
    }
    assert spec["subnetSelectorTerms"] == [
        {"tags": {f"kubernetes.io/cluster/{CLUSTER}": "shared", "kubernetes.io/role/internal-elb": "1"}}
    ]
    assert spec["securityGroupSelectorTerms"] == [{"tags": {"aws:eks:cluster-name": CLUSTER}}]
    assert spec["tags"] == {"project": "llm-platform", "cost-center": "ml", "Name": "llm-test-h100"}
    role = next(r for r in graph.of_type("iam/role:Role") if r.name == "llm-test-karpenter-node")
    assert spec["role"].startswith("llm-test-karpenter-node") or spec["role"] == props(role).get("name")


def test_node_pool_waits_for_the_release_that_installs_its_crds(built: tuple[Graph, GpuNodePool]) -> None:
    graph, _ = built
    release = graph.one("helm.sh/v3:Release")
    for kind in ("karpenter.sh/v1:NodePool", "karpenter.k8s.aws/v1:EC2NodeClass"):
        assert graph.depends_on(graph.one(kind), release)


def test_nodes_join_through_an_ec2_linux_access_entry(built: tuple[Graph, GpuNodePool]) -> None:
    graph, _ = built
    entry = props(graph.one("eks/accessEntry:AccessEntry"))
    assert entry["type"] == "EC2_LINUX"
    node_role = next(r for r in graph.of_type("iam/role:Role") if r.name == "llm-test-karpenter-node")
    assert json.loads(node_role.props["assumeRolePolicy"])["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }


def test_interruption_queue_is_encrypted_and_fed_by_the_four_event_rules(
    built: tuple[Graph, GpuNodePool],
) -> None:
    graph, _ = built
    queue = props(graph.one("sqs/queue:Queue"))
    assert queue["sqsManagedSseEnabled"] is True
    rules = graph.of_type("cloudwatch/eventRule:EventRule")
    patterns = sorted(json.loads(r.props["eventPattern"])["detail-type"][0] for r in rules)
    assert patterns == [
        "AWS Health Event",
        "EC2 Instance Rebalance Recommendation",
        "EC2 Instance State-change Notification",
        "EC2 Spot Instance Interruption Warning",
    ]
    targets = graph.of_type("cloudwatch/eventTarget:EventTarget")
    assert len(targets) == 4 and all(props(t)["arn"] == queue.get("arn", props(t)["arn"]) for t in targets)
    doc = policy(graph.one("sqs/queuePolicy:QueuePolicy"), "policy")
    queue_arn = "arn:aws:sqs:us-east-1:111111111111:q"
    rule_arn = "arn:aws:events:us-east-1:111111111111:rule/spot"
    text = core.queue_policy(queue_arn, [rule_arn])
    secure = {"aws:SecureTransport": "true", "aws:SourceArn": rule_arn}
    assert allows(text, "sqs:SendMessage", queue_arn, secure)
    assert not allows(
        text, "sqs:SendMessage", queue_arn, {**secure, "aws:SourceArn": "arn:aws:events:x:1:rule/other"}
    )
    assert not allows(text, "sqs:SendMessage", queue_arn, {**secure, "aws:SecureTransport": "false"})
    assert any(s["Sid"] == "DenyInsecureTransport" for s in doc["Statement"])


POLICY = core.controller_policy(
    "aws",
    "us-east-1",
    "111111111111",
    CLUSTER,
    "arn:aws:iam::111111111111:role/llm-test-karpenter-node",
    "arn:aws:sqs:us-east-1:111111111111:q",
)
OWNED = {
    f"aws:RequestTag/kubernetes.io/cluster/{CLUSTER}": "owned",
    "aws:RequestTag/eks:eks-cluster-name": CLUSTER,
    "aws:RequestTag/karpenter.sh/nodepool": "h100",
}


def test_controller_launches_and_terminates_only_this_clusters_nodes() -> None:
    instance = "arn:aws:ec2:us-east-1:111111111111:instance/i-0abc"
    assert allows(POLICY, "ec2:RunInstances", instance, OWNED)
    other = {**OWNED, f"aws:RequestTag/kubernetes.io/cluster/{CLUSTER}": "shared"}
    assert not allows(POLICY, "ec2:RunInstances", instance, other)
    mine = {
        f"aws:ResourceTag/kubernetes.io/cluster/{CLUSTER}": "owned",
        "aws:ResourceTag/karpenter.sh/nodepool": "h100",
    }
    assert allows(POLICY, "ec2:TerminateInstances", instance, mine)
    assert not allows(
        POLICY, "ec2:TerminateInstances", instance, {"aws:ResourceTag/kubernetes.io/cluster/other": "owned"}
    )
    # it may hand EC2 the node role, and no other role
    assert allows(
        POLICY,
        "iam:PassRole",
        "arn:aws:iam::111111111111:role/llm-test-karpenter-node",
        {"iam:PassedToService": "ec2.amazonaws.com"},
    )
    assert not allows(
        POLICY,
        "iam:PassRole",
        "arn:aws:iam::111111111111:role/admin",
        {"iam:PassedToService": "ec2.amazonaws.com"},
    )
    assert allows(POLICY, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:111111111111:q")
    assert not allows(POLICY, "sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:111111111111:another")
    assert allows(POLICY, "eks:DescribeCluster", CLUSTER_ARN)
    assert not allows(POLICY, "eks:DescribeCluster", "arn:aws:eks:us-east-1:111111111111:cluster/other")
    assert not allows(POLICY, "ec2:DescribeInstances", "*", {"aws:RequestedRegion": "eu-west-1"})


def test_controller_role_is_for_karpenters_service_account_of_this_cluster_only(
    built: tuple[Graph, GpuNodePool],
) -> None:
    graph, _ = built
    role = next(r for r in graph.of_type("iam/role:Role") if r.name == "llm-test-karpenter-controller")
    trust = role.props["assumeRolePolicy"]
    assert may_assume(trust, request(CLUSTER_ARN, "karpenter", "karpenter"))
    assert not may_assume(trust, request(CLUSTER_ARN, "karpenter", "default"))
    assert not may_assume(trust, request(CLUSTER_ARN.replace(CLUSTER, "other"), "karpenter", "karpenter"))
    association = props(graph.one("eks/podIdentityAssociation:PodIdentityAssociation"))
    assert (association["namespace"], association["serviceAccount"]) == ("karpenter", "karpenter")


def test_helm_values_pin_the_controller_and_use_only_keys_the_chart_has(
    built: tuple[Graph, GpuNodePool],
) -> None:
    graph, _ = built
    release = props(graph.one("helm.sh/v3:Release"))
    assert release["chart"] == "oci://public.ecr.aws/karpenter/karpenter"
    assert release["version"] == "1.14.1"
    values = release["values"]
    assert values["controller"]["image"]["tag"] == KARPENTER_IMAGE_TAG == "1.14.1"
    # the chart's default digest is the 1.13.0 image's: cleared, so the tag decides
    assert values["controller"]["image"]["digest"] == ""
    assert values["settings"]["clusterName"] == CLUSTER
    assert values["settings"]["interruptionQueue"]
    assert values["nodeSelector"] == {"llm-platform.io/pool": "system"}
    assert unknown_keys("karpenter", values) == []
    upstream = yaml.safe_load(Path(upstream_dir(), "charts", "karpenter", "values.yaml").read_text())
    assert upstream["serviceAccount"]["create"] is True  # the chart makes the account Pod Identity names


def test_placement_output_is_the_same_for_both_kinds(built: tuple[Graph, GpuNodePool]) -> None:
    _, pool = built
    assert pool.gpu_placement == gpu_placement("h100", ["p5.48xlarge"])


def test_an_image_snapshot_becomes_containerds_store_on_new_nodes() -> None:
    from components.core import karpenter as kp

    plain = kp.node_class("p", "role", [{"tags": {}}], [{"tags": {}}], 200, 6000, 500, {})
    cached = kp.node_class(
        "p", "role", [{"tags": {}}], [{"tags": {}}], 200, 6000, 500, {}, "snap-0123456789abcdef0"
    )
    assert "userData" not in plain["spec"] and len(plain["spec"]["blockDeviceMappings"]) == 1
    root, image = cached["spec"]["blockDeviceMappings"]
    assert root == plain["spec"]["blockDeviceMappings"][0]
    assert image["ebs"]["snapshotID"] == "snap-0123456789abcdef0"
    assert image["ebs"]["encrypted"] is True and "rootVolume" not in image
    # the user data mounts exactly that device as containerd's store, before containerd runs
    script = cached["spec"]["userData"]
    assert f"mount -o noatime {image['deviceName']} /var/lib/containerd" in script
    assert script.index("systemctl stop containerd") < script.index("mount -o")
