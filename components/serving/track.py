"""A track: one Deployment of a model with its Service, ALB target group, PodDisruptionBudget
and KEDA ScaledObject. Everything here holds whatever runtime serves in the pod; what the
runtime puts in its container comes from components/serving/runtimes."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels, metrics
from components.core.placement import GPU_RESOURCE
from components.core.security_context import hardened_container, non_root_pod
from components.core.storage import MODELS_MOUNT
from components.serving.args import AutoscalingArgs
from components.serving.runtimes.base import (
    CACHE,
    COMPILE_CACHE,
    PRE_STOP_SECONDS,
    SHUTDOWN_TIMEOUT_SECONDS,
    PodParts,
    Runtime,
    Track,
)

TRACK = "llm-platform.io/track"
RUN_AS = 10001  # any non-root user; HOME and caches point at writable volumes
GRACE_SECONDS = PRE_STOP_SECONDS + SHUTDOWN_TIMEOUT_SECONDS + 30
HEALTH_CHECK_INTERVAL_SECONDS = 5
HEALTHY_THRESHOLD = 2
WEIGHTS_MARKER = ".complete"  # the sync job's last act (components/model_weights.py)


def selector_of(served: str, track: str) -> dict[str, str]:
    return {labels.NAME: served, TRACK: track}


def build_track(t: Track, runtime: Runtime) -> str:
    """The track's objects, parented to the InferenceService; returns the Service name."""
    name, args = t.name, t.args
    namespace = args["namespace"]
    served = t.serve.served_model_name
    selector = selector_of(served, t.track)
    pod_labels = {**labels.standard(served, labels.INFERENCE), TRACK: t.track}
    if "claim_name" not in args:  # streaming from S3: the pod reads the bucket over HTTPS,
        pod_labels[labels.S3_EGRESS] = "true"  # and S3 is all it may reach outside the VPC
    in_ns = pulumi.ResourceOptions(parent=t.parent)

    deployment = k8s.apps.v1.Deployment(
        name,
        metadata=_k8s.meta(name, namespace, pod_labels, _k8s.checkov_skips(*runtime.checkov_skips)),
        spec=deployment_spec(t, runtime.pod(t), selector, pod_labels),
        opts=pulumi.ResourceOptions(
            parent=t.parent,
            # KEDA's HPA owns the replica count; Pulumi neither sets nor resets it.
            ignore_changes=["spec.replicas"],
            custom_timeouts=pulumi.CustomTimeouts(
                create=f"{2 * args['startup_seconds'] // 60 + 20}m",
                update=f"{2 * args['startup_seconds'] // 60 + 20}m",
            ),
        ),
    )
    k8s.core.v1.Service(
        name,
        metadata=_k8s.meta(name, namespace, pod_labels),
        spec={
            "type": "ClusterIP",
            "selector": selector,
            "ports": [
                {"name": "http", "port": runtime.service_port, "targetPort": "http", "protocol": "TCP"}
            ],
        },
        opts=in_ns,
    )
    if "route" in args:  # the ALB targets the pods only when it routes to them itself
        k8s.apiextensions.CustomResource(
            f"{name}-target-group",
            api_version="gateway.k8s.aws/v1",
            kind="TargetGroupConfiguration",
            metadata=_k8s.meta(name, namespace, pod_labels, _k8s.installed_by(args["route"]["gateway_name"])),
            spec=target_group_spec(name, runtime.health_path),
            opts=in_ns,
        )
    k8s.policy.v1.PodDisruptionBudget(
        name,
        metadata=_k8s.meta(name, namespace, pod_labels),
        spec={
            # One at a time, and never blocking a drain for a pod that is not serving anyway.
            "maxUnavailable": 1,
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
            "selector": {"matchLabels": selector},
        },
        opts=in_ns,
    )
    k8s.apiextensions.CustomResource(
        f"{name}-scaler",
        api_version="keda.sh/v1alpha1",
        kind="ScaledObject",
        metadata=_k8s.meta(name, namespace, pod_labels, _k8s.installed_by(args["keda_release"])),
        spec=scaled_object_spec(
            name,
            namespace,
            served,
            t.serve.tensor_parallel_size,
            args["autoscaling"],
            args["prometheus_url"],
            runtime,
            args.get("keda_polling_seconds", 15),
        ),
        opts=pulumi.ResourceOptions(parent=t.parent, depends_on=[deployment]),
    )
    return name


