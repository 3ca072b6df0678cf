"""Subnet layout of a new VPC: one private and one public subnet per availability zone.

The VPC is cut into four equal quarters. Each zone's private subnet is a whole
quarter, because the VPC CNI gives every pod a VPC address; the fourth quarter
is cut into four again for the public subnets, which hold only load balancers
and NAT gateways. A /16 gives /18 private (16,379 usable addresses) and /20
public subnets.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

MAX_ZONES = 3
MIN_ZONES = 2  # EKS requires subnets in at least two availability zones
LARGEST_PREFIX = 16  # AWS refuses VPCs larger than a /16
SMALLEST_PREFIX = 20  # leaves /26 public subnets, still room for load balancers


@dataclass(frozen=True)
class ZoneSubnets:
    zone: str
    private_cidr: str
    public_cidr: str


def plan_subnets(vpc_cidr: str, zones: list[str]) -> list[ZoneSubnets]:
    """Carve `vpc_cidr` into one private and one public subnet per zone."""
    network = ipaddress.IPv4Network(vpc_cidr)
    if not MIN_ZONES <= len(zones) <= MAX_ZONES:
        raise ValueError(f"a new VPC spans {MIN_ZONES} to {MAX_ZONES} zones, not {len(zones)}")
    if not LARGEST_PREFIX <= network.prefixlen <= SMALLEST_PREFIX:
        raise ValueError(
            f"a VPC CIDR must be /{LARGEST_PREFIX} to /{SMALLEST_PREFIX}, not /{network.prefixlen}"
        )
    quarters = list(network.subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(prefixlen_diff=2))
    return [
        ZoneSubnets(zone=zone, private_cidr=str(quarters[i]), public_cidr=str(public[i]))
        for i, zone in enumerate(zones)
    ]
