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


# vLLM 0.33.0 (../shared/upstream/vllm/metrics.tsv). Labels are model_name and engine.
VLLM_WAITING = Metric("vllm:num_requests_waiting", "gauge", ("model_name", "engine"), "vllm")
VLLM_RUNNING = Metric("vllm:num_requests_running", "gauge", ("model_name", "engine"), "vllm")
VLLM_KV_CACHE_USAGE = Metric("vllm:kv_cache_usage_perc", "gauge", ("model_name", "engine"), "vllm")

# DCGM exporter 4.8.2 default counters (../shared/upstream/dcgm/default-counters.csv).
DCGM_GPU_UTIL = Metric("DCGM_FI_DEV_GPU_UTIL", "gauge", (), "dcgm")

CONTRACT = (VLLM_WAITING, VLLM_RUNNING, VLLM_KV_CACHE_USAGE, DCGM_GPU_UTIL)

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
