"""The metric contract: every metric the platform queries, with the labels it relies on.

Autoscaler queries (and, in the monitoring layer, alert rules and dashboards)
are built from these names only. tests/test_metrics.py checks them against the
pinned vLLM release's metric table and DCGM exporter's counter list, so an
upstream rename breaks one test rather than production autoscaling.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    labels: tuple[str, ...]
    source: str
    """vllm or dcgm: which upstream table the metric must be in."""


_ENGINE = ("model_name", "engine")

# vLLM 0.33.0 (../shared/upstream/vllm/metrics.tsv). Labels are model_name and engine.
VLLM_WAITING = Metric("vllm:num_requests_waiting", "gauge", _ENGINE, "vllm")
VLLM_RUNNING = Metric("vllm:num_requests_running", "gauge", _ENGINE, "vllm")
VLLM_KV_CACHE_USAGE = Metric("vllm:kv_cache_usage_perc", "gauge", _ENGINE, "vllm")
"""0..1 (renamed from vllm:gpu_cache_usage_perc, which peers' dashboards still query)."""
VLLM_PREEMPTIONS = Metric("vllm:num_preemptions_total", "counter", _ENGINE, "vllm")
VLLM_PROMPT_TOKENS = Metric("vllm:prompt_tokens_total", "counter", _ENGINE, "vllm")
VLLM_GENERATION_TOKENS = Metric("vllm:generation_tokens_total", "counter", _ENGINE, "vllm")
VLLM_E2E_LATENCY = Metric("vllm:e2e_request_latency_seconds", "histogram", _ENGINE, "vllm")
VLLM_TTFT = Metric("vllm:time_to_first_token_seconds", "histogram", _ENGINE, "vllm")
VLLM_TPOT = Metric("vllm:request_time_per_output_token_seconds", "histogram", _ENGINE, "vllm")
VLLM_REQUESTS_SUCCEEDED = Metric(
    "vllm:request_success_total", "counter", (*_ENGINE, "finished_reason"), "vllm"
)
# vLLM's HTTP server metrics (prometheus-fastapi-instrumentator; status grouped as 2xx, 4xx, 5xx).
HTTP_REQUESTS = Metric("http_requests_total", "counter", ("method", "status", "handler"), "vllm")

# Triton 26.07 (server v2.71.0) and its vLLM backend (../shared/upstream/triton/metrics.tsv). Labels
# are model and version (Triton's model name and version); the PodMonitor's own `model` target
# label (the same name) takes precedence, so queries select on it as for vLLM.
_TRITON = ("model", "version")
TRITON_PENDING = Metric("nv_inference_pending_request_count", "gauge", _TRITON, "triton")
"""Requests Triton has queued for the backend and not yet handed to it: the autoscaler's queue."""
TRITON_SUCCESS = Metric("nv_inference_request_success", "counter", _TRITON, "triton")
TRITON_FAILURE = Metric("nv_inference_request_failure", "counter", (*_TRITON, "reason"), "triton")
TRITON_REQUEST_DURATION = Metric("nv_inference_request_duration_us", "counter", _TRITON, "triton")
TRITON_QUEUE_DURATION = Metric("nv_inference_queue_duration_us", "counter", _TRITON, "triton")
TRITON_LOAD_DURATION = Metric("nv_model_load_duration_secs", "gauge", _TRITON, "triton")
# The backend's vLLM metrics (config.pbtxt REPORT_CUSTOM_METRICS "true", which the platform sets).
TRITON_VLLM_PROMPT_TOKENS = Metric("vllm:prompt_tokens_total", "counter", _TRITON, "triton")
TRITON_VLLM_GENERATION_TOKENS = Metric("vllm:generation_tokens_total", "counter", _TRITON, "triton")
TRITON_VLLM_TTFT = Metric("vllm:time_to_first_token_seconds", "histogram", _TRITON, "triton")
TRITON_VLLM_E2E_LATENCY = Metric("vllm:e2e_request_latency_seconds", "histogram", _TRITON, "triton")

# DCGM exporter 4.8.2 default counters (../shared/upstream/dcgm/default-counters.csv).
DCGM_GPU_UTIL = Metric("DCGM_FI_DEV_GPU_UTIL", "gauge", (), "dcgm")
DCGM_FB_USED = Metric("DCGM_FI_DEV_FB_USED", "gauge", (), "dcgm")
DCGM_FB_FREE = Metric("DCGM_FI_DEV_FB_FREE", "gauge", (), "dcgm")
DCGM_GPU_TEMP = Metric("DCGM_FI_DEV_GPU_TEMP", "gauge", (), "dcgm")
DCGM_POWER = Metric("DCGM_FI_DEV_POWER_USAGE", "gauge", (), "dcgm")
DCGM_XID = Metric("DCGM_FI_DEV_XID_ERRORS", "gauge", (), "dcgm")
"""The code of the last XID error a GPU reported; 0 when none."""

# kube-state-metrics (bundled by kube-prometheus-stack) and Prometheus's own `up`.
KSM_RESTARTS = Metric(
    "kube_pod_container_status_restarts_total", "counter", ("namespace", "pod", "container"), "ksm"
)
KSM_POD_PHASE = Metric("kube_pod_status_phase", "gauge", ("namespace", "pod", "phase"), "ksm")
KSM_HPA_REPLICAS = Metric(
    "kube_horizontalpodautoscaler_status_current_replicas",
    "gauge",
    ("namespace", "horizontalpodautoscaler"),
    "ksm",
)
KSM_HPA_MAX = Metric(
    "kube_horizontalpodautoscaler_spec_max_replicas", "gauge", ("namespace", "horizontalpodautoscaler"), "ksm"
)
KSM_HPA_MIN = Metric(
    "kube_horizontalpodautoscaler_spec_min_replicas", "gauge", ("namespace", "horizontalpodautoscaler"), "ksm"
)
KSM_HPA_CONDITION = Metric(
    "kube_horizontalpodautoscaler_status_condition",
    "gauge",
    ("namespace", "horizontalpodautoscaler", "condition", "status"),
    "ksm",
)
KSM_DEPLOYMENT_SPEC_REPLICAS = Metric(
    "kube_deployment_spec_replicas", "gauge", ("namespace", "deployment"), "ksm"
)
KSM_DEPLOYMENT_AVAILABLE = Metric(
    "kube_deployment_status_replicas_available", "gauge", ("namespace", "deployment"), "ksm"
)
KSM_CONTAINER_READY = Metric(
    "kube_pod_container_status_ready", "gauge", ("namespace", "pod", "container"), "ksm"
)
KSM_NODE_LABELS = Metric("kube_node_labels", "gauge", ("node",), "ksm")
"""With the pool label allowed (label_llm_platform_io_pool), joins DCGM series to node pools."""
UP = Metric("up", "gauge", ("job",), "prometheus")

# KEDA 2.20's operator (port 8080, scraped by the Keda component's ServiceMonitor). With the
# ServiceMonitor's honorLabels, `namespace` is the ScaledObject's, not the operator's.
KEDA_SCALER_ERRORS = Metric(
    "keda_scaler_detail_errors_total", "counter", ("namespace", "scaledObject", "scaler", "type"), "keda"
)
KEDA_SCALED_OBJECT_ERRORS = Metric(
    "keda_scaled_object_errors_total", "counter", ("namespace", "scaledObject"), "keda"
)

# The endpoint pickers of the InferencePools (Gateway API Inference Extension v1.5.0,
# pkg/epp/metrics/metrics.go; no upstream table pinned), scraped as job inference-endpoint-picker.
EPP_SCHEDULER_ATTEMPTS = Metric(
    "inference_extension_scheduler_attempts_total", "counter", ("status", "target_model_name"), "epp"
)
"""Each pick; status "failure" when no pod of the pool could take the request (it fails)."""

CONTRACT = (
    VLLM_WAITING, VLLM_RUNNING, VLLM_KV_CACHE_USAGE, VLLM_PREEMPTIONS, VLLM_PROMPT_TOKENS, VLLM_GENERATION_TOKENS,
    VLLM_E2E_LATENCY, VLLM_TTFT, VLLM_TPOT, VLLM_REQUESTS_SUCCEEDED, HTTP_REQUESTS,
    DCGM_GPU_UTIL, DCGM_FB_USED, DCGM_FB_FREE, DCGM_GPU_TEMP, DCGM_POWER, DCGM_XID,
    KSM_RESTARTS, KSM_POD_PHASE, KSM_HPA_REPLICAS, KSM_HPA_MAX, KSM_HPA_MIN, KSM_HPA_CONDITION, KSM_NODE_LABELS, UP,
    TRITON_PENDING, TRITON_SUCCESS, TRITON_FAILURE, TRITON_REQUEST_DURATION, TRITON_QUEUE_DURATION,
    TRITON_LOAD_DURATION, TRITON_VLLM_PROMPT_TOKENS, TRITON_VLLM_GENERATION_TOKENS, TRITON_VLLM_TTFT,
    TRITON_VLLM_E2E_LATENCY,
    KSM_DEPLOYMENT_SPEC_REPLICAS, KSM_DEPLOYMENT_AVAILABLE, KSM_CONTAINER_READY,
    KEDA_SCALER_ERRORS, KEDA_SCALED_OBJECT_ERRORS, EPP_SCHEDULER_ATTEMPTS,
)  # fmt: skip

VLLM_JOB = "vllm"
"""The job label the PodMonitors give vLLM targets, with `model` and `track` labels beside it."""
TRITON_JOB = "triton"
"""The job label of Triton targets (its metrics port), with the same `model` and `track` labels."""
MODEL_LABEL = "model"
TRACK_LABEL = "track"

# The monitoring layer installs kube-prometheus-stack with fullnameOverride "kps" in the
# monitoring namespace; this is its Prometheus.
PROMETHEUS_SERVICE = "kps-prometheus"
PROMETHEUS_PORT = 9090
PROMETHEUS_URL = f"http://{PROMETHEUS_SERVICE}.monitoring.svc:{PROMETHEUS_PORT}"

# Labels Prometheus adds when it scrapes a pod (PodMonitor), and those the DCGM
# exporter adds for the pod a GPU is assigned to (its Kubernetes mode).
NAMESPACE_LABEL = "namespace"
POD_LABEL = "pod"
DCGM_NAMESPACE_LABEL = "namespace"
DCGM_POD_LABEL = "pod"


def _selector(equal: dict[str, str], matching: dict[str, str]) -> str:
    parts = [f'{k}="{v}"' for k, v in equal.items()] + [f'{k}=~"{v}"' for k, v in matching.items()]
    return "{" + ",".join(parts) + "}"


def pods_of(deployment: str) -> str:
    """A regex matching the pods of one Deployment (<deployment>-<replicaset hash>-<suffix>)."""
    return f"{deployment}-[a-z0-9]+-[a-z0-9]+"


def waiting_requests(namespace: str, served_model: str, deployment: str) -> str:
    """Requests queued in all replicas of one Deployment; the autoscaler divides it by
    the replica count (metric type AverageValue), giving requests waiting per replica."""
    selector = _selector(
        {NAMESPACE_LABEL: namespace, "model_name": served_model}, {POD_LABEL: pods_of(deployment)}
    )
    return f"sum({VLLM_WAITING.name}{selector})"


def gpu_utilization(namespace: str, deployment: str, gpus_per_replica: int) -> str:
    """Summed GPU utilisation of a Deployment's pods over the GPUs of one replica; divided by
    the replica count it is the average utilisation of the GPUs (0-100)."""
    selector = _selector({DCGM_NAMESPACE_LABEL: namespace}, {DCGM_POD_LABEL: pods_of(deployment)})
    return f"sum({DCGM_GPU_UTIL.name}{selector}) / {gpus_per_replica}"


def triton_pending_requests(namespace: str, served_model: str, deployment: str) -> str:
    """Triton's counterpart of waiting_requests: requests pending in all replicas of one
    Deployment, divided by the replica count by the autoscaler (AverageValue)."""
    selector = _selector(
        {NAMESPACE_LABEL: namespace, MODEL_LABEL: served_model}, {POD_LABEL: pods_of(deployment)}
    )
    return f"sum({TRITON_PENDING.name}{selector})"
