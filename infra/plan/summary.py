"""summary.md of an offline plan: component tree, capacity, and cost per hour and per month."""

from __future__ import annotations

from collections import Counter

from components.core import gateway, gpu_catalog
from components.core.capacity import ModelDemand, PoolSupply, nodes_needed, pool_ends
from components.core.costs import (
    EXCLUDED,
    HOURS_PER_MONTH,
    CostLine,
    Extras,
    NodePoolShape,
    Volume,
    cost_lines,
    monthly_total,
    total,
)
from components.core.placement import gpu_placement
from components.core.sizing import GIB
from components.gpu_node_pool import ROOT_VOLUME_IOPS, ROOT_VOLUME_MIBPS
from components.logs import LOKI_VOLUME_GIB
from components.monitoring import ALERTMANAGER_VOLUME_GIB
from infra.config import StackConfig
from infra.config.derived import HEADROOM_TENANT, capacity_inputs, sizing_of
from infra.plan.mocks import Registration
from infra.plan.time_to_serve import time_to_serve_table


def node_pools(cfg: StackConfig) -> list[NodePoolShape]:
    """The system node group, and each GPU pool: a managed one at its starting size, a
    Karpenter one at the nodes its models keep at minimum scale (none when all scale to zero)."""
    system = cfg.cluster.system_nodes
    models, _, supplies = capacity_inputs(cfg)
    shapes = [
        NodePoolShape(
            "system",
            tuple(system.instance_types),
            system.min_size,
            system.max_size,
            root_volume=Volume(system.disk_size_gib),
        )
    ]
    for name, p in cfg.gpu_pools.items():
        if p.kind == "karpenter":
            low = steady_nodes(supplies[name], models)
        else:
            low = p.desired_size if p.desired_size is not None else p.min_size
        shapes.append(
            NodePoolShape(
                name,
                tuple(p.instance_types),
                low,
                p.max_size,
                p.capacity_type == "spot",
                Volume(p.root_volume_gib, ROOT_VOLUME_IOPS, ROOT_VOLUME_MIBPS),
            )
        )
    return shapes


def steady_nodes(pool: PoolSupply, models: list[ModelDemand], at_least: int = 0) -> int:
    """Nodes Karpenter keeps for the pool's models at minimum scale outside a rollout (with
    `at_least` replicas per model, as a working-hours schedule asks)."""
    pods = [
        m.gpus_per_replica
        for m in models
        if m.pool == pool.name and m.gpus_per_replica <= pool.gpus_per_node
        for _ in range(max(m.min_replicas, at_least if m.max_replicas else 0))
    ]
    return nodes_needed(pods, pool.gpus_per_node)


def working_hours_per_week(cfg: StackConfig, pool: str) -> float | None:
    """Hours a week the working-hours schedules of the pool's scaled-to-zero models keep a
    replica up, from their cron fields `M H * * D-D` (None: none has a schedule, or one this
    cannot read)."""
    hours = None
    for m in cfg.models.values():
        wh = m.autoscaling.working_hours
        if m.pool != pool or m.min_replicas or wh is None:
            continue
        start, end = wh.start.split(), wh.end.split()
        try:
            days = _days(start[4])
            span = int(end[1]) + int(end[0]) / 60 - int(start[1]) - int(start[0]) / 60
        except ValueError:
            return None
        if start[2:4] != ["*", "*"] or days != _days(end[4]) or span <= 0:
            return None
        hours = max(hours or 0.0, span * days)
    return hours


def _days(field: str) -> int:
    if field == "*":
        return 7
    low, _, high = field.partition("-")
    return int(high or low) - int(low) + 1


def working_hours_line(cfg: StackConfig) -> list[CostLine]:
    """Each Karpenter pool that scales to zero at night: what its working hours cost."""
    models, _, supplies = capacity_inputs(cfg)
    lines = []
    for shape in node_pools(cfg)[1:]:
        hours = working_hours_per_week(cfg, shape.name)
        if cfg.gpu_pools[shape.name].kind != "karpenter" or hours is None:
            continue
        nodes = steady_nodes(supplies[shape.name], models, at_least=1)
        share = hours * 52 / 12 / HOURS_PER_MONTH
        hourly = nodes * (shape.node_hourly_usd + shape.root_volume.monthly_usd / HOURS_PER_MONTH) * share
        lines.append(
            CostLine(
                f"{shape.name} in working hours ({nodes} node(s), {hours:g} h a week)",
                hourly,
                0.0,  # at maximum scale the pool's nodes run around the clock: counted above
                "averaged over the month; 0 nodes outside working hours",
            )
        )
    return lines


