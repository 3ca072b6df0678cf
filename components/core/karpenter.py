"""What Karpenter is given, as plain data: the controller's IAM policy, the interruption
events it listens to, its Helm values, and the NodePool and EC2NodeClass of a GPU pool.

Pure, so tests validate exactly these documents against the pinned CRDs, values.yaml and
parliament. Karpenter v1 (karpenter.sh/v1, karpenter.k8s.aws/v1).
"""

from __future__ import annotations

import json
from typing import Any

from components.core import iam
from components.core.placement import GPU_RESOURCE, POOL_LABEL, Placement

NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"

NAMESPACE = "karpenter"
SERVICE_ACCOUNT = "karpenter"

# The EKS-optimised AL2023 AMI by release, never @latest: a new AMI reaches the nodes only
# when this pin changes (Karpenter then replaces them as drifted, one at a time). For a GPU
# instance type Karpenter picks the NVIDIA variant of the release. v20260714 is the newest
# awslabs/amazon-eks-ami release whose notes list AL2023_x86_64_NVIDIA for Kubernetes 1.36.
AMI_ALIAS = "al2023@v20260714"

ROOT_DEVICE = "/dev/xvda"  # root device of the EKS AL2023 AMIs
# A node lives at most 30 days: it picks up the pinned AMI's replacement for a lost or
# patched host, and no node outlives a month of kernel fixes.
EXPIRE_AFTER = "720h"
# Once expired, a node waits this long for its pods to leave through their PDBs before
# Karpenter drains it regardless (a rollout or a scale-down usually empties it first).
TERMINATION_GRACE_PERIOD = "2h"
# An empty GPU node is kept this long before it goes: a scale-down followed by a scale-up
# within minutes (KEDA's cooldown) reuses the node and its cached image.
CONSOLIDATE_AFTER = "10m"

# The EventBridge events Karpenter acts on before AWS takes an instance away (Karpenter's
# getting-started template for v1): it cordons and drains the node and launches a
# replacement at once, inside the two minutes a spot interruption gives.
INTERRUPTION_EVENTS: dict[str, dict[str, list[str]]] = {
    "scheduled-change": {"source": ["aws.health"], "detail-type": ["AWS Health Event"]},
    "spot-interruption": {"source": ["aws.ec2"], "detail-type": ["EC2 Spot Instance Interruption Warning"]},
    "rebalance": {"source": ["aws.ec2"], "detail-type": ["EC2 Instance Rebalance Recommendation"]},
    "instance-state-change": {
        "source": ["aws.ec2"],
        "detail-type": ["EC2 Instance State-change Notification"],
    },
}
# Karpenter reads a message once; older ones describe instances that are gone.
QUEUE_RETENTION_SECONDS = 300

CAPACITY_TYPES = {"ON_DEMAND": "on-demand", "SPOT": "spot"}


def event_pattern(event: str) -> str:
    return json.dumps(INTERRUPTION_EVENTS[event], sort_keys=True)


def queue_policy(queue_arn: str, rule_arns: list[str]) -> str:
    """Only the stack's own EventBridge rules may send to the queue, and only over TLS."""
    return iam.document(
        {
            "Sid": "EventBridgeRules",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns)}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": queue_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )


