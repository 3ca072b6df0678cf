"""What a platform costs at its minimum and maximum scale, per hour and per month.

Compute comes from the instance catalog; the other list prices below are AWS's
public us-east-1 prices (other regions differ by a few percent). The estimate
covers what the platform provisions whatever its traffic; usage-priced items
are listed in EXCLUDED, so nobody reads the total as a bill.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.core import gpu_catalog

HOURS_PER_MONTH = 730  # AWS's own convention for monthly prices

# EBS gp3: storage, and provisioned performance above the free 3000 IOPS / 125 MiB/s baseline.
GP3_GB_MONTH_USD = 0.08
GP3_IOPS_MONTH_USD = 0.005
GP3_MIBPS_MONTH_USD = 0.04
GP3_FREE_IOPS = 3000
GP3_FREE_MIBPS = 125
ALB_HOURLY_USD = 0.0225  # per load balancer, before capacity units
WAF_WEB_ACL_MONTH_USD = 5.0
WAF_RULE_MONTH_USD = 1.0

EXCLUDED = (
    "data transfer, NAT gateway and load balancer processing (LCUs), WAF requests, "
    "S3 and EFS storage of weights, CloudWatch logs, KMS requests"
)


@dataclass(frozen=True)
class Volume:
    gib: int
    iops: int = GP3_FREE_IOPS
    throughput_mibps: int = GP3_FREE_MIBPS

    @property
    def monthly_usd(self) -> float:
        return (
            self.gib * GP3_GB_MONTH_USD
            + max(0, self.iops - GP3_FREE_IOPS) * GP3_IOPS_MONTH_USD
            + max(0, self.throughput_mibps - GP3_FREE_MIBPS) * GP3_MIBPS_MONTH_USD
        )


@dataclass(frozen=True)
class NodePoolShape:
    name: str
    instance_types: tuple[str, ...]
    min_nodes: int
    max_nodes: int
    spot: bool = False
    root_volume: Volume = Volume(50)

    @property
    def node_hourly_usd(self) -> float:
        """The dearest instance type of the pool: the ceiling of what one node costs."""
        return max(gpu_catalog.CATALOG[t].hourly_usd for t in self.instance_types)


@dataclass(frozen=True)
class Extras:
    """Fixed costs besides nodes: what the stack's config turns on."""

    nat_gateways: int = 0
    load_balancers: int = 0
    waf_rules: int = 0
    """Rules of the one web ACL in front of the load balancer (0: no web ACL)."""
    volumes: tuple[tuple[str, Volume], ...] = ()
    """Persistent volumes, by what they hold."""


@dataclass(frozen=True)
class CostLine:
    item: str
    hourly_min: float
    hourly_max: float
    note: str = ""
    monthly_fixed: float = 0.0
    """Billed by the month rather than the hour (storage, WAF), the same at any scale."""

    @property
    def monthly_min(self) -> float:
        return self.hourly_min * HOURS_PER_MONTH + self.monthly_fixed

    @property
    def monthly_max(self) -> float:
        return self.hourly_max * HOURS_PER_MONTH + self.monthly_fixed


def cost_lines(pools: list[NodePoolShape], extras: Extras) -> list[CostLine]:
    """One line per cost driver; spot pools are priced on demand, the most they can cost.
    Root volumes scale with the nodes, so they are hourly shares of their monthly price."""
    lines = [
        CostLine(
            "EKS control plane",
            gpu_catalog.EKS_CONTROL_PLANE_HOURLY_USD,
            gpu_catalog.EKS_CONTROL_PLANE_HOURLY_USD,
        ),
    ]
    if extras.nat_gateways:
        nat = extras.nat_gateways * gpu_catalog.NAT_GATEWAY_HOURLY_USD
        lines.append(CostLine(f"NAT gateways x{extras.nat_gateways}", nat, nat, "before data processing"))
    if extras.load_balancers:
        alb = extras.load_balancers * ALB_HOURLY_USD
        lines.append(CostLine("Application Load Balancer", alb, alb, "before capacity units"))
    if extras.waf_rules:
        waf = WAF_WEB_ACL_MONTH_USD + extras.waf_rules * WAF_RULE_MONTH_USD
        lines.append(CostLine(f"WAF web ACL, {extras.waf_rules} rule(s)", 0, 0, "before requests", waf))
    for pool in pools:
        lines.append(
            CostLine(
                f"{pool.name} ({'/'.join(pool.instance_types)})",
                pool.min_nodes * pool.node_hourly_usd,
                pool.max_nodes * pool.node_hourly_usd,
                "spot: on-demand price as ceiling" if pool.spot else "on-demand",
            )
        )
        disk = pool.root_volume.monthly_usd / HOURS_PER_MONTH
        lines.append(
            CostLine(
                f"{pool.name} root volumes (gp3 {pool.root_volume.gib} GiB)",
                pool.min_nodes * disk,
                pool.max_nodes * disk,
                "per node",
            )
        )
    for what, volume in extras.volumes:
        lines.append(CostLine(f"{what} (gp3 {volume.gib} GiB)", 0, 0, "", volume.monthly_usd))
    return lines


def total(lines: list[CostLine]) -> tuple[float, float]:
    """Hourly totals at minimum and maximum scale."""
    return sum(line.hourly_min for line in lines), sum(line.hourly_max for line in lines)


def monthly_total(lines: list[CostLine]) -> tuple[float, float]:
    return sum(line.monthly_min for line in lines), sum(line.monthly_max for line in lines)