def extras(cfg: StackConfig) -> Extras:
    volumes: list[tuple[str, Volume]] = []
    if cfg.monitoring is not None:
        volumes.append(("Prometheus volume", Volume(cfg.monitoring.prometheus.volume_gib)))
        volumes.append(("Alertmanager volume", Volume(ALERTMANAGER_VOLUME_GIB)))
        if cfg.monitoring.logs.enabled:
            volumes.append(("Loki volume", Volume(LOKI_VOLUME_GIB)))
    serving = bool(cfg.models) and cfg.ingress is not None and cfg.monitoring is not None
    return Extras(
        nat_gateways=nat_gateway_count(cfg),
        load_balancers=1 if serving else 0,
        waf_rules=1 if serving else 0,  # the gateway's rate limit per client address
        volumes=tuple(volumes),
    )


def stack_costs(cfg: StackConfig) -> list[CostLine]:
    return cost_lines(node_pools(cfg), extras(cfg)) + working_hours_line(cfg)


def nat_gateway_count(cfg: StackConfig) -> int:
    net = cfg.network
    if net.existing_vpc is not None:
        return 0
    return len(net.availability_zones) if net.nat_gateways == "perZone" else 1


def render_summary(cfg: StackConfig, stack: str, registrations: list[Registration]) -> str:
    lines = [f"# Offline plan of stack `{stack}`", ""]
    kinds = Counter(_family(r) for r in registrations)
    lines.append(
        f"{len(registrations)} registrations: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        + "."
    )
    lines += ["", "## Component tree", ""]
    lines += _tree(registrations)
    lines += ["", "## GPU capacity per pool", ""]
    lines += _pool_table(cfg)
    lines += ["", "## GPU capacity per namespace", ""]
    lines += _tenant_table(cfg)
    lines += ["", "## Models", ""]
    lines += _model_table(cfg)
    lines += ["", "## Time to serve a traffic spike", ""]
    lines += time_to_serve_table(cfg)
    lines += ["", "### What the headroom costs", ""]
    lines += _headroom_table(cfg)
    lines += ["", f"## Hourly cost (on-demand prices, {cfg.aws.region})", ""]
    lines += _cost_table(cfg)
    lines += ["", f"## Monthly estimate ({HOURS_PER_MONTH} hours, on-demand prices, {cfg.aws.region})", ""]
    lines += _monthly_table(cfg)
    if cfg.models:
        lines += ["", f"## Monthly showback per tenant ({HOURS_PER_MONTH} hours, on-demand prices)", ""]
        lines += showback_table(cfg)
    if cfg.gateway is not None:
        lines += ["", "## API clients and token budgets (enforced by the AI gateway)", ""]
        lines += _budget_table(cfg)
    return "\n".join(lines) + "\n"


def _family(r: Registration) -> str:
    if not r.custom:
        return "components"
    if r.is_provider:
        return "providers"
    if r.type.startswith("kubernetes:helm.sh/"):
        return "Helm releases"
    return f"{r.type.split(':')[0]} resources"


def _tree(registrations: list[Registration]) -> list[str]:
    children: dict[str | None, list[Registration]] = {}
    for r in registrations:
        children.setdefault(r.parent, []).append(r)
    components = {r.urn for r in registrations if not r.custom}
    roots = [r for r in registrations if not r.custom and r.parent not in components]
    out: list[str] = []

    def walk(r: Registration, depth: int) -> None:
        own = [c for c in children.get(r.urn, []) if c.custom]
        types = Counter(c.type.split(":")[-1] for c in own)
        detail = ", ".join(f"{t} x{n}" if n > 1 else t for t, n in sorted(types.items()))
        out.append(f"{'  ' * depth}- **{r.type.split(':')[-1]}** `{r.name}`: {detail or 'no resources'}")
        for c in children.get(r.urn, []):
            if not c.custom:
                walk(c, depth + 1)

    for r in roots:
        walk(r, 0)
    return out


