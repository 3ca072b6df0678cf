"""The AI gateway's namespaces admit only the flows mapped in docs/ai-gateway.md: each flow from
its peer, on its port, and a stranger (a tenant pod, a pod of another namespace, a public
address) refused; every port Prometheus scrapes there admitted from `monitoring`; the ports and
labels the policies name are the pinned charts'."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core import gateway as gw
from components.core import gateway_network as net
from components.core import labels
from components.core.netpol import ip_blocks
from tests.netpol_eval import Peer, allowed
from tests.upstream import REPO, upstream_dir

LB_CIDRS = ["10.40.192.0/20", "10.40.208.0/20"]
PRIVATE_CIDRS = ["10.40.0.0/18", "10.40.64.0/18"]
EG, AI = gw.CONTROLLER_NAMESPACE, gw.AI_CONTROLLER_NAMESPACE


def as_objects(policies: list[net.Policy]) -> list[dict[str, Any]]:
    return [{"metadata": {"namespace": p.namespace, "name": p.name}, "spec": p.spec} for p in policies]


POLICIES = as_objects(net.gateway_network_policies(ip_blocks(LB_CIDRS, "lb"), ip_blocks(PRIVATE_CIDRS, "cp")))


def ns_labels(name: str, **extra: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": name, **extra}


def pod(namespace: str, pod_labels: dict[str, str], **ns_extra: str) -> Peer:
    return Peer(
        namespace_labels=ns_labels(namespace, **ns_extra), pod_labels=dict(pod_labels), namespace=namespace
    )


PROXY = pod(EG, net.PROXY_POD_LABELS)
EG_CONTROLLER = pod(EG, net.EG_CONTROLLER_POD_LABELS)
RATELIMIT = pod(EG, net.RATELIMIT_POD_LABELS)
REDIS = pod(EG, net.REDIS_POD_LABELS)
AI_CONTROLLER = pod(AI, net.AI_CONTROLLER_POD_LABELS)
PROMETHEUS = pod(labels.MONITORING_NAMESPACE, {labels.NAME: "prometheus"})
ALB = Peer(ip="10.40.200.17")  # an ALB node in a public subnet
CONTROL_PLANE_ENI = Peer(ip="10.40.70.4")  # an EKS control-plane interface in a private subnet
TENANT_POD = pod("search", {labels.COMPONENT: labels.INFERENCE}, **{labels.TENANT: "search"})
OTHER_NAMESPACE_POD = pod("kube-system", {"k8s-app": "kube-dns"})
PUBLIC = Peer(ip="203.0.113.9")
EG_SAME_NAMESPACE_STRANGER = pod(EG, {labels.NAME: "something-else"})


@dataclass(frozen=True)
class Flow:
    name: str
    to: Peer
    port: int
    peer: Peer


FLOWS = [
    Flow("allow-alb-to-proxies", PROXY, gw.PROXY_CONTAINER_PORT, ALB),
    Flow("allow-alb-to-proxies", PROXY, gw.PROXY_READY_PORT, ALB),
    Flow("allow-proxies-to-controller-xds", EG_CONTROLLER, net.XDS_PORT, PROXY),
    Flow("allow-ratelimit-to-controller-xds", EG_CONTROLLER, net.RATELIMIT_XDS_PORT, RATELIMIT),
    Flow("allow-apiserver-to-topology-webhook", EG_CONTROLLER, net.EG_WEBHOOK_PORT, CONTROL_PLANE_ENI),
    Flow("allow-proxies-to-ratelimit", RATELIMIT, net.RATELIMIT_GRPC_PORT, PROXY),
    Flow("allow-ratelimit-to-redis", REDIS, net.REDIS_PORT, RATELIMIT),
    Flow("allow-envoy-gateway-to-extension-server", AI_CONTROLLER, gw.AI_CONTROLLER_GRPC_PORT, EG_CONTROLLER),
    Flow("allow-apiserver-to-sidecar-webhook", AI_CONTROLLER, net.AI_WEBHOOK_PORT, CONTROL_PLANE_ENI),
    Flow("allow-monitoring-to-proxies-metrics", PROXY, gw.PROXY_STATS_PORT, PROMETHEUS),
    Flow("allow-monitoring-to-proxies-metrics", PROXY, gw.EXTPROC_METRICS_PORT, PROMETHEUS),
    Flow("allow-monitoring-to-redis-metrics", REDIS, net.REDIS_EXPORTER_PORT, PROMETHEUS),
]


def ingress(policies: list[dict[str, Any]], to: Peer, port: int, peer: Peer) -> bool:
    assert to.namespace is not None
    return allowed(
        policies, namespace=to.namespace, pod_labels=to.pod_labels, direction="Ingress", peer=peer, port=port
    )


def egress(
    policies: list[dict[str, Any]], source: Peer, port: int, peer: Peer, protocol: str = "TCP"
) -> bool:
    assert source.namespace is not None
    return allowed(
        policies,
        namespace=source.namespace,
        pod_labels=source.pod_labels,
        direction="Egress",
        peer=peer,
        port=port,
        protocol=protocol,
    )


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f"{f.name}:{f.port}")
def test_each_flow_is_admitted_by_its_own_policy_and_strangers_are_refused(flow: Flow) -> None:
    assert ingress(POLICIES, flow.to, flow.port, flow.peer)
    # The policy named for the flow is the one that admits it: without it, the flow is refused.
    others = [p for p in POLICIES if p["metadata"]["name"] != flow.name]
    assert not ingress(others, flow.to, flow.port, flow.peer), f"{flow.name} is not what admits the flow"
    strangers = [TENANT_POD, OTHER_NAMESPACE_POD, PUBLIC, EG_SAME_NAMESPACE_STRANGER, PROMETHEUS, ALB]
    if flow.peer is CONTROL_PLANE_ENI:
        # Admitted by address: pods draw theirs from the same private subnets, so only addresses
        # outside them are strangers here (see the webhook test below).
        strangers = [PUBLIC, ALB]
    for stranger in strangers:
        if stranger != flow.peer:
            assert not ingress(POLICIES, flow.to, flow.port, stranger), f"{stranger} reaches {flow.name}"


def test_nothing_else_reaches_any_pod_of_either_namespace() -> None:
    """Ports nobody needs stay shut, even to peers that may call the pod on another port."""
    shut = [
        (EG_CONTROLLER, net.WASM_PORT),  # no Wasm extension is used
        (EG_CONTROLLER, net.CONTROLLER_METRICS_PORT),  # not scraped
        (AI_CONTROLLER, net.AI_CONTROLLER_METRICS_PORT),  # not scraped
        (AI_CONTROLLER, 18002),  # the AI gateway's quota rate-limit xDS: no quota service runs
        (PROXY, 19000),  # Envoy's admin (bound to loopback anyway)
        (PROXY, 19002),  # the shutdown manager: the kubelet's preStop hook only
        (RATELIMIT, 8080),  # readiness: the kubelet only
        (RATELIMIT, 19001),  # the rate-limit service's metrics: not scraped
    ]
    everyone = [PROXY, EG_CONTROLLER, RATELIMIT, REDIS, AI_CONTROLLER, PROMETHEUS, ALB, CONTROL_PLANE_ENI]
    for to, port in shut:
        for peer in [*everyone, TENANT_POD, OTHER_NAMESPACE_POD, PUBLIC]:
            assert not ingress(POLICIES, to, port, peer), f"{peer} reaches {to.pod_labels} on {port}"
    # Cross-wired peers: each caller only where its flow goes.
    assert not ingress(POLICIES, REDIS, net.REDIS_PORT, PROXY)  # proxies go through the rate-limit service
    assert not ingress(POLICIES, EG_CONTROLLER, net.XDS_PORT, RATELIMIT)  # its xDS is 18001
    assert not ingress(POLICIES, EG_CONTROLLER, net.RATELIMIT_XDS_PORT, PROXY)
    assert not ingress(POLICIES, AI_CONTROLLER, gw.AI_CONTROLLER_GRPC_PORT, PROXY)
    assert not ingress(POLICIES, PROXY, gw.PROXY_CONTAINER_PORT, TENANT_POD)  # only through the ALB
    # Every pod of both namespaces, labelled or not, is selected by a deny-by-default policy.
    for namespace in (EG, AI):
        assert not ingress(POLICIES, pod(namespace, {"app": "anything"}), 8080, PROXY)


def test_webhooks_admit_the_control_plane_subnets_and_nothing_outside_them() -> None:
    """EKS does not say the API server's address; it calls webhooks from its network interfaces
    in the cluster's (private) subnets, so those CIDRs are admitted, on the webhook port only."""
    for to, port in ((EG_CONTROLLER, net.EG_WEBHOOK_PORT), (AI_CONTROLLER, net.AI_WEBHOOK_PORT)):
        for cidr in PRIVATE_CIDRS:
            first = cidr.split("/")[0].rsplit(".", 1)[0] + ".9"
            assert ingress(POLICIES, to, port, Peer(ip=first))
        assert not ingress(POLICIES, to, port, ALB)
        assert not ingress(POLICIES, to, port, PUBLIC)
        assert not ingress(POLICIES, to, port + 1, CONTROL_PLANE_ENI)


