"""docs/config.md: the config reference, rendered from the same models that validate the config."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from infra.config.load import NAMESPACE
from infra.config.stack import StackConfig

HEADER = """# Stack config reference

Generated from the config models in `infra/config/` by
`python -m infra schema --markdown`; a test keeps it current. Editors can
validate `Pulumi.<stack>.yaml` with [config.schema.json](config.schema.json).

Every key lives in the `{ns}` namespace: `{ns}:network` in the stack file.
`<name>` stands for a key you choose (a pool name). Set a value with
`pulumi config set --path '{ns}:cluster.logRetentionDays' 30`, a secret with
`pulumi config set --secret --path ...`.

| key | type | default | description |
|---|---|---|---|
"""


def render_reference() -> str:
    rows: list[str] = []
    _rows(StackConfig, f"{NAMESPACE}:", rows, top=True)
    return HEADER.format(ns=NAMESPACE) + "\n".join(rows) + "\n"


def _rows(model: type[BaseModel], prefix: str, rows: list[str], top: bool = False) -> None:
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"
        annotation = field.annotation
        rows.append(f"| `{key}` | {_type(annotation)} | {_default(field)} | {_description(field)} |")
        inner, suffix = _nested(annotation)
        if inner is not None:
            _rows(inner, f"{key}{suffix}.", rows)


def _nested(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """The model a field holds, and the path piece between the field and the model's keys."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate, ""
        if get_origin(candidate) is dict:
            value = get_args(candidate)[1]
            if isinstance(value, type) and issubclass(value, BaseModel):
                return value, ".<name>"
    return None, ""


def _type(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = [a for a in get_args(annotation) if a is not type(None)]
    if origin is Annotated:
        return _type(args[0])
    if origin is Literal:
        values = [str(a) for a in get_args(annotation)]
        if len(values) > 6:  # CloudWatch's retention periods
            values = [*values[:6], "…", values[-1]]
        return " \\| ".join(f"`{v}`" for v in values)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"map of {_type(args[1])}"
    if len(args) == 1 and len(get_args(annotation)) == 2:  # X | None
        return f"{_type(args[0])} (optional)"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "object"
    return {"str": "string", "int": "integer", "bool": "boolean", "IPv4Network": "CIDR"}.get(
        getattr(annotation, "__name__", ""), str(annotation)
    )


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default
    if value is PydanticUndefined or value is None:
        return ""
    if isinstance(value, BaseModel):
        return "see below"
    if isinstance(value, (list, dict)) and not value:
        return "empty"
    return f"`{value}`"


def _description(field: FieldInfo) -> str:
    return (field.description or "").replace("|", "\\|").replace("\n", " ")
