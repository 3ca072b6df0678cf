"""InferenceService: one model served by vLLM, autoscaled on its queue, routed through the gateway."""

import dataclasses
import math
from typing import Any, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels, metrics
from components.core.placement import GPU_RESOURCE
from components.core.sizing import STARTUP_PROBE_PERIOD_SECONDS, PodResources
from components.core.storage import MODELS_MOUNT
from components.core.vllm import API_KEY_ENV, PUBLIC_PATH_PREFIXES, SERVE_ENV, ServeSettings, serve_args
from components.versions import VLLM_IMAGE

TRACK = "llm-platform.io/track"
PRE_STOP_SECONDS = 20  # endpoints and the load balancer stop sending before vLLM is told to stop
SHUTDOWN_TIMEOUT_SECONDS = 120  # in-flight generations get this long to finish
RUN_AS = 10001  # any non-root user; HOME and caches point at writable volumes
CACHE = "/cache"

# Proves the model serves: /v1/models answers only once the engine is up, and needs the key.
READY_COMMAND = [
    "python3",
    "-c",
    "import os, urllib.request as r; r.urlopen(r.Request('http://127.0.0.1:8000/v1/models', "
    f"headers={{'Authorization': 'Bearer ' + os.environ['{API_KEY_ENV}']}}), timeout=4)",
]


class PlacementArgs(TypedDict):
    """Where replicas run: a GPU pool's node selector and tolerations."""

    node_selector: dict[str, str]
    """Node labels of the GPU pool (GpuNodePool.placement.node_selector)."""
    tolerations: list[dict[str, str]]
    """Tolerations of the GPU pool's taint (GpuNodePool.placement.tolerations)."""


class AutoscalingArgs(TypedDict, total=False):
    """How KEDA scales a track: bounds, triggers and pacing."""

    min_replicas: int
    """Fewest replicas (default 1). 0 needs working_hours: with no replica there is no queue
    to wake the model, so it serves only during those hours."""
    max_replicas: int
    """Most replicas (default 1); the GPU pool and the tenant's quota must have room for them."""
    target_queue_depth: int
    """Requests waiting per replica to aim for."""
    gpu_utilization_percent: int
    """Optional second trigger: average GPU utilisation to aim for."""
    fallback_replicas: int
    """Replicas to hold when Prometheus cannot be read."""
    scale_up_stabilization_seconds: int
    """How long a higher replica count must be wanted before scaling up."""
    scale_down_stabilization_seconds: int
    """How long a lower replica count must be wanted before scaling down."""
    working_hours: dict[str, str]
    """{timezone, start, end}: one replica during these hours (for min_replicas 0)."""


class CanaryArgs(TypedDict, total=False):
    """A canary track next to the stable one, sharing its API key and route."""

    weight: int
    """Percent of requests to the canary."""
    image: str
    """vLLM image of the canary (default: the stable track's)."""
    model: pulumi.Input[str]
    """Model path or URI of the canary (another revision)."""
    weights_ready: pulumi.Input[str]
    """Resolves when the canary's weights are in place."""
    max_num_seqs: int
    """max_num_seqs of the canary (default: the stable track's)."""
    gpu_memory_utilization: float
    """gpu_memory_utilization of the canary (default: the stable track's)."""
    autoscaling: AutoscalingArgs
    """Replica bounds of the canary (default: exactly one replica)."""


class RouteArgs(TypedDict):
    """How requests reach the model through the shared Gateway."""

    gateway_name: pulumi.Input[str]
    """IngressGateway.gateway_name: it resolves once the Gateway and its controller (with the
    gateway.k8s.aws CRDs) exist, so routes and target groups are created after them."""
    gateway_namespace: pulumi.Input[str]
    """Namespace of the Gateway (IngressGateway.gateway_namespace)."""
    hostname: pulumi.Input[str]
    """The hostname the model answers on; must match the gateway's *.domain listener."""


