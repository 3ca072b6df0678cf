"""InferenceService: the vLLM pod, its rollout, scaler, route and canary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components import InferenceService, Tenant
from components.core import labels, metrics
from components.core.placement import gpu_placement
from components.core.sizing import pod_resources
from components.core.vllm import GUARDED_PREFIXES
from components.inference_service import PRE_STOP_SECONDS, SHUTDOWN_TIMEOUT_SECONDS, resources_args
from tests.conftest import RunPulumi
from tests.graph import Graph, props
from tests.netpol_eval import Peer, allowed

PLACEMENT = gpu_placement("l40s", ["g6e.12xlarge"])
SECRET_KEY = "sk-not-a-real-key-0123456789"


def name_of(ns: k8s.core.v1.Namespace) -> pulumi.Output[str]:
    """A release-name stand-in: an output that resolves after `ns`, as Keda.release_name does."""
    return ns.metadata.apply(lambda m: str(m["name"]))


def build(run_pulumi: RunPulumi, extra: Callable[[], None] | None = None, **overrides: Any) -> Graph:
    """The service with `overrides` (None drops an argument); `extra` adds resources beside it."""

    def program() -> None:
        if extra is not None:
            extra()
        k8s_opts = pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="{}")])
        keda = k8s.core.v1.Namespace("keda", metadata={"name": "keda"}, opts=k8s_opts)
        gateway = k8s.core.v1.Namespace("gateway", metadata={"name": "gateway"}, opts=k8s_opts)
        args: dict[str, Any] = {
            "namespace": "team-a",
            "placement": {"node_selector": PLACEMENT.node_selector, "tolerations": PLACEMENT.tolerations},
            "serve": {"served_model_name": "llama", "tensor_parallel_size": 2, "max_model_len": 32768},
            "model_uri": "/models/rev1",
            "resources": resources_args(pod_resources(2, 4, 48, 384)),
            "startup_seconds": 900,
            "service_account_name": "llama-model",
            "claim_name": "llama-weights",
            "weights_ready": "llama-sync-rev1",
            "api_key": SECRET_KEY,
            "autoscaling": {
                "min_replicas": 1,
                "max_replicas": 4,
                "target_queue_depth": 6,
                "fallback_replicas": 2,
            },
            "prometheus_url": metrics.PROMETHEUS_URL,
            "keda_release": name_of(keda),
            "route": {
                "gateway_name": gateway.metadata.apply(lambda _: "edge"),
                "gateway_namespace": "gateway",
                "hostname": "llama.llm.example.com",
            },
            **overrides,
        }
        args = {k: v for k, v in args.items() if v is not None}
        InferenceService("llama", args, k8s_opts)  # type: ignore[arg-type]

    return run_pulumi(program)


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build(run_pulumi)


def deployment(g: Graph, name: str = "llama") -> Any:
    return next(d for d in g.of_type("apps/v1:Deployment") if d.name == name)


def container(g: Graph, name: str = "llama") -> dict[str, Any]:
    (c,) = props(deployment(g, name))["spec"]["template"]["spec"]["containers"]
    return c


def test_vllm_runs_the_pinned_image_with_exec_form_args(graph: Graph) -> None:
    c = container(graph)
    assert c["image"] == "vllm/vllm-openai:v0.33.0"
    assert "command" not in c  # the image's entrypoint is `vllm serve`; no shell in between
    assert c["args"][:3] == ["/models/rev1", "--served-model-name", "llama"]
    assert c["args"][c["args"].index("--tensor-parallel-size") + 1] == "2"


def test_probes_cover_the_load_and_cannot_kill_a_loading_pod(graph: Graph) -> None:
    c = container(graph)
    startup = c["startupProbe"]
    assert startup["httpGet"]["path"] == "/health"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 900
    # liveness only starts once the startup probe passed; readiness proves the model serves
    assert c["livenessProbe"]["httpGet"]["path"] == "/health"
    assert any("/v1/models" in part for part in c["readinessProbe"]["exec"]["command"])
    assert "initialDelaySeconds" not in c["livenessProbe"]


def test_shm_is_memory_backed_and_inside_the_memory_limit(graph: Graph) -> None:
    spec = props(deployment(graph))["spec"]["template"]["spec"]
    shm = next(v for v in spec["volumes"] if v["name"] == "shm")
    assert shm["emptyDir"]["medium"] == "Memory"
    limit_mib = int(container(graph)["resources"]["limits"]["memory"].removesuffix("Mi"))
    assert 0 < int(shm["emptyDir"]["sizeLimit"].removesuffix("Mi")) <= limit_mib // 4
    assert {"name": "shm", "mountPath": "/dev/shm"} in container(graph)["volumeMounts"]


def test_root_is_read_only_with_writable_caches(graph: Graph) -> None:
    c = container(graph)
    env = {e["name"]: e.get("value") for e in c["env"]}
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    for var in ("HOME", "HF_HOME", "VLLM_CACHE_ROOT"):
        assert any(env[var].startswith(m) for m in mounts), var
    pod = props(deployment(graph))["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "weights", "mountPath": "/models", "readOnly": True} in c["volumeMounts"]


def test_requests_and_limits_come_from_the_node_shape(graph: Graph) -> None:
    resources = container(graph)["resources"]
    expected = pod_resources(2, 4, 48, 384)
    assert resources["requests"] == resources["limits"]
    assert resources["limits"]["nvidia.com/gpu"] == "2"
    assert resources["limits"]["cpu"] == f"{expected.cpu_millicores}m"
    assert resources["limits"]["memory"] == f"{expected.memory_mib}Mi"


def test_pods_land_on_the_gpu_pool_spread_over_zones_and_nodes(graph: Graph) -> None:
    pod = props(deployment(graph))["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == PLACEMENT.node_selector
    assert pod["tolerations"] == PLACEMENT.tolerations
    keys = {c["topologyKey"] for c in pod["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert all(c["whenUnsatisfiable"] == "ScheduleAnyway" for c in pod["topologySpreadConstraints"])


def test_shutdown_lets_in_flight_requests_finish(graph: Graph) -> None:
    c = container(graph)
    pod = props(deployment(graph))["spec"]["template"]["spec"]
    assert c["lifecycle"]["preStop"]["sleep"]["seconds"] == PRE_STOP_SECONDS
    assert c["args"][c["args"].index("--shutdown-timeout") + 1] == str(SHUTDOWN_TIMEOUT_SECONDS)
    assert pod["terminationGracePeriodSeconds"] > PRE_STOP_SECONDS + SHUTDOWN_TIMEOUT_SECONDS


def test_rollout_without_headroom_never_waits_for_a_missing_gpu(graph: Graph) -> None:
    strategy = props(deployment(graph))["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 0, "maxUnavailable": 1}


def test_rollout_with_headroom_starts_new_before_stopping_old(run_pulumi: RunPulumi) -> None:
    strategy = props(deployment(build(run_pulumi, surge=True)))["spec"]["strategy"]["rollingUpdate"]
    assert strategy == {"maxSurge": 1, "maxUnavailable": 0}


def test_pulumi_leaves_replicas_to_the_autoscaler(graph: Graph) -> None:
    d = deployment(graph)
    assert "replicas" not in props(d)["spec"]
    assert d.ignore_changes == ["spec.replicas"]


def test_disruption_budget_allows_one_and_evicts_unhealthy_pods(graph: Graph) -> None:
    pdb = props(graph.one("policy/v1:PodDisruptionBudget"))["spec"]
    assert pdb["maxUnavailable"] == 1
    assert pdb["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["selector"]["matchLabels"] == props(deployment(graph))["spec"]["selector"]["matchLabels"]


def test_service_selects_exactly_the_pods_of_its_track(graph: Graph) -> None:
    service = props(graph.one("core/v1:Service"))["spec"]
    pod_labels = props(deployment(graph))["spec"]["template"]["metadata"]["labels"]
    assert service["selector"].items() <= pod_labels.items()
    assert service["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    assert pod_labels[labels.COMPONENT] == labels.INFERENCE  # what the tenant's ingress policy admits


def test_api_key_never_appears_in_plain_text(graph: Graph) -> None:
    secret = graph.one("core/v1:Secret")
    assert props(secret)["stringData"] == {"key": "[secret]"}
    for r in graph:
        assert SECRET_KEY not in str(props(r)), r.name
    env = {e["name"]: e for e in container(graph)["env"]}
    assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "key"


def test_the_key_reaches_vllm_by_environment_only(graph: Graph) -> None:
    # On the command line the kubelet would expand it into argv: /proc/<pid>/cmdline, `ps`.
    c = container(graph)
    assert not any(a == "--api-key" or a.startswith("--api-key=") for a in c["args"])
    assert not any("VLLM_API_KEY" in a for a in c["args"])
    env = {e["name"]: e for e in c["env"]}
    assert set(env["VLLM_API_KEY"]) == {"name", "valueFrom"}
    assert "secretKeyRef" in env["VLLM_API_KEY"]["valueFrom"]


def test_vllm_sends_no_usage_stats(graph: Graph) -> None:
    env = {e["name"]: e.get("value") for e in container(graph)["env"]}
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    assert env["DO_NOT_TRACK"] == "1"


def test_the_route_publishes_only_paths_the_key_guards(graph: Graph) -> None:
    (rule,) = props(graph.one("gateway.networking.k8s.io/v1:HTTPRoute"))["spec"]["rules"]
    matches = rule["matches"]
    assert matches == [
        {"path": {"type": "PathPrefix", "value": "/v1"}},
        {"path": {"type": "PathPrefix", "value": "/v2"}},
    ]
    assert all(m["path"]["value"] in GUARDED_PREFIXES for m in matches)
    assert "filters" not in rule  # no rewrite could turn /v1/... into /invocations
    args = container(graph)["args"]
    assert "--disable-fastapi-docs" in args


def _with_tenant(run_pulumi: RunPulumi, **overrides: Any) -> Graph:
    """The service next to the Tenant that owns its namespace's network policies (S3 CIDRs from
    the region's prefix list, as the offline plan's AWS answers it)."""

    def tenant() -> None:
        providers = [aws.Provider("aws", region="us-east-1"), k8s.Provider("k8s-tenant", kubeconfig="{}")]
        Tenant(
            "team-a",
            {
                "gpus": 4,
                "cpu": "32",
                "memory": "256Gi",
                "cluster_name": "llm-test",
                "load_balancer_cidrs": ["10.40.192.0/20"],
                "storage_cidrs": ["10.40.0.0/18"],
            },
            pulumi.ResourceOptions(providers=providers),
        )

    return build(run_pulumi, extra=tenant, **overrides)


def _egress(g: Graph, ip: str, port: int = 443) -> bool:
    pols = [props(p) for p in g.of_type("networking.k8s.io/v1:NetworkPolicy")]
    assert pols
    pod_labels = props(deployment(g))["spec"]["template"]["metadata"]["labels"]
    return allowed(
        pols, namespace="team-a", pod_labels=pod_labels, direction="Egress", peer=Peer(ip=ip), port=port
    )


STREAMING = {"model_uri": "s3://bucket/models/llama/rev1/", "aws_region": "us-east-1", "claim_name": None}


def test_a_streaming_pod_reaches_s3_and_nothing_else_on_the_internet(run_pulumi: RunPulumi) -> None:
    g = _with_tenant(run_pulumi, **STREAMING)
    pod_labels = props(deployment(g))["spec"]["template"]["metadata"]["labels"]
    assert pod_labels.get(labels.S3_EGRESS) == "true"
    assert labels.PUBLIC_HTTPS_EGRESS not in pod_labels  # only the weights sync Job has the internet
    assert _egress(g, "52.216.1.1")  # S3 in us-east-1 (the mock's prefix list)
    assert _egress(g, "169.254.170.23", port=80)  # Pod Identity credentials
    assert not _egress(g, "52.216.1.1", port=80)
    assert not _egress(g, "1.1.1.1")
    assert not _egress(g, "140.82.112.3")  # github.com: no way out over HTTPS
    assert not _egress(g, "10.40.1.9")  # nor to other pods or nodes
    assert not _egress(g, "169.254.169.254", port=80)


def test_a_pod_reading_the_volume_reaches_no_internet_address(run_pulumi: RunPulumi) -> None:
    g = _with_tenant(run_pulumi)
    pod_labels = props(deployment(g))["spec"]["template"]["metadata"]["labels"]
    assert labels.S3_EGRESS not in pod_labels and labels.PUBLIC_HTTPS_EGRESS not in pod_labels
    assert not _egress(g, "52.216.1.1")
    assert not _egress(g, "1.1.1.1")


def test_scaled_object_scales_on_queue_depth_fast_up_slow_down(graph: Graph) -> None:
    scaled = props(graph.one("keda.sh/v1alpha1:ScaledObject"))["spec"]
    assert scaled["scaleTargetRef"] == {"name": "llama"}
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (1, 4)
    (trigger,) = scaled["triggers"]
    assert trigger["type"] == "prometheus" and trigger["metricType"] == "AverageValue"
    assert trigger["metadata"]["query"] == metrics.waiting_requests("team-a", "llama", "llama")
    assert trigger["metadata"]["threshold"] == "6"
    assert trigger["metadata"]["serverAddress"] == metrics.PROMETHEUS_URL
    behavior = scaled["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert (
        behavior["scaleUp"]["stabilizationWindowSeconds"]
        < behavior["scaleDown"]["stabilizationWindowSeconds"]
    )
    assert scaled["fallback"] == {"failureThreshold": 3, "replicas": 2}


def test_scaled_object_waits_for_keda_and_its_deployment(graph: Graph) -> None:
    scaled = graph.one("keda.sh/v1alpha1:ScaledObject")
    assert graph.depends_on(scaled, graph.one("core/v1:Namespace", "keda"))
    assert graph.depends_on(scaled, deployment(graph))


def test_gpu_and_working_hours_triggers_when_asked(run_pulumi: RunPulumi) -> None:
    g = build(
        run_pulumi,
        autoscaling={
            "min_replicas": 0,
            "max_replicas": 2,
            "gpu_utilization_percent": 80,
            "working_hours": {"timezone": "Europe/Berlin", "start": "0 8 * * 1-5", "end": "0 19 * * 1-5"},
        },
    )
    scaled = props(g.one("keda.sh/v1alpha1:ScaledObject"))["spec"]
    triggers = {t["name"]: t for t in scaled["triggers"]}
    assert triggers["gpu-utilization"]["metadata"]["query"] == metrics.gpu_utilization("team-a", "llama", 2)
    assert triggers["working-hours"]["type"] == "cron"
    assert triggers["working-hours"]["metadata"]["desiredReplicas"] == "1"
    assert scaled["minReplicaCount"] == 0


def test_route_and_target_group_point_at_the_service(graph: Graph) -> None:
    route = props(graph.one("gateway.networking.k8s.io/v1:HTTPRoute"))["spec"]
    assert route["parentRefs"] == [{"name": "edge", "namespace": "gateway", "sectionName": "https"}]
    assert route["hostnames"] == ["llama.llm.example.com"]
    assert route["rules"][0]["backendRefs"] == [{"name": "llama", "port": 8000, "weight": 100}]
    group = props(graph.one("gateway.k8s.aws/v1:TargetGroupConfiguration"))["spec"]
    assert group["targetReference"] == {"name": "llama"}
    assert group["defaultConfiguration"]["targetType"] == "ip"
    assert group["defaultConfiguration"]["healthCheckConfig"]["healthCheckPath"] == "/health"


def test_canary_gets_its_share_of_requests_and_its_own_deployment(run_pulumi: RunPulumi) -> None:
    g = build(
        run_pulumi,
        canary={
            "weight": 10,
            "image": "vllm/vllm-openai:v0.33.1",
            "model": "/models/rev2",
            "weights_ready": "llama-sync-rev2",
            "max_num_seqs": 256,
            "autoscaling": {"min_replicas": 1, "max_replicas": 2},
        },
    )
    backends = props(g.one("gateway.networking.k8s.io/v1:HTTPRoute"))["spec"]["rules"][0]["backendRefs"]
    assert [(b["name"], b["weight"]) for b in backends] == [("llama", 90), ("llama-canary", 10)]
    canary = container(g, "llama-canary")
    assert canary["image"] == "vllm/vllm-openai:v0.33.1"
    assert canary["args"][0] == "/models/rev2"
    assert canary["args"][canary["args"].index("--max-num-seqs") + 1] == "256"
    assert canary["args"][canary["args"].index("--served-model-name") + 1] == "llama"  # clients see one model
    scalers = {props(s)["spec"]["scaleTargetRef"]["name"] for s in g.of_type("keda.sh/v1alpha1:ScaledObject")}
    assert scalers == {"llama", "llama-canary"}
    stable_pods = props(deployment(g))["spec"]["selector"]["matchLabels"]
    canary_pods = props(deployment(g, "llama-canary"))["spec"]["selector"]["matchLabels"]
    assert stable_pods != canary_pods  # neither Service nor PDB counts the other track's pods


def test_pod_monitor_scrapes_every_track_and_tracing_is_handed_to_vllm(run_pulumi: RunPulumi) -> None:
    def program() -> None:
        k8s_opts = pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="{}")])
        crds = k8s.core.v1.Namespace("monitoring", metadata={"name": "monitoring"}, opts=k8s_opts)
        keda = k8s.core.v1.Namespace("keda", metadata={"name": "keda"}, opts=k8s_opts)
        InferenceService(
            "llama",
            {
                "namespace": "team-a",
                "placement": {"node_selector": PLACEMENT.node_selector, "tolerations": PLACEMENT.tolerations},
                "serve": {
                    "served_model_name": "llama",
                    "tensor_parallel_size": 1,
                    "otlp_traces_endpoint": "http://otel.monitoring:4317",
                },
                "model_uri": "/models/rev1",
                "resources": resources_args(pod_resources(1, 4, 48, 384)),
                "startup_seconds": 600,
                "service_account_name": "llama-model",
                "weights_ready": "ready",
                "api_key": SECRET_KEY,
                "autoscaling": {"min_replicas": 1, "max_replicas": 2},
                "prometheus_url": metrics.PROMETHEUS_URL,
                "keda_release": name_of(keda),
                "monitoring_release": name_of(crds),
                "scrape_interval_seconds": 30,
                "route": {
                    "gateway_name": "edge",
                    "gateway_namespace": "gateway",
                    "hostname": "h",
                },
            },
            k8s_opts,
        )

    g = run_pulumi(program)
    monitor = g.one("monitoring.coreos.com/v1:PodMonitor")
    (endpoint,) = props(monitor)["spec"]["podMetricsEndpoints"]
    assert endpoint["interval"] == "30s" and endpoint["path"] == "/metrics"
    assert {
        "action": "replace",
        "sourceLabels": ["__meta_kubernetes_pod_label_llm_platform_io_track"],
        "targetLabel": "track",
    } in endpoint["relabelings"]
    assert g.depends_on(monitor, g.one("core/v1:Namespace", "monitoring"))
    assert not g.depends_on(deployment(g), g.one("core/v1:Namespace", "monitoring"))
    args = container(g)["args"]
    assert args[args.index("--otlp-traces-endpoint") + 1] == "http://otel.monitoring:4317"
