"""Config of what runs on the cluster: model storage, tenants and the models they serve."""

from __future__ import annotations

from ipaddress import IPv4Network
from typing import Annotated, Literal

from pydantic import Field, SecretStr

from infra.config.base import Cidr, DnsLabel, LogRetentionDays, Model, PrincipalArn, matching, pattern
from infra.config.gateway import ClientConfig, OidcConfig

_CPU = r"\d+(\.\d+)?|\d+m"
_MEMORY = r"\d+(Ki|Mi|Gi|Ti)"
_HF_REPO = r"[\w.-]+/[\w.-]+"
_COMMIT = r"[0-9a-f]{40}"
_REVISION = r"[A-Za-z0-9][-A-Za-z0-9_.]{0,62}"

CpuQuantity = Annotated[str, matching(_CPU, "a CPU quantity such as 32 or 500m"), pattern(_CPU)]
MemoryQuantity = Annotated[
    str, matching(_MEMORY, "a memory quantity such as 256Gi or 512Mi"), pattern(_MEMORY)
]


class AccessLogging(Model):
    retention_days: LogRetentionDays = 90
    """Days to keep the bucket's S3 server access logs (who read or wrote which model files)."""


class StorageConfig(Model):
    noncurrent_version_days: Annotated[int, Field(ge=1, le=3650)] = 30
    """Days to keep replaced or deleted model files (S3 noncurrent versions) before they expire."""
    access_logging: AccessLogging | None = None
    """Log every request to the model bucket into a separate log bucket; omit to turn off."""
    force_destroy: bool = False
    """Let `pulumi destroy` delete the buckets with their contents. Only for throwaway stacks; refused together with protect."""
    hugging_face_token: SecretStr | None = None
    """Hugging Face access token for gated models (e.g. Llama), used by the sync jobs. Set it with `pulumi config set --secret --path 'llm-platform:storage.huggingFaceToken' hf_...`."""


class Quota(Model):
    gpus: Annotated[int, Field(ge=0)]
    """GPUs the tenant's pods may request in total (requests.nvidia.com/gpu)."""
    cpu: CpuQuantity
    """CPU the tenant's pods may request, and the sum of their limits."""
    memory: MemoryQuantity
    """Memory the tenant's pods may request, and the sum of their limits."""
    pods: Annotated[int, Field(ge=1)] = 50
    """Most pods in the namespace."""
    persistent_volume_claims: Annotated[int, Field(ge=0)] = 10
    """Most PersistentVolumeClaims in the namespace."""


class ContainerDefaults(Model):
    cpu_request: CpuQuantity = "100m"
    """CPU request of a container that sets none."""
    cpu_limit: CpuQuantity = "1"
    """CPU limit of a container that sets none."""
    memory_request: MemoryQuantity = "256Mi"
    """Memory request of a container that sets none."""
    memory_limit: MemoryQuantity = "1Gi"
    """Memory limit of a container that sets none."""


class TenantConfig(Model):
    group: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    """Kubernetes group given edit rights in the tenant's namespace (default: tenant-<name>)."""
    access_role_arns: list[PrincipalArn] = []
    """IAM roles whose users join that group (an EKS access entry each). Empty: map the group yourself."""
    quota: Quota
    """What the namespace may use in total."""
    container_defaults: ContainerDefaults = ContainerDefaults()
    """Requests and limits of containers that set none (a LimitRange)."""
    clients: dict[DnsLabel, ClientConfig] = {}
    """API clients of the tenant's models by client id (needs llm-platform:gateway): each has its own key, the models it may call and its token budget on each. The id is what the gateway's records and usage metrics name."""
    oidc: OidcConfig | None = None
    """Authenticate the tenant's clients with tokens of this OIDC issuer instead of API keys (needs llm-platform:gateway): a client then has no `key`, and a token is admitted on a model when its client claim names a client allowed to call it."""
    audit_bodies: bool = False
    """Also keep the request and response bodies of the tenant's models in the audit (vLLM logs them: --enable-log-requests, --enable-log-outputs). Bodies may hold personal data: turning this on is the tenant's decision."""


class HuggingFaceSource(Model):
    repo: Annotated[
        str,
        matching(_HF_REPO, "a Hugging Face repository such as meta-llama/Llama-3.1-8B-Instruct"),
        pattern(_HF_REPO),
    ]
    """Repository id on the Hugging Face Hub."""
    revision: Annotated[
        str,
        matching(_COMMIT, "a 40-character commit hash (a branch name would move under you)"),
        pattern(_COMMIT),
    ]
    """Commit of the repository to serve; pinned so every replica and every rollback loads the same files."""


