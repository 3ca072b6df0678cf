"""alertmanager.yaml: alerts routed by severity to the receivers config names.

The file holds webhook URLs and passwords, so the Monitoring component stores
it as a Kubernetes Secret; tests/test_alertmanager.py checks it with amtool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SEVERITIES = ("critical", "warning", "info")
NOWHERE = "nowhere"
INHIBIT_SCOPES = (("namespace", "model"), ("Hostname", "gpu"))
"""A critical alert silences the warnings and info of the same model, or of the same GPU."""


@dataclass(frozen=True)
class ReceiverSpec:
    slack_webhook_url: str | None = None
    slack_channel: str | None = None
    webhook_url: str | None = None
    email_to: str | None = None
    email_from: str | None = None
    email_smarthost: str | None = None
    email_username: str | None = None
    email_password: str | None = None


def _receiver(name: str, spec: ReceiverSpec) -> dict[str, Any]:
    receiver: dict[str, Any] = {"name": name}
    if spec.slack_webhook_url:
        receiver["slack_configs"] = [
            {
                "api_url": spec.slack_webhook_url,
                "channel": spec.slack_channel or "#alerts",
                "send_resolved": True,
                "title": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}",
                "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}",
            }
        ]
    if spec.webhook_url:
        receiver["webhook_configs"] = [{"url": spec.webhook_url, "send_resolved": True}]
    if spec.email_to:
        email: dict[str, Any] = {
            "to": spec.email_to,
            "from": spec.email_from,
            "smarthost": spec.email_smarthost,
            "send_resolved": True,
            "require_tls": True,
        }
        if spec.email_username:
            email["auth_username"] = spec.email_username
            email["auth_password"] = spec.email_password
        receiver["email_configs"] = [email]
    return receiver


def alertmanager_config(receivers: dict[str, ReceiverSpec]) -> dict[str, Any]:
    """Route each severity to its receiver; a severity without one goes nowhere.

    Warnings go to the critical receiver when they have none of their own;
    info goes nowhere unless asked for. A critical alert silences the warnings
    of the same model (or the same GPU) while it fires, and nothing else.
    """
    routed = dict(receivers)
    if "warning" not in routed and "critical" in routed:
        routed["warning"] = routed["critical"]
    routes = [
        {
            "receiver": severity if severity in routed else NOWHERE,
            "matchers": [f'severity="{severity}"'],
            **({"repeat_interval": "1h"} if severity == "critical" else {}),
        }
        for severity in SEVERITIES
    ]
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": NOWHERE,
            "group_by": ["alertname", "namespace", "model"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "inhibit_rules": [
            {
                # Alertmanager counts a label missing on both sides as equal: without the
                # non-empty matchers, any critical alert lacking these labels (every GPU alert)
                # would silence every warning that lacks them too.
                "source_matchers": ['severity="critical"', *(f'{label}=~".+"' for label in scope)],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": list(scope),
            }
            for scope in INHIBIT_SCOPES
        ],
        "receivers": [{"name": NOWHERE}, *(_receiver(s, routed[s]) for s in SEVERITIES if s in routed)],
    }
