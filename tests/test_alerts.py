"""Alert rules under promtool, in the production situations that matter to each rule: a sticky
XID gauge, a node half allocated, a model scaled to zero, every replica Pending, a slow cold
start, not only a firing and a quiet case of each expression."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core.alerts import ServedModel, Thresholds, all_rules, rule_groups
from components.core.sizing import startup_budget_seconds

T = Thresholds()
# A 70B model loaded from EFS (141 GB of weights, REFERENCE.md): the slowest cold start we run.
LLAMA = ServedModel("team-a", "llama", "llama", startup_budget_seconds(141_000_000_000, "efs"), False)
# dev's model: zero replicas outside working hours.
QWEN = ServedModel("playground", "qwen-7b", "qwen-7b", startup_budget_seconds(15_200_000_000, "efs"), True)
MODELS = [LLAMA, QWEN]
OUTAGE = LLAMA.outage_minutes

VLLM = 'job="vllm",namespace="team-a",model="llama"'
POD = f'{VLLM},pod="llama-7d9c-x2x9z"'
GPU = 'Hostname="ip-10-40-1-7",gpu="0"'
HPA = 'namespace="team-a",horizontalpodautoscaler="keda-hpa-llama"'
MODEL = {"namespace": "team-a", "model": "llama"}
REPLICA = {**MODEL, "pod": "llama-7d9c-x2x9z"}
ON_GPU = {"Hostname": "ip-10-40-1-7", "gpu": "0"}


@dataclass(frozen=True)
class Situation:
    name: str
    series: list[dict[str, str]]
    eval_time: str
    fires: dict[str, str] | None
    """Labels of the alert (severity added), or None: it must stay quiet."""


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


def requests(per_minute_before: int, per_minute_after: int) -> list[dict[str, str]]:
    """API requests at one rate for an hour, then another for 20 minutes."""
    after = 60 * per_minute_before
    return [
        s(
            f'http_requests_total{{{POD},handler="/v1/chat/completions",status="2xx"}}',
            f"0+{per_minute_before}x60 {after + per_minute_after}+{per_minute_after}x20",
        )
    ]


def deployment(ns: str, name: str, spec: str, available: str) -> list[dict[str, str]]:
    selector = f'namespace="{ns}",deployment="{name}"'
    return [
        s(f"kube_deployment_spec_replicas{{{selector}}}", spec),
        s(f"kube_deployment_status_replicas_available{{{selector}}}", available),
    ]


def vllm_container(restarts: str, ready: str) -> list[dict[str, str]]:
    c = 'namespace="team-a",pod="llama-7d9c-x2x9z",container="vllm"'
    return [
        s(f"kube_pod_container_status_restarts_total{{{c}}}", restarts),
        s(f"kube_pod_container_status_ready{{{c}}}", ready),
    ]


def gpus(allocated: str, unallocated: str, count: int = 4) -> list[dict[str, str]]:
    """An 8-GPU node: `count` GPUs serve llama's pod, the others are free (no pod label)."""
    node = 'Hostname="ip-10-40-1-7"'
    pod = 'namespace="team-a",pod="llama-7d9c-x2x9z",container="vllm"'
    return [s(f'DCGM_FI_DEV_GPU_UTIL{{{node},gpu="{i}",{pod}}}', allocated) for i in range(count)] + [
        s(f'DCGM_FI_DEV_GPU_UTIL{{{node},gpu="{i}"}}', unallocated) for i in range(count, 8)
    ]


def xid(values: str) -> list[dict[str, str]]:
    return [s(f"DCGM_FI_DEV_XID_ERRORS{{{GPU}}}", values)]


def hpa(condition: str, replicas: str) -> list[dict[str, str]]:
    return [
        s(
            f'kube_horizontalpodautoscaler_status_condition{{{HPA},condition="ScalingActive",status="false"}}',
            condition,
        ),
        s(f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}", replicas),
    ]


LLAMA_DEPLOYMENT = {"namespace": "team-a", "deployment": "llama", "model": "llama"}
LLAMA_GPUS = {"namespace": "team-a", "deployment": "llama"}
HPA_LABELS = {
    "namespace": "team-a",
    "horizontalpodautoscaler": "keda-hpa-llama",
    "condition": "ScalingActive",
    "status": "false",
}
SCALED_OBJECT = {"namespace": "team-a", "scaledObject": "llama"}
LOADING = {"namespace": "team-a", "pod": "llama-7d9c-x2x9z", "container": "vllm", "model": "llama"}

