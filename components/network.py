"""Network: the VPC the cluster lives in, created here or adopted from elsewhere."""

from collections.abc import Sequence
from typing import Required, TypedDict

import pulumi
import pulumi_aws as aws

from components import _aws
from components.core import iam
from components.core.subnets import plan_subnets


class NetworkArgs(TypedDict, total=False):
    cluster_name: Required[str]
    """EKS cluster that will use the subnets; written into the subnet tags load balancers look for (plain value: it is part of a tag key)."""
    availability_zones: Sequence[str]
    """Zones to span, in order (plain value: it decides how many subnets exist)."""
    vpc_cidr: str
    """CIDR of a new VPC, /16 to /20 (plain value: subnets are carved from it)."""
    nat_gateway_per_zone: bool
    """One NAT gateway per zone instead of one shared gateway."""
    flow_log_retention_days: pulumi.Input[int]
    """Days to keep VPC flow logs of rejected traffic (default 30)."""
    existing_vpc_id: pulumi.Input[str]
    """Adopt this VPC instead of creating one; nothing is created then."""
    existing_private_subnet_ids: Sequence[str]
    """With existing_vpc_id: private subnets, exactly one per zone, in the order of availability_zones."""
    existing_public_subnet_ids: Sequence[str]
    """With existing_vpc_id: public subnets, one per zone (may be empty)."""


