"""Facts derived from a validated config: architectures, placements, sizing, capacity inputs.

Checks, the offline summary and the program all read these functions, so a
number shown in summary.md is the number the program deploys.
"""

from __future__ import annotations

from dataclasses import replace

from components.core import gpu_catalog
from components.core.capacity import ModelDemand, PoolSupply, TenantQuota, rollout_surges
from components.core.images import through_cache
from components.core.placement import Placement, gpu_placement
from components.core.quantity import cpu_millicores, memory_mib
from components.core.sizing import (
    ARCHITECTURES,
    GIB,
    MIB,
    TENSOR_PARALLEL_SIZES,
    Architecture,
    PodResources,
    Sizing,
    choose_tensor_parallel,
    pod_resources,
    size_for,
    why_not,
)
from infra.config.images import ecr_registry
from infra.config.stack import StackConfig
from infra.config.workloads import ModelConfig


class SizingError(ValueError):
    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(message)


def pulled(cfg: StackConfig, image: str) -> str:
    """`image` as the nodes pull it: through the stack's pull-through cache when it has one."""
    arn = cfg.images.docker_hub_cache_credential_arn
    return image if arn is None else through_cache(image, ecr_registry(arn))


def architecture_of(model: ModelConfig) -> Architecture:
    arch = model.architecture
    if isinstance(arch, str):
        return ARCHITECTURES[arch]
    return Architecture(
        arch.parameters, arch.layers, arch.attention_heads, arch.kv_heads, arch.head_dim, arch.context_length
    )


def precision_of(model: ModelConfig) -> str:
    return model.dtype if model.quantization == "none" else model.quantization


def placement_of(cfg: StackConfig, pool: str) -> Placement:
    return gpu_placement(pool, cfg.gpu_pools[pool].instance_types)


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def sizing_of(cfg: StackConfig, name: str, gpu_memory_utilization: float | None = None) -> Sizing:
    """The replica shape of model `name`: its pinned tensor parallel size if that works,
    else the smallest that does. Raises SizingError naming the key and the numbers."""
    model = cfg.models[name]
    arch, precision = architecture_of(model), precision_of(model)
    place = placement_of(cfg, model.pool)
    gpu_bytes = place.gpu_memory_mib * MIB
    utilization = gpu_memory_utilization or model.gpu_memory_utilization
    shape = (
        f"{place.gpus_per_node} x {place.gpu_model} ({_gib(gpu_bytes)} each) per node of pool {model.pool}"
    )

    def explain(tp: int) -> str:
        s = size_for(arch, precision, tp, gpu_bytes, utilization, model.max_model_len)
        need = s.kv_bytes_per_token * model.max_model_len
        return (
            f"at {tp} GPUs the {_gib(s.weight_bytes)} of {precision} weights leave {_gib(s.kv_cache_bytes)} "
            f"of KV cache; one {model.max_model_len}-token sequence needs {_gib(need)}"
        )

    if model.tensor_parallel_size is not None:
        tp = model.tensor_parallel_size
        reason = why_not(arch, tp, place.gpus_per_node)
        if reason is not None:
            raise SizingError(f"models.{name}.tensorParallelSize", f"{reason} ({shape})")
        sizing = size_for(arch, precision, tp, gpu_bytes, utilization, model.max_model_len)
        if sizing.max_length_sequences < 1:
            raise SizingError(f"models.{name}.tensorParallelSize", f"{tp} is too small: {explain(tp)}")
        return sizing

    chosen = choose_tensor_parallel(
        arch, precision, place.gpus_per_node, gpu_bytes, utilization, model.max_model_len
    )
    if chosen is None:
        largest = max(tp for tp in TENSOR_PARALLEL_SIZES if tp <= place.gpus_per_node)
        raise SizingError(
            f"models.{name}",
            f"does not fit pool {model.pool} ({shape}): {explain(largest)}; use a pool with more or "
            "larger GPUs, quantization, or a shorter maxModelLen",
        )
    return chosen


def resources_of(cfg: StackConfig, name: str) -> PodResources:
    """CPU, memory and /dev/shm of one replica of model `name`: its GPUs' share of a node."""
    place = placement_of(cfg, cfg.models[name].pool)
    tp = sizing_of(cfg, name).tensor_parallel_size
    return pod_resources(tp, place.gpus_per_node, place.vcpu_per_node, place.memory_gib_per_node)


def capacity_inputs(
    cfg: StackConfig,
) -> tuple[list[ModelDemand], dict[str, TenantQuota], dict[str, PoolSupply]]:
    """The stack's models (canaries included), tenant GPU quotas and pools, for the capacity
    arithmetic; each model surges in a rollout as `surging_models` says. Models whose sizing
    fails are left out: their own error says why."""
    models, quotas, pools = _capacity_inputs(cfg)
    surging = _surging(cfg, models, quotas, pools)
    owner = _track_owners(cfg)
    tracks = [replace(m, surge=owner[m.name] in surging) for m in models]
    return tracks + _headroom_demand(cfg, models), quotas, pools


