"""Tenant: restricted namespace, quotas, defaults, isolation by network policy, rights for its group."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components import Tenant
from components.core import gateway, labels
from tests.conftest import RunPulumi
from tests.graph import Graph, props
from tests.netpol_eval import Peer, allowed

LB_CIDRS = ["10.40.192.0/20", "10.40.208.0/20"]
PRIVATE_CIDRS = ["10.40.0.0/18", "10.40.64.0/18"]
INFERENCE = {labels.COMPONENT: labels.INFERENCE}
SYNC = {labels.COMPONENT: labels.MODEL_SYNC, labels.PUBLIC_HTTPS_EGRESS: "true"}


def build(run_pulumi: RunPulumi, name: str = "team-a", **overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "gpus": 4,
        "cpu": "32",
        "memory": "256Gi",
        "cluster_name": "llm-test",
        "access_role_arns": ["arn:aws:iam::111111111111:role/team-a-engineers"],
        "group": "team-a-developers",
        "load_balancer_cidrs": LB_CIDRS,
        "storage_cidrs": PRIVATE_CIDRS,
        **overrides,
    }

    def program() -> None:
        providers = [aws.Provider("aws", region="us-east-1"), k8s.Provider("k8s", kubeconfig="{}")]
        Tenant(name, args, pulumi.ResourceOptions(providers=providers))  # type: ignore[arg-type]

    return run_pulumi(program)


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build(run_pulumi)


def policies(g: Graph) -> list[dict[str, Any]]:
    return [props(p) for p in g.of_type("networking.k8s.io/v1:NetworkPolicy")]


def test_namespace_enforces_the_restricted_pod_security_level(graph: Graph) -> None:
    ns = props(graph.one("core/v1:Namespace"))["metadata"]
    assert ns["name"] == "team-a"
    for mode in ("enforce", "audit", "warn"):
        assert ns["labels"][f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_quota_caps_gpus_cpu_memory_and_forbids_own_load_balancers(graph: Graph) -> None:
    hard = props(graph.one("core/v1:ResourceQuota"))["spec"]["hard"]
    assert hard["requests.nvidia.com/gpu"] == "4"
    assert (hard["requests.cpu"], hard["limits.cpu"]) == ("32", "32")
    assert (hard["requests.memory"], hard["limits.memory"]) == ("256Gi", "256Gi")
    assert hard["services.loadbalancers"] == "0"
    assert hard["services.nodeports"] == "0"
    assert hard["pods"] == "50" and hard["persistentvolumeclaims"] == "10"


def test_limit_range_gives_containers_requests_and_limits(graph: Graph) -> None:
    (limit,) = props(graph.one("core/v1:LimitRange"))["spec"]["limits"]
    assert limit["type"] == "Container"
    assert limit["defaultRequest"] == {"cpu": "100m", "memory": "256Mi"}
    assert limit["default"] == {"cpu": "1", "memory": "1Gi"}


def test_model_port_is_reachable_from_load_balancers_and_prometheus_only(graph: Graph) -> None:
    pols = policies(graph)

    def ingress(peer: Peer, port: int = labels.VLLM_PORT, pod: dict[str, str] = INFERENCE) -> bool:
        return allowed(pols, namespace="team-a", pod_labels=pod, direction="Ingress", peer=peer, port=port)

    monitoring = {"kubernetes.io/metadata.name": labels.MONITORING_NAMESPACE}
    assert ingress(Peer(ip="10.40.193.7"))  # an ALB node in a public subnet
    assert ingress(
        Peer(namespace_labels=monitoring, pod_labels={"app": "prometheus"}, namespace="monitoring")
    )
    assert not ingress(Peer(ip="10.40.1.9"))  # a pod or node in a private subnet
    assert not ingress(Peer(namespace_labels={"kubernetes.io/metadata.name": "team-b"}, namespace="team-b"))
    assert not ingress(Peer(namespace="team-a", namespace_labels={}, pod_labels={"app": "debug"}))
    assert not ingress(Peer(ip="10.40.193.7"), port=22)
    assert not ingress(Peer(ip="10.40.193.7"), pod=SYNC)  # only serving pods take traffic


def test_egress_is_dns_credentials_nfs_and_https_for_labelled_pods(graph: Graph) -> None:
    pols = policies(graph)

    def egress(peer: Peer, port: int, pod: dict[str, str] = INFERENCE, protocol: str = "TCP") -> bool:
        return allowed(
            pols,
            namespace="team-a",
            pod_labels=pod,
            direction="Egress",
            peer=peer,
            port=port,
            protocol=protocol,
        )

    dns = Peer(
        namespace_labels={"kubernetes.io/metadata.name": "kube-system"},
        pod_labels={"k8s-app": "kube-dns"},
        namespace="kube-system",
    )
    assert egress(dns, 53, protocol="UDP") and egress(dns, 53)
    assert egress(Peer(ip="169.254.170.23"), 80)  # Pod Identity credentials
    assert egress(Peer(ip="10.40.65.4"), 2049)  # an EFS mount target
    s3 = Peer(ip="52.216.1.1")
    assert egress(s3, 443, pod=SYNC)
    assert not egress(s3, 443)  # serving pods that read EFS do not reach the internet
    assert not egress(Peer(ip="10.40.65.4"), 443, pod=SYNC)  # "public" excludes the VPC
    assert not egress(Peer(ip="169.254.169.254"), 80, pod=SYNC)  # nor the instance metadata service
    assert not egress(
        Peer(namespace_labels={"kubernetes.io/metadata.name": "team-b"}, namespace="team-b"), 8000
    )


def test_group_gets_the_tenant_role_in_its_namespace_only_and_its_roles_map_into_the_group(
    graph: Graph,
) -> None:
    # What the tenant Role allows and what admission refuses: tests/test_tenant_access.py.
    binding = props(graph.one("rbac.authorization.k8s.io/v1:RoleBinding"))
    assert binding["metadata"]["namespace"] == "team-a"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "tenant"}
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "team-a-developers"}
    ]
    assert graph.of_type("ClusterRoleBinding") == []
    entry = props(graph.one("eks/accessEntry:AccessEntry"))
    assert entry["principalArn"] == "arn:aws:iam::111111111111:role/team-a-engineers"
    assert entry["kubernetesGroups"] == ["team-a-developers"]
    assert graph.of_type("eks/accessPolicyAssociation:AccessPolicyAssociation") == []


def test_every_object_lands_in_the_tenant_namespace(graph: Graph) -> None:
    for r in graph:
        # Admission policies and their bindings are cluster-scoped; they select the namespace.
        if r.type.startswith("kubernetes:") and "Namespace" not in r.type and "Admission" not in r.type:
            assert props(r)["metadata"]["namespace"] == "team-a", r.name


STREAMING = {labels.COMPONENT: labels.INFERENCE, labels.S3_EGRESS: "true"}


def test_streaming_pods_reach_the_regions_s3_prefix_list_only(graph: Graph) -> None:
    pols = policies(graph)

    def egress(ip: str, port: int = 443, pod: dict[str, str] = STREAMING) -> bool:
        return allowed(
            pols, namespace="team-a", pod_labels=pod, direction="Egress", peer=Peer(ip=ip), port=port
        )

    (s3,) = [p for p in pols if p["metadata"]["name"] == "allow-s3-https"]
    from infra.plan.mocks import S3_PREFIX_LIST_CIDRS

    assert [b["ipBlock"]["cidr"] for b in s3["spec"]["egress"][0]["to"]] == list(S3_PREFIX_LIST_CIDRS)
    assert egress("52.216.1.1") and egress("3.5.10.1")  # S3 addresses of the region
    assert not egress("52.216.1.1", port=80)
    assert not egress("1.1.1.1") and not egress("140.82.112.3")  # any other public address
    assert egress("1.1.1.1", pod=SYNC)  # the sync Job still reaches the Hub


def test_given_s3_cidrs_replace_the_lookup_and_an_empty_list_is_refused(run_pulumi: RunPulumi) -> None:
    from components.core.netpol import ip_blocks

    g = build(run_pulumi, s3_cidrs=["198.51.100.0/24"])
    (s3,) = [p for p in policies(g) if p["metadata"]["name"] == "allow-s3-https"]
    assert s3["spec"]["egress"][0]["to"] == [{"ipBlock": {"cidr": "198.51.100.0/24"}}]
    with pytest.raises(ValueError, match="no S3 CIDRs"):
        ip_blocks([], "S3")  # an empty `to` would let the pods reach every address


def test_behind_the_ai_gateway_only_its_proxies_reach_the_model_port(run_pulumi: RunPulumi) -> None:
    pols = policies(build(run_pulumi, gateway_namespace=gateway.CONTROLLER_NAMESPACE))

    def ingress(peer: Peer, pod: dict[str, str] = INFERENCE) -> bool:
        return allowed(pols, namespace="team-a", pod_labels=pod, direction="Ingress", peer=peer, port=8000)

    proxy_ns = {"kubernetes.io/metadata.name": gateway.CONTROLLER_NAMESPACE}
    proxy = Peer(
        namespace_labels=proxy_ns,
        pod_labels=dict(gateway.PROXY_POD_LABELS),
        namespace=gateway.CONTROLLER_NAMESPACE,
    )
    assert ingress(proxy)
    monitoring = {"kubernetes.io/metadata.name": "monitoring"}
    assert ingress(
        Peer(namespace_labels=monitoring, pod_labels={"app": "prometheus"}, namespace="monitoring")
    )
    # The load balancers no longer reach vLLM: a request that skipped the gateway skipped its
    # key check, budget and audit.
    assert not ingress(Peer(ip="10.40.193.7"))
    # Nor does anything else in the gateway's namespace (the controller, Redis).
    redis = Peer(
        namespace_labels=proxy_ns,
        pod_labels={"app.kubernetes.io/name": "redis"},
        namespace=gateway.CONTROLLER_NAMESPACE,
    )
    assert not ingress(redis)
