"""Cache-aware routing: each model's InferencePool and endpoint picker, checked against the pinned
inferencepool chart and CRD, routed to by the AI gateway, and reachable only as it must be."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core import endpoint_picker as epp
from components.core import gateway as gw
from components.core import labels
from components.versions import ENDPOINT_PICKER_IMAGE, INFERENCE_EXTENSION_VERSION, INFERENCE_POOL_CRDS
from tests.conftest import RunPulumi
from tests.netpol_eval import Peer, allowed
from tests.test_tenant import build, policies
from tests.upstream import upstream_dir

CHART = upstream_dir() / "charts" / "inferencepool"


def _values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def _manifests(out: Path) -> list[dict[str, Any]]:
    return [yaml.safe_load(p.read_text()) for p in sorted((out / "manifests").glob("*.yaml"))]


def _kind(objs: list[dict[str, Any]], kind: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs if o["kind"] == kind}


def test_the_picker_is_the_pinned_charts_image_ports_and_failure_mode() -> None:
    ext = _values()["inferenceExtension"]
    image = ext["image"]
    assert f"{image['registry']}/{image['repository']}:{image['tag']}" == ENDPOINT_PICKER_IMAGE
    assert ext["extProcPort"] == epp.EXT_PROC_PORT
    assert epp.pool_spec({"a": "b"}, 8000, "p")["endpointPickerRef"]["failureMode"] == ext["failureMode"]
    assert ext["pluginsConfigFile"] == epp.CONFIG_FILE
    pool = _values()["inferencePool"]
    assert pool["modelServerType"] == "vllm" and pool["targetPorts"] == [{"number": labels.VLLM_PORT}]
    assert pool["apiVersion"] == epp.POOL_API
    assert f"/{INFERENCE_EXTENSION_VERSION}/" in INFERENCE_POOL_CRDS


def test_the_scorers_are_the_charts_default_profile() -> None:
    """MANIFEST item 9 records the chart's default-plugins.yaml: prefix cache weighs 3, queue and
    KV-cache use 2 each."""
    manifest = (upstream_dir() / "MANIFEST.md").read_text()
    upstream = {name: int(w) for name, w in re.findall(r"pluginRef: ([a-z-]+)\s+weight: (\d+)", manifest)}
    assert len(upstream) == 3
    config = yaml.safe_load(epp.plugins_config())
    (profile,) = config["schedulingProfiles"]
    assert {p["pluginRef"]: p["weight"] for p in profile["plugins"]} == upstream
    assert {p["type"] for p in config["plugins"]} >= set(upstream) | {
        "metrics-data-source",
        "core-metrics-extractor",
    }


def test_the_vllm_metrics_the_picker_reads_exist_in_the_pinned_release() -> None:
    table = (upstream_dir() / "vllm" / "metrics.tsv").read_text().splitlines()
    names = {line.split("\t")[0] for line in table if line and not line.startswith("#")}
    assert set(epp.VLLM_METRICS_READ) <= names


@pytest.mark.parametrize(
    ("tracks", "through_pool"),
    [
        ([("m", 100)], True),  # no canary: the picker chooses among the stable replicas
        ([("m", 100), ("m-canary", 0)], True),  # a canary taking no share changes nothing
        ([("m", 90), ("m-canary", 10)], False),  # a canary's exact share needs the weighted tracks
        ([("m", 0), ("m-canary", 100)], False),  # all on the canary: the pool holds no canary pod
    ],
)
def test_the_route_goes_through_the_pool_unless_a_canary_takes_a_share(
    tracks: list[tuple[str, int]], through_pool: bool
) -> None:
    refs = gw.ai_route_spec("m", "gw", tracks, "m")["rules"][0]["backendRefs"]
    pool_ref = {"group": epp.POOL_GROUP, "kind": "InferencePool", "name": "m"}
    if through_pool:
        assert refs == [pool_ref]
    else:
        assert pool_ref not in refs and refs == [{"name": s, "weight": w} for s, w in tracks if w > 0]
    # without a pool (a stack built before it), the tracks as before
    assert gw.ai_route_spec("m", "gw", tracks)["rules"][0]["backendRefs"] == [
        {"name": s, "weight": w} for s, w in tracks if w > 0
    ]


def test_prod_routes_each_model_through_its_own_pool_and_picker(planned: Callable[[str], Path]) -> None:
    objs = _manifests(planned("prod"))
    pools = _kind(objs, "InferencePool")
    assert set(pools) == {("search", "llama-8b"), ("research", "llama-70b")}
    deployments = _kind(objs, "Deployment")
    services = _kind(objs, "Service")
    for (ns, model), pool in pools.items():
        spec = pool["spec"]
        selector = spec["selector"]["matchLabels"]
        # the pool holds the model's stable replicas: not its canary, not another model's
        chosen = {
            name
            for (dns, name), d in deployments.items()
            if dns == ns and selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        }
        assert chosen == {model}
        assert spec["targetPorts"] == [{"number": labels.VLLM_PORT}]
        # the picker it names exists, on the port the pool says, and picks for this pool
        ref = spec["endpointPickerRef"]
        picker = services[(ns, ref["name"])]
        assert ref["port"]["number"] in {p["port"] for p in picker["spec"]["ports"]}
        deployment = deployments[(ns, epp.picker_name(model))]
        pod = deployment["spec"]["template"]
        assert picker["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        args = pod["spec"]["containers"][0]["args"]
        assert args[args.index("--pool-name") + 1] == model
        assert args[args.index("--pool-namespace") + 1] == ns
        assert pod["spec"]["nodeSelector"] == {"llm-platform.io/pool": "system"}
        assert deployment["spec"]["replicas"] == 2
        assert (ns, epp.picker_name(model)) in _kind(objs, "PodDisruptionBudget")
    routes = {
        name: r["spec"]["rules"][0]["backendRefs"] for (_, name), r in _kind(objs, "AIGatewayRoute").items()
    }
    # llama-70b has no canary: its requests go to its pool
    assert routes["llama-70b"] == [{"group": epp.POOL_GROUP, "kind": "InferencePool", "name": "llama-70b"}]
    # llama-8b runs a 10% canary: the exact split, over the tracks, until it is promoted
    assert routes["llama-8b"] == [
        {"name": "llama-8b", "weight": 90},
        {"name": "llama-8b-canary", "weight": 10},
    ]
    # vLLM's key is added on either path
    upstream = {name: p["spec"] for (_, name), p in _kind(objs, "BackendSecurityPolicy").items()}
    refs = {(t["kind"], t["name"]) for t in upstream["llama-70b-upstream"]["targetRefs"]}
    assert ("InferencePool", "llama-70b") in refs


def test_prefix_caching_stays_on_where_the_picker_routes_by_prefix(planned: Callable[[str], Path]) -> None:
    deployments = _kind(_manifests(planned("prod")), "Deployment")
    for ns, model in (("search", "llama-8b"), ("research", "llama-70b")):
        (vllm,) = [
            c
            for c in deployments[(ns, model)]["spec"]["template"]["spec"]["containers"]
            if c["name"] == "vllm"
        ]
        command = " ".join(vllm.get("command", []) + vllm.get("args", []))
        assert "--no-enable-prefix-caching" not in command and "--enable-prefix-caching=false" not in command


PROXY = Peer(
    namespace_labels={"kubernetes.io/metadata.name": gw.CONTROLLER_NAMESPACE},
    pod_labels=dict(gw.PROXY_POD_LABELS),
    namespace=gw.CONTROLLER_NAMESPACE,
)
PROMETHEUS = Peer(
    namespace_labels={"kubernetes.io/metadata.name": labels.MONITORING_NAMESPACE},
    pod_labels={"app.kubernetes.io/name": "prometheus"},
    namespace=labels.MONITORING_NAMESPACE,
)
PICKER_POD = {labels.COMPONENT: epp.COMPONENT, labels.NAME: "m-endpoint-picker"}
VLLM_POD = {labels.COMPONENT: labels.INFERENCE, labels.NAME: "m"}
TENANT_NS = {"kubernetes.io/metadata.name": "team-a", labels.TENANT: "team-a"}


@pytest.fixture
def pols(run_pulumi: RunPulumi) -> list[dict[str, Any]]:
    return policies(build(run_pulumi, gateway_namespace=gw.CONTROLLER_NAMESPACE, s3_cidrs=["52.216.0.0/15"]))


def test_only_the_gateway_asks_the_picker_and_only_prometheus_scrapes_it(pols: list[dict[str, Any]]) -> None:
    def ingress(peer: Peer, port: int) -> bool:
        return allowed(
            pols, namespace="team-a", pod_labels=PICKER_POD, direction="Ingress", peer=peer, port=port
        )

    tenant_pod = Peer(namespace_labels=TENANT_NS, pod_labels={"app": "notebook"}, namespace="team-a")
    assert ingress(PROXY, epp.EXT_PROC_PORT)
    assert not ingress(tenant_pod, epp.EXT_PROC_PORT)  # a tenant cannot steer the picks
    assert not ingress(PROMETHEUS, epp.EXT_PROC_PORT)
    assert ingress(PROMETHEUS, epp.METRICS_PORT)
    assert not ingress(PROXY, epp.METRICS_PORT)


def test_the_picker_reads_the_model_pods_and_the_api_server_and_nothing_public(
    pols: list[dict[str, Any]],
) -> None:
    def egress(peer: Peer, port: int) -> bool:
        return allowed(
            pols, namespace="team-a", pod_labels=PICKER_POD, direction="Egress", peer=peer, port=port
        )

    vllm = Peer(namespace_labels=TENANT_NS, pod_labels=VLLM_POD, namespace="team-a")
    assert egress(vllm, labels.VLLM_PORT)
    # and the model pods let it read their metrics
    picker = Peer(namespace_labels=TENANT_NS, pod_labels=PICKER_POD, namespace="team-a")
    assert allowed(
        pols, namespace="team-a", pod_labels=VLLM_POD, direction="Ingress", peer=picker, port=labels.VLLM_PORT
    )
    assert egress(Peer(ip="172.20.0.1"), 443)  # the API server's Service address (EKS service range)
    assert egress(Peer(ip="10.0.12.34"), 443)  # an API server endpoint in the VPC
    assert not egress(Peer(ip="52.94.1.1"), 443)  # the internet
    assert not egress(Peer(ip="169.254.169.254"), 443)  # instance metadata
    assert not egress(Peer(ip="10.0.12.34"), 6379)


def test_without_the_gateway_there_is_no_picker_to_admit(run_pulumi: RunPulumi) -> None:
    without = policies(build(run_pulumi, s3_cidrs=["52.216.0.0/15"]))
    assert not {p["metadata"]["name"] for p in without} & {"allow-picker-ingress", "allow-picker-egress"}
    picker = Peer(namespace_labels=TENANT_NS, pod_labels=PICKER_POD, namespace="team-a")
    assert not allowed(
        without,
        namespace="team-a",
        pod_labels=VLLM_POD,
        direction="Ingress",
        peer=picker,
        port=labels.VLLM_PORT,
    )