def test_the_alb_reaches_the_listener_and_ready_only_from_its_subnets() -> None:
    for port in (gw.PROXY_CONTAINER_PORT, gw.PROXY_READY_PORT):
        assert ingress(POLICIES, PROXY, port, ALB)
        assert not ingress(POLICIES, PROXY, port, CONTROL_PLANE_ENI)  # a node or pod address
    assert not ingress(POLICIES, PROXY, gw.PROXY_STATS_PORT, ALB)  # the stats stay in the cluster
    assert not ingress(POLICIES, PROXY, gw.EXTPROC_METRICS_PORT, ALB)


def test_redis_calls_nothing_and_the_rate_limit_service_only_dns_redis_and_its_xds() -> None:
    dns = OTHER_NAMESPACE_POD
    for peer, port in (
        (dns, 53),
        (PUBLIC, 443),
        (RATELIMIT, net.RATELIMIT_GRPC_PORT),
        (EG_CONTROLLER, 18001),
    ):
        assert not egress(POLICIES, REDIS, port, peer)
    assert not egress(POLICIES, REDIS, 53, dns, "UDP")

    assert egress(POLICIES, RATELIMIT, 53, dns, "UDP") and egress(POLICIES, RATELIMIT, 53, dns, "TCP")
    assert egress(POLICIES, RATELIMIT, net.REDIS_PORT, REDIS)
    assert egress(POLICIES, RATELIMIT, net.RATELIMIT_XDS_PORT, EG_CONTROLLER)
    assert not egress(POLICIES, RATELIMIT, net.XDS_PORT, EG_CONTROLLER)
    assert not egress(POLICIES, RATELIMIT, net.REDIS_EXPORTER_PORT, REDIS)
    assert not egress(POLICIES, RATELIMIT, 443, PUBLIC)
    assert not egress(POLICIES, RATELIMIT, 53, pod("search", {"k8s-app": "kube-dns"}), "UDP")
    assert not egress(POLICIES, RATELIMIT, net.REDIS_PORT, TENANT_POD)


