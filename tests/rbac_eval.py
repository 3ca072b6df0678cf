"""Does an RBAC rule list allow a verb on a resource? (Kubernetes' rules: exact or "*" match.)"""

from __future__ import annotations

from typing import Any


def rbac_allows(rules: list[dict[str, Any]], verb: str, group: str, resource: str) -> bool:
    """`resource` may name a subresource ("pods/exec")."""
    return any(
        (verb in r.get("verbs", []) or "*" in r.get("verbs", []))
        and (group in r.get("apiGroups", []) or "*" in r.get("apiGroups", []))
        and (resource in r.get("resources", []) or "*" in r.get("resources", []))
        for r in rules
    )
