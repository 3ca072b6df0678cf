"""Config of the cloud layer: AWS account and region, network, EKS cluster, node pools."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import Field

from infra.config.base import (
    AccountId,
    Cidr,
    ClusterName,
    LogRetentionDays,
    Model,
    PrincipalArn,
    Region,
    SubnetId,
    VpcId,
    matching,
    pattern,
)


class AwsConfig(Model):
    region: Region
    """AWS region of every resource in the stack, e.g. us-east-1."""
    allowed_account_ids: list[AccountId] = []
    """AWS account ids this stack may touch; a deploy with credentials of any other account fails before it changes anything. Strongly recommended for prod."""
    tags: dict[str, str] = {}
    """Tags added to every AWS resource (the stack and project tags are always added)."""


class ExistingVpc(Model):
    vpc_id: VpcId
    """Id of the VPC to adopt."""
    private_subnet_ids: Annotated[list[SubnetId], Field(min_length=2)]
    """Private subnets (with a route to a NAT gateway), one per availability zone, in the order of network.availabilityZones. Nodes and pods live here."""
    public_subnet_ids: list[SubnetId] = []
    """Public subnets for internet-facing load balancers, one per availability zone; required when ingress is set (the ALB lives there, and network policies admit it by their CIDRs)."""


class NetworkConfig(Model):
    availability_zones: Annotated[list[str], Field(min_length=2, max_length=3)]
    """Availability zones to spread subnets and nodes over (2 or 3), e.g. [us-east-1a, us-east-1b]. GPU capacity differs per zone: list the zones your GPU instance types are offered in."""
    vpc_cidr: Cidr = IPv4Network("10.0.0.0/16")
    """CIDR of the new VPC, /16 to /20; each zone gets a private quarter of it for nodes and pods."""
    nat_gateways: Literal["single", "perZone"] = "single"
    """One NAT gateway shared by all zones (cheaper, one zone's outage cuts egress) or one per zone (prod)."""
    flow_log_retention_days: LogRetentionDays = 30
    """Days to keep the VPC flow logs (rejected traffic) in CloudWatch Logs."""
    existing_vpc: ExistingVpc | None = None
    """Adopt this VPC and its subnets instead of creating a VPC; vpcCidr, natGateways and flowLogRetentionDays then do not apply."""


class EndpointConfig(Model):
    public_access_cidrs: list[Cidr] = []
    """CIDRs allowed to reach the Kubernetes API over the internet (office, VPN, CI runners). Empty: the endpoint is private and reachable only from inside the VPC."""


class SystemNodesConfig(Model):
    instance_types: Annotated[list[str], Field(min_length=1)] = ["m7i.large"]
    """CPU instance types of the system node group (controllers, monitoring, CoreDNS)."""
    min_size: Annotated[int, Field(ge=1)] = 2
    """Fewest system nodes; two keep CoreDNS and controllers up through a node replacement."""
    max_size: Annotated[int, Field(ge=1)] = 4
    """Most system nodes."""
    desired_size: Annotated[int, Field(ge=1)] | None = None
    """Nodes to start with (default: minSize); ignored after creation so a cluster autoscaler can own it."""
    disk_size_gib: Annotated[int, Field(ge=20, le=1000, alias="diskSizeGiB")] = 50
    """Root volume of each system node, GiB (encrypted gp3)."""


class ClusterConfig(Model):
    name: ClusterName | None = None
    """EKS cluster name (default: llm-platform-<stack>). Changing it replaces the cluster."""
    admins: Annotated[list[PrincipalArn], Field(min_length=1)]
    """IAM roles or users given cluster-admin through EKS access entries. Must include the role that runs `pulumi up`, or the deploy cannot reach the cluster it just made."""
    endpoint: EndpointConfig = EndpointConfig()
    """Who can reach the Kubernetes API endpoint."""
    log_retention_days: LogRetentionDays = 90
    """Days to keep the control-plane logs (api, audit, authenticator, controllerManager, scheduler)."""
    system_nodes: SystemNodesConfig = SystemNodesConfig()
    """The CPU node group for cluster add-ons and platform controllers."""


_SNAPSHOT = r"snap-[0-9a-f]{8,17}"


class GpuPoolConfig(Model):
    kind: Literal["karpenter", "managed"] = "karpenter"
    """Who runs the pool's nodes. karpenter (the default): Karpenter launches nodes for pending GPU pods, up to maxSize, and removes empty ones, so an idle pool costs nothing. managed: an EKS managed node group that holds desiredSize nodes whatever is pending (nothing scales it)."""
    instance_types: Annotated[list[str], Field(min_length=1)]
    """GPU instance types of the pool; several types widen spot capacity but must carry the same GPU model and count."""
    capacity_type: Literal["onDemand", "spot"] = "onDemand"
    """On-demand or spot capacity. Spot is cheaper and can be reclaimed with two minutes' notice (Karpenter drains the node and launches a replacement when the warning arrives)."""
    min_size: Annotated[int, Field(ge=0)] = 0
    """kind managed only: fewest nodes; 0 lets an idle pool cost nothing. A Karpenter pool has no minimum: it follows the models' replicas."""
    max_size: Annotated[int, Field(ge=1)]
    """Most nodes: the ceiling of the pool's GPUs and of its cost (for Karpenter, the NodePool's nvidia.com/gpu limit is maxSize nodes' GPUs)."""
    desired_size: Annotated[int, Field(ge=0)] | None = None
    """kind managed only: nodes to start with (default: minSize); ignored after creation so an autoscaler can own it."""
    root_volume_gib: Annotated[int, Field(ge=100, le=16384, alias="rootVolumeGiB")] = 200
    """Root volume of each node, GiB (encrypted gp3). It holds the vLLM image (about 12 GB compressed, twice that unpacked, two versions during a rollout) and any weights cached on the node."""
    image_snapshot_id: (
        Annotated[
            str, matching(_SNAPSHOT, "an EBS snapshot id such as snap-0123456789abcdef0"), pattern(_SNAPSHOT)
        ]
        | None
    ) = None
    """kind karpenter only: an EBS snapshot of a GPU node's /var/lib/containerd with the serving images pulled (docs/performance.md says how to make one). New nodes restore it as containerd's store: a spike that needs a new node does not wait for a 10 GB pull."""
    headroom: Annotated[int, Field(ge=0, le=16)] = 0
    """Warm replicas: placeholder pods that hold the GPUs, CPU and memory of the pool's largest replica, with its image pulled, and give them up the moment a real replica needs the room (docs/performance.md). Each costs its node around the clock; Karpenter replaces a preempted one in the background."""