def test_proxies_and_controllers_keep_open_egress_as_documented() -> None:
    """The decision in docs/ai-gateway.md: the proxies reach every tenant namespace (and, with
    OIDC, an issuer's keys), the controllers an API server whose address EKS does not give."""
    for source in (PROXY, EG_CONTROLLER, AI_CONTROLLER):
        assert egress(POLICIES, source, 443, PUBLIC)
        assert egress(POLICIES, source, labels.VLLM_PORT, TENANT_POD)
    assert egress(POLICIES, EG_CONTROLLER, gw.AI_CONTROLLER_GRPC_PORT, AI_CONTROLLER)


def test_an_empty_address_list_is_refused_not_turned_into_admit_all() -> None:
    with pytest.raises(ValueError, match="no load balancer CIDRs"):
        ip_blocks([], "load balancer")


# --- what the plan sends -------------------------------------------------------------------


def _manifests(out: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((out / "manifests").glob("*.yaml"))]


def _contains(labels_: dict[str, str], selector: dict[str, str]) -> bool:
    return all(labels_.get(k) == v for k, v in selector.items())


def _pod_templates(objs: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    return [
        o["spec"]["template"]
        for o in objs
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
        and o["metadata"].get("namespace") == namespace
    ]


def _named_port(templates: list[dict[str, Any]], selector: dict[str, str], name: str) -> int:
    """A container port by name on the pods `selector` picks: from the plan's pod templates, or
    for pods Envoy Gateway makes (the proxies), from what it puts on them."""
    for template in templates:
        if _contains(template["metadata"].get("labels", {}), selector):
            for container in template["spec"]["containers"]:
                for port in container.get("ports", []):
                    if port.get("name") == name:
                        return int(port["containerPort"])
    assert _contains(net.PROXY_POD_LABELS, selector), f"no pod in the plan has port {name!r} for {selector}"
    return net.PROXY_NAMED_PORTS[name]


def scraped_targets(objs: list[dict[str, Any]]) -> list[tuple[str, dict[str, str], int]]:
    """(namespace, pod labels, port) of every endpoint a PodMonitor or ServiceMonitor in the
    gateway's namespaces scrapes, resolved as the Prometheus operator does."""
    targets = []
    for mon in objs:
        namespace = mon["metadata"].get("namespace")
        if namespace not in (EG, AI):
            continue
        templates = _pod_templates(objs, namespace)
        if mon["kind"] == "PodMonitor":
            selector = mon["spec"]["selector"]["matchLabels"]
            for ep in mon["spec"]["podMetricsEndpoints"]:
                port = ep.get("portNumber") or _named_port(templates, selector, ep["port"])
                targets.append((namespace, selector, int(port)))
        elif mon["kind"] == "ServiceMonitor":
            services = [
                o
                for o in objs
                if o["kind"] == "Service"
                and o["metadata"].get("namespace") == namespace
                and _contains(o["metadata"].get("labels", {}), mon["spec"]["selector"]["matchLabels"])
            ]
            assert services, f"ServiceMonitor {mon['metadata']['name']} selects no Service"
            for svc in services:
                pods = svc["spec"]["selector"]
                for ep in mon["spec"]["endpoints"]:
                    (svc_port,) = [p for p in svc["spec"]["ports"] if p.get("name") == ep["port"]]
                    target = svc_port.get("targetPort", svc_port["port"])
                    port = target if isinstance(target, int) else _named_port(templates, pods, target)
                    targets.append((namespace, pods, int(port)))
    return targets


def test_every_port_prometheus_scrapes_in_the_gateway_namespaces_is_admitted_from_monitoring(
    planned: Callable[[str], Path],
) -> None:
    objs = _manifests(planned("prod"))
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"]
    targets = scraped_targets(objs)
    assert len(targets) >= 3  # the proxies' two endpoints and Redis's exporter, at least
    for namespace, pod_labels, port in targets:
        scraped = pod(namespace, pod_labels)
        assert ingress(policies, scraped, port, PROMETHEUS), (
            f"{namespace} {pod_labels}:{port} is scraped but shut"
        )
        assert not ingress(policies, scraped, port, TENANT_POD)


def test_prod_sends_every_policy_in_its_namespace_with_the_vpcs_subnets(
    planned: Callable[[str], Path],
) -> None:
    out = planned("prod")
    objs = _manifests(out)
    sent = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o["spec"]
        for o in objs
        if o["kind"] == "NetworkPolicy" and o["metadata"]["namespace"] in (EG, AI)
    }
    assert set(sent) == {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in POLICIES}
    outputs = json.loads((out / "outputs.json").read_text())
    network = json.dumps(outputs)
    alb = [b["ipBlock"]["cidr"] for b in sent[(EG, "allow-alb-to-proxies")]["ingress"][0]["from"]]
    webhook = [
        b["ipBlock"]["cidr"] for b in sent[(AI, "allow-apiserver-to-sidecar-webhook")]["ingress"][0]["from"]
    ]
    assert alb and webhook and not set(alb) & set(webhook)
    for cidr in alb + webhook:
        assert cidr in network  # the VPC's own subnets, as the stack reports them
    # The ALB health-checks the port the policy admits, where Envoy answers /ready.
    (tg,) = [o for o in objs if o["kind"] == "TargetGroupConfiguration" and o["metadata"]["namespace"] == EG]
    health = tg["spec"]["defaultConfiguration"]["healthCheckConfig"]
    assert (health["healthCheckPath"], int(health["healthCheckPort"])) == ("/ready", gw.PROXY_READY_PORT)
    assert ingress(
        list(sent_objects(sent)), PROXY, int(health["healthCheckPort"]), Peer(ip=alb[0].split("/")[0])
    )


