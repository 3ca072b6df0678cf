"""Network: subnet layout, NAT egress per zone or shared, S3 endpoint, flow logs, adoption."""

from __future__ import annotations

import ipaddress

import pytest

from components import Network
from components.core.subnets import plan_subnets
from tests.conftest import RunPulumi
from tests.graph import Graph, on_aws, policy, props
from tests.iam_eval import allows

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def build(run_pulumi: RunPulumi, *, per_zone: bool, zones: list[str] = ZONES) -> Graph:
    return run_pulumi(
        lambda: Network(
            "net",
            {
                "cluster_name": "llm-test",
                "availability_zones": zones,
                "vpc_cidr": "10.40.0.0/16",
                "nat_gateway_per_zone": per_zone,
                "flow_log_retention_days": 14,
            },
            on_aws(),
        )
    )


def test_subnets_do_not_overlap_and_private_ones_are_large() -> None:
    layout = plan_subnets("10.40.0.0/16", ZONES)
    nets = [ipaddress.ip_network(c) for z in layout for c in (z.private_cidr, z.public_cidr)]
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    assert all(ipaddress.ip_network(z.private_cidr).prefixlen == 18 for z in layout)
    assert all(ipaddress.ip_network(z.public_cidr).prefixlen == 20 for z in layout)


@pytest.mark.parametrize(("cidr", "zones"), [("10.0.0.0/24", ZONES), ("10.0.0.0/16", ZONES[:1])])
def test_subnet_plan_refuses_what_cannot_work(cidr: str, zones: list[str]) -> None:
    with pytest.raises(ValueError):
        plan_subnets(cidr, zones)


def test_one_private_and_one_public_subnet_per_zone_tagged_for_load_balancers(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, per_zone=False)
    subnets = g.of_type("ec2/subnet:Subnet")
    public = [s for s in subnets if props(s)["tags"].get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets if props(s)["tags"].get("kubernetes.io/role/internal-elb") == "1"]
    assert sorted(props(s)["availabilityZone"] for s in public) == ZONES
    assert sorted(props(s)["availabilityZone"] for s in private) == ZONES
    assert all(props(s)["tags"]["kubernetes.io/cluster/llm-test"] == "shared" for s in subnets)
    assert not any(props(s).get("mapPublicIpOnLaunch") for s in subnets)


def _private_routes(g: Graph) -> list[str]:
    tables = [t for t in g.of_type("ec2/routeTable:RouteTable") if "private" in t.name]
    return [props(t)["routes"][0]["natGatewayId"] for t in tables]


def test_shared_nat_gateway_serves_every_zone(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, per_zone=False)
    assert len(g.of_type("ec2/natGateway:NatGateway")) == 1
    assert len(set(_private_routes(g))) == 1


def test_nat_gateway_per_zone_keeps_each_zone_on_its_own(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, per_zone=True)
    nats = g.of_type("ec2/natGateway:NatGateway")
    assert len(nats) == 3
    assert len(set(_private_routes(g))) == 3


def test_model_downloads_bypass_nat_through_the_s3_gateway_endpoint(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, per_zone=False)
    endpoint = props(g.one("ec2/vpcEndpoint:VpcEndpoint"))
    assert endpoint["serviceName"] == "com.amazonaws.us-east-1.s3"
    assert endpoint["vpcEndpointType"] == "Gateway"
    private_tables = {t.name for t in g.of_type("ec2/routeTable:RouteTable") if "private" in t.name}
    assert len(endpoint["routeTableIds"]) == len(private_tables) == 3


def test_flow_logs_record_rejected_traffic_with_a_retention(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, per_zone=False)
    flow = props(g.one("ec2/flowLog:FlowLog"))
    group = props(g.one("cloudwatch/logGroup:LogGroup"))
    assert flow["trafficType"] == "REJECT"
    assert group["retentionInDays"] == 14
    role = g.one("iam/role:Role")
    assert policy(role, "assumeRolePolicy")["Statement"][0]["Principal"] == {
        "Service": "vpc-flow-logs.amazonaws.com"
    }
    statement = policy(g.one("iam/rolePolicy:RolePolicy"), "policy")["Statement"][0]
    assert statement["Resource"].startswith("arn:aws:logs:") and statement["Resource"].endswith(":*")
    assert all(action.startswith("logs:") for action in statement["Action"])


