"""IngressGateway: the controller and its CRDs in order, TLS, WAF rate limit, access logs; and KEDA."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest
import yaml

from components import IngressGateway, Keda, versions
from components.core import elb_logs
from tests.conftest import RunPulumi
from tests.graph import Graph, policy, props
from tests.iam_eval import allows
from tests.pod_identity import scoped_to
from tests.upstream import upstream_dir

CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/llm-test"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"


def build(run_pulumi: RunPulumi, **overrides: Any) -> Graph:
    def program() -> None:
        providers = [aws.Provider("aws", region="us-east-1"), k8s.Provider("k8s", kubeconfig="{}")]
        args: dict[str, Any] = {
            "cluster_name": "llm-test",
            "cluster_arn": CLUSTER_ARN,
            "vpc_id": "vpc-0123456789abcdef0",
            "region": "us-east-1",
            "domain": "llm.example.com",
            "certificate_arn": CERT,
            "allowed_cidrs": ["203.0.113.0/24"],
            "rate_limit_per_five_minutes": 1500,
            "access_log_retention_days": 90,
            **overrides,
        }
        IngressGateway("edge", args, pulumi.ResourceOptions(providers=providers))  # type: ignore[arg-type]

    return run_pulumi(program)


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build(run_pulumi)


def custom(g: Graph, kind: str) -> Any:
    return next(r for r in g if r.props.get("kind") == kind)


def test_gateway_api_crds_are_pinned_and_in_place_before_the_controller(graph: Graph) -> None:
    crds = graph.one("kubernetes:yaml/v2:ConfigFile")
    assert props(crds)["file"] == versions.GATEWAY_API_CRDS
    assert "/v1.6.1/standard-install.yaml" in versions.GATEWAY_API_CRDS  # GRPCRoute included
    controller = graph.one("helm.sh/v3:Release")
    assert graph.depends_on(controller, crds)
    for kind in ("Gateway", "GatewayClass", "LoadBalancerConfiguration"):
        assert graph.depends_on(custom(graph, kind), controller), kind


def test_controller_is_the_pinned_chart_configured_without_imds(graph: Graph) -> None:
    release = props(graph.one("helm.sh/v3:Release"))
    chart = versions.AWS_LOAD_BALANCER_CONTROLLER
    assert (release["chart"], release["version"], release["repositoryOpts"]["repo"]) == (
        chart.name,
        chart.version,
        chart.repository,
    )
    values = release["values"]
    assert (values["clusterName"], values["region"], values["vpcId"]) == (
        "llm-test",
        "us-east-1",
        "vpc-0123456789abcdef0",
    )
    assert values["defaultTargetType"] == "ip"
    assert values["enableServiceMutatorWebhook"] is False


def test_controller_role_is_bound_to_its_service_account_with_the_published_permissions(graph: Graph) -> None:
    release = props(graph.one("helm.sh/v3:Release"))
    association = props(graph.one("eks/podIdentityAssociation:PodIdentityAssociation"))
    assert association["namespace"] == release["namespace"] == "kube-system"
    assert association["serviceAccount"] == release["values"]["serviceAccount"]["name"] == release["name"]
    doc = policy(graph.one("iam/rolePolicy:RolePolicy"), "policy")
    assert len(doc["Statement"]) == 16
    assert sum(len(s["Action"]) for s in doc["Statement"]) == 86
    vpc = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"
    sg = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-1"
    assert allows(doc, "ec2:AuthorizeSecurityGroupIngress", sg, {"ec2:Vpc": vpc})
    assert not allows(doc, "ec2:AuthorizeSecurityGroupIngress", sg, {"ec2:Vpc": vpc.replace("0123", "9999")})
    tagged = {"aws:ResourceTag/elbv2.k8s.aws/cluster": "llm-test"}
    lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/1"
    assert allows(doc, "elasticloadbalancing:DeleteLoadBalancer", lb, tagged)
    assert not allows(doc, "elasticloadbalancing:DeleteLoadBalancer", lb)  # only load balancers it tagged
    trust = policy(graph.one("iam/role:Role"), "assumeRolePolicy")
    assert scoped_to(trust, CLUSTER_ARN, "kube-system", association["serviceAccount"])


def test_load_balancer_is_tls_only_rate_limited_and_logged(graph: Graph) -> None:
    config = props(custom(graph, "LoadBalancerConfiguration"))["spec"]
    (listener,) = config["listenerConfigurations"]
    assert listener == {
        "protocolPort": "HTTPS:443",
        "defaultCertificate": CERT,
        "sslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
    }
    acl = graph.one("wafv2/webAcl:WebAcl")
    assert config["wafV2"] == {"webACL": acl.state["arn"]}
    (rule,) = props(acl)["rules"]
    assert rule["statement"]["rateBasedStatement"] == {
        "limit": 1500,
        "aggregateKeyType": "IP",
        "evaluationWindowSec": 300,
    }
    assert rule["action"] == {"block": {}}
    attributes = {a["key"]: a["value"] for a in config["loadBalancerAttributes"]}
    bucket = graph.one("s3/bucket:Bucket")
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == bucket.state["bucket"]
    assert int(attributes["idle_timeout.timeout_seconds"]) >= 300
    assert config["sourceRanges"] == ["203.0.113.0/24"]
    assert config["scheme"] == "internet-facing"


def test_access_logs_bucket_is_sse_s3_kept_90_days_and_writable_by_elb_only(graph: Graph) -> None:
    sse = props(graph.one("BucketServerSideEncryptionConfiguration"))["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}  # ALB cannot write SSE-KMS
    rules = props(graph.one("BucketLifecycleConfiguration"))["rules"]
    assert {"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": 90}} in rules
    doc = json.loads(graph.one("BucketPolicy").props["policy"])
    bucket = graph.one("s3/bucket:Bucket").state["arn"]
    log = f"{bucket}/alb/AWSLogs/123456789012/2026/11/21/log.gz"
    principals = [s["Principal"] for s in doc["Statement"] if s["Effect"] == "Allow"]
    assert {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"} in principals
    assert {"AWS": "arn:aws:iam::127311923021:root"} in principals
    assert allows(doc, "s3:PutObject", log, {"aws:SecureTransport": "true"})
    assert not allows(doc, "s3:PutObject", f"{bucket}/elsewhere/x", {"aws:SecureTransport": "true"})


def test_gateway_accepts_routes_from_tenant_namespaces_only(graph: Graph) -> None:
    gateway = props(custom(graph, "Gateway"))["spec"]
    assert props(custom(graph, "GatewayClass"))["spec"] == {"controllerName": "gateway.k8s.aws/alb"}
    assert gateway["infrastructure"]["parametersRef"]["kind"] == "LoadBalancerConfiguration"
    (listener,) = gateway["listeners"]
    assert (listener["name"], listener["protocol"], listener["port"]) == ("https", "HTTPS", 443)
    assert listener["hostname"] == "*.llm.example.com"
    assert listener["allowedRoutes"]["namespaces"]["selector"]["matchExpressions"] == [
        {"key": "llm-platform.io/tenant", "operator": "Exists"}
    ]


def test_keda_is_the_pinned_chart_on_system_nodes(run_pulumi: RunPulumi) -> None:
    def program() -> None:
        Keda("keda", {}, pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="{}")]))

    g = run_pulumi(program)
    release = props(g.one("helm.sh/v3:Release"))
    assert (release["chart"], release["version"]) == (versions.KEDA.name, versions.KEDA.version)
    assert release["values"]["nodeSelector"] == {"llm-platform.io/pool": "system"}
    assert release["values"]["operator"]["replicaCount"] == 2
    assert g.of_type("monitoring.coreos.com/v1:ServiceMonitor") == []  # no monitoring, no monitor


def test_keda_operator_metrics_are_scraped_once_monitoring_is_installed(run_pulumi: RunPulumi) -> None:
    """Scaler errors are only visible if Prometheus scrapes the operator (the KEDA alerts)."""

    def program() -> None:
        k8s_opts = pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="{}")])
        kps = k8s.helm.v3.Release("kps", chart="kube-prometheus-stack", opts=k8s_opts)
        Keda("keda", {"monitoring_release": kps.name}, k8s_opts)

    g = run_pulumi(program)
    release = next(r for r in g.of_type("helm.sh/v3:Release") if props(r)["chart"] == versions.KEDA.name)
    monitor = g.one("monitoring.coreos.com/v1:ServiceMonitor")
    spec = props(monitor)["spec"]
    pinned = yaml.safe_load((upstream_dir() / "charts" / "keda" / "values.yaml").read_text())
    # The chart's operator Service carries app.kubernetes.io/name=<operator.name> and, with
    # prometheus.operator.enabled, a port named "metrics".
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": pinned["operator"]["name"]}
    assert props(release)["values"]["prometheus"]["operator"]["enabled"] is True
    (endpoint,) = spec["endpoints"]
    assert endpoint["port"] == "metrics" and endpoint["honorLabels"] is True
    assert props(monitor)["metadata"]["namespace"] == "keda"
    assert g.depends_on(monitor, g.one("helm.sh/v3:Release", name="kps")) and g.depends_on(monitor, release)


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        (
            "eu-west-1",
            [{"Service": elb_logs.LOG_DELIVERY_SERVICE}, {"AWS": "arn:aws:iam::156460612806:root"}],
        ),
        ("ap-southeast-7", [{"Service": elb_logs.LOG_DELIVERY_SERVICE}]),  # opened after August 2022
        ("cn-north-1", [{"AWS": "arn:aws-cn:iam::638102146993:root"}]),
        ("us-gov-west-1", [{"AWS": "arn:aws-us-gov:iam::048591011584:root"}]),
    ],
)
def test_access_logs_may_be_delivered_in_every_region_and_partition(
    run_pulumi: RunPulumi, region: str, expected: list[dict[str, str]]
) -> None:
    g = run_pulumi(lambda: _gateway_in(region), region=region)
    doc = json.loads(g.one("BucketPolicy").props["policy"])
    assert [s["Principal"] for s in doc["Statement"] if s["Effect"] == "Allow"] == expected


def _gateway_in(region: str) -> None:
    providers = [aws.Provider("aws", region=region), k8s.Provider("k8s", kubeconfig="{}")]
    args: dict[str, Any] = {
        "cluster_name": "llm-test",
        "cluster_arn": CLUSTER_ARN,
        "vpc_id": "vpc-0123456789abcdef0",
        "region": region,
        "domain": "llm.example.com",
        "certificate_arn": CERT,
    }
    IngressGateway("edge", args, pulumi.ResourceOptions(providers=providers))  # type: ignore[arg-type]


def test_every_pre_august_2022_region_has_its_elb_account_and_unknown_partitions_are_refused() -> None:
    # AWS's table ("Enable access logs for your Application Load Balancer"): 22 commercial
    # regions, 2 GovCloud, 2 China.
    assert len(elb_logs.ELB_LOG_ACCOUNTS) == 26
    assert all(len(a) == 12 and a.isdigit() for a in elb_logs.ELB_LOG_ACCOUNTS.values())
    assert len(set(elb_logs.ELB_LOG_ACCOUNTS.values())) == 26
    with pytest.raises(
        ValueError, match="no Elastic Load Balancing log account is known for us-gov-central-1"
    ):
        elb_logs.log_delivery_principals("us-gov-central-1", "aws-us-gov")


def test_no_policy_of_the_gateway_hard_codes_the_aws_partition(run_pulumi: RunPulumi) -> None:
    g = run_pulumi(lambda: _gateway_in("cn-north-1"), region="cn-north-1")
    doc = g.one("BucketPolicy").props["policy"]
    assert "arn:aws:iam" not in doc and "arn:aws-cn:iam::638102146993:root" in doc


def test_protected_gateway_keeps_the_alb_and_what_the_controller_makes_it_from(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, protect=True)
    attributes = {
        a["key"]: a["value"]
        for a in props(custom(g, "LoadBalancerConfiguration"))["spec"]["loadBalancerAttributes"]
    }
    assert attributes["deletion_protection.enabled"] == "true"
    kept = {(r.type.split(":")[-1], r.name) for r in g if r.protect}
    assert {
        ("Namespace", "edge-ns"),
        ("LoadBalancerConfiguration", "edge-alb"),
        ("Gateway", "edge-gateway"),
        ("Bucket", "edge-alb-logs"),
    } <= kept
    assert all(r.retain_on_delete for r in g if r.protect)
    unprotected = build(run_pulumi)
    attributes = {
        a["key"]: a["value"]
        for a in props(custom(unprotected, "LoadBalancerConfiguration"))["spec"]["loadBalancerAttributes"]
    }
    assert attributes["deletion_protection.enabled"] == "false"
    assert not any(r.protect or r.retain_on_delete for r in unprotected)
