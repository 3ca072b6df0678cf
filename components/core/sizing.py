"""Model memory sizing: how many GPUs a replica needs, and what its pod gets from the node.

Rules (../shared/REFERENCE.md, "Model memory"):
- weights = parameters x bytes per parameter (bf16/fp16 2, fp8/int8 1, AWQ/GPTQ about 0.55);
- KV cache per token = 2 x layers x kv_heads x head_dim x bytes per element;
- vLLM claims gpu_memory_utilization of each GPU; weights split across the
  tensor parallel GPUs; what is left after weights and activation/CUDA-graph
  overhead is KV cache;
- tensor parallel size divides the attention heads and fits one node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

GIB = 1024**3
MIB = 1024**2

BYTES_PER_PARAMETER = {"bfloat16": 2.0, "float16": 2.0, "fp8": 1.0, "int8": 1.0, "awq": 0.55, "gptq": 0.55}
KV_BYTES_PER_ELEMENT = 2  # the KV cache stays in 16-bit unless --kv-cache-dtype says otherwise
ACTIVATION_OVERHEAD_BYTES = int(1.5 * GIB)  # activations and CUDA graphs, per GPU (1-2 GiB)
TENSOR_PARALLEL_SIZES = (1, 2, 4, 8)


@dataclass(frozen=True)
class Architecture:
    parameters: float
    """Parameter count."""
    layers: int
    attention_heads: int
    kv_heads: int
    head_dim: int
    context_length: int | None = None
    """Longest sequence the model was trained for (max_position_embeddings of its config.json);
    vLLM refuses a longer --max-model-len. None: unknown."""


# Facts from ../shared/REFERENCE.md (model cards on the Hugging Face Hub); the context lengths are
# max_position_embeddings of each model's config.json (Qwen2.5 reaches 128K only with YaRN enabled).
ARCHITECTURES: dict[str, Architecture] = {
    "llama-3.1-8b": Architecture(8.03e9, 32, 32, 8, 128, 131_072),
    "llama-3.1-70b": Architecture(70.6e9, 80, 64, 8, 128, 131_072),
    "llama-3.3-70b": Architecture(70.6e9, 80, 64, 8, 128, 131_072),
    "qwen2.5-7b": Architecture(7.61e9, 28, 28, 4, 128, 32_768),
    "qwen2.5-32b": Architecture(32.5e9, 64, 40, 8, 128, 32_768),
    "qwen2.5-72b": Architecture(72.7e9, 80, 64, 8, 128, 32_768),
    "mistral-7b": Architecture(7.24e9, 32, 32, 8, 128, 32_768),
}


@dataclass(frozen=True)
class Sizing:
    """What one replica of a model holds on `tensor_parallel_size` GPUs."""

    tensor_parallel_size: int
    weight_bytes: int
    kv_bytes_per_token: int
    kv_cache_bytes: int
    """KV cache of the whole replica (all its GPUs)."""
    max_model_len: int

    @property
    def max_length_sequences(self) -> int:
        """How many sequences of max_model_len tokens fit the KV cache at once."""
        return self.kv_cache_bytes // (self.kv_bytes_per_token * self.max_model_len)


def weight_bytes(arch: Architecture, precision: str) -> int:
    return int(arch.parameters * BYTES_PER_PARAMETER[precision])


def kv_bytes_per_token(arch: Architecture) -> int:
    return 2 * arch.layers * arch.kv_heads * arch.head_dim * KV_BYTES_PER_ELEMENT


def size_for(
    arch: Architecture,
    precision: str,
    tensor_parallel_size: int,
    gpu_memory_bytes: int,
    gpu_memory_utilization: float,
    max_model_len: int,
) -> Sizing:
    """The KV cache a replica of `tensor_parallel_size` GPUs has left after weights and overhead.

    KV heads are split across GPUs; when there are more GPUs than KV heads,
    vLLM replicates heads, so each GPU still holds at least one.
    """
    weights = weight_bytes(arch, precision)
    per_gpu_budget = gpu_memory_bytes * gpu_memory_utilization - ACTIVATION_OVERHEAD_BYTES
    kv_per_gpu = max(0, int(per_gpu_budget - weights / tensor_parallel_size))
    kv_token = kv_bytes_per_token(arch)
    heads_per_gpu = max(1, arch.kv_heads // tensor_parallel_size)
    kv_token_per_gpu = kv_token * heads_per_gpu // arch.kv_heads
    tokens = kv_per_gpu // kv_token_per_gpu
    return Sizing(
        tensor_parallel_size=tensor_parallel_size,
        weight_bytes=weights,
        kv_bytes_per_token=kv_token,
        kv_cache_bytes=tokens * kv_token,
        max_model_len=max_model_len,
    )


def why_not(arch: Architecture, tensor_parallel_size: int, gpus_per_node: int) -> str | None:
    """Why a tensor parallel size cannot work on nodes of `gpus_per_node` GPUs, or None."""
    if tensor_parallel_size > gpus_per_node:
        return f"{tensor_parallel_size} GPUs per replica, but a node has {gpus_per_node}"
    if arch.attention_heads % tensor_parallel_size:
        return f"{tensor_parallel_size} does not divide the {arch.attention_heads} attention heads"
    if arch.kv_heads % tensor_parallel_size and tensor_parallel_size % arch.kv_heads:
        return f"{tensor_parallel_size} neither divides nor is a multiple of the {arch.kv_heads} KV heads"
    return None


def choose_tensor_parallel(
    arch: Architecture,
    precision: str,
    gpus_per_node: int,
    gpu_memory_bytes: int,
    gpu_memory_utilization: float,
    max_model_len: int,
) -> Sizing | None:
    """The smallest tensor parallel size that holds the weights and at least one max-length
    sequence, divides the heads and fits one node; None if there is none."""
    for tp in TENSOR_PARALLEL_SIZES:
        if why_not(arch, tp, gpus_per_node) is None:
            sizing = size_for(arch, precision, tp, gpu_memory_bytes, gpu_memory_utilization, max_model_len)
            if sizing.max_length_sequences >= 1:
                return sizing
    return None


# --- the pod a replica gets ------------------------------------------------------------------

SYSTEM_RESERVED_CPU = 1.0  # kubelet, daemonsets (CNI, proxy, pod identity, CSI, device plugin, DCGM)
SYSTEM_RESERVED_MEMORY_GIB = 3.0
ALLOCATABLE_FRACTION = 0.9  # EKS reserves a share of every node for the kubelet and eviction


@dataclass(frozen=True)
class PodResources:
    cpu_millicores: int
    memory_mib: int
    """The container's memory limit, /dev/shm included."""
    shm_mib: int
    """Size limit of the memory-backed /dev/shm; counted inside memory_mib."""