def test_default_security_group_admits_nothing(run_pulumi: RunPulumi) -> None:
    sg = props(build(run_pulumi, per_zone=False).one("ec2/defaultSecurityGroup:DefaultSecurityGroup"))
    assert sg.get("ingress", []) == [] and sg.get("egress", []) == []


def test_adopting_a_vpc_creates_nothing_and_passes_its_ids_through(run_pulumi: RunPulumi) -> None:
    captured: dict[str, Network] = {}

    def program() -> None:
        captured["net"] = Network(
            "net",
            {
                "cluster_name": "llm-test",
                "availability_zones": ZONES[:2],
                "existing_vpc_id": "vpc-0123456789abcdef0",
                "existing_private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            },
            on_aws(),
        )

    g = run_pulumi(program)
    assert [r.type for r in g if r.custom and not r.is_provider] == []
    outputs = g.one("llmplatform:index:Network").outputs
    assert outputs["vpc_id"] == "vpc-0123456789abcdef0"
    assert outputs["private_subnet_ids"] == ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"]
    assert outputs["public_subnet_ids"] == []


def test_flow_log_role_is_for_this_accounts_flow_logs_and_can_check_its_log_group(
    run_pulumi: RunPulumi,
) -> None:
    g = build(run_pulumi, per_zone=False)
    (trust,) = policy(g.one("iam/role:Role"), "assumeRolePolicy")["Statement"]
    doc = {"Statement": [{**trust, "Resource": "*"}]}
    ours = {
        "aws:SourceAccount": "123456789012",
        "aws:SourceArn": "arn:aws:ec2:us-east-1:123456789012:vpc-flow-log/fl-0123456789abcdef0",
    }
    assert allows(doc, "sts:AssumeRole", "*", ours)
    other_account = {
        "aws:SourceAccount": "999999999999",
        "aws:SourceArn": ours["aws:SourceArn"].replace("1234", "9999"),
    }
    assert not allows(doc, "sts:AssumeRole", "*", other_account)
    assert not allows(doc, "sts:AssumeRole", "*", {})  # no source given: refused
    grant = policy(g.one("iam/rolePolicy:RolePolicy"), "policy")
    group = g.one("cloudwatch/logGroup:LogGroup").state["arn"]
    for action in ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"):
        assert allows(grant, action, f"{group}:log-stream:x")
    assert allows(grant, "logs:DescribeLogGroups", "*")
    assert not allows(
        grant, "logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:other:log-stream:x"
    )


def test_adopted_subnets_must_be_exactly_one_per_zone(run_pulumi: RunPulumi) -> None:
    """EFS mount targets are made per zone from `private_subnets_by_zone`; a zone takes one."""
    subnets = ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]

    def adopt(zones: list[str]) -> Network:
        return Network(
            "net",
            {
                "cluster_name": "llm-test",
                "availability_zones": zones,
                "existing_vpc_id": "vpc-0123456789abcdef0",
                "existing_private_subnet_ids": subnets,
            },
            on_aws(),
        )

    captured: dict[str, Network] = {}
    run_pulumi(lambda: captured.setdefault("net", adopt(ZONES)))
    assert list(captured["net"].private_subnets_by_zone) == ZONES
    with pytest.raises(Exception, match="3 existing private subnets for 2 availability zones"):
        run_pulumi(lambda: adopt(ZONES[:2]))


def test_created_network_maps_each_zone_to_its_private_subnet(run_pulumi: RunPulumi) -> None:
    captured: dict[str, Network] = {}

    def program() -> None:
        captured["net"] = Network(
            "net",
            {"cluster_name": "llm-test", "availability_zones": ZONES, "vpc_cidr": "10.40.0.0/16"},
            on_aws(),
        )

    run_pulumi(program)
    assert list(captured["net"].private_subnets_by_zone) == ZONES
