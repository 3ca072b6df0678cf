"""The inputs of an InferenceService: one TypedDict per part, documented for the package schema."""

from typing import Required, TypedDict

import pulumi

from components.core.sizing import PodResources


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
    streamer_concurrency: int
    """Parallel S3 reads of the Run:ai streamer (with load_format runai_streamer; components.core.sizing.streamer_settings)."""
    streamer_memory_limit_bytes: int
    """CPU buffer of the Run:ai streamer, bytes (with load_format runai_streamer)."""


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


class CompileCacheArgs(TypedDict):
    """A ReadWriteMany volume for VLLM_CACHE_ROOT, shared by every replica of the model."""

    storage_class_name: pulumi.Input[str]
    """A ReadWriteMany StorageClass (ModelStore.storage_class_name, EFS)."""


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
    runtime: str
    """The serving runtime: vllm (vLLM's OpenAI server, the default) or triton (Triton
    Inference Server with its vLLM backend, behind an authenticating proxy)."""
    image: str
    """Server image (default: the runtime's pinned release)."""
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
    """How often Prometheus scrapes the serving pods (default 15): the first term of the time to notice a growing queue."""
    keda_polling_seconds: int
    """How often KEDA runs the queue query (default 15); no use polling faster than the scrape."""
    compile_cache: CompileCacheArgs
    """Share torch.compile and CUDA-graph artefacts between the replicas of this model on a volume (absent: every replica compiles for itself)."""