SITUATIONS: dict[str, list[Situation]] = {
    "VLLMNoHealthyReplica": [
        Situation(
            "every replica Pending (no GPU) past the 70B startup budget",
            deployment("team-a", "llama", f"1x{OUTAGE + 20}", f"0x{OUTAGE + 20}"),
            f"{OUTAGE + 5}m",
            LLAMA_DEPLOYMENT,
        ),
        Situation(
            "pods Failed: replicas wanted, none available, no vLLM target left to scrape",
            deployment("team-a", "llama", f"2x{OUTAGE + 20}", f"2x5 0x{OUTAGE + 15}"),
            f"{OUTAGE + 15}m",
            LLAMA_DEPLOYMENT,
        ),
        Situation(
            "Deployment at zero by mistake (a model that must serve)",
            deployment("team-a", "llama", f"0x{OUTAGE + 20}", f"0x{OUTAGE + 20}"),
            f"{OUTAGE + 5}m",
            LLAMA_DEPLOYMENT,
        ),
        Situation(
            "slow 70B cold start, still loading near the end of its startup budget",
            deployment("team-a", "llama", f"1x{OUTAGE + 20}", f"0x{OUTAGE - 2} 1x22"),
            f"{OUTAGE - 3}m",
            None,
        ),
        Situation(
            "one replica of two serving",
            deployment("team-a", "llama", f"2x{OUTAGE + 20}", f"1x{OUTAGE + 20}"),
            f"{OUTAGE + 5}m",
            None,
        ),
        Situation(
            "dev model scaled to zero at night on purpose",
            deployment("playground", "qwen-7b", "0x720", "0x720"),
            "11h",
            None,
        ),
        Situation(
            "dev model scaled up in the morning, its replica Pending past the budget",
            deployment("playground", "qwen-7b", "0x60 1x60", "0x120"),
            f"{60 + QWEN.outage_minutes + 5}m",
            {"namespace": "playground", "deployment": "qwen-7b", "model": "qwen-7b"},
        ),
    ],
    "VLLMModelLoadFailed": [
        Situation(
            "vLLM exits at load twice, never ready",
            vllm_container("0x10 1x10 2x10", "0x30"),
            "25m",
            {**LOADING},
        ),
        Situation(
            "slow cold start: no restart, ready at the end",
            vllm_container(f"0x{OUTAGE + 10}", f"0x{OUTAGE - 2} 1x12"),
            f"{OUTAGE + 5}m",
            None,
        ),
        Situation(
            "a serving replica crashed and is reloading (restarts from long ago)",
            vllm_container("2x80", "1x60 0x20"),
            "75m",
            None,
        ),
        Situation(
            "a serving replica crashed and every reload fails since",
            vllm_container("2x10 3x40 4x110", "1x10 0x150"),
            f"{10 + 2 * OUTAGE + 10}m",
            {**LOADING},
        ),
    ],
    "VLLMHighErrorRate": [
        Situation(
            "10% of API requests fail",
            [
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="5xx"}}', "0+10x20"),
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="2xx"}}', "0+90x20"),
            ],
            "10m",
            MODEL,
        ),
        Situation(
            "1% of API requests fail; /health 5xx do not count",
            [
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="5xx"}}', "0+1x20"),
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="2xx"}}', "0+99x20"),
                s(f'http_requests_total{{{POD},handler="/health",status="5xx"}}', "0+50x20"),
            ],
            "10m",
            None,
        ),
        Situation(
            "no traffic at night (counters flat)",
            [
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="5xx"}}', "7x20"),
                s(f'http_requests_total{{{POD},handler="/v1/chat/completions",status="2xx"}}', "700x20"),
            ],
            "10m",
            None,
        ),
    ],
    "VLLMHighP99Latency": [
        Situation("slow requests", histogram("vllm:e2e_request_latency_seconds", slow=True), "20m", MODEL),
        Situation("fast requests", histogram("vllm:e2e_request_latency_seconds", slow=False), "20m", None),
        Situation(
            "no traffic (histogram unchanged)",
            [
                s(f'vllm:e2e_request_latency_seconds_bucket{{{VLLM},le="{le}"}}', "9x30")
                for le in ("1", "+Inf")
            ],
            "20m",
            None,
        ),
    ],
    "VLLMHighP99TimeToFirstToken": [
        Situation(
            "slow first tokens", histogram("vllm:time_to_first_token_seconds", slow=True), "20m", MODEL
        ),
        Situation(
            "fast first tokens", histogram("vllm:time_to_first_token_seconds", slow=False), "20m", None
        ),
    ],
    "VLLMQueueBacklog": [
        Situation(
            "queue above the threshold for 10 minutes",
            [s(f"vllm:num_requests_waiting{{{POD}}}", f"{T.queue_depth + 10}x20")],
            "10m",
            REPLICA,
        ),
        Situation(
            "queue below the threshold",
            [s(f"vllm:num_requests_waiting{{{POD}}}", f"{T.queue_depth - 10}x20")],
            "10m",
            None,
        ),
        Situation(
            "a burst the autoscaler absorbs in 3 minutes",
            [s(f"vllm:num_requests_waiting{{{POD}}}", f"0x5 {T.queue_depth + 10}x3 0x12")],
            "10m",
            None,
        ),
    ],
    "VLLMKVCacheSaturated": [
        Situation(
            "KV cache full for 20 minutes",
            [s(f"vllm:kv_cache_usage_perc{{{POD}}}", "0.97x30")],
            "20m",
            REPLICA,
        ),
        Situation("KV cache at 60%", [s(f"vllm:kv_cache_usage_perc{{{POD}}}", "0.6x30")], "20m", None),
        Situation(
            "a 5-minute spike",
            [s(f"vllm:kv_cache_usage_perc{{{POD}}}", "0.6x10 0.97x5 0.6x15")],
            "20m",
            None,
        ),
    ],
    "VLLMPreemptions": [
        Situation(
            "5 preemptions a second", [s(f"vllm:num_preemptions_total{{{POD}}}", "0+300x20")], "10m", REPLICA
        ),
        Situation(
            "0.1 preemptions a second", [s(f"vllm:num_preemptions_total{{{POD}}}", "0+6x20")], "10m", None
        ),
    ],
    "VLLMTrafficJump": [
        Situation("requests per second double", requests(120, 240), "75m", MODEL),
        Situation("requests grow by a quarter", requests(120, 150), "75m", None),
        Situation("steady traffic", requests(120, 120), "75m", None),
        Situation("a quiet model triples below the 1/s floor", requests(12, 36), "75m", None),
        Situation("a model scaled to zero gets its first requests", requests(0, 240), "75m", None),
    ],
    "GPUUtilizationSustainedHigh": [
        Situation("node half allocated: the serving GPUs at 99%", gpus("99x60", "0x60"), "45m", LLAMA_GPUS),
        Situation("serving GPUs at 70%", gpus("70x60", "0x60"), "45m", None),
    ],
    "GPUUtilizationSustainedLow": [
        Situation("node half allocated: the serving GPUs at 5%", gpus("5x60", "0x60"), "45m", LLAMA_GPUS),
        Situation(
            "node half allocated: the serving GPUs at 50%, the free ones idle",
            gpus("50x60", "0x60"),
            "45m",
            None,
        ),
        Situation("no GPU allocated (model scaled to zero)", gpus("0x60", "0x60", count=0), "45m", None),
    ],
    "GPUXidHardwareError": [
        Situation("new XID 79 (fallen off the bus)", xid("0 0 79x10"), "5m", ON_GPU),
        Situation("sticky gauge: XID 79 from two hours ago still held", xid("0x10 79x150"), "2h", None),
        Situation("sticky gauge: XID 79 already held when scraping starts", xid("79x150"), "30m", None),
        Situation("exporter restarted (gauge back to 0)", xid("79x10 0x20"), "20m", None),
        Situation("a new 79 after the exporter reset the old one", xid("79x10 0x10 79x10"), "25m", ON_GPU),
        Situation("application XID 13 (vLLM crashed)", xid("0 0 13x10"), "5m", None),
    ],
    "GPUXidError": [
        Situation("new application XID 13", xid("0 0 13x10"), "5m", ON_GPU),
        Situation("new hardware XID 48 pages instead", xid("0 0 48x10"), "5m", None),
        Situation("sticky gauge: XID 13 from two hours ago still held", xid("0x10 13x150"), "2h", None),
    ],
    "GPUTemperatureHigh": [
        Situation("91 C for 10 minutes", [s(f"DCGM_FI_DEV_GPU_TEMP{{{GPU}}}", "91x20")], "10m", ON_GPU),
        Situation("70 C", [s(f"DCGM_FI_DEV_GPU_TEMP{{{GPU}}}", "70x20")], "10m", None),
    ],
    "PodRestartLoop": [
        Situation(
            "a restart a minute",
            [
                s(
                    'kube_pod_container_status_restarts_total{namespace="team-a",pod="llama-x",container="vllm"}',
                    "0+1x60",
                )
            ],
            "60m",
            {"namespace": "team-a", "pod": "llama-x", "container": "vllm"},
        ),
        Situation(
            "no restarts",
            [
                s(
                    'kube_pod_container_status_restarts_total{namespace="team-a",pod="llama-x",container="vllm"}',
                    "0+0x60",
                )
            ],
            "60m",
            None,
        ),
    ],
    "PodPendingTooLong": [
        Situation(
            "a replica Pending for want of a GPU for 20 minutes",
            [s('kube_pod_status_phase{namespace="team-a",pod="llama-x",phase="Pending"}', "1x30")],
            "20m",
            {"namespace": "team-a", "pod": "llama-x"},
        ),
        Situation(
            "scheduled after 5 minutes (a node launch)",
            [s('kube_pod_status_phase{namespace="team-a",pod="llama-x",phase="Pending"}', "1x5 0x25")],
            "20m",
            None,
        ),
    ],
    "AutoscalerAtMaximum": [
        Situation(
            "4 of 4 replicas",
            [
                s(f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}", "4x30"),
                s(f"kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}}", "4x30"),
                s(f"kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}}", "1x30"),
            ],
            "20m",
            {"namespace": "team-a", "horizontalpodautoscaler": "keda-hpa-llama"},
        ),
        Situation(
            "a canary that may only run one replica",
            [
                s(f"kube_horizontalpodautoscaler_status_current_replicas{{{HPA}}}", "1x30"),
                s(f"kube_horizontalpodautoscaler_spec_max_replicas{{{HPA}}}", "1x30"),
                s(f"kube_horizontalpodautoscaler_spec_min_replicas{{{HPA}}}", "1x30"),
            ],
            "20m",
            None,
        ),
    ],
    "AutoscalerMetricsUnavailable": [
        Situation("serving, metrics unavailable for 15 minutes", hpa("1x20", "2x20"), "15m", HPA_LABELS),
        Situation("metrics available", hpa("0x20", "2x20"), "15m", None),
        Situation("dev model scaled to zero at night (HPA disabled)", hpa("1x720", "0x720"), "11h", None),
    ],
    "KedaScalerErrors": [
        Situation(
            "the queue query fails every poll",
            [
                s(
                    'keda_scaler_detail_errors_total{namespace="team-a",scaledObject="llama",scaler="prometheusScaler",type="scaledobject"}',
                    "0+4x30",
                )
            ],
            "20m",
            SCALED_OBJECT,
        ),
        Situation(
            "errors while Prometheus restarted for 3 minutes",
            [
                s(
                    'keda_scaler_detail_errors_total{namespace="team-a",scaledObject="llama",scaler="prometheusScaler",type="scaledobject"}',
                    "0x5 0+4x3 12x22",
                )
            ],
            "20m",
            None,
        ),
    ],
    "KedaScaledObjectErrors": [
        Situation(
            "reconcile fails every minute",
            [s('keda_scaled_object_errors_total{namespace="team-a",scaledObject="llama"}', "0+1x30")],
            "20m",
            SCALED_OBJECT,
        ),
        Situation(
            "no errors",
            [s('keda_scaled_object_errors_total{namespace="team-a",scaledObject="llama"}', "0x30")],
            "20m",
            None,
        ),
    ],
}