HEADROOM_TENANT = "gpu-headroom"
"""Placeholders sit outside every tenant (and its quota): components/gpu_headroom.py."""
HEADROOM_PREFIX = "headroom-"
"""Each pool's placeholders get the namespace headroom-<pool>: a name tenants may not take."""


def headroom_shape(cfg: StackConfig, pool: str) -> tuple[str, ModelDemand] | None:
    """The largest replica on `pool` (the model it belongs to, and its demand): what one
    placeholder holds, so any of the pool's replicas fits where it was. None: no model."""
    return _largest_replicas(cfg).get(pool)


def _largest_replicas(cfg: StackConfig) -> dict[str, tuple[str, ModelDemand]]:
    models, _, _ = _capacity_inputs(cfg)
    owner = _track_owners(cfg)
    largest: dict[str, tuple[str, ModelDemand]] = {}
    for m in models:
        key = (m.gpus_per_replica, m.cpu_millicores, m.memory_mib)
        best = largest.get(m.pool)
        if best is None or key > (best[1].gpus_per_replica, best[1].cpu_millicores, best[1].memory_mib):
            largest[m.pool] = (owner[m.name], m)
    return largest


def _headroom_demand(cfg: StackConfig, models: list[ModelDemand]) -> list[ModelDemand]:
    """Placeholders count at minimum scale (they hold nodes, and cost them) and not at maximum:
    there, real replicas have preempted them."""
    largest = _largest_replicas(cfg)
    return [
        ModelDemand(
            f"{pool}-headroom",
            HEADROOM_TENANT,
            pool,
            largest[pool][1].gpus_per_replica,
            p.headroom,
            0,
            False,
            largest[pool][1].cpu_millicores,
            largest[pool][1].memory_mib,
        )
        for pool, p in cfg.gpu_pools.items()
        if p.headroom and pool in largest
    ]


def surging_models(cfg: StackConfig) -> set[str]:
    """Models whose Deployments (stable and canary share the strategy) start a new replica
    before stopping an old one: their extra pod finds free GPUs at both ends of scale."""
    return _surging(cfg, *_capacity_inputs(cfg))


def _surging(
    cfg: StackConfig, models: list[ModelDemand], quotas: dict[str, TenantQuota], pools: dict[str, PoolSupply]
) -> set[str]:
    chosen = rollout_surges(models, quotas, pools)
    owner = _track_owners(cfg)
    sized = {owner[m.name] for m in models}
    return {
        name
        for name in sized
        if all(chosen_track in chosen for chosen_track, o in owner.items() if o == name)
    }


def _track_owners(cfg: StackConfig) -> dict[str, str]:
    """Deployment (track) -> the model it belongs to."""
    owners = {}
    for name, m in cfg.models.items():
        owners[name] = name
        if m.canary is not None:
            owners[f"{name}-canary"] = name
    return owners


def _capacity_inputs(
    cfg: StackConfig,
) -> tuple[list[ModelDemand], dict[str, TenantQuota], dict[str, PoolSupply]]:
    pools = {}
    for name, pool in cfg.gpu_pools.items():
        itype = gpu_catalog.CATALOG[pool.instance_types[0]]
        start, key = (
            (pool.desired_size, "desiredSize")
            if pool.desired_size is not None
            else (pool.min_size, "minSize")
        )
        pools[name] = PoolSupply(
            name, itype.gpus, pool.max_size, start, key, autoscaled=pool.kind == "karpenter"
        )
    models = []
    for name, m in cfg.models.items():
        try:
            gpus = sizing_of(cfg, name).tensor_parallel_size
            pod = resources_of(cfg, name)
        except SizingError:
            continue
        tracks = [(name, m.min_replicas, m.max_replicas)]
        if m.canary is not None:
            tracks.append((f"{name}-canary", m.canary.min_replicas, m.canary.max_replicas))
        for track, low, high in tracks:
            models.append(
                ModelDemand(
                    track, m.tenant, m.pool, gpus, low, high, False, pod.cpu_millicores, pod.memory_mib
                )
            )
    quotas = {
        name: TenantQuota(t.quota.gpus, cpu_millicores(t.quota.cpu), memory_mib(t.quota.memory))
        for name, t in cfg.tenants.items()
    }
    return models, quotas, pools


def deployments_of(cfg: StackConfig) -> list[tuple[str, str]]:
    """(namespace, Deployment) of every serving Deployment the stack makes; each gets one scaler."""
    found = []
    for name, m in cfg.models.items():
        found.append((m.tenant, name))
        if m.canary is not None:
            found.append((m.tenant, f"{name}-canary"))
    return found