def controller_policy(
    partition: str, region: str, account: str, cluster: str, node_role_arn: str, queue_arn: str
) -> str:
    """The controller policy Karpenter publishes for v1 (its getting-started CloudFormation:
    node lifecycle, IAM integration, EKS integration, interruption, resource discovery), in
    one document. Everything that creates, tags or deletes is scoped to this cluster by the
    tags Karpenter puts on what it launches; reads are limited to the stack's region."""
    ec2 = f"arn:{partition}:ec2:{region}"
    owned = {
        f"aws:RequestTag/kubernetes.io/cluster/{cluster}": "owned",
        "aws:RequestTag/eks:eks-cluster-name": cluster,
    }
    resource_owned = {f"aws:ResourceTag/kubernetes.io/cluster/{cluster}": "owned"}
    launched = [
        f"{ec2}:*:{kind}/*"
        for kind in (
            "fleet",
            "instance",
            "volume",
            "network-interface",
            "launch-template",
            "spot-instances-request",
        )
    ]
    profile = f"arn:{partition}:iam::{account}:instance-profile/*"
    cluster_arn = f"arn:{partition}:eks:{region}:{account}:cluster/{cluster}"
    region_tag = "topology.kubernetes.io/region"
    return iam.document(
        {
            "Sid": "AllowScopedEC2InstanceAccessActions",
            "Effect": "Allow",
            "Action": ["ec2:CreateFleet", "ec2:RunInstances"],
            "Resource": [
                f"{ec2}::image/*",
                f"{ec2}::snapshot/*",
                f"{ec2}:*:security-group/*",
                f"{ec2}:*:subnet/*",
                f"{ec2}:*:capacity-reservation/*",
                f"{ec2}:*:placement-group/*",
            ],
        },
        {
            "Sid": "AllowScopedEC2LaunchTemplateAccessActions",
            "Effect": "Allow",
            "Action": ["ec2:CreateFleet", "ec2:RunInstances"],
            "Resource": f"{ec2}:*:launch-template/*",
            "Condition": {
                "StringEquals": resource_owned,
                "StringLike": {f"aws:ResourceTag/{NODEPOOL_LABEL}": "*"},
            },
        },
        {
            "Sid": "AllowScopedEC2InstanceActionsWithTags",
            "Effect": "Allow",
            "Action": ["ec2:CreateFleet", "ec2:CreateLaunchTemplate", "ec2:RunInstances"],
            "Resource": launched,
            "Condition": {"StringEquals": owned, "StringLike": {f"aws:RequestTag/{NODEPOOL_LABEL}": "*"}},
        },
        {
            "Sid": "AllowScopedResourceCreationTagging",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": launched,
            "Condition": {
                "StringEquals": {
                    **owned,
                    "ec2:CreateAction": ["RunInstances", "CreateFleet", "CreateLaunchTemplate"],
                },
                "StringLike": {f"aws:RequestTag/{NODEPOOL_LABEL}": "*"},
            },
        },
        {
            "Sid": "AllowScopedResourceTagging",
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"{ec2}:*:instance/*",
            "Condition": {
                "StringEquals": resource_owned,
                "StringLike": {f"aws:ResourceTag/{NODEPOOL_LABEL}": "*"},
                "StringEqualsIfExists": {"aws:RequestTag/eks:eks-cluster-name": cluster},
                "ForAllValues:StringEquals": {
                    "aws:TagKeys": ["eks:eks-cluster-name", "karpenter.sh/nodeclaim", "Name"]
                },
            },
        },
        {
            "Sid": "AllowScopedDeletion",
            "Effect": "Allow",
            "Action": ["ec2:DeleteLaunchTemplate", "ec2:TerminateInstances"],
            "Resource": [f"{ec2}:*:instance/*", f"{ec2}:*:launch-template/*"],
            "Condition": {
                "StringEquals": resource_owned,
                "StringLike": {f"aws:ResourceTag/{NODEPOOL_LABEL}": "*"},
            },
        },
        {
            "Sid": "AllowPassingInstanceRole",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": node_role_arn,
            "Condition": {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com"]}},
        },
        {
            "Sid": "AllowScopedInstanceProfileCreationActions",
            "Effect": "Allow",
            "Action": "iam:CreateInstanceProfile",
            "Resource": profile,
            "Condition": {
                "StringEquals": {**owned, f"aws:RequestTag/{region_tag}": region},
                "StringLike": {"aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileTagActions",
            "Effect": "Allow",
            "Action": "iam:TagInstanceProfile",
            "Resource": profile,
            "Condition": {
                "StringEquals": {
                    **resource_owned,
                    f"aws:ResourceTag/{region_tag}": region,
                    **owned,
                    f"aws:RequestTag/{region_tag}": region,
                },
                "StringLike": {
                    "aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*",
                    "aws:RequestTag/karpenter.k8s.aws/ec2nodeclass": "*",
                },
            },
        },
        {
            "Sid": "AllowScopedInstanceProfileActions",
            "Effect": "Allow",
            "Action": [
                "iam:AddRoleToInstanceProfile",
                "iam:DeleteInstanceProfile",
                "iam:RemoveRoleFromInstanceProfile",
            ],
            "Resource": profile,
            "Condition": {
                "StringEquals": {**resource_owned, f"aws:ResourceTag/{region_tag}": region},
                "StringLike": {"aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass": "*"},
            },
        },
        {
            "Sid": "AllowAPIServerEndpointDiscovery",
            "Effect": "Allow",
            "Action": "eks:DescribeCluster",
            "Resource": cluster_arn,
        },
        {
            "Sid": "AllowInterruptionQueueActions",
            "Effect": "Allow",
            "Action": ["sqs:DeleteMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage"],
            "Resource": queue_arn,
        },
        {
            "Sid": "AllowRegionalReadActions",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeCapacityReservations",
                "ec2:DescribeImages",
                "ec2:DescribeInstanceStatus",
                "ec2:DescribeInstanceTypeOfferings",
                "ec2:DescribeInstanceTypes",
                "ec2:DescribeInstances",
                "ec2:DescribeLaunchTemplates",
                "ec2:DescribePlacementGroups",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSpotPriceHistory",
                "ec2:DescribeSubnets",
            ],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        },
        {
            "Sid": "AllowSSMReadActions",
            "Effect": "Allow",
            "Action": "ssm:GetParameter",
            "Resource": f"arn:{partition}:ssm:{region}::parameter/aws/service/*",
        },
        {
            "Sid": "AllowPricingReadActions",
            "Effect": "Allow",
            "Action": "pricing:GetProducts",
            "Resource": "*",
        },
        {
            "Sid": "AllowUnscopedInstanceProfileListAction",
            "Effect": "Allow",
            "Action": "iam:ListInstanceProfiles",
            "Resource": "*",
        },
        {
            "Sid": "AllowInstanceProfileReadActions",
            "Effect": "Allow",
            "Action": "iam:GetInstanceProfile",
            "Resource": profile,
        },
    )


def helm_values(
    cluster: str, queue_name: str, image_repository: str, image_tag: str, system_pool: str
) -> dict[str, Any]:
    return {
        "settings": {"clusterName": cluster, "interruptionQueue": queue_name},
        # The chart at the pinned tag still names the 1.13.0 image (and its digest): the
        # controller is pinned to the chart's own release explicitly.
        "controller": {"image": {"repository": image_repository, "tag": image_tag, "digest": ""}},
        # On the managed system nodes, never on a node Karpenter itself launched.
        "nodeSelector": {POOL_LABEL: system_pool},
        "serviceAccount": {"name": SERVICE_ACCOUNT},
        "replicas": 2,
        "podDisruptionBudget": {"name": "karpenter", "maxUnavailable": 1},
        "serviceMonitor": {"enabled": False},
    }


def node_pool(
    name: str,
    placement: Placement,
    capacity_type: str,
    max_gpus: int,
    zones: list[str],
    budget_nodes: str = "1",
) -> dict[str, Any]:
    """The NodePool of a GPU pool: nodes of its instance types and capacity type, with the
    pool's labels and GPU taint, at most `max_gpus` GPUs in all.

    Disruption never evicts a serving replica to save money: only empty nodes are
    consolidated, and at most `budget_nodes` at a time (drift and expiry included), each
    through the replicas' PodDisruptionBudgets. Karpenter leaves a node alone while a pod on
    it carries karpenter.sh/do-not-disrupt, until terminationGracePeriod after expiry."""
    return {
        "apiVersion": NODEPOOL_API,
        "kind": "NodePool",
        "metadata": {"name": name},
        "spec": {
            "template": {
                "metadata": {"labels": dict(placement.node_labels)},
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": name},
                    "requirements": [
                        {
                            "key": "node.kubernetes.io/instance-type",
                            "operator": "In",
                            "values": list(placement.instance_types),
                        },
                        {
                            "key": CAPACITY_TYPE_LABEL,
                            "operator": "In",
                            "values": [CAPACITY_TYPES[capacity_type]],
                        },
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
                        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": list(zones)},
                    ],
                    "taints": [dict(t) for t in placement.taints],
                    "expireAfter": EXPIRE_AFTER,
                    "terminationGracePeriod": TERMINATION_GRACE_PERIOD,
                },
            },
            "limits": {GPU_RESOURCE: str(max_gpus)},
            "disruption": {
                "consolidationPolicy": "WhenEmpty",
                "consolidateAfter": CONSOLIDATE_AFTER,
                "budgets": [{"nodes": budget_nodes}],
            },
        },
    }


def node_class(
    name: str,
    role: str,
    subnet_selector: list[dict[str, Any]],
    security_group_selector: list[dict[str, Any]],
    root_volume_gib: int,
    iops: int,
    throughput_mibps: int,
    tags: dict[str, str],
    image_snapshot_id: str | None = None,
) -> dict[str, Any]:
    """The EC2NodeClass of a GPU pool: the pinned AL2023 AMI release, IMDSv2 only with a hop
    limit of 1 (pods cannot borrow the node's role), an encrypted gp3 root volume, and the
    stack's cost-allocation tags on every instance, volume and network interface; with
    `image_snapshot_id`, containerd's store comes from that snapshot (image_volume)."""
    out: dict[str, Any] = {
        "apiVersion": NODECLASS_API,
        "kind": "EC2NodeClass",
        "metadata": {"name": name},
        "spec": {
            "role": role,
            "amiSelectorTerms": [{"alias": AMI_ALIAS}],
            "subnetSelectorTerms": subnet_selector,
            "securityGroupSelectorTerms": security_group_selector,
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpProtocolIPv6": "disabled",
                "httpPutResponseHopLimit": 1,
                "httpTokens": "required",
            },
            "blockDeviceMappings": [
                {
                    "deviceName": ROOT_DEVICE,
                    "rootVolume": True,
                    "ebs": {
                        "volumeSize": f"{root_volume_gib}Gi",
                        "volumeType": "gp3",
                        "iops": iops,
                        "throughput": throughput_mibps,
                        "encrypted": True,
                        "deleteOnTermination": True,
                    },
                }
            ],
            "tags": {**tags, "Name": name},
        },
    }
    if image_snapshot_id is not None:
        spec = out["spec"]
        spec["blockDeviceMappings"].append(image_volume(image_snapshot_id, iops, throughput_mibps))
        spec["userData"] = IMAGE_VOLUME_USER_DATA
    return out


