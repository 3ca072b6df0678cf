"""GpuNodePool: an EKS managed node group of GPU instances, and the placement its workloads use."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypedDict

import pulumi
import pulumi_aws as aws

from components import _nodes
from components.core.placement import Placement, gpu_placement

# AWS's EKS-optimised AL2023 AMI with the NVIDIA driver and container toolkit.
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"

# A GPU node takes longer than a CPU node: bigger instances are slower to find
# (above all on spot), and the AMI loads the driver before the node is Ready.
GPU_NODE_TIMEOUTS = pulumi.CustomTimeouts(create="60m", update="120m", delete="60m")


class GpuNodePoolArgs(TypedDict, total=False):
    cluster_name: pulumi.Input[str]
    """The EKS cluster to join."""
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Private subnets to launch nodes in (the zones the pool may use)."""
    instance_types: Sequence[str]
    """GPU instance types of the catalog sharing one GPU model and count (plain value: the placement is derived from it)."""
    capacity_type: Literal["ON_DEMAND", "SPOT"]
    """On-demand or spot capacity (default ON_DEMAND)."""
    min_size: int
    """Fewest nodes (default 0)."""
    max_size: int
    """Most nodes."""
    desired_size: int
    """Nodes to start with (default min_size); ignored after creation so an autoscaler can own it."""
    root_volume_gib: int
    """Root volume per node, GiB (default 200)."""
    pool_label: str
    """Value of the pool label on the nodes (default: the component name); unique per cluster."""


class GpuNodePool(pulumi.ComponentResource):
    """GPU nodes that only GPU workloads land on.

    Nodes are tainted nvidia.com/gpu=true:NoSchedule and labelled with the pool
    and GPU model. `placement` carries the matching node selector and
    tolerations, the GPU count and memory, for workloads to consume.
    """

    node_group_name: pulumi.Output[str]
    node_role_arn: pulumi.Output[str]
    placement: Placement
    """Plain data, known at plan time: workloads are built and checked against it."""

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:GpuNodePool", name, None, opts)
        self.placement = gpu_placement(args.get("pool_label", name), list(args["instance_types"]))
        role, role_policies = _nodes.node_role(name, self)
        # Faster disk than the gp3 baseline: a 10-12 GB vLLM image unpacks on every new node,
        # and that is on the critical path of every scale-up.
        template = _nodes.launch_template(
            name, args.get("root_volume_gib", 200), self, iops=6000, throughput_mibps=500
        )
        min_size = args.get("min_size", 0)
        node_group = aws.eks.NodeGroup(
            name,
            cluster_name=args["cluster_name"],
            node_role_arn=role.arn,
            subnet_ids=args["subnet_ids"],
            ami_type=GPU_AMI_TYPE,
            capacity_type=args.get("capacity_type", "ON_DEMAND"),
            instance_types=list(self.placement.instance_types),
            scaling_config={
                "min_size": min_size,
                "max_size": args["max_size"],
                "desired_size": args.get("desired_size", min_size),
            },
            labels=self.placement.node_labels,
            taints=[
                {"key": t["key"], "value": t["value"], "effect": "NO_SCHEDULE"} for t in self.placement.taints
            ],
            launch_template={"id": template.id, "version": template.latest_version.apply(str)},
            update_config={"max_unavailable": 1},
            # EKS replaces nodes whose GPUs report failures (XID errors, lost devices).
            node_repair_config={"enabled": True},
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=role_policies,
                ignore_changes=["scalingConfig.desiredSize"],
                custom_timeouts=GPU_NODE_TIMEOUTS,
            ),
        )
        self.node_group_name = node_group.node_group_name
        self.node_role_arn = role.arn
        self.register_outputs(
            {
                "node_group_name": self.node_group_name,
                "node_role_arn": self.node_role_arn,
                "placement": self.placement.as_output(),
            }
        )
