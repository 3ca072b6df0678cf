"""Alert routing: amtool accepts the generated config and routes each severity where config says;
the packaged Alertmanager, fed alerts with amtool, inhibits only what the config means to."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def running_alertmanager(tmp_path: Path) -> Iterator[str]:
    """The packaged Alertmanager with the generated config, on a free local port, no cluster."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail(
            "alertmanager not found; scripts/test.sh installs Debian's prometheus-alertmanager package"
        )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={write(tmp_path, {'critical': PAGER, 'warning': SLACK, 'info': MAIL})}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("alertmanager did not become ready")
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _fire(url: str, **labels: str) -> None:
    result = subprocess.run(
        [amtool(), "alert", "add", f"--alertmanager.url={url}", *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def _silenced(url: str) -> dict[str, bool]:
    """alertname/instance of each alert Alertmanager holds -> whether an inhibit rule mutes it."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        alerts = json.load(response)
    return {
        f"{a['labels']['alertname']}/{a['labels'].get('gpu') or a['labels'].get('model')}": bool(
            a["status"]["inhibitedBy"]
        )
        for a in alerts
    }


def test_a_critical_alert_silences_only_its_own_gpu_or_model(running_alertmanager: str) -> None:
    """Alertmanager treats a label missing on both sides as equal: a critical GPU alert (no
    namespace, no model) must not mute the warnings of other GPUs or of any model."""
    url = running_alertmanager
    node = {"Hostname": "ip-10-40-1-7"}
    _fire(url, alertname="GPUXidHardwareError", severity="critical", gpu="0", **node)
    _fire(url, alertname="GPUTemperatureHigh", severity="warning", gpu="1", **node)
    _fire(url, alertname="GPUXidError", severity="warning", gpu="0", **node)
    _fire(url, alertname="VLLMNoHealthyReplica", severity="critical", namespace="team-a", model="llama")
    _fire(url, alertname="VLLMQueueBacklog", severity="warning", namespace="team-a", model="llama")
    _fire(url, alertname="VLLMQueueBacklog", severity="warning", namespace="team-b", model="qwen")
    _fire(url, alertname="PodPendingTooLong", severity="warning", namespace="team-a", pod="llama-x")
    assert _silenced(url) == {
        "GPUXidHardwareError/0": False,
        "GPUTemperatureHigh/1": False,  # another GPU: still notified
        "GPUXidError/0": True,  # the same GPU: the critical alert says it all
        "VLLMNoHealthyReplica/llama": False,
        "VLLMQueueBacklog/llama": True,  # the same model
        "VLLMQueueBacklog/qwen": False,  # another model
        "PodPendingTooLong/None": False,  # no model label: no critical alert speaks for it
    }
