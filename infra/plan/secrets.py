"""Secret values in a plan: recognised by Pulumi's own secret marker, written as "[secret]"."""

from __future__ import annotations

from typing import Any

from pulumi.runtime import rpc

REDACTED = "[secret]"


def redact(value: Any) -> Any:
    """`value` with every secret replaced by "[secret]".

    Pulumi marks a whole object secret when any field in it is; such an object
    keeps its keys (so a Secret manifest still has the shape Kubernetes expects)
    and loses every value.
    """
    if rpc.is_rpc_secret(value):
        return _redact_all(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _redact_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_all(v) for v in value]
    return REDACTED