class S3Source(Model):
    revision: Annotated[
        str, matching(_REVISION, "a revision label such as 2026-10-01 or v3"), pattern(_REVISION)
    ]
    """Label of the weights uploaded to s3://<model bucket>/models/<model>/<revision>/ (immutable: upload a new revision instead of overwriting one)."""


class ModelSource(Model):
    hugging_face: HuggingFaceSource | None = None
    """Download from the Hugging Face Hub into the shared volume, and mirror into the bucket."""
    s3: S3Source | None = None
    """Weights already in the model bucket."""


class ArchitectureConfig(Model):
    parameters: Annotated[float, Field(gt=0)]
    """Parameter count, e.g. 8.03e9."""
    layers: Annotated[int, Field(ge=1)]
    """Transformer layers (num_hidden_layers)."""
    attention_heads: Annotated[int, Field(ge=1)]
    """Query heads (num_attention_heads)."""
    kv_heads: Annotated[int, Field(ge=1)]
    """Key/value heads (num_key_value_heads)."""
    head_dim: Annotated[int, Field(ge=1)]
    """Dimension of one head (hidden_size / num_attention_heads unless the model says otherwise)."""
    context_length: Annotated[int, Field(ge=256)] | None = None
    """Longest sequence the model takes (max_position_embeddings of its config.json); maxModelLen may not exceed it."""


_CRON = r"[-\d*/,]+( [-\d*/,]+){4}"


class WorkingHours(Model):
    timezone: Annotated[str, Field(min_length=1)]
    """IANA time zone, e.g. Europe/Berlin."""
    start: Annotated[
        str, matching(_CRON, "a five-field cron expression such as '0 8 * * 1-5'"), pattern(_CRON)
    ]
    """When one replica starts (cron)."""
    end: Annotated[
        str, matching(_CRON, "a five-field cron expression such as '0 20 * * 1-5'"), pattern(_CRON)
    ]
    """When that replica may go (cron)."""


class AutoscalingConfig(Model):
    target_queue_depth: Annotated[int, Field(ge=1, le=1000)] = 4
    """Requests waiting per replica (vllm:num_requests_waiting) above which the autoscaler adds replicas."""
    gpu_utilization_percent: Annotated[int, Field(ge=10, le=100)] | None = None
    """Also add replicas when the replicas' GPUs are busier than this on average (DCGM); omit to scale on the queue only."""
    fallback_replicas: Annotated[int, Field(ge=1)] | None = None
    """Replicas to hold while Prometheus cannot be read (default: minReplicas, at least 1)."""
    scale_up_stabilization_seconds: Annotated[int, Field(ge=0, le=3600)] = 0
    """How long load must stay high before adding replicas (0: at once; GPU nodes are slow enough)."""
    scale_down_stabilization_seconds: Annotated[int, Field(ge=0, le=3600)] = 600
    """How long load must stay low before removing replicas (a removed replica takes minutes to come back)."""
    working_hours: WorkingHours | None = None
    """With minReplicas 0: keep one replica during these hours. vLLM's own queue metric cannot wake a model that has no replica, so scale-to-zero needs a schedule."""


_IMAGE_TAG = r"v\d+\.\d+\.\d+"


class CanaryConfig(Model):
    weight: Annotated[int, Field(ge=0, le=100)]
    """Percent of the model's requests sent to the canary."""
    image_tag: (
        Annotated[
            str,
            matching(_IMAGE_TAG, "a vLLM release tag such as v0.33.1 (never latest)"),
            pattern(_IMAGE_TAG),
        ]
        | None
    ) = None
    """vLLM release of the canary (default: the stable one)."""
    revision: (
        Annotated[
            str,
            matching(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,62}", "a model revision"),
            pattern(r"[A-Za-z0-9][-A-Za-z0-9_.]{0,62}"),
        ]
        | None
    ) = None
    """Model revision of the canary (a Hub commit or a bucket label, as the model's source); synced next to the stable one."""
    max_num_seqs: Annotated[int, Field(ge=1, le=4096)] | None = None
    """vLLM --max-num-seqs of the canary."""
    gpu_memory_utilization: Annotated[float, Field(ge=0.5, le=0.95)] | None = None
    """vLLM --gpu-memory-utilization of the canary."""
    min_replicas: Annotated[int, Field(ge=1)] = 1
    """Fewest canary replicas."""
    max_replicas: Annotated[int, Field(ge=1)] = 1
    """Most canary replicas (counted in the tenant's quota and the pool's capacity)."""


