"""vLLM's command line and metric contract against the pinned release's own tables."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from components.core import metrics, vllm
from components.core.vllm import API_KEY_ENV, ServeSettings, flags, serve_args
from tests.upstream import upstream_dir

EVERYTHING = ServeSettings(
    served_model_name="llama",
    tensor_parallel_size=4,
    quantization="fp8",
    load_format="runai_streamer",
    otlp_traces_endpoint="http://collector:4317",
    prefix_caching=False,
)


def serve_flags() -> set[str]:
    path = upstream_dir() / "vllm" / "serve-flags.txt"
    return {line.strip() for line in path.read_text().splitlines() if line.startswith("-")}


@pytest.mark.parametrize(
    "settings", [EVERYTHING, ServeSettings(served_model_name="q", tensor_parallel_size=1)]
)
def test_every_flag_is_one_the_pinned_vllm_accepts(settings: ServeSettings) -> None:
    used = flags(serve_args("/models/rev", settings))
    assert used and set(used) <= serve_flags(), set(used) - serve_flags()


def test_args_are_exec_form_with_the_model_first_and_no_key_in_them() -> None:
    args = serve_args("s3://bucket/models/llama/v1/", EVERYTHING)
    assert args[0] == "s3://bucket/models/llama/v1/"
    assert all(isinstance(a, str) for a in args)
    assert not any(a in ("sh", "bash", "-c") for a in args)
    assert args[args.index("--tensor-parallel-size") + 1] == "4"
    assert "--no-enable-prefix-caching" in args and "--enable-prefix-caching" not in args


def test_the_key_is_never_on_the_command_line() -> None:
    # `--api-key $(VLLM_API_KEY)` is expanded by the kubelet into the process's argv, which
    # /proc/<pid>/cmdline and `ps` show; vLLM 0.33 reads VLLM_API_KEY itself when the flag is absent.
    for settings in (EVERYTHING, ServeSettings(served_model_name="q", tensor_parallel_size=1)):
        args = serve_args("/models/rev", settings)
        assert not any(a == "--api-key" or a.startswith("--api-key=") for a in args)
        assert not any(API_KEY_ENV in a for a in args)


def test_the_fastapi_docs_are_off() -> None:
    # /docs, /redoc and /openapi.json are outside vLLM's guarded prefixes.
    args = serve_args("/models/rev", EVERYTHING)
    assert "--disable-fastapi-docs" in args and "--enable-fastapi-docs" not in args
    assert "--disable-fastapi-docs" in serve_flags()


def test_usage_stats_are_off() -> None:
    assert vllm.SERVE_ENV == {"VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}


def _http_paths() -> list[tuple[str, str]]:
    rows = (upstream_dir() / "vllm" / "http-paths.tsv").read_text().splitlines()
    return [(r["path"], r["condition"]) for r in csv.DictReader(rows, delimiter="\t")]


def test_published_prefixes_are_guarded_and_served_by_the_pinned_vllm() -> None:
    paths = _http_paths()
    for prefix in vllm.PUBLIC_PATH_PREFIXES:
        assert prefix in vllm.GUARDED_PREFIXES
        assert any(p.startswith(prefix + "/") for p, _ in paths), prefix
    # The unguarded paths that run a model or change the server are not published.
    for path in ("/invocations", "/tokenize", "/detokenize", "/generative_scoring", "/scale_elastic_ep"):
        assert not vllm.guarded(path)
        assert not any(path == p or path.startswith(p + "/") for p in vllm.PUBLIC_PATH_PREFIXES), path
    for path in ("/health", "/metrics", "/load", "/docs", "/openapi.json", "/ping", "/version"):
        assert not any(path.startswith(p) for p in vllm.PUBLIC_PATH_PREFIXES), path
    # Every path the gateway forwards, vLLM asks the key for.
    for path, _ in paths:
        if any(path == p or path.startswith(p + "/") for p in vllm.PUBLIC_PATH_PREFIXES):
            assert vllm.guarded(path), path


def _vllm_metrics() -> dict[str, tuple[str, set[str]]]:
    rows = (upstream_dir() / "vllm" / "metrics.tsv").read_text().splitlines()
    table = csv.DictReader(rows, delimiter="\t")
    return {r["name"]: (r["type"], set(filter(None, r["labels"].split(",")))) for r in table}


def _dcgm_fields(path: Path) -> dict[str, str]:
    fields = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, kind, *_ = (part.strip() for part in line.split(","))
            fields[name] = kind
    return fields


def _triton_metrics() -> dict[str, tuple[str, set[str]]]:
    rows = [
        r
        for r in (upstream_dir() / "triton" / "metrics.tsv").read_text().splitlines()
        if not r.startswith("#")
    ]
    table = csv.DictReader(rows, delimiter="\t")
    return {r["name"]: (r["type"], set(filter(None, r["labels"].split(",")))) for r in table}


PINNED = [m for m in metrics.CONTRACT if m.source in ("vllm", "dcgm", "triton")]


def test_only_metrics_without_a_pinned_table_escape_the_check() -> None:
    # kube-state-metrics, KEDA's operator and Prometheus's `up` have no table under
    # ../shared/upstream; the alert rules' promtool tests exercise them instead.
    assert {m.source for m in metrics.CONTRACT} - {"vllm", "dcgm", "triton"} == {
        "ksm",
        "prometheus",
        "keda",
        "epp",
    }
    assert len(PINNED) >= 27


@pytest.mark.parametrize("metric", PINNED, ids=lambda m: m.name)
def test_metric_contract_matches_the_pinned_exporters(metric: metrics.Metric) -> None:
    if metric.source in ("vllm", "triton"):
        table = _vllm_metrics() if metric.source == "vllm" else _triton_metrics()
        assert metric.name in table, f"{metric.name} is not a {metric.source} metric of the pinned release"
        kind, labels = table[metric.name]
        assert kind == metric.type
        assert set(metric.labels) <= labels
    else:
        fields = _dcgm_fields(upstream_dir() / "dcgm" / "default-counters.csv")
        assert fields.get(metric.name) == metric.type


def test_the_renamed_kv_cache_metric_is_not_used() -> None:
    names = {m.name for m in metrics.CONTRACT}
    assert "vllm:gpu_cache_usage_perc" not in names
    assert "vllm:gpu_cache_usage_perc" not in _vllm_metrics()


def test_autoscaler_query_uses_the_contract_metric_for_one_deployment() -> None:
    query = metrics.waiting_requests("team-a", "llama", "llama-canary")
    assert query == (
        'sum(vllm:num_requests_waiting{namespace="team-a",model_name="llama",pod=~"llama-canary-[a-z0-9]+-[a-z0-9]+"})'
    )
    assert metrics.gpu_utilization("team-a", "llama", 4).endswith("/ 4")


def test_a_stable_query_never_counts_canary_pods() -> None:
    import re

    stable = metrics.pods_of("llama")
    assert re.fullmatch(stable, "llama-7d9c5b6f4-x2x9z")
    assert re.fullmatch(stable, "llama-canary-7d9c5b6f4-x2x9z") is None