class ServeArgs(TypedDict, total=False):
    """vLLM settings of a track (components.core.vllm.ServeSettings)."""

    served_model_name: Required[str]
    """The model name clients ask for."""
    tensor_parallel_size: Required[int]
    """GPUs per replica."""
    dtype: str
    """Weight and activation dtype (default bfloat16)."""
    quantization: str
    """vLLM --quantization method, such as fp8 or awq (default: none)."""
    max_model_len: int
    """Longest context, prompt plus output, in tokens (default 8192)."""
    gpu_memory_utilization: float
    """Share of each GPU's memory vLLM may use (default 0.9)."""
    max_num_seqs: int
    """Most sequences batched at once (default 128)."""
    prefix_caching: bool
    """Reuse the KV cache of shared prompt prefixes (default true)."""
    load_format: str
    """`runai_streamer` to stream from S3."""
    shutdown_timeout_seconds: int
    """Time in-flight requests get to finish on SIGTERM (default 120)."""
    otlp_traces_endpoint: str
    """OTLP endpoint to send request traces to."""
    log_requests: bool
    """Log prompts and responses (the audit of request bodies a tenant opted into)."""


class PodResourcesArgs(TypedDict):
    """A replica's CPU and memory (components.core.sizing.pod_resources computes them)."""

    cpu_millicores: int
    """CPU request and limit, millicores."""
    memory_mib: int
    """The container's memory limit, /dev/shm included."""
    shm_mib: int
    """Size limit of the memory-backed /dev/shm."""


def resources_args(r: PodResources) -> PodResourcesArgs:
    return {"cpu_millicores": r.cpu_millicores, "memory_mib": r.memory_mib, "shm_mib": r.shm_mib}


class InferenceServiceArgs(TypedDict, total=False):
    namespace: Required[pulumi.Input[str]]
    """Tenant namespace."""
    placement: Required[pulumi.Input[PlacementArgs]]
    """Node selector and tolerations of the GPU pool (GpuNodePool.placement)."""
    serve: Required[ServeArgs]
    """vLLM settings."""
    model_uri: Required[pulumi.Input[str]]
    """The stable revision's path on the volume, or its s3:// URI."""
    resources: Required[PodResourcesArgs]
    """CPU, memory and /dev/shm of one replica."""
    startup_seconds: Required[int]
    """Worst time from container start to serving."""
    image: str
    """vLLM image (default: the pinned release)."""
    service_account_name: Required[pulumi.Input[str]]
    """ServiceAccount with read access to the model's weights."""
    claim_name: pulumi.Input[str]
    """The weights volume claim (absent when streaming from S3)."""
    weights_ready: Required[pulumi.Input[str]]
    """Resolves when the weights are in place; the Deployment waits for it."""
    api_key: Required[pulumi.Input[str]]
    """The key clients must send (a secret)."""
    aws_region: pulumi.Input[str]
    """Region of the bucket, for streaming from S3."""
    surge: bool
    """The pool has room for one extra replica: roll out new before old."""
    autoscaling: Required[AutoscalingArgs]
    """Replica bounds and the KEDA triggers of the stable track."""
    prometheus_url: Required[pulumi.Input[str]]
    """Where KEDA reads the metrics."""
    keda_release: Required[pulumi.Input[str]]
    """Keda.release_name: ScaledObjects wait for the release that installs their CRD."""
    route: RouteArgs
    """The ALB Gateway to attach to and the hostname to answer on. Absent: the model is reached
    only through the AI gateway (components/model_gateway.py routes to `tracks`)."""
    canary: CanaryArgs
    """A second track (another image, revision or settings) that gets a share of requests."""
    monitoring_release: pulumi.Input[str]
    """Monitoring.release_name, which installs the PodMonitor CRD; absent: no PodMonitor.
    Only the PodMonitor waits for it, never the Deployment."""
    scrape_interval_seconds: int
    """How often Prometheus scrapes vLLM (default 15)."""


