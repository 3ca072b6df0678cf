"""Alert rules under promtool: each rule fires on one series and stays quiet on another."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core.alerts import Thresholds, all_rules, rule_groups

T = Thresholds()
VLLM = 'job="vllm",namespace="team-a",model="llama"'
POD = f'{VLLM},pod="llama-7d9c-x2x9z"'
GPU = 'Hostname="ip-10-40-1-7",gpu="0"'
HPA = 'namespace="team-a",horizontalpodautoscaler="llama"'


@dataclass(frozen=True)
class Case:
    series: list[dict[str, str]]
    eval_time: str
    labels: dict[str, str]
    """Labels of the alert when it fires (the severity is added)."""


def s(series: str, values: str) -> dict[str, str]:
    return {"series": series, "values": values}


def histogram(name: str, slow: bool) -> list[dict[str, str]]:
    """Ten observations a minute, all under 1 s (fast) or all between 100 and 1000 s (slow)."""
    bucket = f"{name}_bucket{{{VLLM},le="
    return [
        s(bucket + '"1"}', "0+0x30" if slow else "0+10x30"),
        s(bucket + '"100"}', "0+0x30" if slow else "0+10x30"),
        s(bucket + '"1000"}', "0+10x30"),
        s(bucket + '"+Inf"}', "0+10x30"),
    ]


MODEL = {"namespace": "team-a", "model": "llama"}
REPLICA = {**MODEL, "pod": "llama-7d9c-x2x9z"}

CASES: dict[str, tuple[Case, Case]] = {
    "VLLMNoHealthyReplica": (
        Case([s(f"up{{{POD}}}", "0x20")], "10m", MODEL),
        Case([s(f"up{{{POD}}}", "0x20"), s(f'up{{{VLLM},pod="llama-7d9c-b8c2d"}}', "1x20")], "10m", MODEL),
    ),
    "VLLMHighErrorRate": (
        Case(
            [
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="5xx"}}', "0+10x20"),
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="2xx"}}', "0+90x20"),
            ],
            "10m",
            MODEL,
        ),
        Case(
            [
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="5xx"}}', "0+1x20"),
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="2xx"}}', "0+99x20"),
                # 5xx on the health endpoint is not an API error
                s(f'http_requests_total{{{POD},handler="/health",status="5xx"}}', "0+50x20"),
            ],
            "10m",
            MODEL,
        ),
    ),
    "VLLMHighP99Latency": (
        Case(histogram("vllm:e2e_request_latency_seconds", slow=True), "20m", MODEL),
        Case(histogram("vllm:e2e_request_latency_seconds", slow=False), "20m", MODEL),
    ),
    "VLLMHighP99TimeToFirstToken": (
        Case(histogram("vllm:time_to_first_token_seconds", slow=True), "20m", MODEL),
        Case(histogram("vllm:time_to_first_token_seconds", slow=False), "20m", MODEL),
    ),
    "VLLMQueueBacklog": (
        Case([s(f"vllm:num_requests_waiting{{{POD}}}", f"{T.queue_depth + 10}x20")], "10m", REPLICA),
        Case([s(f"vllm:num_requests_waiting{{{POD}}}", f"{T.queue_depth - 10}x20")], "10m", REPLICA),
    ),
    "VLLMKVCacheSaturated": (
        Case([s(f"vllm:kv_cache_usage_perc{{{POD}}}", "0.97x30")], "20m", REPLICA),
        Case([s(f"vllm:kv_cache_usage_perc{{{POD}}}", "0.6x30")], "20m", REPLICA),
    ),
    "VLLMPreemptions": (
        Case([s(f"vllm:num_preemptions_total{{{POD}}}", "0+300x20")], "10m", REPLICA),  # 5 per second
        Case([s(f"vllm:num_preemptions_total{{{POD}}}", "0+6x20")], "10m", REPLICA),  # 0.1 per second
    ),
    "GPUUtilizationSustainedHigh": (
        Case([s(f"DCGM_FI_DEV_GPU_UTIL{{{GPU}}}", "99x60")], "45m", {"Hostname": "ip-10-40-1-7"}),
        Case([s(f"DCGM_FI_DEV_GPU_UTIL{{{GPU}}}", "70x60")], "45m", {"Hostname": "ip-10-40-1-7"}),
    ),
    "GPUUtilizationSustainedLow": (
        Case([s(f"DCGM_FI_DEV_GPU_UTIL{{{GPU}}}", "5x60")], "45m", {"Hostname": "ip-10-40-1-7"}),
        Case([s(f"DCGM_FI_DEV_GPU_UTIL{{{GPU}}}", "70x60")], "45m", {"Hostname": "ip-10-40-1-7"}),
    ),
    "GPUXidError": (
        Case(
            [s(f"DCGM_FI_DEV_XID_ERRORS{{{GPU}}}", "0 0 79 79 79")],
            "3m",
            {"Hostname": "ip-10-40-1-7", "gpu": "0"},
        ),
        Case([s(f"DCGM_FI_DEV_XID_ERRORS{{{GPU}}}", "0x5")], "3m", {"Hostname": "ip-10-40-1-7", "gpu": "0"}),
    ),
    "GPUTemperatureHigh": (
        Case([s(f"DCGM_FI_DEV_GPU_TEMP{{{GPU}}}", "91x20")], "10m", {"Hostname": "ip-10-40-1-7", "gpu": "0"}),
        Case([s(f"DCGM_FI_DEV_GPU_TEMP{{{GPU}}}", "70x20")], "10m", {"Hostname": "ip-10-40-1-7", "gpu": "0"}),
    ),
    "PodRestartLoop": (
        Case(
            [
                s(
                    'kube_pod_container_status_restarts_total{namespace="team-a",pod="llama-x",container="vllm"}',
                    "0+1x60",
                )
            ],
            "60m",
            {"namespace": "team-a", "pod": "llama-x", "container": "vllm"},
        ),
        Case(
            [
                s(
                    'kube_pod_container_status_restarts_total{namespace="team-a",pod="llama-x",container="vllm"}',
                    "0+0x60",
                )
            ],
            "60m",
            {"namespace": "team-a", "pod": "llama-x", "container": "vllm"},
        ),
    ),
    "PodPendingTooLong": (
        Case(
            [s('kube_pod_status_phase{namespace="team-a",pod="llama-x",phase="Pending"}', "1x30")],
            "20m",
            {"namespace": "team-a", "pod": "llama-x"},
        ),
        Case(
            [s('kube_pod_status_phase{namespace="team-a",pod="llama-x",phase="Pending"}', "1x5 0x25")],
            "20m",
            {"namespace": "team-a", "pod": "llama-x"},
        ),
    ),
    "AutoscalerAtMaximum": (
        Case(
            [
                s(f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}", "4x30"),
                s(f"kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}}", "4x30"),
                s(f"kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}}", "1x30"),
            ],
            "20m",
            {"namespace": "team-a", "horizontalpodautoscaler": "llama"},
        ),
        Case(
            [  # a canary that may only ever run one replica is not "at its maximum"
                s(f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}", "1x30"),
                s(f"kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}}", "1x30"),
                s(f"kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}}", "1x30"),
            ],
            "20m",
            {"namespace": "team-a", "horizontalpodautoscaler": "llama"},
        ),
    ),
    "AutoscalerMetricsUnavailable": (
        Case(
            [
                s(
                    f'kube_horizontalpodautoscaler_status_condition{{{HPA},condition="ScalingActive",status="false"}}',
                    "1x20",
                )
            ],
            "15m",
            {
                "namespace": "team-a",
                "horizontalpodautoscaler": "llama",
                "condition": "ScalingActive",
                "status": "false",
            },
        ),
        Case(
            [
                s(
                    f'kube_horizontalpodautoscaler_status_condition{{{HPA},condition="ScalingActive",status="false"}}',
                    "0x20",
                )
            ],
            "15m",
            {
                "namespace": "team-a",
                "horizontalpodautoscaler": "llama",
                "condition": "ScalingActive",
                "status": "false",
            },
        ),
    ),
}


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found; scripts/test.sh installs Debian's prometheus package")
    return found


def test_every_rule_has_a_firing_and_a_quiet_case() -> None:
    assert sorted(CASES) == sorted(r.alert for r in all_rules(T))


def _test_file(rule_file: Path) -> dict[str, Any]:
    severities = {r.alert: r.severity for r in all_rules(T)}
    tests = []
    for alert, (fires, quiet) in CASES.items():
        for case, expected in (
            (fires, [{"exp_labels": {**fires.labels, "severity": severities[alert]}}]),
            (quiet, []),
        ):
            tests.append(
                {
                    "interval": "1m",
                    "input_series": case.series,
                    "alert_rule_test": [
                        {"eval_time": case.eval_time, "alertname": alert, "exp_alerts": expected}
                    ],
                }
            )
    return {"rule_files": [str(rule_file)], "evaluation_interval": "1m", "tests": tests}


def _write_rules(tmp_path: Path, thresholds: Thresholds, annotations: bool = True) -> Path:
    """The rules as deployed; without annotations for the behaviour tests, where promtool would
    otherwise compare every rendered summary (`promtool check` validates those templates)."""
    groups = rule_groups(thresholds)
    if not annotations:
        for group in groups:
            for rule in group["rules"]:
                rule.pop("annotations")
    rule_file = tmp_path / ("rules.yaml" if annotations else "rules-bare.yaml")
    rule_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return rule_file


def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(_write_rules(tmp_path, T))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(all_rules(T))} rules found" in result.stdout


def test_each_rule_fires_and_stays_quiet_as_its_case_says(tmp_path: Path) -> None:
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump(_test_file(_write_rules(tmp_path, T, annotations=False)), sort_keys=False)
    )
    result = subprocess.run([promtool(), "test", "rules", str(tests)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_thresholds_come_from_config(tmp_path: Path) -> None:
    """With the queue threshold raised above the firing case, promtool sees the rule stay quiet."""
    raised = Thresholds(queue_depth=T.queue_depth + 100)
    fires, _ = CASES["VLLMQueueBacklog"]
    test = {
        "rule_files": [str(_write_rules(tmp_path, raised, annotations=False))],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": fires.series,
                "alert_rule_test": [
                    {"eval_time": fires.eval_time, "alertname": "VLLMQueueBacklog", "exp_alerts": []}
                ],
            }
        ],
    }
    path = tmp_path / "raised.yaml"
    path.write_text(yaml.safe_dump(test))
    result = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
