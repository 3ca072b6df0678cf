"""The Redis that holds the AI gateway's token-budget counters.

No persistence: a counter lives a minute or a day, and a lost one resets a budget window early,
which never blocks a caller. One instance (a second would count apart from the first); a
PodDisruptionBudget makes a drain wait for the node, not for Redis, and the platform's
Prometheus scrapes it through an exporter so "Redis down" pages someone.
"""

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.core.gateway_network import REDIS_EXPORTER_PORT, REDIS_POD_LABELS, REDIS_PORT
from components.core.security_context import hardened_container, non_root_pod
from components.versions import REDIS_EXPORTER_IMAGE, REDIS_IMAGE

REDIS_JOB = "ai-gateway-redis"
"""The `job` label of Redis's metrics (the "Redis down" alert reads it)."""


def _container(name: str, image: str, port: int, args: list[str], cpu: str, memory: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": args,
        "ports": [{"name": name, "containerPort": port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}},
        "securityContext": hardened_container(),
        "livenessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10},
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 5},
    }


def redis_pod_spec(node_selector: dict[str, str]) -> dict[str, Any]:
    redis = _container(
        "redis",
        REDIS_IMAGE,
        REDIS_PORT,
        # Counters only: no snapshots, no append-only file, evict the oldest when full.
        ["--save", "", "--appendonly", "no", "--maxmemory", "200mb", "--maxmemory-policy", "volatile-ttl"],
        "500m",
        "256Mi",
    )
    redis["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    exporter = _container(
        "metrics",
        REDIS_EXPORTER_IMAGE,
        REDIS_EXPORTER_PORT,
        [f"--redis.addr=redis://127.0.0.1:{REDIS_PORT}"],
        "100m",
        "64Mi",
    )
    return {
        "automountServiceAccountToken": False,
        "nodeSelector": node_selector,
        "securityContext": non_root_pod(10001),
        "containers": [redis, exporter],
        "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "64Mi"}}],
    }


def redis(
    name: str,
    namespace: pulumi.Input[str],
    node_selector: dict[str, str],
    monitoring_release: pulumi.Input[str] | None,
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """Deployment, Service, PodDisruptionBudget (and ServiceMonitor); returns Redis's host name."""
    pod_labels = labels.standard("redis", "ai-gateway-budgets")
    selector = dict(REDIS_POD_LABELS)  # the gateway's NetworkPolicies select Redis by these
    child = pulumi.ResourceOptions(parent=parent)
    k8s.apps.v1.Deployment(
        name,
        metadata=_k8s.meta(
            "redis", namespace, pod_labels, _k8s.checkov_skips(_k8s.PINNED_TAG, _k8s.PULL_IF_NOT_PRESENT)
        ),
        spec={
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": pod_labels}, "spec": redis_pod_spec(node_selector)},
        },
        opts=child,
    )
    service = k8s.core.v1.Service(
        name,
        metadata=_k8s.meta("redis", namespace, pod_labels),
        spec={
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": "redis", "port": REDIS_PORT, "targetPort": "redis", "protocol": "TCP"},
                {"name": "metrics", "port": REDIS_EXPORTER_PORT, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
        opts=child,
    )
    k8s.policy.v1.PodDisruptionBudget(
        name,
        metadata=_k8s.meta("redis", namespace, pod_labels),
        # One instance: a drain may take it (budgets fail open meanwhile), but only one at a time.
        spec={"maxUnavailable": 1, "selector": {"matchLabels": selector}},
        opts=child,
    )
    if monitoring_release is not None:
        k8s.apiextensions.CustomResource(
            f"{name}-metrics",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata=_k8s.meta("redis", namespace, pod_labels, _k8s.installed_by(monitoring_release)),
            spec={
                "selector": {"matchLabels": selector},
                "endpoints": [
                    {
                        "port": "metrics",
                        "relabelings": [
                            {"action": "replace", "targetLabel": "job", "replacement": REDIS_JOB}
                        ],
                    }
                ],
            },
            opts=child,
        )
    return pulumi.Output.all(service.metadata, namespace).apply(
        lambda a: f"{a[0]['name']}.{a[1]}.svc.cluster.local"
    )
