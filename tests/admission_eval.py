"""A small ValidatingAdmissionPolicy evaluator for tests, on cel-python (celpy).

Enough of the API server's rules to ask "is this request refused?": a request the
policy's resource rules match, by a user its matchConditions accept, is refused when a
validation is false for any parameter (or for no parameter when the policy has none).
cel-python lacks parts of Kubernetes' CEL (heterogeneous equality with null, optionals,
Kubernetes' extension libraries), so expressions the platform writes stay within
standard CEL; a policy that uses more fails here loudly rather than passing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import celpy

_ENV = celpy.Environment()


def _eval(expression: str, activation: dict[str, Any]) -> Any:
    """Evaluate with JSON values converted to CEL; `variables` holds CEL values already."""
    program = _ENV.program(_ENV.compile(expression))
    cel = {k: celpy.json_to_cel(v) for k, v in activation.items() if k != "variables"}
    if "variables" in activation:
        cel["variables"] = celpy.celtypes.MapType(
            {celpy.celtypes.StringType(k): v for k, v in activation["variables"].items()}
        )
    return program.evaluate(cel)


@dataclass
class Request:
    operation: str
    group: str
    resource: str
    namespace: str
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = None
    groups: list[str] = field(default_factory=list)
    version: str = "v1"
    sub_resource: str = ""

    def cel(self) -> dict[str, Any]:
        name = (self.object or self.old_object or {}).get("metadata", {}).get("name", "")
        return {
            "operation": self.operation,
            "namespace": self.namespace,
            "name": name,
            "resource": {"group": self.group, "version": self.version, "resource": self.resource},
            "subResource": self.sub_resource,
            "userInfo": {"username": "someone", "groups": self.groups},
        }


def _rule_matches(rule: dict[str, Any], req: Request) -> bool:
    resource = f"{req.resource}/{req.sub_resource}" if req.sub_resource else req.resource
    resources = rule["resources"]
    return (
        req.operation in rule["operations"]
        and (req.group in rule["apiGroups"] or "*" in rule["apiGroups"])
        and (req.version in rule["apiVersions"] or "*" in rule["apiVersions"])
        and (resource in resources or ("*" in resources and not req.sub_resource))
    )


def matches(policy: dict[str, Any], binding: dict[str, Any], req: Request) -> bool:
    if not any(_rule_matches(r, req) for r in policy["matchConstraints"]["resourceRules"]):
        return False
    selector = binding.get("matchResources", {}).get("namespaceSelector", {}).get("matchLabels", {})
    if selector and selector != {"kubernetes.io/metadata.name": req.namespace}:
        return False
    base = {"request": req.cel(), "object": req.object, "oldObject": req.old_object}
    return all(bool(_eval(c["expression"], base)) for c in policy.get("matchConditions", []))


def refusals(
    policy: dict[str, Any], binding: dict[str, Any], req: Request, params: list[dict[str, Any]] | None = None
) -> list[str]:
    """The messages the request is refused with; [] when admitted."""
    if not matches(policy, binding, req):
        return []
    if "paramKind" in policy:
        selector = binding["paramRef"]["selector"]["matchLabels"]
        found = [
            p
            for p in params or []
            if p["metadata"].get("namespace") == req.namespace
            and all(p["metadata"].get("labels", {}).get(k) == v for k, v in selector.items())
        ]
        if not found:
            assert binding["paramRef"]["parameterNotFoundAction"] == "Allow"
            return []
    else:
        found = [None]  # type: ignore[list-item]
    messages = []
    for param in found:
        activation: dict[str, Any] = {
            "request": req.cel(),
            "object": req.object,
            "oldObject": req.old_object,
            "params": param,
        }
        variables: dict[str, Any] = {}
        for v in policy.get("variables", []):
            variables[v["name"]] = _eval(v["expression"], {**activation, "variables": variables})
        activation["variables"] = variables
        for check in policy["validations"]:
            if not bool(_eval(check["expression"], activation)):
                messages.append(str(_eval(check["messageExpression"], activation)))
    return messages
