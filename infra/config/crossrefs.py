"""Every config value that refers to something else, checked against it.

ARNs against the stack's region, partition and accounts; names against the names the
platform and Kubernetes reserve; time zones against the IANA database; lengths against the
model's context window and DNS limits; and the values that only make sense together.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from typing import NamedTuple

from infra.config.derived import HEADROOM_PREFIX, architecture_of
from infra.config.problem import Problem
from infra.config.stack import StackConfig

# Namespaces of Kubernetes itself, of EKS add-ons, and of the platform's own controllers
# (infra/cloud.py, infra/serving.py, infra/observability.py); a tenant of that name would take
# over its quotas, network policies and edit rights.
RESERVED_NAMESPACES: tuple[str, ...] = (
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "monitoring",
    "keda",
    "gpu-runtime",
    "karpenter",
    "amazon-cloudwatch",
    "cert-manager",
)
PLATFORM_PREFIX = "llm-platform"
"""The default cluster name is llm-platform-<stack>, and the ingress gateway's namespace is the cluster name."""
SYSTEM_POOL = "system"
"""Node label value of the system node group (components/cluster.py SYSTEM_POOL)."""

_ARN = re.compile(r"arn:(?P<partition>[^:]+):(?P<service>[^:]+):(?P<region>[^:]*):(?P<account>\d{12}):.*")


class _Arn(NamedTuple):
    path: str
    partition: str
    service: str
    region: str
    account: str


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-iso"):
        return "aws-iso"
    return "aws"


def check_references(cfg: StackConfig) -> list[Problem]:
    return [
        *_arns(cfg),
        *_reserved_names(cfg),
        *_tags(cfg),
        *_working_hours(cfg),
        *_lengths(cfg),
        *_thresholds(cfg),
    ]


def _all_arns(cfg: StackConfig) -> Iterator[_Arn]:
    found = [(f"cluster.admins[{i}]", arn) for i, arn in enumerate(cfg.cluster.admins)]
    for name, tenant in cfg.tenants.items():
        found += [
            (f"tenants.{name}.accessRoleArns[{i}]", arn) for i, arn in enumerate(tenant.access_role_arns)
        ]
    if cfg.ingress is not None:
        found.append(("ingress.certificateArn", cfg.ingress.certificate_arn))
    if cfg.images.docker_hub_cache_credential_arn is not None:
        found.append(("images.dockerHubCacheCredentialArn", cfg.images.docker_hub_cache_credential_arn))
    for path, arn in found:
        match = _ARN.fullmatch(arn)
        if match is not None:
            yield _Arn(path, match["partition"], match["service"], match["region"], match["account"])


def _arns(cfg: StackConfig) -> Iterator[Problem]:
    region = cfg.aws.region
    partition = partition_of(region)
    allowed = cfg.aws.allowed_account_ids
    first: _Arn | None = None
    for arn in _all_arns(cfg):
        if arn.partition != partition:
            yield Problem(
                arn.path,
                f"is in partition {arn.partition}, but region {region} is in partition {partition} "
                f"(arn:{partition}:...)",
            )
        if arn.service == "acm" and arn.region != region:
            yield Problem(
                arn.path,
                f"is a certificate in {arn.region or 'no region'}, but the load balancer is in {region}; "
                f"an ALB only uses ACM certificates of its own region: request or import one in {region}",
            )
        if arn.service == "secretsmanager" and arn.region != region:
            yield Problem(
                arn.path,
                f"is a secret in {arn.region}, but the pull-through cache is in {region}; ECR reads the "
                f"Docker Hub credentials only from a secret in its own region: create it in {region}",
            )
        if allowed and arn.account not in allowed:
            yield Problem(
                arn.path,
                f"names account {arn.account}, which is not in aws.allowedAccountIds ({', '.join(allowed)}); "
                "EKS access entries and the load balancer's certificate must be in the stack's account",
            )
        elif not allowed:
            if first is None:
                first = arn
            elif arn.account != first.account:
                yield Problem(
                    arn.path,
                    f"names account {arn.account}, but {first.path} names {first.account}; a stack lives in "
                    "one account (list it in aws.allowedAccountIds)",
                )
    if len(set(allowed)) != len(allowed):
        yield Problem("aws.allowedAccountIds", "lists an account twice")


def _reserved_names(cfg: StackConfig) -> Iterator[Problem]:
    cluster = cfg.cluster.name
    for name, tenant in cfg.tenants.items():
        path = f"tenants.{name}"
        if name in RESERVED_NAMESPACES or name.startswith("kube-"):
            yield Problem(
                path,
                f"{name!r} is a namespace Kubernetes or the platform owns; tenants may not use "
                f"{', '.join(RESERVED_NAMESPACES)}, kube-* or {PLATFORM_PREFIX}*",
            )
        elif name.startswith(HEADROOM_PREFIX):
            yield Problem(
                path,
                f"{name!r}: namespaces {HEADROOM_PREFIX}<pool> hold the GPU pools' headroom "
                "placeholders (gpuPools.<pool>.headroom); choose another name",
            )
        elif name.startswith(PLATFORM_PREFIX) or name == cluster:
            yield Problem(
                path,
                f"{name!r} is the platform's own namespace (the ingress gateway lives in the namespace "
                f"named after the cluster, {cluster or PLATFORM_PREFIX + '-<stack>'}); choose another name",
            )
        if tenant.group is not None and tenant.group.startswith(("system:", "eks:")):
            yield Problem(
                f"{path}.group",
                f"{tenant.group!r} starts with a prefix Kubernetes and EKS reserve (system:, eks:); "
                "EKS access entries refuse such groups",
            )
    groups: dict[str, str] = {}
    for name, tenant in cfg.tenants.items():
        group = tenant.group or f"tenant-{name}"
        if group in groups:
            yield Problem(
                f"tenants.{name}.group",
                f"{group!r} is already the group of tenant {groups[group]}; its members would get edit "
                "rights in both namespaces",
            )
        groups[group] = name
    if SYSTEM_POOL in cfg.gpu_pools:
        yield Problem(
            f"gpuPools.{SYSTEM_POOL}",
            f"{SYSTEM_POOL!r} is the name of the system node group; choose another pool name",
        )


