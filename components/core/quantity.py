"""Kubernetes resource quantities, for the arithmetic of quotas and pod sizes."""

from __future__ import annotations

import re

_CPU = re.compile(r"(\d+(?:\.\d+)?)(m?)")
_MEMORY = re.compile(r"(\d+)(Ki|Mi|Gi|Ti)")
_MIB_PER = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024}


def cpu_millicores(quantity: str) -> int:
    """ "40" -> 40000, "500m" -> 500, "2.5" -> 2500."""
    match = _CPU.fullmatch(quantity)
    if match is None:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    number, milli = match.groups()
    return int(float(number)) if milli else int(float(number) * 1000)


def memory_mib(quantity: str) -> int:
    """ "256Gi" -> 262144, "512Mi" -> 512."""
    match = _MEMORY.fullmatch(quantity)
    if match is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    number, unit = match.groups()
    return int(int(number) * _MIB_PER[unit])
