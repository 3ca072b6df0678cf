"""Alert routing: amtool accepts the generated config and routes each severity where config says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.core.alertmanager import ReceiverSpec, alertmanager_config

PAGER = ReceiverSpec(webhook_url="https://events.pagerduty.example/v2/enqueue")
SLACK = ReceiverSpec(
    slack_webhook_url="https://hooks.slack.example/services/T/B/X", slack_channel="#llm-alerts"
)
MAIL = ReceiverSpec(
    email_to="ml-platform@example.com",
    email_from="alerts@example.com",
    email_smarthost="email-smtp.us-east-1.amazonaws.com:587",
    email_username="AKIAEXAMPLE",
    email_password="not-a-real-password",
)


def amtool() -> str:
    found = shutil.which("amtool")
    if found is None:
        pytest.fail("amtool not found; scripts/test.sh installs Debian's prometheus-alertmanager package")
    return found


def write(tmp_path: Path, receivers: dict[str, ReceiverSpec]) -> Path:
    path = tmp_path / "alertmanager.yaml"
    path.write_text(yaml.safe_dump(alertmanager_config(receivers), sort_keys=False))
    return path


def route(config: Path, **labels: str) -> str:
    args = [f"{k}={v}" for k, v in labels.items()]
    result = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}", *args],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.parametrize(
    "receivers", [{"critical": PAGER}, {"critical": PAGER, "warning": SLACK, "info": MAIL}]
)
def test_amtool_accepts_the_config(tmp_path: Path, receivers: dict[str, ReceiverSpec]) -> None:
    result = subprocess.run(
        [amtool(), "check-config", str(write(tmp_path, receivers))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_severity_reaches_its_receiver(tmp_path: Path) -> None:
    config = write(tmp_path, {"critical": PAGER, "warning": SLACK, "info": MAIL})
    assert route(config, severity="critical", alertname="VLLMNoHealthyReplica") == "critical"
    assert route(config, severity="warning", alertname="VLLMQueueBacklog") == "warning"
    assert route(config, severity="info", alertname="GPUUtilizationSustainedLow") == "info"
    assert route(config, severity="none", alertname="Watchdog") == "nowhere"


def test_warnings_fall_back_to_the_critical_receiver_and_info_goes_nowhere(tmp_path: Path) -> None:
    config = write(tmp_path, {"critical": PAGER})
    assert route(config, severity="warning", alertname="VLLMQueueBacklog") == "warning"
    rendered = alertmanager_config({"critical": PAGER})
    warning = next(r for r in rendered["receivers"] if r["name"] == "warning")
    assert warning["webhook_configs"][0]["url"] == PAGER.webhook_url
    assert route(config, severity="info", alertname="GPUUtilizationSustainedLow") == "nowhere"
