"""URLs the proxies fetch or compare at request time (an OIDC issuer and its keys), checked at plan
time: a mistake here would otherwise only show as every caller refused with 401."""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

MAX_LENGTH = 253
"""What Envoy Gateway's SecurityPolicy accepts for an issuer and a JWKS URI."""
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_TOP_LEVEL = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")


def url_problem(value: str, *, query_allowed: bool) -> str | None:
    """Why `value` is not an https URL of a public DNS name the proxies can reach, or None."""
    if any(c.isspace() for c in value):
        return "contains whitespace"
    if len(value) > MAX_LENGTH:
        return f"is {len(value)} characters; at most {MAX_LENGTH}"
    parts = urlsplit(value)
    if parts.scheme != "https":
        return "is not an https URL: tokens and keys are only trusted over TLS (https://...)"
    if "@" in parts.netloc:
        return "has user information before the host: drop it (https://host/...)"
    host = parts.hostname or ""
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return "has an invalid port"
    labels = host.split(".")
    # The proxies check the server's certificate against the system CA bundle: public CAs
    # certify DNS names, so an IP address or a single-label name would fail at request time.
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return f"has the host {host!r}, not a fully qualified DNS name such as login.example.com"
    if not _TOP_LEVEL.fullmatch(labels[-1]):
        return f"has the host {host!r}, an IP address or a name ending in digits: use the issuer's DNS name"
    if parts.fragment or value.endswith("#"):
        return "has a fragment (#...): drop it"
    if not query_allowed and (parts.query or value.endswith("?")):
        return "has a query (?...): an OIDC issuer URL has none (OpenID Connect Discovery 1.0, section 2)"
    return None


def _checked(query_allowed: bool) -> AfterValidator:
    def check(value: str) -> str:
        problem = url_problem(value, query_allowed=query_allowed)
        if problem is not None:
            raise ValueError(f"{value!r} {problem}")
        return value

    return AfterValidator(check)


IssuerUrl = Annotated[
    str, Field(json_schema_extra={"format": "uri", "pattern": "^https://"}), _checked(False)
]
"""An OIDC issuer identifier: https, a DNS name, no query or fragment."""
HttpsUrl = Annotated[str, Field(json_schema_extra={"format": "uri", "pattern": "^https://"}), _checked(True)]
"""An https URL of a DNS name (a query is allowed)."""
