"""What a serving runtime must say about its pod, and what the track tells it.

The track (components/serving/track.py) owns everything every runtime's pod has: placement,
rollout, the hardened security context, resources, /dev/shm, the cache, /tmp and weights
volumes, graceful shutdown. A runtime fills in only what differs: the server's container
(args, env, ports, probes), any sidecar or extra volume it needs, and how its metrics read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import pulumi
import pulumi_kubernetes as k8s

from components.core.sizing import STARTUP_PROBE_PERIOD_SECONDS, PodResources
from components.core.vllm import SERVE_ENV, ServeSettings
from components.serving.args import InferenceServiceArgs

CACHE = "/cache"
"""Where the writable cache volume is mounted; the root filesystem is read-only."""
PRE_STOP_SECONDS = 20  # endpoints and the load balancer stop sending before the server is told to stop
SHUTDOWN_TIMEOUT_SECONDS = 120  # in-flight generations get this long to finish
COMPILE_CACHE = "/compile-cache"
"""Where the model's shared compile cache is mounted, when it has one."""


@dataclass(frozen=True)
class Track:
    """One Deployment of a model, as the runtime sees it."""

    name: str
    """Deployment (and Service) name: <model> or <model>-canary."""
    track: str
    """stable or canary."""
    args: InferenceServiceArgs
    serve: ServeSettings
    image: str
    model: pulumi.Input[str]
    """The weights' path on the volume, or their s3:// URI."""
    key_secret: k8s.core.v1.Secret
    """Secret holding the API key clients send (key "key")."""
    resources: PodResources
    parent: pulumi.Resource
    compile_cache_claim: pulumi.Input[str] | None = None
    """The model's shared compile-cache volume claim, if it has one."""

    def compile_cache_dir(self) -> str | None:
        """Where this track's compile artefacts go on the shared volume: one directory per image,
        so a canary on another release never reads artefacts of a different torch or vLLM."""
        if self.compile_cache_claim is None:
            return None
        return f"{COMPILE_CACHE}/{self.image.rsplit(':', 1)[-1]}"


@dataclass(frozen=True)
class ServerContainer:
    """The runtime's part of the serving container; the track adds image, resources,
    security context, shutdown and the common mounts."""

    name: str
    args: pulumi.Input[list[str]]
    ports: list[dict[str, Any]]
    env: list[dict[str, Any]]
    startup_probe: dict[str, Any]
    readiness_probe: dict[str, Any]
    liveness_probe: dict[str, Any]
    mounts: list[dict[str, Any]] = field(default_factory=list)
    """Mounts besides /dev/shm, the cache, /tmp and the weights."""


@dataclass(frozen=True)
class PodParts:
    server: ServerContainer
    sidecars: list[dict[str, Any]] = field(default_factory=list)
    """Further containers, complete (the runtime hardens them as the track hardens the server)."""
    volumes: list[dict[str, Any]] = field(default_factory=list)
    """Volumes the runtime's mounts and sidecars use."""
    sidecar_cpu_millicores: int = 0
    sidecar_memory_mib: int = 0
    """What the sidecars request, taken from the server's share so that the pod asks for no
    more than sizing, the tenant quota and the pool capacity counted."""


class Runtime(Protocol):
    """A serving runtime: vLLM's OpenAI server, Triton with its vLLM backend, ..."""

    name: str
    """The value of models.<name>.runtime."""
    default_image: str
    service_port: int
    """The port the Service, the ALB and the route send requests to (named "http" in the pod)."""
    health_path: str
    """A path on that port answering 200 without a key once the server serves (ALB health check)."""
    public_path_prefixes: tuple[str, ...]
    """The only path prefixes the route publishes: each must require the API key."""
    metrics_port: str
    """Name of the container port Prometheus scrapes."""
    metrics_path: str
    job: str
    """The job label its PodMonitor gives the targets (alert rules and dashboards select on it)."""
    checkov_skips: tuple[tuple[str, str], ...]
    """checkov findings its pod accepts, with the reasons, besides the platform's."""

    def pod(self, track: Track) -> PodParts: ...

    def waiting_requests(self, namespace: str, served_model: str, deployment: str) -> str:
        """PromQL: requests queued in all replicas of `deployment` (KEDA divides by replicas)."""
        ...


def startup_probe(path: str, startup_seconds: int, handler: dict[str, Any] | None = None) -> dict[str, Any]:
    """Probes `path` on the http port (or runs `handler`) until the model's worst load time has
    passed; liveness and readiness start only after it, so nothing kills a pod still loading."""
    return {
        **(handler if handler is not None else {"httpGet": {"path": path, "port": "http"}}),
        "periodSeconds": STARTUP_PROBE_PERIOD_SECONDS,
        "timeoutSeconds": 5,
        "failureThreshold": math.ceil(startup_seconds / STARTUP_PROBE_PERIOD_SECONDS),
    }


def server_env(user: str, compiled: str = CACHE) -> list[dict[str, Any]]:
    """Environment every engine process needs on a read-only root: caches on writable volumes
    (torch.compile, Inductor and Triton kernels under `compiled`, the model's shared compile cache
    when it has one), a user name for libraries that ask, no Hub access and no usage report."""
    return [
        {"name": "HOME", "value": f"{CACHE}/home"},
        {"name": "HF_HOME", "value": f"{CACHE}/huggingface"},
        {"name": "VLLM_CACHE_ROOT", "value": f"{compiled}/vllm"},
        {"name": "XDG_CACHE_HOME", "value": f"{CACHE}/xdg"},
        {"name": "TRITON_CACHE_DIR", "value": f"{compiled}/triton"},
        {"name": "TORCHINDUCTOR_CACHE_DIR", "value": f"{compiled}/inductor"},
        # Libraries that ask for the user name must not fail on a user without a passwd entry.
        {"name": "USER", "value": user},
        # Weights are on the volume or in S3; never reach out to the Hub at serve time.
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        *({"name": k, "value": v} for k, v in SERVE_ENV.items()),
    ]