def sent_objects(sent: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"metadata": {"namespace": ns, "name": name}, "spec": spec} for (ns, name), spec in sent.items()]


# --- the facts the policies rest on --------------------------------------------------------


def _values(chart: str) -> dict[str, Any]:
    return dict(yaml.safe_load((upstream_dir() / "charts" / chart / "values.yaml").read_text()))


def _chart_name(chart: str) -> str:
    return str(yaml.safe_load((upstream_dir() / "charts" / chart / "Chart.yaml").read_text())["name"])


def test_ports_and_labels_are_the_pinned_charts(planned: Callable[[str], Path]) -> None:
    eg = _values("envoy-gateway")
    eg_ports = {p["name"]: p["port"] for p in eg["deployment"]["ports"]}
    assert eg_ports["grpc"] == net.XDS_PORT
    assert eg_ports["ratelimit"] == net.RATELIMIT_XDS_PORT
    assert eg_ports["wasm"] == net.WASM_PORT
    assert eg_ports["metrics"] == net.CONTROLLER_METRICS_PORT
    assert eg["topologyInjector"]["enabled"] is True  # its webhook on 9443 is there, so admitted
    ai = _values("ai-gateway")
    ai_ports = {p["name"]: p["targetPort"] for p in ai["controller"]["service"]["ports"]}
    assert ai_ports["grpc"] == gw.AI_CONTROLLER_GRPC_PORT
    assert ai_ports["mutating-webhook"] == ai["controller"]["mutatingWebhook"]["port"] == net.AI_WEBHOOK_PORT
    assert ai_ports["http-metrics"] == net.AI_CONTROLLER_METRICS_PORT
    # The sidecar webhook mutates the pods Envoy Gateway makes: the proxies it must admit.
    assert _contains(
        net.PROXY_POD_LABELS, ai["controller"]["mutatingWebhook"]["objectSelector"]["matchLabels"]
    )
    extension = yaml.safe_load(
        (upstream_dir() / "charts" / "ai-gateway" / "envoy-gateway-values.yaml").read_text()
    )
    fqdn = extension["config"]["envoyGateway"]["extensionManager"]["service"]["fqdn"]
    assert fqdn["port"] == gw.AI_CONTROLLER_GRPC_PORT
    # Chart selector labels are (chart name, release name): the releases the plan installs.
    assert net.EG_CONTROLLER_POD_LABELS[labels.NAME] == _chart_name("envoy-gateway")
    assert net.AI_CONTROLLER_POD_LABELS[labels.NAME] == _chart_name("ai-gateway")
    resources = json.loads((planned("prod") / "resources.json").read_text())
    by_chart = {
        r["props"]["chart"].rsplit("/", 1)[-1]: r["props"]["name"]
        for r in resources
        if r["type"] == "kubernetes:helm.sh/v3:Release"
    }
    assert by_chart[_chart_name("envoy-gateway")] == net.EG_RELEASE
    assert by_chart[_chart_name("ai-gateway")] == net.AI_GATEWAY_RELEASE
    # The controllers' spread constraints select their own pods (the labels the policies use).
    helm = planned("prod") / "helm"
    eg_values = yaml.safe_load((helm / f"{net.EG_RELEASE}.values.yaml").read_text())
    ai_values = yaml.safe_load((helm / f"{net.AI_GATEWAY_RELEASE}.values.yaml").read_text())
    eg_spread = eg_values["deployment"]["pod"]["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]
    ai_spread = ai_values["controller"]["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]
    assert eg_spread == net.EG_CONTROLLER_POD_LABELS and ai_spread == net.AI_CONTROLLER_POD_LABELS


def test_the_docs_table_names_every_policy() -> None:
    doc = (REPO / "docs" / "ai-gateway.md").read_text()
    names = {p["metadata"]["name"] for p in POLICIES}
    missing = {n for n in names if not re.search(rf"`{re.escape(n)}`", doc)}
    assert not missing, f"docs/ai-gateway.md does not list {sorted(missing)}"
    assert "No default-deny NetworkPolicy in the gateway namespaces" not in doc
