"""Hourly cost of a platform at its minimum and maximum scale, from the instance catalog."""

from __future__ import annotations

from dataclasses import dataclass

from components.core import gpu_catalog


@dataclass(frozen=True)
class NodePoolShape:
    name: str
    instance_types: tuple[str, ...]
    min_nodes: int
    max_nodes: int
    spot: bool = False

    @property
    def node_hourly_usd(self) -> float:
        """The dearest instance type of the pool: the ceiling of what one node costs."""
        return max(gpu_catalog.CATALOG[t].hourly_usd for t in self.instance_types)


@dataclass(frozen=True)
class CostLine:
    item: str
    hourly_min: float
    hourly_max: float
    note: str = ""


def hourly_costs(pools: list[NodePoolShape], nat_gateways: int) -> list[CostLine]:
    """One line per cost driver; spot pools are priced on demand, the most they can cost."""
    lines = [
        CostLine(
            "EKS control plane",
            gpu_catalog.EKS_CONTROL_PLANE_HOURLY_USD,
            gpu_catalog.EKS_CONTROL_PLANE_HOURLY_USD,
        ),
    ]
    if nat_gateways:
        nat = nat_gateways * gpu_catalog.NAT_GATEWAY_HOURLY_USD
        lines.append(CostLine(f"NAT gateways x{nat_gateways}", nat, nat, "before data processing"))
    for pool in pools:
        lines.append(
            CostLine(
                f"{pool.name} ({'/'.join(pool.instance_types)})",
                pool.min_nodes * pool.node_hourly_usd,
                pool.max_nodes * pool.node_hourly_usd,
                "spot: on-demand price as ceiling" if pool.spot else "on-demand",
            )
        )
    return lines


def total(lines: list[CostLine]) -> tuple[float, float]:
    return sum(line.hourly_min for line in lines), sum(line.hourly_max for line in lines)
