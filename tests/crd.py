"""Validate custom resources against the CRD schemas pinned under ../shared/upstream/crds.

A CRD's openAPIV3Schema is JSON Schema with Kubernetes extensions. Kubernetes
prunes fields a schema does not declare; here an undeclared field is an error
instead (strict, like kubernetes-validate --strict), and int-or-string fields
accept both. CEL rules (x-kubernetes-validations) are not evaluated.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.upstream import upstream_dir


@functools.cache
def _crds() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in Path(upstream_dir(), "crds").rglob("*.yaml"):
        crd = yaml.safe_load(path.read_text())
        if crd and crd.get("kind") == "CustomResourceDefinition":
            found[(crd["spec"]["group"], crd["spec"]["names"]["kind"])] = crd
    return found


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-validations")}
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if (
        schema.get("type") == "object"
        and "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def is_custom(obj: dict[str, Any]) -> bool:
    group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
    return (group, obj["kind"]) in _crds()


def validate_custom(obj: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if `obj` does not fit its CRD's served version."""
    group, version = obj["apiVersion"].split("/")
    crd = _crds()[(group, obj["kind"])]
    served = {v["name"]: v for v in crd["spec"]["versions"] if v.get("served")}
    if version not in served:
        raise jsonschema.ValidationError(f"{obj['kind']} {version} is not served (served: {sorted(served)})")
    schema = _strict(served[version]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"] = {"type": "object"}
    if crd["spec"]["scope"] == "Namespaced" and not obj.get("metadata", {}).get("namespace"):
        raise jsonschema.ValidationError(f"{obj['kind']} is namespaced but has no namespace")
    # Draft 7 is what Kubernetes' structural schemas are closest to; the schema itself is
    # trusted (it is upstream's), so it is not checked against the metaschema.
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(obj))
    if error is not None:
        raise error
