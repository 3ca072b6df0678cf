"""A model's InferencePool and its endpoint picker, as plain data (no Pulumi).

The AI gateway asks the picker, over ext_proc, which replica should take each request; the
picker scores the pool's ready vLLM pods by their queue, their KV-cache use and how much of the
prompt's prefix each one already holds in its cache (the scorers and weights of the pinned
inferencepool chart's default profile), so requests sharing a system prompt or a conversation
land where their prefix is cached.

The objects are those the inferencepool chart (v1.5.0, ../shared/upstream/charts/inferencepool/)
renders: the same image, flags, ports and scorer profile. They are written here rather than
installed from the chart because the chart's Deployment has no security context and no value to
set one, and the tenant namespaces the picker must share with its pool enforce Pod Security
`restricted`; the pod here is hardened, sized for its work, and scraped.

Failure: Envoy AI Gateway v1.1.0 calls the picker with `failure_mode_allow: false` whatever the
pool's `failureMode` says (internal/extensionserver/inferencepool.go), so a model whose picker
has no ready replica answers 5xx. Hence two replicas, both serving, and a critical alert when
none is ready. Not the chart's leader election: with it only the leader reports ready, so a
Deployment of two never completes its rollout (`pulumi up` would wait on it forever) and a
PodDisruptionBudget could never let the leader's node drain. Two active pickers each learn
prefixes from the requests they pick for, so a shared prefix may end up cached on two replicas
instead of one: a small loss of cache hits for a model that stays up when a picker dies.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.core.security_context import hardened_container, non_root_pod

EXT_PROC_PORT = 9002
"""gRPC ext_proc (TLS with a self-signed certificate: the AI gateway does not verify it)."""
HEALTH_PORT = 9003
METRICS_PORT = 9090
COMPONENT = "endpoint-picker"
"""Component label value of the picker pods (tenant network policies select them by it)."""
MODEL_LABEL = "llm-platform.io/model"
"""On the picker pods: the model whose pool they pick for (alerts carry it as `model`)."""
JOB = "inference-endpoint-picker"
"""Prometheus job of the pickers' own metrics."""
POOL_GROUP = "inference.networking.k8s.io"
POOL_API = f"{POOL_GROUP}/v1"
CONFIG_FILE = "default-plugins.yaml"
CONFIG_MOUNT = "/config"
RUN_AS = 65532  # the image is distroless `nonroot`

SCORERS: tuple[tuple[str, int], ...] = (
    ("queue-scorer", 2),
    ("kv-cache-utilization-scorer", 2),
    ("prefix-cache-scorer", 3),
)
"""The chart's default scheduling profile (MANIFEST item 9): prefix-cache hits weigh most."""

VLLM_METRICS_READ = (
    "vllm:num_requests_waiting",
    "vllm:num_requests_running",
    "vllm:kv_cache_usage_perc",
    "vllm:lora_requests_info",
    "vllm:cache_config_info",
)
"""What the picker's vLLM metrics extractor reads from each pod's /metrics (v1.5.0
pkg/epp/framework/plugins/datalayer/extractor/metrics/factories.go); the block size of the
prefix-cache scorer comes from cache_config_info."""


def picker_name(model: str) -> str:
    """Deployment, Service, ServiceAccount and ConfigMap of the model's picker."""
    return f"{model}-{COMPONENT}"


