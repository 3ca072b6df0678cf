"""InferenceService: one model served by a runtime (vLLM), autoscaled on its queue, routed
through the gateway. The pieces live in components/serving (see its docstring)."""

import dataclasses

import pulumi
import pulumi_kubernetes as k8s

from components import _k8s
from components.core import labels
from components.core.sizing import PodResources
from components.core.vllm import ServeSettings
from components.serving.args import (
    AutoscalingArgs,
    CanaryArgs,
    CompileCacheArgs,
    InferenceServiceArgs,
    PlacementArgs,
    PodResourcesArgs,
    RouteArgs,
    ServeArgs,
    resources_args,
)
from components.serving.monitor import pod_monitor
from components.serving.route import http_route
from components.serving.runtimes import DEFAULT, RUNTIMES
from components.serving.runtimes.base import PRE_STOP_SECONDS, SHUTDOWN_TIMEOUT_SECONDS, Track
from components.serving.track import (
    TRACK,
    build_track,
    scaled_object_spec,
    selector_of,
    target_group_spec,
)

__all__ = [
    "PRE_STOP_SECONDS",
    "SHUTDOWN_TIMEOUT_SECONDS",
    "TRACK",
    "AutoscalingArgs",
    "CanaryArgs",
    "CompileCacheArgs",
    "InferenceService",
    "InferenceServiceArgs",
    "PlacementArgs",
    "PodResourcesArgs",
    "RouteArgs",
    "ServeArgs",
    "resources_args",
    "scaled_object_spec",
    "target_group_spec",
]


class InferenceService(pulumi.ComponentResource):
    """Model `name` served by a runtime (vLLM's OpenAI server by default, or Triton with its
    vLLM backend), as a stable track and an optional canary.

    Each track is a Deployment (GPU placement, probes sized to the model's load
    time, read-only root with writable caches, memory-backed /dev/shm, graceful
    shutdown, a rollout that never waits for a GPU that does not exist), a
    Service, a PodDisruptionBudget and a KEDA ScaledObject on the runtime's queue.
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
        runtime = RUNTIMES[args.get("runtime", DEFAULT)]
        key_secret = k8s.core.v1.Secret(
            f"{name}-api-key",
            metadata=_k8s.meta(f"{name}-api-key", namespace, labels.standard(name, labels.INFERENCE)),
            string_data={"key": pulumi.Output.secret(args["api_key"])},
            opts=pulumi.ResourceOptions(parent=self),
        )
        image = args.get("image", runtime.default_image)
        cache_claim = self._compile_cache(name, namespace, args)
        serve = ServeSettings(**args["serve"])
        resources = PodResources(**args["resources"])
        stable = build_track(
            Track(
                name,
                "stable",
                args,
                serve,
                image,
                args["model_uri"],
                key_secret,
                resources,
                self,
                cache_claim,
            ),
            runtime,
        )
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
            model = canary.get("model")
            track = build_track(
                Track(
                    f"{name}-canary",
                    "canary",
                    canary_args,
                    settings,
                    canary.get("image", image),
                    model if model is not None else args["model_uri"],
                    key_secret,
                    resources,
                    self,
                    cache_claim,
                ),
                runtime,
            )
            backends = [(stable, 100 - canary["weight"]), (track, canary["weight"])]
        if "monitoring_release" in args:
            pod_monitor(
                name,
                namespace,
                serve.served_model_name,
                args["monitoring_release"],
                args.get("scrape_interval_seconds", 15),
                runtime.metrics_port,
                runtime.metrics_path,
                runtime.job,
                self,
            )

        self.service_name = pulumi.Output.from_input(name)
        # (Service, weight percent) of each track: what the AI gateway's route splits over. A plain
        # attribute, not an output: the names and weights are known when the program runs.
        self.tracks: list[tuple[str, int]] = backends
        # Labels of the stable track's pods: what the model's InferencePool selects.
        self.stable_pods: dict[str, str] = selector_of(serve.served_model_name, "stable")
        if "route" in args:
            route = http_route(
                name,
                namespace,
                args["route"],
                backends,
                runtime.public_path_prefixes,
                runtime.service_port,
                self,
            )
            self.hostname = pulumi.Output.from_input(args["route"]["hostname"])
            self.route_name = route.metadata.apply(lambda m: str(m["name"]))
        else:  # behind the AI gateway: no route of its own on the ALB
            self.hostname = pulumi.Output.from_input("")
            self.route_name = pulumi.Output.from_input("")
        self.register_outputs(
            {"service_name": self.service_name, "hostname": self.hostname, "route_name": self.route_name}
        )

    def _compile_cache(
        self, name: str, namespace: pulumi.Input[str], args: InferenceServiceArgs
    ) -> pulumi.Output[str] | None:
        """The model's shared compile cache: one ReadWriteMany claim for every track and replica
        (artefacts are keyed by configuration inside, and by image in the path)."""
        cache = args.get("compile_cache")
        if cache is None:
            return None
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-compile-cache",
            metadata=_k8s.meta(f"{name}-compile-cache", namespace, labels.standard(name, labels.INFERENCE)),
            spec={
                "accessModes": ["ReadWriteMany"],
                "storageClassName": cache["storage_class_name"],
                # EFS is elastic and ignores the size; Kubernetes requires one.
                "resources": {"requests": {"storage": "50Gi"}},
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        name_out: pulumi.Output[str] = claim.metadata.apply(lambda m: str(m["name"]))
        return name_out