class ModelConfig(Model):
    tenant: DnsLabel
    """Tenant (namespace) that owns and serves the model."""
    pool: DnsLabel
    """GPU pool the model's replicas run on."""
    architecture: str | ArchitectureConfig
    """A known architecture (llama-3.1-8b, llama-3.1-70b, llama-3.3-70b, qwen2.5-7b, qwen2.5-32b, qwen2.5-72b, mistral-7b) or its numbers; sizing reads them."""
    runtime: Literal["vllm", "triton"] = "vllm"
    """What serves the model: vllm (vLLM's OpenAI-compatible server, /v1/chat/completions; the default) or triton (NVIDIA Triton Inference Server with its vLLM backend, KServe v2 /v2/models/<name>/generate, for teams that already run Triton; the engine is the older vLLM its image bundles, weights come from efs, and an authenticating proxy asks for the same apiKey)."""
    dtype: Literal["bfloat16", "float16"] = "bfloat16"
    """Precision of weights and KV cache (vLLM --dtype)."""
    quantization: Literal["none", "fp8", "awq", "gptq"] = "none"
    """Weight quantization (vLLM --quantization); awq and gptq need checkpoints quantized that way."""
    max_model_len: Annotated[int, Field(ge=256, le=1_048_576)]
    """Longest sequence (prompt + output) in tokens; one of these must fit a replica's KV cache."""
    gpu_memory_utilization: Annotated[float, Field(ge=0.5, le=0.95)] = 0.9
    """Share of each GPU's memory vLLM claims for weights, activations and KV cache."""
    max_num_seqs: Annotated[int, Field(ge=1, le=4096)] = 128
    """Most sequences a replica batches at once."""
    prefix_caching: bool = True
    """Reuse KV cache across requests sharing a prefix (system prompts)."""
    tensor_parallel_size: Annotated[int, Field(ge=1, le=8)] | None = None
    """GPUs per replica. Omit to let sizing choose the smallest that holds the weights and a max-length sequence; a pinned size that cannot work is refused."""
    min_replicas: Annotated[int, Field(ge=0)] = 1
    """Fewest replicas (0 needs autoscaling.workingHours)."""
    max_replicas: Annotated[int, Field(ge=1)]
    """Most replicas the autoscaler may run."""
    autoscaling: AutoscalingConfig = AutoscalingConfig()
    """When to add and remove replicas."""
    api_key: SecretStr
    """API key clients send as a bearer token. Set it with `pulumi config set --secret --path 'llm-platform:models.<name>.apiKey' ...`."""
    canary: CanaryConfig | None = None
    """A second Deployment taking `weight` percent of requests. Promote by copying its settings to the model and removing it; roll back by removing it."""
    source: ModelSource
    """Where the weights come from; exactly one of huggingFace or s3."""
    shared_compile_cache: bool = True
    """Keep torch.compile and CUDA-graph artefacts on a shared EFS volume, so only the first replica of a vLLM release compiles (docs/performance.md)."""
    weights: Literal["efs", "s3Stream"] = "efs"
    """How weights reach the GPUs: from the shared EFS volume (filled by a sync job), or streamed straight from S3 by vLLM's Run:ai streamer (needs an s3 source; no volume, no job)."""


_ACM = r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+"
_DOMAIN = r"([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}"


class IngressConfig(Model):
    domain: Annotated[str, matching(_DOMAIN, "a DNS domain such as llm.example.com"), pattern(_DOMAIN)]
    """Each model answers at https://<model>.<domain>; point a wildcard DNS record at the load balancer."""
    certificate_arn: Annotated[str, matching(_ACM, "an ACM certificate ARN"), pattern(_ACM)]
    """ACM certificate for *.<domain>, in the stack's region."""
    allowed_cidrs: list[Cidr] = [IPv4Network("0.0.0.0/0")]
    """Who may reach the load balancer."""
    rate_limit_per_five_minutes: Annotated[int, Field(ge=10, le=2_000_000_000)] = 2000
    """Requests one client address may send in five minutes before AWS WAF blocks it."""
    access_log_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    """Days to keep the load balancer's request logs in S3 (the request audit)."""
    ssl_policy: str = "ELBSecurityPolicy-TLS13-1-2-2021-06"
    """TLS policy of the HTTPS listener."""