def plugins_config() -> str:
    """The picker's EndpointPickerConfig: the chart's default plugins and profile for vLLM."""
    config = {
        "apiVersion": "inference.networking.x-k8s.io/v1alpha1",
        "kind": "EndpointPickerConfig",
        "plugins": [
            *({"type": scorer} for scorer, _ in SCORERS),
            {
                "type": "metrics-data-source",
                # vLLM serves its metrics without its API key, on the API port.
                "parameters": {"scheme": "http", "path": "/metrics", "insecureSkipVerify": True},
            },
            {"type": "core-metrics-extractor"},
        ],
        "schedulingProfiles": [
            {"name": "default", "plugins": [{"pluginRef": s, "weight": w} for s, w in SCORERS]}
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


def picker_args(pool: str, namespace: str) -> list[str]:
    """The flags the chart passes for one active picker (cmd/epp at v1.5.0)."""
    return [
        "--pool-name",
        pool,
        "--pool-namespace",
        namespace,
        "--pool-group",
        POOL_GROUP,
        "--zap-encoder",
        "json",
        "--config-file",
        f"{CONFIG_MOUNT}/{CONFIG_FILE}",
        "--tracing=false",
        # Prometheus scrapes it from the monitoring namespace only (network policy), without a token.
        "--metrics-endpoint-auth=false",
    ]


def pool_spec(selector: dict[str, str], target_port: int, picker_service: str) -> dict[str, Any]:
    """The InferencePool: the model's pods, the port vLLM serves on, and the picker to ask."""
    return {
        "selector": {"matchLabels": dict(selector)},
        "targetPorts": [{"number": target_port}],
        "appProtocol": "http",
        "endpointPickerRef": {
            "name": picker_service,
            "port": {"number": EXT_PROC_PORT},
            # What the pool asks for; Envoy AI Gateway v1.1.0 fails closed regardless (docstring).
            "failureMode": "FailOpen",
        },
    }


def _grpc_probe(period: int) -> dict[str, Any]:
    return {"grpc": {"port": HEALTH_PORT, "service": "inference-extension"}, "periodSeconds": period}


def picker_pod_spec(
    model: str,
    namespace: str,
    image: str,
    node_selector: dict[str, str],
    config_map: str,
) -> dict[str, Any]:
    """The picker's pod: restricted security context, the chart's ports and probes (ready once
    it has synced its pool), on the system nodes (it needs no GPU), replicas on different nodes."""
    name = picker_name(model)
    return {
        "serviceAccountName": name,
        "automountServiceAccountToken": True,  # it watches its pool and pods
        # Envoy waits for in-flight picks no longer than a request's ext_proc message timeout.
        "terminationGracePeriodSeconds": 30,
        "nodeSelector": dict(node_selector),
        "securityContext": non_root_pod(RUN_AS),
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
                        },
                    }
                ]
            }
        },
        "containers": [
            {
                "name": "epp",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "args": picker_args(model, namespace),
                "ports": [
                    {"name": "grpc", "containerPort": EXT_PROC_PORT},
                    {"name": "grpc-health", "containerPort": HEALTH_PORT},
                    {"name": "metrics", "containerPort": METRICS_PORT},
                ],
                "env": [
                    {"name": "NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                # Sized for one model's traffic, not the chart's 4 CPUs and 8 GiB (a fleet-wide
                # default for high QPS): a pick is microseconds of scoring per request.
                "resources": {
                    "requests": {"cpu": "250m", "memory": "512Mi"},
                    "limits": {"cpu": "2", "memory": "2Gi"},
                },
                "livenessProbe": {**_grpc_probe(10), "initialDelaySeconds": 5},
                "readinessProbe": _grpc_probe(2),
                "securityContext": hardened_container(),
                "volumeMounts": [{"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True}],
            }
        ],
        "volumes": [{"name": "config", "configMap": {"name": config_map}}],
    }


def picker_role_rules() -> list[dict[str, Any]]:
    """RBAC of the picker in its namespace (the chart's Roles): read its pool and the pods, and
    the optional objectives and rewrites when their CRDs exist."""
    read = ["get", "list", "watch"]
    return [
        {"apiGroups": [POOL_GROUP], "resources": ["inferencepools"], "verbs": read},
        {
            "apiGroups": ["inference.networking.x-k8s.io"],
            "resources": ["inferenceobjectives", "inferencemodelrewrites"],
            "verbs": read,
        },
        {"apiGroups": [""], "resources": ["pods"], "verbs": read},
    ]
