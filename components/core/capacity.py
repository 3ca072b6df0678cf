"""GPU capacity arithmetic across layers: models need GPUs, tenant quotas cap them, pools hold them.

Checked at plan time, so a quota or a pool that can never hold what a model
may scale to fails `pulumi preview`, not a rollout at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelDemand:
    name: str
    tenant: str
    pool: str
    gpus_per_replica: int
    min_replicas: int
    max_replicas: int
    surge: bool = False
    """A rollout starts one extra replica before stopping an old one (maxSurge 1)."""
    cpu_millicores: int = 0
    """CPU of one replica (requests = limits)."""
    memory_mib: int = 0
    """Memory of one replica (requests = limits)."""

    @property
    def max_pods(self) -> int:
        return self.max_replicas + (1 if self.surge else 0)

    @property
    def surge_gpus(self) -> int:
        return self.gpus_per_replica if self.surge else 0

    @property
    def max_gpus(self) -> int:
        return self.max_replicas * self.gpus_per_replica + self.surge_gpus

    @property
    def min_gpus(self) -> int:
        return self.min_replicas * self.gpus_per_replica

    def explain(self) -> str:
        """e.g. "llama (max 3 replicas x 2 GPUs + 2 surge)"."""
        replicas = "replica" if self.max_replicas == 1 else "replicas"
        gpus = _gpus(self.gpus_per_replica)
        surge = f" + {self.surge_gpus} surge" if self.surge else ""
        return f"{self.name} (max {self.max_replicas} {replicas} x {self.gpus_per_replica} {gpus}{surge})"


@dataclass(frozen=True)
class TenantQuota:
    gpus: int
    cpu_millicores: int
    memory_mib: int


@dataclass(frozen=True)
class PoolSupply:
    name: str
    gpus_per_node: int
    max_nodes: int
    start_nodes: int | None = None
    """Nodes the pool runs when nothing scales it: its desired size, else its minimum (a
    managed node group has no autoscaler). None: not checked at minimum scale."""
    start_key: str = "minSize"
    """The config key that sets start_nodes (minSize or desiredSize), for the error."""
    autoscaled: bool = False
    """Karpenter launches nodes for pending pods, up to max_nodes; a managed node group
    holds start_nodes whatever is pending."""

    @property
    def nodes_at_minimum(self) -> int | None:
        """The most nodes the pool can have while its models are at minimum scale."""
        return self.max_nodes if self.autoscaled else self.start_nodes

    @property
    def max_gpus(self) -> int:
        return self.gpus_per_node * self.max_nodes


@dataclass(frozen=True)
class CapacityProblem:
    path: str
    message: str


def check_capacity(
    models: list[ModelDemand], quotas: dict[str, TenantQuota], pools: dict[str, PoolSupply]
) -> list[CapacityProblem]:
    """Every tenant's quota (GPUs, CPU, memory) holds its models at full scale, and every
    pool holds what is placed on it; a replica must also fit on one node of its pool."""
    problems: list[CapacityProblem] = []
    for model in models:
        pool = pools[model.pool]
        if model.gpus_per_replica > pool.gpus_per_node:
            problems.append(
                CapacityProblem(
                    f"models.{model.name}.tensorParallelSize",
                    f"{model.gpus_per_replica} GPUs per replica, but a node of pool {pool.name} "
                    f"has {pool.gpus_per_node}; a replica must fit on one node",
                )
            )

    for tenant, tenant_quota in quotas.items():
        quota = tenant_quota.gpus
        own = [m for m in models if m.tenant == tenant]
        problems += _cpu_and_memory(tenant, tenant_quota, own)
        need = sum(m.max_gpus for m in own)
        if need > quota:
            listed = " and ".join(m.explain() for m in own)
            total = f": {need} GPUs" if len(own) > 1 or own[0].surge else ""
            noun = "models" if len(own) > 1 else "model"
            problems.append(
                CapacityProblem(
                    f"tenants.{tenant}.quota.gpus",
                    f"{quota} GPUs cannot hold {noun} {listed}{total}",
                )
            )
        reachable = sum(pools[p].max_gpus for p in {m.pool for m in own})
        if own and quota > reachable:
            problems.append(
                CapacityProblem(
                    f"tenants.{tenant}.quota.gpus",
                    f"{quota} GPUs, but the pools its models run on hold at most {reachable}; "
                    "the quota promises GPUs that cannot exist",
                )
            )

    for pool in pools.values():
        placed = [m for m in models if m.pool == pool.name]
        problems += _minimum_scale(pool, placed)
        need = sum(m.max_gpus for m in placed)
        fitting = [m for m in placed if m.gpus_per_replica <= pool.gpus_per_node]
        nodes = nodes_needed(_pods_at_maximum(fitting), pool.gpus_per_node)
        if need > pool.max_gpus or nodes > pool.max_nodes:
            listed = ", ".join(f"{m.explain()} of {m.tenant}" for m in placed)
            packed = f" (whole replicas per node: {nodes} nodes)" if need <= pool.max_gpus else ""
            problems.append(
                CapacityProblem(
                    f"gpuPools.{pool.name}.maxSize",
                    f"{pool.max_nodes} nodes x {pool.gpus_per_node} {_gpus(pool.gpus_per_node)} = {pool.max_gpus} GPUs "
                    f"cannot hold the {need} GPUs its models may scale to{packed}: {listed}",
                )
            )
    return problems


def _pods_at_minimum(models: list[ModelDemand]) -> list[int]:
    """GPUs of each pod at minimum scale: the minimum replicas, and while a Deployment that
    surges rolls out, its one extra replica (a new image or argument rolls every Deployment
    at once, so each needs its own)."""
    pods: list[int] = []
    for m in models:
        pods += [m.gpus_per_replica] * m.min_replicas
        if m.surge and m.min_replicas:
            pods.append(m.gpus_per_replica)
    return pods


def nodes_needed(pods: list[int], gpus_per_node: int) -> int:
    """Nodes of `gpus_per_node` GPUs the pods need, placed largest first on the first node
    with room (a pod's GPUs are on one node: 3 half-node pods need 2 nodes, not 1.5)."""
    free: list[int] = []
    for gpus in sorted(pods, reverse=True):
        for i, room in enumerate(free):
            if room >= gpus:
                free[i] -= gpus
                break
        else:
            free.append(gpus_per_node - gpus)
    return len(free)


def _minimum_scale(pool: PoolSupply, placed: list[ModelDemand]) -> list[CapacityProblem]:
    """Every pod the models keep at minimum scale, and the surge pod of each rollout, fits
    the nodes the pool may have then: else a pod stays Pending from the first deploy, and a
    rollout that must surge never finishes. Karpenter may launch up to the pool's maximum;
    nothing adds nodes to a managed node group."""
    pods = [g for g in _pods_at_minimum(placed) if g <= pool.gpus_per_node]
    supply = pool.nodes_at_minimum
    if supply is None or not pods:
        return []
    need = nodes_needed(pods, pool.gpus_per_node)
    if need <= supply:
        return []
    listed = ", ".join(
        f"{m.name} ({m.min_replicas} x {m.gpus_per_replica}{' + 1 surge' if m.surge else ''})"
        for m in placed
        if m.min_replicas
    )
    prefix = (
        f"{pool.max_nodes} nodes x {pool.gpus_per_node} {_gpus(pool.gpus_per_node)}"
        if pool.autoscaled
        else f"{supply} nodes x {pool.gpus_per_node} {_gpus(pool.gpus_per_node)}"
    )
    fix = (
        f"Karpenter launches at most maxSize nodes, so raise maxSize to {need} or lower the models' minReplicas"
        if pool.autoscaled
        else f"nothing adds nodes to a managed node group, so set {pool.start_key} to {need} or lower the "
        "models' minReplicas"
    )
    key = "maxSize" if pool.autoscaled else pool.start_key
    return [
        CapacityProblem(
            f"gpuPools.{pool.name}.{key}",
            f"{prefix} cannot run what its models keep at minimum scale: {listed}, {sum(pods)} GPUs on "
            f"{need} nodes; {fix}",
        )
    ]


@dataclass(frozen=True)
class PoolEnds:
    """A pool's GPU demand against its supply at both ends of scale."""

    min_gpus: int
    """GPUs of every pod at minimum scale, one surge pod per rollout that surges included."""
    min_nodes: int
    """Nodes those pods need (first fit, largest first)."""
    min_supply_nodes: int | None
    """Nodes the pool may have at minimum scale (None: not checked)."""
    max_gpus: int
    """GPUs the models may hold at maximum scale, surge included."""
    max_nodes: int
    """Nodes those pods need."""
    max_supply_gpus: int
    """The pool's limit: maxSize nodes of its GPUs."""


def pool_ends(pool: PoolSupply, models: list[ModelDemand]) -> PoolEnds:
    placed = [m for m in models if m.pool == pool.name and m.gpus_per_replica <= pool.gpus_per_node]
    at_min = _pods_at_minimum(placed)
    at_max = _pods_at_maximum(placed)
    return PoolEnds(
        sum(at_min),
        nodes_needed(at_min, pool.gpus_per_node),
        pool.nodes_at_minimum,
        sum(at_max),
        nodes_needed(at_max, pool.gpus_per_node),
        pool.max_gpus,
    )


def _pods_at_maximum(models: list[ModelDemand]) -> list[int]:
    pods: list[int] = []
    for m in models:
        pods += [m.gpus_per_replica] * (m.max_replicas + (1 if m.surge else 0))
    return pods


def rollout_surges(
    models: list[ModelDemand], quotas: dict[str, TenantQuota], pools: dict[str, PoolSupply]
) -> set[str]:
    """The Deployments whose rollout may start a new replica before it stops an old one
    (maxSurge 1): those whose extra pod finds free GPUs at both ends of scale. At minimum
    scale it must fit the nodes the pool may have then; at maximum scale the pool's limit
    (whole pods per node: a 4-GPU replica surges on an 8-GPU node that runs one) and the
    tenant's GPU quota. Larger replicas choose first, then by name, so the answer does not
    depend on the order of the config.

    A Deployment left out replaces one replica at a time (maxSurge 0, maxUnavailable 1) and
    never waits for a GPU that cannot exist."""
    chosen: set[str] = set()
    base = [ModelDemand(**{**m.__dict__, "surge": False}) for m in models]
    used = {t: sum(m.max_gpus for m in base if m.tenant == t) for t in quotas}
    for m in sorted(base, key=lambda m: (-m.gpus_per_replica, m.name)):
        pool = pools.get(m.pool)
        if pool is None or m.max_replicas == 0 or m.gpus_per_replica > pool.gpus_per_node:
            continue
        trial = [ModelDemand(**{**d.__dict__, "surge": d.name in chosen or d.name == m.name}) for d in base]
        placed = [d for d in trial if d.pool == pool.name]
        quota = quotas.get(m.tenant)
        if quota is not None and used[m.tenant] + m.gpus_per_replica > quota.gpus:
            continue
        if nodes_needed(_pods_at_maximum(placed), pool.gpus_per_node) > pool.max_nodes:
            continue
        supply = pool.nodes_at_minimum
        if supply is not None and nodes_needed(_pods_at_minimum(placed), pool.gpus_per_node) > supply:
            continue
        chosen.add(m.name)
        if quota is not None:
            used[m.tenant] += m.gpus_per_replica
    return chosen


def _gpus(n: int) -> str:
    return "GPU" if n == 1 else "GPUs"


def _cpu_and_memory(tenant: str, quota: TenantQuota, own: list[ModelDemand]) -> list[CapacityProblem]:
    """Serving pods request what they limit; at full scale they must fit the namespace quota."""
    problems = []
    cpu = sum(m.max_pods * m.cpu_millicores for m in own)
    memory = sum(m.max_pods * m.memory_mib for m in own)
    listed = ", ".join(f"{m.name} ({m.max_pods} pods)" for m in own)
    if cpu > quota.cpu_millicores:
        problems.append(
            CapacityProblem(
                f"tenants.{tenant}.quota.cpu",
                f"{quota.cpu_millicores / 1000:g} CPUs cannot hold {cpu / 1000:g} CPUs of serving pods at "
                f"maximum scale: {listed}",
            )
        )
    if memory > quota.memory_mib:
        problems.append(
            CapacityProblem(
                f"tenants.{tenant}.quota.memory",
                f"{quota.memory_mib / 1024:g}Gi cannot hold {memory / 1024:.0f}Gi of serving pods at "
                f"maximum scale: {listed}",
            )
        )
    return problems