def _pool_table(cfg: StackConfig) -> list[str]:
    rows = [
        "| pool | kind | instance types | capacity | GPU | GPUs per node | GiB per GPU | nodes min..max | GPUs min..max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    models, _, supplies = capacity_inputs(cfg)
    for shape, (name, pool) in zip(node_pools(cfg)[1:], cfg.gpu_pools.items(), strict=True):
        p = gpu_placement(name, pool.instance_types)
        rows.append(
            f"| {name} | {pool.kind} | {', '.join(pool.instance_types)} | {pool.capacity_type} | {p.gpu_model} "
            f"| {p.gpus_per_node} | {p.gpu_memory_mib / 1024:.1f} | {shape.min_nodes}..{pool.max_size} "
            f"| {shape.min_nodes * p.gpus_per_node}..{pool.max_size * p.gpus_per_node} |"
        )
    rows += [
        "",
        "Both ends of scale, checked at plan time: at minimum scale every pod the models keep, and one "
        "surge pod per rollout that surges, fits the nodes the pool may have (Karpenter: up to maxSize; "
        "managed: its starting size); at maximum scale every replica and surge pod fits the pool's limit "
        "(whole replicas per node) and the tenants' quotas.",
        "",
        "| pool | GPU demand at minimum (rollout included) | nodes it needs | nodes the pool may have "
        "| GPU demand at maximum | nodes it needs | pool limit (GPUs) | rollouts that surge |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, supply in supplies.items():
        ends = pool_ends(supply, models)
        surging = ", ".join(m.name for m in models if m.pool == name and m.surge) or "-"
        rows.append(
            f"| {name} | {ends.min_gpus} | {ends.min_nodes} | {ends.min_supply_nodes} | {ends.max_gpus} "
            f"| {ends.max_nodes} | {ends.max_supply_gpus} ({supply.max_nodes} nodes) | {surging} |"
        )
    return rows


def _tenant_table(cfg: StackConfig) -> list[str]:
    models, quotas, _ = capacity_inputs(cfg)
    rows = [
        "| namespace | GPU quota | GPUs at maximum scale | CPU quota | CPU at maximum scale "
        "| memory quota | memory at maximum scale | serving Deployments |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, quota in quotas.items():
        own = [m for m in models if m.tenant == name]
        cpu = sum(m.max_pods * m.cpu_millicores for m in own) / 1000
        memory = sum(m.max_pods * m.memory_mib for m in own) / 1024
        rows.append(
            f"| {name} | {quota.gpus} | {sum(m.max_gpus for m in own)} | {quota.cpu_millicores / 1000:g} | {cpu:g} "
            f"| {quota.memory_mib / 1024:g}Gi | {memory:.0f}Gi | {', '.join(m.name for m in own) or '-'} |"
        )
    return rows


def _model_table(cfg: StackConfig) -> list[str]:
    rows = [
        "| model | namespace | pool | tensor parallel | weights | KV per token | max-length sequences per replica | replicas | canary | weights from |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, model in cfg.models.items():
        sizing = sizing_of(cfg, name)
        canary = (
            f"{model.canary.weight}%, {model.canary.min_replicas}..{model.canary.max_replicas}"
            if model.canary
            else "-"
        )
        hub = model.source.hugging_face
        source = (
            f"{hub.repo}@{hub.revision[:12]}"
            if hub
            else f"bucket, {model.source.s3.revision if model.source.s3 else ''}"
        )
        rows.append(
            f"| {name} | {model.tenant} | {model.pool} | {sizing.tensor_parallel_size} "
            f"| {sizing.weight_bytes / GIB:.1f} GiB | {sizing.kv_bytes_per_token // 1024} KiB "
            f"| {sizing.max_length_sequences} x {model.max_model_len} | {model.min_replicas}..{model.max_replicas} "
            f"| {canary} | {source} ({model.weights}) |"
        )
    return rows


def _cost_table(cfg: StackConfig) -> list[str]:
    lines = [line for line in stack_costs(cfg) if line.hourly_max]
    rows = ["| item | at minimum scale | at maximum scale | note |", "|---|---|---|---|"]
    rows += [
        f"| {line.item} | ${line.hourly_min:,.2f}/h | ${line.hourly_max:,.2f}/h | {line.note} |"
        for line in lines
    ]
    low, high = total(lines)
    rows.append(f"| **total** | **${low:,.2f}/h** | **${high:,.2f}/h** | |")
    return rows


def _monthly_table(cfg: StackConfig) -> list[str]:
    lines = stack_costs(cfg)
    rows = ["| item | at minimum scale | at maximum scale |", "|---|---|---|"]
    rows += [f"| {line.item} | ${line.monthly_min:,.0f} | ${line.monthly_max:,.0f} |" for line in lines]
    low, high = monthly_total(lines)
    rows.append(f"| **total** | **${low:,.0f}/month** | **${high:,.0f}/month** |")
    rows += ["", f"Not included: {EXCLUDED}."]
    return rows


def _headroom_table(cfg: StackConfig) -> list[str]:
    """Nodes each pool's placeholders add at minimum scale, and their price (part of the
    pool's minimum in the cost tables below)."""
    models, _, supplies = capacity_inputs(cfg)
    real = [m for m in models if m.tenant != HEADROOM_TENANT]
    lines = [
        "| pool | placeholders | GPUs held | nodes added at minimum | per month |",
        "|---|---:|---:|---:|---:|",
    ]
    for shape in node_pools(cfg)[1:]:
        held = [m for m in models if m.tenant == HEADROOM_TENANT and m.pool == shape.name]
        if not held or cfg.gpu_pools[shape.name].kind != "karpenter":
            continue
        added = steady_nodes(supplies[shape.name], models) - steady_nodes(supplies[shape.name], real)
        monthly = added * (shape.node_hourly_usd * HOURS_PER_MONTH + shape.root_volume.monthly_usd)
        lines.append(
            f"| {shape.name} | {held[0].min_replicas} | {held[0].min_gpus} | {added} | ${monthly:,.0f} |"
        )
    return lines if len(lines) > 2 else ["No pool keeps headroom."]


def gpu_hour_usd(cfg: StackConfig, pool: str) -> float:
    """What one GPU of `pool` costs an hour: its dearest node type over the GPUs in it."""
    shape = next(p for p in node_pools(cfg) if p.name == pool)
    gpus = max(gpu_catalog.CATALOG[t].gpus for t in shape.instance_types)
    return shape.node_hourly_usd / gpus


def showback_table(cfg: StackConfig) -> list[str]:
    """Each tenant's share of the GPU bill: the GPUs its models hold at their minimum and maximum
    replica counts (canaries included), at the pool's on-demand GPU-hour price. Shared costs
    (system nodes, NAT, storage, the gateway) are not split."""
    models, quotas, _ = capacity_inputs(cfg)
    rows = [
        "| tenant | models | GPUs (min..max) | $/month at minimum | $/month at maximum |",
        "|---|---|---|---|---|",
    ]
    for tenant in quotas:
        own = [m for m in models if m.tenant == tenant]
        if not own:
            continue
        low = sum(m.gpus_per_replica * m.min_replicas * gpu_hour_usd(cfg, m.pool) for m in own)
        high = sum(m.gpus_per_replica * m.max_replicas * gpu_hour_usd(cfg, m.pool) for m in own)
        gpus_low = sum(m.gpus_per_replica * m.min_replicas for m in own)
        gpus_high = sum(m.gpus_per_replica * m.max_replicas for m in own)
        rows.append(
            f"| {tenant} | {', '.join(sorted({m.name for m in own}))} | {gpus_low}..{gpus_high} "
            f"| ${low * HOURS_PER_MONTH:,.0f} | ${high * HOURS_PER_MONTH:,.0f} |"
        )
    return rows


def _budget_table(cfg: StackConfig) -> list[str]:
    clients = {
        tenant: [
            gateway.Client(
                cid, {m: gateway.Budget(b.tokens_per_minute, b.tokens_per_day) for m, b in c.models.items()}
            )
            for cid, c in t.clients.items()
        ]
        for tenant, t in cfg.tenants.items()
    }
    rows = [
        "| tenant | client | authenticates with | model | tokens per minute | tokens per day |",
        "|---|---|---|---|---|---|",
    ]
    for tenant, client, *budget in gateway.budget_table(clients):
        rows.append(f"| {' | '.join([tenant, client, _credential(cfg, tenant), *budget])} |")
    return rows


def _credential(cfg: StackConfig, tenant: str) -> str:
    """How a tenant's clients prove who they are: their own key, or a token of its issuer."""
    oidc = cfg.tenants[tenant].oidc
    if oidc is None:
        return "API key"
    return f"OIDC token of {oidc.issuer} (claim {oidc.client_claim})"
