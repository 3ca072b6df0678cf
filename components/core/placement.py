"""Where GPU workloads may run: the contract between a GPU node pool and the pods it hosts.

A pool's nodes carry its labels and taint; a workload copies the pool's
`Placement` (node selector and tolerations) instead of retyping strings, so the
two cannot drift apart, which is the classic cause of GPU pods stuck Pending.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.core import gpu_catalog

POOL_LABEL = "llm-platform.io/pool"
SYSTEM_POOL = "system"
"""The cluster's CPU node group: controllers, gateways, pickers; never a GPU."""
ON_SYSTEM_NODES = {POOL_LABEL: SYSTEM_POOL}
GPU_MODEL_LABEL = "llm-platform.io/gpu-model"
GPU_PRESENT_LABEL = "nvidia.com/gpu.present"  # what the NVIDIA device plugin selects nodes by
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_RESOURCE = "nvidia.com/gpu"


@dataclass(frozen=True)
class Placement:
    pool: str
    """Value of the pool label on the pool's nodes."""
    instance_types: tuple[str, ...]
    gpu_model: str
    gpus_per_node: int
    gpu_memory_mib: int
    """Usable memory of one GPU."""
    vcpu_per_node: int
    """vCPUs of the smallest instance type in the pool."""
    memory_gib_per_node: int
    """RAM of the smallest instance type in the pool."""
    node_labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[dict[str, str], ...] = ()

    @property
    def node_selector(self) -> dict[str, str]:
        return {POOL_LABEL: self.pool}

    @property
    def tolerations(self) -> list[dict[str, str]]:
        return [
            {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
            for t in self.taints
        ]


def gpu_placement(pool: str, instance_types: list[str]) -> Placement:
    """Placement of a pool of `instance_types`, which must share one GPU model and count."""
    types = [gpu_catalog.CATALOG[name] for name in instance_types]
    shapes = {(t.gpu_model, t.gpus, t.gpu_memory_mib) for t in types}
    if len(shapes) != 1 or not types[0].is_gpu:
        raise ValueError(f"pool {pool}: instance types {instance_types} differ in GPUs")
    first = types[0]
    assert first.gpu_model is not None
    return Placement(
        pool=pool,
        instance_types=tuple(instance_types),
        gpu_model=first.gpu_model,
        gpus_per_node=first.gpus,
        gpu_memory_mib=first.gpu_memory_mib,
        vcpu_per_node=min(t.vcpu for t in types),
        memory_gib_per_node=min(t.memory_gib for t in types),
        node_labels={
            POOL_LABEL: pool,
            GPU_MODEL_LABEL: gpu_catalog.gpu_label(first.gpu_model),
            GPU_PRESENT_LABEL: "true",
        },
        taints=({"key": GPU_TAINT_KEY, "value": "true", "effect": "NoSchedule"},),
    )