SEVERITY = {r.alert: r.severity for r in all_rules(T, MODELS)}
CASES = [(alert, situation) for alert, situations in SITUATIONS.items() for situation in situations]


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found; scripts/test.sh installs Debian's prometheus package")
    return found


def test_every_rule_is_tested_firing_and_quiet() -> None:
    assert sorted(SITUATIONS) == sorted(SEVERITY)
    for alert, situations in SITUATIONS.items():
        assert any(x.fires is not None for x in situations), f"{alert} never fires in a test"
        assert any(x.fires is None for x in situations), f"{alert} never stays quiet in a test"


def _write_rules(tmp_path: Path, thresholds: Thresholds, annotations: bool = True) -> Path:
    """The rules as deployed; without annotations for the behaviour tests, where promtool would
    otherwise compare every rendered summary (`promtool check` validates those templates)."""
    groups = rule_groups(thresholds, MODELS)
    if not annotations:
        for group in groups:
            for rule in group["rules"]:
                rule.pop("annotations")
    rule_file = tmp_path / ("rules.yaml" if annotations else "rules-bare.yaml")
    rule_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return rule_file


def _promtool_test(
    tmp_path: Path, rules: Path, alert: str, situation: Situation
) -> subprocess.CompletedProcess[str]:
    expected = (
        [] if situation.fires is None else [{"exp_labels": {**situation.fires, "severity": SEVERITY[alert]}}]
    )
    test: dict[str, Any] = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": situation.series,
                "alert_rule_test": [
                    {"eval_time": situation.eval_time, "alertname": alert, "exp_alerts": expected}
                ],
            }
        ],
    }
    path = tmp_path / "test.yaml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    return subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True)


