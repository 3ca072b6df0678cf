"""Pieces every EKS managed node group of the platform shares: its IAM role and launch template."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components import _aws
from components.core import iam

# What a node needs and nothing more: join the cluster and pull images. The VPC
# CNI's ENI permissions sit on its own Pod Identity role (see Cluster), and pods
# get AWS access only through Pod Identity: IMDS is closed to them (hop limit 1).
NODE_POLICIES = (
    "AmazonEKSWorkerNodePolicy",
    "AmazonEC2ContainerRegistryPullOnly",
)

ROOT_DEVICE = "/dev/xvda"  # root device of the EKS AL2023 AMIs
# What the launch template tags: the provider's default tags reach the template itself but
# not what EC2 Auto Scaling launches from it on the node group's behalf.
TAGGED_RESOURCES = ("instance", "volume", "network-interface")


def node_role(name: str, parent: pulumi.Resource) -> tuple[aws.iam.Role, list[pulumi.Resource]]:
    """The node role and its policy attachments (a node group must wait for both)."""
    role = aws.iam.Role(
        f"{name}-node",
        assume_role_policy=iam.service_trust("ec2.amazonaws.com"),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    partition = _aws.partition(parent)
    attachments: list[pulumi.Resource] = [
        aws.iam.RolePolicyAttachment(
            f"{name}-node-{policy}",
            role=role.name,
            policy_arn=_aws.managed_policy_arn(partition, policy),
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for policy in NODE_POLICIES
    ]
    return role, attachments


def launch_template(
    name: str,
    root_volume_gib: int,
    parent: pulumi.Resource,
    iops: int = 3000,
    throughput_mibps: int = 125,
    tags: pulumi.Input[Mapping[str, str]] | None = None,
) -> aws.ec2.LaunchTemplate:
    """IMDSv2 only with a hop limit of 1 (pods cannot borrow the node's credentials),
    and an encrypted gp3 root volume (the account's aws/ebs KMS key).

    `tags` (the stack's cost-allocation tags) go on every instance, root volume and
    network interface launched from it, with Name set to `name`.

    No AMI here: the node group picks the EKS-optimised AMI of its AMI type."""
    launched = pulumi.Output.from_input(tags or {}).apply(lambda t: {**t, "Name": name})
    return aws.ec2.LaunchTemplate(
        f"{name}-lt",
        description=f"llm-platform node group {name}",
        update_default_version=True,
        metadata_options={
            "http_endpoint": "enabled",
            "http_tokens": "required",
            "http_put_response_hop_limit": 1,
            "instance_metadata_tags": "disabled",
        },
        block_device_mappings=[
            {
                "device_name": ROOT_DEVICE,
                "ebs": {
                    "volume_size": root_volume_gib,
                    "volume_type": "gp3",
                    "iops": iops,
                    "throughput": throughput_mibps,
                    "encrypted": "true",
                    "delete_on_termination": "true",
                },
            }
        ],
        tag_specifications=[{"resource_type": kind, "tags": launched} for kind in TAGGED_RESOURCES],
        opts=pulumi.ResourceOptions(parent=parent),
    )
