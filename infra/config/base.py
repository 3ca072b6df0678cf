"""Shared building blocks of the stack config models."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base of every config model: camelCase keys in YAML, unknown keys rejected.

    Field descriptions come from the attribute docstrings, so the JSON Schema,
    the config reference and the code all say the same thing.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        use_attribute_docstrings=True,
    )


def matching(regex: str, what: str) -> AfterValidator:
    """Require a string to match `regex`; the error names `what` is expected, not the regex."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


def no_booleans(value: Any) -> Any:
    """Refuse true/false where a CIDR is expected: ipaddress would read False as 0.0.0.0/32
    (with a DeprecationWarning) instead of failing."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, bool):
            raise ValueError(f"{str(item).lower()} is not a CIDR such as 10.0.0.0/16")
    return value


def pattern(regex: str) -> Any:
    """The same rule for editors that validate stack files against the JSON Schema."""
    return Field(json_schema_extra={"pattern": f"^{regex}$"})


_DNS_LABEL = r"[a-z]([-a-z0-9]{0,18}[a-z0-9])?"
DnsLabel = Annotated[
    str,
    matching(
        _DNS_LABEL,
        "a short name (lower-case letters, digits and '-', at most 20 characters, starting with a letter)",
    ),
    pattern(_DNS_LABEL),
]
_ACCOUNT = r"\d{12}"
AccountId = Annotated[str, matching(_ACCOUNT, "a 12-digit AWS account id"), pattern(_ACCOUNT)]
_PRINCIPAL = r"arn:aws[a-z-]*:iam::\d{12}:(role|user)/[\w+=,.@/-]+"
PrincipalArn = Annotated[
    str,
    matching(
        _PRINCIPAL,
        "an IAM role or user ARN such as arn:aws:iam::123456789012:role/platform-admin "
        "(an assumed-role session ARN will not work)",
    ),
    pattern(_PRINCIPAL),
]
_REGION = r"[a-z]{2}(-gov)?-[a-z]+-\d"
Region = Annotated[str, matching(_REGION, "an AWS region name such as us-east-1"), pattern(_REGION)]
_VPC = r"vpc-[0-9a-f]{8,17}"
VpcId = Annotated[str, matching(_VPC, "a VPC id such as vpc-0123456789abcdef0"), pattern(_VPC)]
_SUBNET = r"subnet-[0-9a-f]{8,17}"
SubnetId = Annotated[str, matching(_SUBNET, "a subnet id such as subnet-0123456789abcdef0"), pattern(_SUBNET)]
_CLUSTER = r"[a-z][-a-z0-9]{0,36}[a-z0-9]"
ClusterName = Annotated[
    str,
    matching(_CLUSTER, "a cluster name (lower-case letters, digits and '-', 2 to 38 characters)"),
    pattern(_CLUSTER),
]

# The retention periods CloudWatch Logs accepts.
LogRetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
]  # fmt: skip