def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    result = subprocess.run(
        [promtool(), "check", "rules", str(_write_rules(tmp_path, T))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(all_rules(T, MODELS))} rules found" in result.stdout


@pytest.mark.parametrize(("alert", "situation"), CASES, ids=[f"{a}: {x.name}" for a, x in CASES])
def test_rule_in_situation(tmp_path: Path, alert: str, situation: Situation) -> None:
    result = _promtool_test(tmp_path, _write_rules(tmp_path, T, annotations=False), alert, situation)
    verdict = "fire" if situation.fires else "stay quiet"
    assert result.returncode == 0, (
        f"{alert} should {verdict} when {situation.name}:\n{result.stdout}{result.stderr}"
    )


def test_thresholds_come_from_config(tmp_path: Path) -> None:
    """With the queue threshold raised above the firing case, promtool sees the rule stay quiet."""
    fires = SITUATIONS["VLLMQueueBacklog"][0]
    raised = _write_rules(tmp_path, Thresholds(queue_depth=T.queue_depth + 100), annotations=False)
    result = _promtool_test(
        tmp_path, raised, "VLLMQueueBacklog", Situation("raised", fires.series, fires.eval_time, None)
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_healthy_replica_waits_for_each_models_own_startup_budget() -> None:
    """The 70B model's outage clock is longer than the 7B's, and both cover their probes' budget."""
    rules = {(r.alert, dict(r.labels)["model"]): r for r in all_rules(T, MODELS) if r.labels}
    for m in MODELS:
        minutes = int(rules[("VLLMNoHealthyReplica", m.model)].for_.removesuffix("m"))
        assert minutes * 60 >= m.startup_seconds + 5 * 60
    assert LLAMA.outage_minutes > QWEN.outage_minutes


def test_docs_list_every_rule_with_its_severity_and_tested_situations() -> None:
    """docs/alerts.md is what the on-call reads: every rule, its severity, and the situations its
    tests cover, in the words the tests use."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "alerts.md").read_text()
    sections = dict(re.findall(r"^### (\w+): \w+\n(.*?)(?=^##|\Z)", doc, re.M | re.S))
    assert sorted(sections) == sorted(SEVERITY)
    for alert, body in sections.items():
        assert f"### {alert}: {SEVERITY[alert]}\n" in doc
        listed = re.findall(r"^- (fires|quiet): (.+)$", body, re.M)
        tested = [("fires" if x.fires else "quiet", x.name) for x in SITUATIONS[alert]]
        assert listed == tested, alert
