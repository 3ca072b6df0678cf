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


CHECKS = """
## What is checked

`python -m infra plan` (and `pulumi preview`/`up`) validates the whole stack file before it
builds anything. A stack file with mistakes exits with status 2 and one line per mistake on
stderr, `error: <key.path>: <what is wrong>`, never a traceback, and writes nothing. A
test mutates both committed stack files at random (keys deleted, values of the wrong kind,
models and canaries duplicated, numbers out of range) and holds the program to that.

**The file.** It must be YAML whose `config` is a mapping. A key written twice in one mapping
(a model pasted twice, a second `maxSize:`) is refused with its line; YAML parsers keep the
last one silently. Keys of the `{ns}` namespace that the program does not read are refused
with the keys it does read; other namespaces (`aws:`, `pulumi:`) are Pulumi's.

**Each value.** Types, ranges and formats as the table above says: instance types against
the GPU catalog, CIDRs, quantities (`256Gi`, `500m`), Hub commits (40 hex characters, not a
branch), vLLM release tags (never `latest`), CloudWatch retention periods, chart names.

**Secrets.** Every secret field (`apiKey`, `huggingFaceToken`, `grafanaAdminPassword`,
webhook URLs, `emailPassword`) must be `secure:` itself, in any stack: a plain value next
to encrypted ones in the same section is still refused. The engine marks a whole key secret
when any value in it is, so the program reads which values are `secure:` from the stack file
(under `pulumi up`, `Pulumi.<stack>.yaml` in the project directory; a stack whose config
lives elsewhere falls back to whole sections).

**References.** Every value that names something else is checked against it:

- ARNs (`cluster.admins`, `tenants.<name>.accessRoleArns`, `ingress.certificateArn`) against
  the partition of `aws.region` (`aws`, `aws-cn`, `aws-us-gov`) and against
  `aws.allowedAccountIds` (without it: all in one account); the certificate against the
  region, since an ALB only uses ACM certificates of its own region. An IAM role is in at
  most one access entry.
- Names against names the platform or Kubernetes reserves: tenants (their namespaces) may
  not be `default`, `kube-*`, `monitoring`, `keda`, `gpu-runtime`, `karpenter`,
  `amazon-cloudwatch`, `cert-manager`, `llm-platform*` or the cluster name (the ingress
  gateway's namespace); tenant groups may not start with `system:` or `eks:`, and two tenants
  may not share a group; no GPU pool may be called `system`; AWS tag keys may not start with
  `aws:`.
- Models against tenants and pools; a model and another model's canary may not make the same
  Deployment.
- Time zones (`workingHours.timezone`) against the IANA database (`Europe/Berlin`, not
  `CEST`); cron fields against their ranges; a schedule whose start is its end.
- Lengths against what holds them: `maxModelLen` against the model's context window (the
  catalog's, or `architecture.contextLength`) and against the KV cache of a replica;
  `<model>-canary.<domain>` against DNS limits.
- Capacity: tensor parallel sizes against attention heads and GPUs per node, tenant quotas
  against the replicas of their models, pools against the GPUs their models may scale to.
- Values that only work together: `minSize` <= `desiredSize` <= `maxSize`, one alert
  receiver kind per severity, email settings only with `emailTo`, `slackChannel` only with
  `slackWebhookUrl`, an SMTP smarthost as `host:port`, the idle GPU threshold below the busy
  one, `forceDestroy` never with `protect`, local charts matching their pinned versions.
"""


def render_reference() -> str:
    rows: list[str] = []
    _rows(StackConfig, f"{NAMESPACE}:", rows, top=True)
    return HEADER.format(ns=NAMESPACE) + "\n".join(rows) + "\n" + CHECKS.format(ns=NAMESPACE)


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
    names = {"str": "string", "int": "integer", "float": "number", "bool": "boolean", "IPv4Network": "CIDR"}
    return {**names, "SecretStr": "secret string"}.get(getattr(annotation, "__name__", ""), str(annotation))


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
