"""GpuNodePool: GPU nodes (a Karpenter NodePool and EC2NodeClass, or an EKS managed node
group), and the placement its workloads use."""

from collections.abc import Mapping, Sequence
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components import _k8s, _nodes
from components.core import karpenter
from components.core.placement import Placement, gpu_placement

# AWS's EKS-optimised AL2023 AMI with the NVIDIA driver and container toolkit.
GPU_AMI_TYPE = "AL2023_x86_64_NVIDIA"

# A GPU node takes longer than a CPU node: bigger instances are slower to find
# (above all on spot), and the AMI loads the driver before the node is Ready.
CAPACITY_TYPES = ("ON_DEMAND", "SPOT")
# Faster root disks than the gp3 baseline: a 10-12 GB vLLM image unpacks on every new node,
# and that is on the critical path of every scale-up.
ROOT_VOLUME_IOPS = 6000
ROOT_VOLUME_MIBPS = 500
GPU_NODE_TIMEOUTS = pulumi.CustomTimeouts(create="60m", update="120m", delete="60m")


class PlacementOutput(TypedDict):
    """Where the pool's workloads go, and what one node offers them."""

    pool: str
    """Value of the pool label on the nodes."""
    node_selector: dict[str, str]
    """Selects the pool's nodes by their pool label."""
    tolerations: list[dict[str, str]]
    """Tolerate the pool's GPU taint."""
    gpu_model: str
    """GPU model of every node, such as L40S or H100."""
    gpus_per_node: int
    """GPUs on one node."""
    gpu_memory_mib: int
    """Usable memory of one GPU, MiB."""


def placement_output(p: Placement) -> PlacementOutput:
    return {
        "pool": p.pool,
        "node_selector": p.node_selector,
        "tolerations": p.tolerations,
        "gpu_model": p.gpu_model,
        "gpus_per_node": p.gpus_per_node,
        "gpu_memory_mib": p.gpu_memory_mib,
    }