def deployment_spec(
    t: Track, parts: PodParts, selector: dict[str, str], pod_labels: dict[str, str]
) -> dict[str, Any]:
    args, res, server = t.args, t.resources, parts.server
    placement = pulumi.Output.from_input(args["placement"])
    startup = args["startup_seconds"]
    limits = {
        "cpu": f"{res.cpu_millicores - parts.sidecar_cpu_millicores}m",
        "memory": f"{res.memory_mib - parts.sidecar_memory_mib}Mi",
        GPU_RESOURCE: str(t.serve.tensor_parallel_size),
        "ephemeral-storage": "24Gi",
    }
    mounts: list[dict[str, Any]] = [
        {"name": "shm", "mountPath": "/dev/shm"},
        {"name": "cache", "mountPath": CACHE},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    volumes: list[dict[str, Any]] = [
        # Memory-backed, so its use counts inside the container's memory limit.
        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{res.shm_mib}Mi"}},
        {"name": "cache", "emptyDir": {"sizeLimit": "20Gi"}},
        {"name": "tmp", "emptyDir": {"sizeLimit": "2Gi"}},
    ]
    if "claim_name" in args:
        mounts.append({"name": "weights", "mountPath": MODELS_MOUNT, "readOnly": True})
        volumes.append(
            {
                "name": "weights",
                "persistentVolumeClaim": {"claimName": args["claim_name"], "readOnly": True},
            }
        )
    claim = t.compile_cache_claim
    if claim is not None:
        mounts.append({"name": "compile-cache", "mountPath": COMPILE_CACHE})
        volumes.append({"name": "compile-cache", "persistentVolumeClaim": {"claimName": claim}})
    mounts += server.mounts
    volumes += parts.volumes
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            # GPUs are scarce: prefer spreading, never wait for it.
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    surge = args.get("surge", False)
    return {
        "selector": {"matchLabels": selector},
        "revisionHistoryLimit": 5,
        # A rollout is stuck only after the slowest possible start has passed twice.
        "progressDeadlineSeconds": 2 * startup + 600,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}
            if surge
            else {"maxSurge": 0, "maxUnavailable": 1},
        },
        "template": {
            "metadata": {
                "labels": pod_labels,
                # A new revision of the weights rolls the pods even when nothing else changed.
                "annotations": {"llm-platform.io/weights": args["weights_ready"]},
            },
            "spec": {
                "serviceAccountName": args["service_account_name"],
                "automountServiceAccountToken": False,
                "nodeSelector": placement.apply(lambda p: p["node_selector"]),
                "tolerations": placement.apply(lambda p: p["tolerations"]),
                "topologySpreadConstraints": spread,
                "terminationGracePeriodSeconds": GRACE_SECONDS,
                "securityContext": non_root_pod(RUN_AS),
                **({"initContainers": _wait_for_weights(t)} if "claim_name" in args else {}),
                "containers": [
                    {
                        "name": server.name,
                        "image": t.image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": server.args,
                        "ports": server.ports,
                        "env": server.env,
                        "resources": {"requests": limits, "limits": limits},
                        "securityContext": hardened_container(),
                        "startupProbe": server.startup_probe,
                        "readinessProbe": server.readiness_probe,
                        "livenessProbe": server.liveness_probe,
                        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
                        "volumeMounts": mounts,
                    },
                    *parts.sidecars,
                ],
                "volumes": volumes,
            },
        },
    }


def target_group_spec(service: str, health_path: str = "/health") -> dict[str, Any]:
    """The ALB's target group for one Service: pod addresses, health on `health_path`, and
    in-flight requests allowed to finish after a pod leaves (the server's shutdown timeout)."""
    return {
        "targetReference": {"name": service},
        "defaultConfiguration": {
            "targetType": "ip",
            "protocol": "HTTP",
            "healthCheckConfig": {
                "healthCheckPath": health_path,
                "healthCheckPort": "traffic-port",
                "healthCheckProtocol": "HTTP",
                # The ALB's fastest check: a new replica takes traffic 10 s after it serves.
                "healthCheckInterval": HEALTH_CHECK_INTERVAL_SECONDS,
                "healthCheckTimeout": 5,
                "healthyThresholdCount": HEALTHY_THRESHOLD,
                "unhealthyThresholdCount": 3,
                "matcher": {"httpCode": "200"},
            },
            "targetGroupAttributes": [
                {"key": "deregistration_delay.timeout_seconds", "value": str(SHUTDOWN_TIMEOUT_SECONDS)}
            ],
        },
    }


