"""Config of what runs on the cluster: model storage, tenants and the models they serve."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr

from infra.config.base import DnsLabel, LogRetentionDays, Model, PrincipalArn, matching, pattern

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


class ModelConfig(Model):
    tenant: DnsLabel
    """Tenant (namespace) that owns and serves the model."""
    pool: DnsLabel
    """GPU pool the model's replicas run on."""
    tensor_parallel_size: Annotated[int, Field(ge=1, le=8)]
    """GPUs per replica (vLLM --tensor-parallel-size)."""
    min_replicas: Annotated[int, Field(ge=0)] = 1
    """Fewest replicas (0 lets an idle model cost nothing, at the price of a cold start)."""
    max_replicas: Annotated[int, Field(ge=1)]
    """Most replicas the autoscaler may run."""
    source: ModelSource
    """Where the weights come from; exactly one of huggingFace or s3."""
    weights: Literal["efs", "s3Stream"] = "efs"
    """How weights reach the GPUs: from the shared EFS volume (filled by a sync job), or streamed straight from S3 by vLLM's Run:ai streamer (needs an s3 source; no volume, no job)."""