class KarpenterPoolArgs(TypedDict, total=False):
    """What a Karpenter pool takes from the Karpenter component and the network."""

    release_name: Required[pulumi.Input[str]]
    """Karpenter.release_name: the NodePool waits for the release that installs its CRDs."""
    node_role_name: Required[pulumi.Input[str]]
    """Karpenter.node_role_name: the role of the nodes it launches."""
    node_role_arn: Required[pulumi.Input[str]]
    """Karpenter.node_role_arn."""
    availability_zones: Required[Sequence[str]]
    """Zones the pool may launch nodes in."""
    subnet_tags: Mapping[str, str]
    """Select the subnets by these tags (the Network's private subnets carry the cluster's tag and kubernetes.io/role/internal-elb); default: by the ids in subnet_ids."""
    security_group_tags: Required[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Select the node security groups by these tags, such as aws:eks:cluster-name, which EKS puts on the cluster security group."""
    image_snapshot_id: str
    """An EBS snapshot of a node's /var/lib/containerd with the serving images pulled: new nodes mount a volume restored from it as containerd's store and start the images without pulling them."""


class GpuNodePoolArgs(TypedDict, total=False):
    cluster_name: Required[pulumi.Input[str]]
    """The EKS cluster to join."""
    subnet_ids: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Private subnets to launch nodes in (the zones the pool may use)."""
    instance_types: Required[Sequence[str]]
    """GPU instance types of the catalog sharing one GPU model and count (plain value: the placement is derived from it)."""
    capacity_type: str
    """ON_DEMAND (the default) or SPOT."""
    min_size: int
    """Fewest nodes (default 0)."""
    max_size: Required[int]
    """Most nodes."""
    desired_size: int
    """Nodes to start with (default min_size); ignored after creation so an autoscaler can own it."""
    root_volume_gib: int
    """Root volume per node, GiB (default 200)."""
    pool_label: str
    """Value of the pool label on the nodes (default: the component name); unique per cluster."""
    node_tags: pulumi.Input[Mapping[str, str]]
    """Tags for the instances, root volumes and network interfaces the node group launches, such as the stack's cost-allocation tags (the provider's default tags do not reach them)."""
    karpenter: KarpenterPoolArgs
    """Karpenter runs the pool (a NodePool and an EC2NodeClass, up to max_size nodes' GPUs; min_size and desired_size do not apply); absent: an EKS managed node group."""


class GpuNodePool(pulumi.ComponentResource):
    """GPU nodes that only GPU workloads land on.

    Nodes are tainted nvidia.com/gpu=true:NoSchedule and labelled with the pool
    and GPU model. `placement` carries the matching node selector and
    tolerations, the GPU count and memory, for workloads to consume. In Python,
    `gpu_placement` holds the same as a plain `Placement`, known at plan time,
    so workloads can be sized and checked against it before anything exists.

    With `karpenter`, Karpenter launches the nodes for pending pods (a NodePool
    capped at max_size nodes' GPUs, and an EC2NodeClass); without, an EKS managed
    node group holds desired_size nodes. Workloads see the same placement.
    """

    node_group_name: pulumi.Output[str]
    """The EKS managed node group, or the Karpenter NodePool."""
    node_role_arn: pulumi.Output[str]
    """IAM role of the nodes (only the managed policies nodes need)."""
    placement: pulumi.Output[PlacementOutput]
    """Node selector and tolerations for the pool's workloads, with the GPU model, count and memory per node."""

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:GpuNodePool", name, None, opts)
        capacity_type = args.get("capacity_type", "ON_DEMAND")
        if capacity_type not in CAPACITY_TYPES:
            raise ValueError(f"{name}: capacity_type must be one of {CAPACITY_TYPES}, not {capacity_type!r}")
        self.gpu_placement = gpu_placement(args.get("pool_label", name), list(args["instance_types"]))
        if "karpenter" in args:
            self.node_group_name, self.node_role_arn = self._karpenter(name, args, args["karpenter"])
        else:
            self.node_group_name, self.node_role_arn = self._managed(name, args)
        self.placement = pulumi.Output.from_input(placement_output(self.gpu_placement))
        self.register_outputs(
            {
                "node_group_name": self.node_group_name,
                "node_role_arn": self.node_role_arn,
                "placement": self.placement,
            }
        )

    def _karpenter(
        self, name: str, args: GpuNodePoolArgs, pool: KarpenterPoolArgs
    ) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """A NodePool with the pool's shape and GPU limit, and its EC2NodeClass."""
        place = self.gpu_placement
        nodes = karpenter.node_pool(
            name,
            place,
            args.get("capacity_type", "ON_DEMAND"),
            args["max_size"] * place.gpus_per_node,
            list(pool["availability_zones"]),
        )
        subnet_tags = pool.get("subnet_tags")
        subnets: pulumi.Input[list[dict[str, object]]] = (
            [{"tags": dict(subnet_tags)}]
            if subnet_tags
            else pulumi.Output.from_input(args["subnet_ids"]).apply(lambda ids: [{"id": i} for i in ids])
        )
        node_class = pulumi.Output.all(
            pool["node_role_name"], subnets, pool["security_group_tags"], args.get("node_tags") or {}
        ).apply(
            lambda a: karpenter.node_class(
                name,
                str(a[0]),
                list(a[1]),
                [{"tags": dict(a[2])}],
                args.get("root_volume_gib", 200),
                ROOT_VOLUME_IOPS,
                ROOT_VOLUME_MIBPS,
                dict(a[3]),
                pool.get("image_snapshot_id"),
            )
        )
        installed = _k8s.installed_by(pool["release_name"])
        ec2_node_class = k8s.apiextensions.CustomResource(
            f"{name}-nodeclass",
            api_version=karpenter.NODECLASS_API,
            kind="EC2NodeClass",
            metadata={"name": name, "annotations": installed},
            spec=node_class.apply(lambda c: c["spec"]),
            opts=pulumi.ResourceOptions(parent=self),
        )
        node_pool = k8s.apiextensions.CustomResource(
            f"{name}-nodepool",
            api_version=karpenter.NODEPOOL_API,
            kind="NodePool",
            metadata={"name": name, "annotations": installed},
            spec=nodes["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ec2_node_class]),
        )
        return (
            node_pool.metadata.apply(lambda m: str(m["name"])),
            pulumi.Output.from_input(pool["node_role_arn"]).apply(str),
        )

    def _managed(self, name: str, args: GpuNodePoolArgs) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        role, role_policies = _nodes.node_role(name, self)
        template = _nodes.launch_template(
            name,
            args.get("root_volume_gib", 200),
            self,
            iops=ROOT_VOLUME_IOPS,
            throughput_mibps=ROOT_VOLUME_MIBPS,
            tags=args.get("node_tags"),
        )
        min_size = args.get("min_size", 0)
        node_group = aws.eks.NodeGroup(
            name,
            cluster_name=args["cluster_name"],
            node_role_arn=role.arn,
            subnet_ids=args["subnet_ids"],
            ami_type=GPU_AMI_TYPE,
            capacity_type=args.get("capacity_type", "ON_DEMAND"),
            instance_types=list(self.gpu_placement.instance_types),
            scaling_config={
                "min_size": min_size,
                "max_size": args["max_size"],
                "desired_size": args.get("desired_size", min_size),
            },
            labels=self.gpu_placement.node_labels,
            taints=[
                {"key": t["key"], "value": t["value"], "effect": "NO_SCHEDULE"}
                for t in self.gpu_placement.taints
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
        return node_group.node_group_name, role.arn
