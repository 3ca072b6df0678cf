"""Write an offline plan to disk in the layout DESIGN.md fixes (resources.json, manifests/, helm/,
summary.md), with the stack's outputs (outputs.json) and cost (cost.json) beside it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from infra.plan.mocks import Registration
from infra.plan.secrets import redact

HELM_RELEASE = "kubernetes:helm.sh/v3:Release"


def plain(value: Any) -> Any:
    """Values as the providers read them: gRPC carries every number as a double, and
    Kubernetes rejects `replicas: 1.0`; keys sorted so two plans diff cleanly."""
    if isinstance(value, dict):
        return {k: plain(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def resource_record(r: Registration) -> dict[str, Any]:
    return {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "parent": r.parent,
        "dependencies": r.dependencies,
        "provider": r.provider,
        "protect": r.protect,
        "ignoreChanges": r.ignore_changes,
        "retainOnDelete": r.retain_on_delete,
        "deleteBeforeReplace": r.delete_before_replace,
        "replaceOnChanges": r.replace_on_changes,
        "customTimeouts": r.custom_timeouts,
        "props": plain(redact(r.props)),
    }


def is_manifest(r: Registration) -> bool:
    """A single Kubernetes object (not a Helm release, nor a bundle of files to apply)."""
    return r.custom and r.type.startswith("kubernetes:") and "kind" in r.props and "apiVersion" in r.props


def manifest(r: Registration) -> dict[str, Any]:
    """The object as sent to the API server: apiVersion, kind and metadata first."""
    props = plain(redact(r.props))
    head = {k: props.pop(k) for k in ("apiVersion", "kind", "metadata") if k in props}
    return {**head, **props}


def manifest_filename(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    parts = [obj["kind"].lower(), *([namespace] if namespace else []), meta.get("name", "unnamed")]
    return "-".join(parts) + ".yaml"


def write_plan(
    out: Path,
    registrations: list[Registration],
    summary: str,
    outputs: dict[str, Any],
    cost: dict[str, Any],
) -> None:
    """Write into a sibling temp dir first, so a failed write never leaves half a plan."""
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "manifests").mkdir(parents=True)
    (staging / "helm").mkdir()

    records = [resource_record(r) for r in registrations]
    (staging / "resources.json").write_text(json.dumps(records, indent=2) + "\n")

    for r in registrations:
        if is_manifest(r):
            obj = manifest(r)
            path = staging / "manifests" / manifest_filename(obj)
            if path.exists():
                raise RuntimeError(f"two Kubernetes objects would be {path.name}: names must be unique")
            path.write_text(yaml.safe_dump(obj, sort_keys=False))
        elif r.type == HELM_RELEASE:
            release = r.props.get("name", r.name)
            values = plain(redact(r.props.get("values", {})))
            (staging / "helm" / f"{release}.values.yaml").write_text(yaml.safe_dump(values, sort_keys=False))
    (staging / "summary.md").write_text(summary)
    (staging / "outputs.json").write_text(json.dumps(plain(outputs), indent=2) + "\n")
    (staging / "cost.json").write_text(json.dumps(cost, indent=2) + "\n")

    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(out)