def pod_resources(tensor_parallel_size: int, gpus_per_node: int, vcpu: int, memory_gib: int) -> PodResources:
    """A replica's share of its node (its GPUs' share of CPU and memory), after what the
    node keeps for itself. Requests equal limits: Guaranteed QoS, never evicted first."""
    share = tensor_parallel_size / gpus_per_node
    cpu = (vcpu * ALLOCATABLE_FRACTION - SYSTEM_RESERVED_CPU) * share
    memory_gib_share = (memory_gib * ALLOCATABLE_FRACTION - SYSTEM_RESERVED_MEMORY_GIB) * share
    memory_mib = int(memory_gib_share * 1024)
    # Engine IPC uses shared memory even on one GPU; NCCL needs more per extra GPU
    # on nodes without NVLink. A quarter of the pod's memory at most.
    shm_mib = min(int(2 + 4 * (tensor_parallel_size - 1)) * 1024, memory_mib // 4)
    return PodResources(cpu_millicores=int(cpu * 1000) // 100 * 100, memory_mib=memory_mib, shm_mib=shm_mib)


# --- how long a replica may take to start ------------------------------------------------------

# Worst sustained read rates seen per client (REFERENCE.md: ~1.5 GiB/s EFS, ~3.5 GiB/s S3
# streaming, at best); a cold, contended start reads at a quarter of that.
WORST_LOAD_BYTES_PER_SECOND = {"efs": 0.375 * GIB, "s3Stream": 0.875 * GIB}
ENGINE_START_SECONDS = 300  # CUDA init, torch.compile and CUDA-graph capture, worst case
STARTUP_PROBE_PERIOD_SECONDS = 10


def startup_budget_seconds(weights: int, load_path: str) -> int:
    """Worst time from container start to serving: weights read at the worst rate, plus
    engine start, with 50% margin."""
    load = weights / WORST_LOAD_BYTES_PER_SECOND[load_path]
    return math.ceil((load + ENGINE_START_SECONDS) * 1.5)


# --- streaming weights from S3 ----------------------------------------------------------------

STREAMER_READS_PER_CPU = 2  # reads mostly wait on the network: two in flight per core
STREAMER_CONCURRENCY = (8, 64)  # below 8 a single object stalls the stream; above 64 S3 throttles a prefix
ENGINE_HOST_MIB = 8 * 1024  # what the engine itself holds in host memory while it loads (Python, torch, CUDA)
STREAMER_BUFFER_MAX_MIB = 16 * 1024  # 16 GiB in flight keeps a 3.5 GiB/s stream fed; more buys nothing


def streamer_settings(r: PodResources) -> tuple[int, int]:
    """(concurrency, memory limit in bytes) of the Run:ai streamer for a pod of shape `r`: reads
    in proportion to its CPUs, and a buffer that fits the memory the engine leaves, so a big
    model streams at the medium's speed without the pod being OOM-killed while it loads."""
    low, high = STREAMER_CONCURRENCY
    concurrency = max(low, min(high, STREAMER_READS_PER_CPU * r.cpu_millicores // 1000))
    free_mib = r.memory_mib - r.shm_mib - ENGINE_HOST_MIB
    buffer_mib = max(1024, min(STREAMER_BUFFER_MAX_MIB, free_mib // 2))
    return concurrency, buffer_mib * 1024 * 1024