# --- the serving image on a new node without a pull ---------------------------------------------

IMAGE_DEVICE = "/dev/xvdb"
# EBS hydrates a volume restored from a snapshot at this provisioned rate (MiB/s, the most EBS
# offers) instead of block by block on first read, so container start reads at a known pace.
IMAGE_VOLUME_INIT_MIBPS = 300
IMAGE_VOLUME_USER_DATA = f"""MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="//"

--//
Content-Type: text/x-shellscript; charset="us-ascii"

#!/bin/bash
# containerd's store is the image volume, restored from a snapshot that holds the serving
# images: a new node starts them without pulling. On AL2023, nodeadm starts containerd and
# the kubelet after cloud-init's scripts, so the mount is in place before either runs.
set -euo pipefail
for _ in $(seq 1 120); do [ -e {IMAGE_DEVICE} ] && break; sleep 1; done
systemctl stop containerd 2>/dev/null || true
mkdir -p /var/lib/containerd
mount -o noatime {IMAGE_DEVICE} /var/lib/containerd
echo "{IMAGE_DEVICE} /var/lib/containerd auto noatime,nofail 0 2" >> /etc/fstab
--//--
"""


def image_volume(snapshot_id: str, iops: int, throughput_mibps: int) -> dict[str, Any]:
    """A second, encrypted gp3 volume restored from `snapshot_id` (a snapshot of a node's
    /var/lib/containerd with the serving images pulled: docs/performance.md)."""
    return {
        "deviceName": IMAGE_DEVICE,
        "ebs": {
            "snapshotID": snapshot_id,
            "volumeType": "gp3",
            "iops": iops,
            "throughput": throughput_mibps,
            "volumeInitializationRate": IMAGE_VOLUME_INIT_MIBPS,
            "encrypted": True,
            "deleteOnTermination": True,
        },
    }