def _tags(cfg: StackConfig) -> Iterator[Problem]:
    for key, value in cfg.aws.tags.items():
        path = f"aws.tags.{key}"
        if key.lower().startswith("aws:"):
            yield Problem(path, "tag keys starting with aws: are reserved for AWS")
        if not 1 <= len(key) <= 128:
            yield Problem(path, f"a tag key has 1 to 128 characters, not {len(key)}")
        if len(value) > 256:
            yield Problem(path, f"a tag value has at most 256 characters, not {len(value)}")


# minute, hour, day of month, month, day of week
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = ("minute", "hour", "day of month", "month", "day of week")


def _cron_problem(expression: str) -> str | None:
    for text, (low, high), what in zip(expression.split(), _CRON_RANGES, _CRON_NAMES, strict=False):
        for part in text.split(","):
            base, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                return f"step {step!r} of the {what} is not a positive number"
            if base == "*":
                continue
            bounds = base.split("-")
            if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
                return f"{part!r} is not a {what} value or range"
            numbers = [int(b) for b in bounds]
            if any(not low <= n <= high for n in numbers):
                return f"{what} {part!r} is outside {low}-{high}"
            if len(numbers) == 2 and numbers[0] > numbers[1]:
                return f"{what} range {part!r} runs backwards"
    return None


def is_time_zone(name: str) -> bool:
    """Whether `name` is a zone of the IANA database (as KEDA's cron scaler, Go's time package, reads it)."""
    try:
        zones = zoneinfo.available_timezones()
    except Exception:  # pragma: no cover - a system without any time zone data
        zones = set()
    if zones:
        return name in zones
    try:
        zoneinfo.ZoneInfo(name)
    except Exception:
        return False
    return True


def _working_hours(cfg: StackConfig) -> Iterator[Problem]:
    for name, model in cfg.models.items():
        hours = model.autoscaling.working_hours
        if hours is None:
            continue
        path = f"models.{name}.autoscaling.workingHours"
        if not is_time_zone(hours.timezone):
            yield Problem(
                f"{path}.timezone",
                f"{hours.timezone!r} is not a time zone of the IANA database; use a name such as "
                "Europe/Berlin or America/New_York",
            )
        for key in ("start", "end"):
            problem = _cron_problem(getattr(hours, key))
            if problem is not None:
                yield Problem(f"{path}.{key}", problem)
        if hours.start == hours.end:
            yield Problem(f"{path}.end", "is the same as start: the replica would stop as it starts")


DNS_NAME_MAX = 253
DNS_LABEL_MAX = 63


def _lengths(cfg: StackConfig) -> Iterator[Problem]:
    for name, model in cfg.models.items():
        if isinstance(model.architecture, str) and model.architecture not in _known():
            continue  # reported by the sizing checks
        context = architecture_of(model).context_length
        if context is not None and model.max_model_len > context:
            arch = model.architecture if isinstance(model.architecture, str) else "the architecture"
            yield Problem(
                f"models.{name}.maxModelLen",
                f"{model.max_model_len} is longer than the {context}-token context window of {arch}; "
                "vLLM refuses it: use at most that",
            )
    if cfg.ingress is not None:
        domain = cfg.ingress.domain
        for i, label in enumerate(domain.split(".")):
            if len(label) > DNS_LABEL_MAX:
                yield Problem(
                    "ingress.domain",
                    f"label {i + 1} has {len(label)} characters; DNS allows at most {DNS_LABEL_MAX}",
                )
        longest = max(cfg.models, key=len, default=None)
        if longest is not None and len(f"{longest}-canary.{domain}") > DNS_NAME_MAX:
            yield Problem(
                "ingress.domain",
                f"{longest}-canary.{domain} would be longer than the {DNS_NAME_MAX} characters DNS allows",
            )


def _known() -> set[str]:
    from components.core.sizing import ARCHITECTURES

    return set(ARCHITECTURES)


def _thresholds(cfg: StackConfig) -> Iterator[Problem]:
    if cfg.monitoring is None:
        return
    t = cfg.monitoring.thresholds
    if t.gpu_utilization_low_percent >= t.gpu_utilization_high_percent:
        yield Problem(
            "monitoring.thresholds.gpuUtilizationLowPercent",
            f"{t.gpu_utilization_low_percent:g} is not below gpuUtilizationHighPercent "
            f"{t.gpu_utilization_high_percent:g}: every node would be both idle and saturated",
        )