class InferenceService(pulumi.ComponentResource):
    """vLLM's OpenAI server for model `name`, as a stable track and an optional canary.

    Each track is a Deployment (GPU placement, probes sized to the model's load
    time, read-only root with writable caches, memory-backed /dev/shm, graceful
    shutdown, a rollout that never waits for a GPU that does not exist), a
    Service, a PodDisruptionBudget and a KEDA ScaledObject on vLLM's queue.
    An HTTPRoute sends `weight` percent to the canary. Pulumi never sets
    `spec.replicas`: the HPA that KEDA makes owns it.
    """

    service_name: pulumi.Output[str]
    """Service of the stable track, for in-cluster clients."""
    hostname: pulumi.Output[str]
    """The hostname the model answers on through the gateway."""
    route_name: pulumi.Output[str]
    """The HTTPRoute (in the tenant namespace) that attaches the model to the ALB ("" behind the AI gateway)."""

    def __init__(
        self, name: str, args: InferenceServiceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("llmplatform:index:InferenceService", name, None, opts)
        namespace = args["namespace"]
        key_secret = k8s.core.v1.Secret(
            f"{name}-api-key",
            metadata=_k8s.meta(f"{name}-api-key", namespace, labels.standard(name, labels.INFERENCE)),
            string_data={"key": pulumi.Output.secret(args["api_key"])},
            opts=pulumi.ResourceOptions(parent=self),
        )
        image = args.get("image", VLLM_IMAGE)
        serve = ServeSettings(**args["serve"])
        stable = self._track(name, "stable", args, serve, image, key_secret)
        backends = [(stable, 100)]
        canary = args.get("canary")
        if canary is not None:
            settings = dataclasses.replace(
                serve,
                max_num_seqs=canary.get("max_num_seqs", serve.max_num_seqs),
                gpu_memory_utilization=canary.get("gpu_memory_utilization", serve.gpu_memory_utilization),
            )
            canary_args: InferenceServiceArgs = {
                **args,
                "autoscaling": canary.get("autoscaling", AutoscalingArgs(min_replicas=1, max_replicas=1)),
                "weights_ready": canary.get("weights_ready", args["weights_ready"]),
            }
            track = self._track(
                f"{name}-canary",
                "canary",
                canary_args,
                settings,
                canary.get("image", image),
                key_secret,
                model=canary.get("model"),
            )
            backends = [(stable, 100 - canary["weight"]), (track, canary["weight"])]
        if "monitoring_release" in args:
            self._pod_monitor(name, namespace, serve.served_model_name, args)

        self.service_name = pulumi.Output.from_input(name)
        # (Service, weight percent) of each track: what the AI gateway's route splits over. A plain
        # attribute, not an output: the names and weights are known when the program runs.
        self.tracks: list[tuple[str, int]] = backends
        if "route" in args:
            route = self._route(name, namespace, args["route"], backends)
            self.hostname = pulumi.Output.from_input(args["route"]["hostname"])
            self.route_name = route.metadata.apply(lambda m: str(m["name"]))
        else:  # behind the AI gateway: no route of its own on the ALB
            self.hostname = pulumi.Output.from_input("")
            self.route_name = pulumi.Output.from_input("")
        self.register_outputs(
            {"service_name": self.service_name, "hostname": self.hostname, "route_name": self.route_name}
        )

    def _track(
        self,
        name: str,
        track: str,
        args: InferenceServiceArgs,
        serve: ServeSettings,
        image: str,
        key_secret: k8s.core.v1.Secret,
        model: pulumi.Input[str] | None = None,
    ) -> str:
        """One Deployment with its Service, PodDisruptionBudget and ScaledObject; returns the
        Service name."""
        namespace = args["namespace"]
        served = serve.served_model_name
        selector = {labels.NAME: served, TRACK: track}
        pod_labels = {**labels.standard(served, labels.INFERENCE), TRACK: track}
        if "claim_name" not in args:  # streaming from S3: the pod reads the bucket over HTTPS,
            pod_labels[labels.S3_EGRESS] = "true"  # and S3 is all it may reach outside the VPC
        in_ns = pulumi.ResourceOptions(parent=self)

        deployment = k8s.apps.v1.Deployment(
            name,
            metadata=_k8s.meta(
                name,
                namespace,
                pod_labels,
                _k8s.checkov_skips(
                    _k8s.PINNED_TAG,
                    _k8s.PULL_IF_NOT_PRESENT,
                    (
                        "CKV_K8S_35",
                        "vLLM takes its API key only from VLLM_API_KEY, not from a file",
                    ),
                ),
            ),
            spec=self._deployment_spec(args, serve, image, model, selector, pod_labels, key_secret),
            opts=pulumi.ResourceOptions(
                parent=self,
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
                    {"name": "http", "port": labels.VLLM_PORT, "targetPort": "http", "protocol": "TCP"}
                ],
            },
            opts=in_ns,
        )
        if "route" in args:  # the ALB targets the pods only when it routes to them itself
            self._target_group(name, namespace, pod_labels, args["route"])
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
                serve.tensor_parallel_size,
                args["autoscaling"],
                args["prometheus_url"],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[deployment]),
        )
        return name

    def _target_group(
        self, name: str, namespace: pulumi.Input[str], pod_labels: dict[str, str], route: RouteArgs
    ) -> None:
        k8s.apiextensions.CustomResource(
            f"{name}-target-group",
            api_version="gateway.k8s.aws/v1",
            kind="TargetGroupConfiguration",
            metadata=_k8s.meta(name, namespace, pod_labels, _k8s.installed_by(route["gateway_name"])),
            spec=target_group_spec(name),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _deployment_spec(
        self,
        args: InferenceServiceArgs,
        serve: ServeSettings,
        image: str,
        model: pulumi.Input[str] | None,
        selector: dict[str, str],
        pod_labels: dict[str, str],
        key_secret: k8s.core.v1.Secret,
    ) -> dict[str, Any]:
        res = PodResources(**args["resources"])
        placement = pulumi.Output.from_input(args["placement"])
        startup = args["startup_seconds"]
        container_args = pulumi.Output.from_input(model if model is not None else args["model_uri"]).apply(
            lambda uri: serve_args(uri, serve)
        )
        limits = {
            "cpu": f"{res.cpu_millicores}m",
            "memory": f"{res.memory_mib}Mi",
            GPU_RESOURCE: str(serve.tensor_parallel_size),
            "ephemeral-storage": "24Gi",
        }
        env: list[dict[str, Any]] = [
            {
                "name": API_KEY_ENV,
                "valueFrom": {"secretKeyRef": {"name": key_secret.metadata["name"], "key": "key"}},
            },
            # The root filesystem is read-only: every cache goes to a volume.
            {"name": "HOME", "value": f"{CACHE}/home"},
            {"name": "HF_HOME", "value": f"{CACHE}/huggingface"},
            {"name": "VLLM_CACHE_ROOT", "value": f"{CACHE}/vllm"},
            {"name": "XDG_CACHE_HOME", "value": f"{CACHE}/xdg"},
            {"name": "TRITON_CACHE_DIR", "value": f"{CACHE}/triton"},
            {"name": "TORCHINDUCTOR_CACHE_DIR", "value": f"{CACHE}/inductor"},
            # Libraries that ask for the user name must not fail on a user without a passwd entry.
            {"name": "USER", "value": "vllm"},
            # Weights are on the volume or in S3; never reach out to the Hub at serve time.
            {"name": "HF_HUB_OFFLINE", "value": "1"},
            {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
            *({"name": k, "value": v} for k, v in SERVE_ENV.items()),
        ]
        if "aws_region" in args:
            env.append({"name": "AWS_REGION", "value": args["aws_region"]})
            env.append({"name": "AWS_DEFAULT_REGION", "value": args["aws_region"]})  # boto3 (S3 streamer)
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
                    "terminationGracePeriodSeconds": PRE_STOP_SECONDS + SHUTDOWN_TIMEOUT_SECONDS + 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [
                        {
                            "name": "vllm",
                            "image": image,
                            "imagePullPolicy": "IfNotPresent",
                            "args": container_args,
                            "ports": [{"name": "http", "containerPort": labels.VLLM_PORT, "protocol": "TCP"}],
                            "env": env,
                            "resources": {"requests": limits, "limits": limits},
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                            "startupProbe": {
                                "httpGet": {"path": "/health", "port": "http"},
                                "periodSeconds": STARTUP_PROBE_PERIOD_SECONDS,
                                "timeoutSeconds": 5,
                                "failureThreshold": math.ceil(startup / STARTUP_PROBE_PERIOD_SECONDS),
                            },
                            "readinessProbe": {
                                "exec": {"command": READY_COMMAND},
                                "periodSeconds": 10,
                                "timeoutSeconds": 5,
                                "failureThreshold": 3,
                            },
                            # Runs only after the startup probe passed: it cannot kill a loading pod.
                            "livenessProbe": {
                                "httpGet": {"path": "/health", "port": "http"},
                                "periodSeconds": 15,
                                "timeoutSeconds": 5,
                                "failureThreshold": 4,
                            },
                            "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
                            "volumeMounts": mounts,
                        }
                    ],
                    "volumes": volumes,
                },
            },
        }

    def _pod_monitor(
        self, name: str, namespace: pulumi.Input[str], served: str, args: InferenceServiceArgs
    ) -> None:
        """Prometheus scrapes every replica of every track; the targets carry job="vllm" and the
        model and track, the labels the alert rules, dashboards and autoscaler queries use."""
        k8s.apiextensions.CustomResource(
            f"{name}-metrics",
            api_version="monitoring.coreos.com/v1",
            kind="PodMonitor",
            metadata=_k8s.meta(
                name,
                namespace,
                labels.standard(name, labels.INFERENCE),
                _k8s.installed_by(args["monitoring_release"]),
            ),
            spec={
                "selector": {
                    "matchLabels": {
                        labels.NAME: served,
                        labels.COMPONENT: labels.INFERENCE,
                    }
                },
                "podMetricsEndpoints": [
                    {
                        "port": "http",
                        "path": "/metrics",
                        "interval": f"{args.get('scrape_interval_seconds', 15)}s",
                        "relabelings": [
                            {"action": "replace", "targetLabel": "job", "replacement": metrics.VLLM_JOB},
                            {
                                "action": "replace",
                                "sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                                "targetLabel": metrics.MODEL_LABEL,
                            },
                            {
                                "action": "replace",
                                "sourceLabels": ["__meta_kubernetes_pod_label_llm_platform_io_track"],
                                "targetLabel": metrics.TRACK_LABEL,
                            },
                        ],
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _route(
        self, name: str, namespace: pulumi.Input[str], route: RouteArgs, backends: list[tuple[str, int]]
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version="gateway.networking.k8s.io/v1",
            kind="HTTPRoute",
            metadata=_k8s.meta(name, namespace, labels.standard(name, labels.INFERENCE)),
            spec={
                "parentRefs": [
                    {
                        "name": route["gateway_name"],
                        "namespace": route["gateway_namespace"],
                        "sectionName": "https",
                    }
                ],
                "hostnames": [route["hostname"]],
                "rules": [
                    {
                        # Only what vLLM's key guards: /invocations, /tokenize, /metrics, /docs
                        # and the rest answer without it, so they stay inside the cluster.
                        "matches": [
                            {"path": {"type": "PathPrefix", "value": p}} for p in PUBLIC_PATH_PREFIXES
                        ],
                        "backendRefs": [
                            {"name": service, "port": labels.VLLM_PORT, "weight": weight}
                            for service, weight in backends
                        ],
                    }
                ],
            },
            opts=pulumi.ResourceOptions(parent=self),
        )


def target_group_spec(service: str) -> dict[str, Any]:
    """The ALB's target group for one Service: pod addresses, health on /health, and in-flight
    requests allowed to finish after a pod leaves (vLLM's shutdown timeout)."""
    return {
        "targetReference": {"name": service},
        "defaultConfiguration": {
            "targetType": "ip",
            "protocol": "HTTP",
            "healthCheckConfig": {
                "healthCheckPath": "/health",
                "healthCheckPort": "traffic-port",
                "healthCheckProtocol": "HTTP",
                "healthCheckInterval": 15,
                "healthCheckTimeout": 5,
                "healthyThresholdCount": 2,
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
) -> dict[str, Any]:
    """KEDA ScaledObject: queue depth per replica (and optionally GPU utilisation), fast up,
    slow down, a fixed replica count while Prometheus is unreachable."""
    minimum = scaling.get("min_replicas", 1)
    maximum = scaling.get("max_replicas", 1)

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
            pulumi.Output.from_input(namespace).apply(
                lambda ns: metrics.waiting_requests(ns, served_model, deployment)
            ),
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
        "pollingInterval": 15,
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