def scaled_object_spec(
    deployment: str,
    namespace: pulumi.Input[str],
    served_model: str,
    gpus_per_replica: int,
    scaling: AutoscalingArgs,
    prometheus_url: pulumi.Input[str],
    runtime: Runtime | None = None,
    polling_seconds: int = 15,
) -> dict[str, Any]:
    """KEDA ScaledObject: queue depth per replica (the runtime's queue metric; vLLM's when no
    runtime is given) and optionally GPU utilisation, fast up, slow down, a fixed replica count
    while Prometheus is unreachable."""
    minimum = scaling.get("min_replicas", 1)
    maximum = scaling.get("max_replicas", 1)
    waiting = runtime.waiting_requests if runtime is not None else metrics.waiting_requests

    def prometheus(query: pulumi.Input[str], threshold: int, trigger: str) -> dict[str, Any]:
        return {
            "type": "prometheus",
            "name": trigger,
            "metricType": "AverageValue",
            "metadata": {
                "serverAddress": prometheus_url,
                "query": query,
                "threshold": str(threshold),
                "activationThreshold": "0",
            },
        }

    triggers = [
        prometheus(
            pulumi.Output.from_input(namespace).apply(lambda ns: waiting(ns, served_model, deployment)),
            scaling.get("target_queue_depth", 4),
            "queue-depth",
        )
    ]
    if "gpu_utilization_percent" in scaling:
        triggers.append(
            prometheus(
                pulumi.Output.from_input(namespace).apply(
                    lambda ns: metrics.gpu_utilization(ns, deployment, gpus_per_replica)
                ),
                scaling["gpu_utilization_percent"],
                "gpu-utilization",
            )
        )
    hours = scaling.get("working_hours")
    if hours is not None:
        triggers.append(
            {
                "type": "cron",
                "name": "working-hours",
                "metadata": {
                    "timezone": hours["timezone"],
                    "start": hours["start"],
                    "end": hours["end"],
                    "desiredReplicas": "1",
                },
            }
        )
    return {
        "scaleTargetRef": {"name": deployment},
        "minReplicaCount": minimum,
        "maxReplicaCount": maximum,
        "pollingInterval": polling_seconds,
        "cooldownPeriod": 300,
        "fallback": {"failureThreshold": 3, "replicas": scaling.get("fallback_replicas", max(1, minimum))},
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "name": deployment,
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": scaling.get("scale_up_stabilization_seconds", 0),
                        "selectPolicy": "Max",
                        "policies": [
                            {"type": "Pods", "value": 2, "periodSeconds": 60},
                            {"type": "Percent", "value": 100, "periodSeconds": 60},
                        ],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": scaling.get("scale_down_stabilization_seconds", 600),
                        "selectPolicy": "Min",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}],
                    },
                },
            }
        },
        "triggers": triggers,
    }


def _wait_for_weights(t: Track) -> list[dict[str, Any]]:
    """An init container that waits for the sync job's marker of this track's revision.

    The pod waits for its weights, not the graph: the Deployment is created while the sync job
    still runs, so the GPU node, the image pull and the download happen side by side on a
    first deploy instead of one after the other."""
    marker = pulumi.Output.from_input(t.model).apply(lambda path: f"{path}/{WEIGHTS_MARKER}")
    return [
        {
            "name": "wait-for-weights",
            "image": t.image,  # the serving image: on the node already, nothing extra to pull
            "imagePullPolicy": "IfNotPresent",
            "command": ["sh", "-c", 'until [ -f "$MARKER" ]; do sleep 5; done'],
            "env": [{"name": "MARKER", "value": marker}],
            "resources": {
                "requests": {"cpu": "10m", "memory": "16Mi"},
                "limits": {"cpu": "100m", "memory": "32Mi"},
            },
            "securityContext": hardened_container(),
            "volumeMounts": [{"name": "weights", "mountPath": MODELS_MOUNT, "readOnly": True}],
        }
    ]