class Network(pulumi.ComponentResource):
    """A VPC with a private and a public subnet per zone, NAT egress and an S3 gateway endpoint.

    `private_subnets` (Python only) lists the private subnet ids one by one, and
    `private_subnets_by_zone` (Python only) maps each availability zone to its
    private subnet id, for resources made per subnet or per zone.

    Nodes and pods live in the private subnets; the public subnets hold only
    NAT gateways and internet-facing load balancers. Model weights come from S3
    through the gateway endpoint, so pulling a 140 GB model costs no NAT
    data processing.
    """

    vpc_id: pulumi.Output[str]
    """The VPC, created or adopted."""
    private_subnet_ids: pulumi.Output[list[str]]
    """Private subnets, one per zone: nodes, pods, EFS mount targets, internal load balancers."""
    public_subnet_ids: pulumi.Output[list[str]]
    """Public subnets, one per zone: NAT gateways and internet-facing load balancers."""
    private_subnet_cidrs: pulumi.Output[list[str]]
    """Where nodes, pods and EFS mount targets live (network policies use them)."""
    public_subnet_cidrs: pulumi.Output[list[str]]
    """Where internet-facing load balancers live (the source of ingress traffic to pods)."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("llmplatform:index:Network", name, None, opts)
        if "existing_vpc_id" in args:
            self._adopt(args)
        else:
            self._create(name, args)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "private_subnet_ids": self.private_subnet_ids,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_cidrs": self.private_subnet_cidrs,
                "public_subnet_cidrs": self.public_subnet_cidrs,
            }
        )

    def _adopt(self, args: NetworkArgs) -> None:
        private = list(args["existing_private_subnet_ids"])
        public = list(args.get("existing_public_subnet_ids", []))
        zones = list(args.get("availability_zones", []))
        if len(private) != len(zones):
            raise ValueError(
                f"{len(private)} existing private subnets for {len(zones)} availability zones: "
                "give exactly one per zone, in the order of availability_zones"
            )
        self.vpc_id = pulumi.Output.from_input(args["existing_vpc_id"])
        self.private_subnets = [pulumi.Output.from_input(s) for s in private]
        self.private_subnets_by_zone = dict(zip(zones, self.private_subnets, strict=True))
        self.private_subnet_ids = pulumi.Output.from_input(private)
        self.public_subnet_ids = pulumi.Output.from_input(public)
        self.private_subnet_cidrs = self._cidrs_of(private)
        self.public_subnet_cidrs = self._cidrs_of(public)

    def _cidrs_of(self, subnet_ids: list[str]) -> pulumi.Output[list[str]]:
        lookups = [
            aws.ec2.get_subnet_output(id=s, opts=pulumi.InvokeOutputOptions(parent=self)).cidr_block
            for s in subnet_ids
        ]
        return pulumi.Output.all(*lookups).apply(lambda cidrs: [str(c) for c in cidrs])

    def _create(self, name: str, args: NetworkArgs) -> None:
        child = pulumi.ResourceOptions(parent=self)
        cluster_tag = {f"kubernetes.io/cluster/{args['cluster_name']}": "shared"}
        zones = plan_subnets(args["vpc_cidr"], list(args["availability_zones"]))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args["vpc_cidr"],
            enable_dns_hostnames=True,  # EKS private endpoint and EFS mount names need DNS
            enable_dns_support=True,
            tags={"Name": name},
            opts=child,
        )
        # The default security group allows all traffic between its members; nothing should use it.
        aws.ec2.DefaultSecurityGroup(f"{name}-default-sg", vpc_id=vpc.id, ingress=[], egress=[], opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags={"Name": name}, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}],
            tags={"Name": f"{name}-public"},
            opts=child,
        )

        public_subnets: list[aws.ec2.Subnet] = []
        private_subnets: list[aws.ec2.Subnet] = []
        private_rts: list[aws.ec2.RouteTable] = []
        nat_gateways: list[aws.ec2.NatGateway] = []
        for i, zone in enumerate(zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{zone.zone}",
                vpc_id=vpc.id,
                cidr_block=zone.public_cidr,
                availability_zone=zone.zone,
                # Only load balancers and NAT gateways live here, and both bring their own addresses.
                map_public_ip_on_launch=False,
                tags={"Name": f"{name}-public-{zone.zone}", "kubernetes.io/role/elb": "1", **cluster_tag},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone.zone}",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                opts=child,
            )
            public_subnets.append(public)

            if i == 0 or args.get("nat_gateway_per_zone", False):
                eip = aws.ec2.Eip(
                    f"{name}-nat-{zone.zone}",
                    domain="vpc",
                    tags={"Name": f"{name}-nat-{zone.zone}"},
                    opts=child,
                )
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{zone.zone}",
                        allocation_id=eip.id,
                        subnet_id=public.id,
                        tags={"Name": f"{name}-nat-{zone.zone}"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    )
                )
            private_rt = aws.ec2.RouteTable(
                f"{name}-private-{zone.zone}",
                vpc_id=vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_gateways[-1].id}],
                tags={"Name": f"{name}-private-{zone.zone}"},
                opts=child,
            )
            private = aws.ec2.Subnet(
                f"{name}-private-{zone.zone}",
                vpc_id=vpc.id,
                cidr_block=zone.private_cidr,
                availability_zone=zone.zone,
                tags={
                    "Name": f"{name}-private-{zone.zone}",
                    "kubernetes.io/role/internal-elb": "1",
                    **cluster_tag,
                },
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone.zone}",
                subnet_id=private.id,
                route_table_id=private_rt.id,
                opts=child,
            )
            private_subnets.append(private)
            private_rts.append(private_rt)

        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).apply(
                lambda r: f"com.amazonaws.{r.region}.s3"
            ),
            vpc_endpoint_type="Gateway",
            route_table_ids=[rt.id for rt in private_rts],
            tags={"Name": f"{name}-s3"},
            opts=child,
        )
        self._flow_logs(name, vpc, args.get("flow_log_retention_days", 30))

        self.vpc_id = vpc.id
        self.private_subnets = [s.id for s in private_subnets]
        self.private_subnets_by_zone = {z.zone: s.id for z, s in zip(zones, private_subnets, strict=True)}
        self.private_subnet_ids = pulumi.Output.all(*self.private_subnets)
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.private_subnet_cidrs = pulumi.Output.from_input([z.private_cidr for z in zones])
        self.public_subnet_cidrs = pulumi.Output.from_input([z.public_cidr for z in zones])

    def _flow_logs(self, name: str, vpc: aws.ec2.Vpc, retention_days: pulumi.Input[int]) -> None:
        """Record rejected traffic: the first thing to read when a network policy or SG misbehaves."""
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-flow-logs",
            name=f"/llm-platform/{name}/vpc-flow-logs",
            retention_in_days=retention_days,
            opts=child,
        )
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        role = aws.iam.Role(
            f"{name}-flow-logs",
            assume_role_policy=pulumi.Output.all(_aws.partition(self), region, _aws.account_id(self)).apply(
                lambda a: flow_log_trust(str(a[0]), str(a[1]), str(a[2]))
            ),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-flow-logs",
            role=role.id,
            policy=log_group.arn.apply(
                lambda arn: iam.document(
                    iam.allow(
                        ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                        f"{arn}:*",
                    ),
                    # The flow-log service checks its destination with it; it takes no resource.
                    iam.allow(["logs:DescribeLogGroups"], "*"),
                )
            ),
            opts=child,
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="REJECT",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            opts=child,
        )


def flow_log_trust(partition: str, region: str, account: str) -> str:
    """The flow-log service may assume the role only for flow logs of this account and region
    (AWS's confused-deputy guard: aws:SourceAccount and aws:SourceArn)."""
    return iam.document(
        {
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account},
                "ArnLike": {"aws:SourceArn": f"arn:{partition}:ec2:{region}:{account}:vpc-flow-log/*"},
            },
        }
    )
