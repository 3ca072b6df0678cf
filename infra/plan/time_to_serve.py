"""summary.md's "Time to serve" table: per model, each term from the stack's own settings."""

from __future__ import annotations

from components.core.sizing import GIB, STARTUP_PROBE_PERIOD_SECONDS
from components.core.time_to_serve import Path, ServeSettings, time_to_serve
from components.serving.track import HEALTH_CHECK_INTERVAL_SECONDS, HEALTHY_THRESHOLD
from infra.config import StackConfig
from infra.config.derived import SizingError, headroom_shape, sizing_of

TERMS = ("detect", "node", "image", "schedule", "weights", "engine", "ready")


def settings_of(cfg: StackConfig, name: str) -> ServeSettings:
    model = cfg.models[name]
    assert cfg.monitoring is not None
    interval = cfg.monitoring.prometheus.serving_scrape_interval_seconds
    return ServeSettings(
        model=name,
        weights_gib=sizing_of(cfg, name).weight_bytes / GIB,
        weights_medium=model.weights,
        scrape_interval_seconds=interval,
        keda_polling_seconds=interval,
        compile_cache_shared=model.shared_compile_cache and model.runtime == "vllm",
        image_cache="snapshot" if cfg.gpu_pools[model.pool].image_snapshot_id else "pull",
        startup_probe_period_seconds=STARTUP_PROBE_PERIOD_SECONDS,
        lb_health_interval_seconds=HEALTH_CHECK_INTERVAL_SECONDS,
        lb_healthy_threshold=HEALTHY_THRESHOLD,
    )


def paths_of(cfg: StackConfig, name: str) -> list[Path]:
    """The spikes a model can meet: served by its pool's headroom (when the pool keeps some
    big enough for it), and needing a new node."""
    model = cfg.models[name]
    settings = settings_of(cfg, name)
    shape = headroom_shape(cfg, model.pool)
    warm = (
        cfg.gpu_pools[model.pool].headroom > 0
        and shape is not None
        and shape[1].gpus_per_replica >= sizing_of(cfg, name).tensor_parallel_size
    )
    return ([time_to_serve(settings, headroom=True)] if warm else []) + [
        time_to_serve(settings, headroom=False)
    ]


def time_to_serve_table(cfg: StackConfig) -> list[str]:
    if not cfg.models or cfg.monitoring is None:
        return ["No models."]
    lines = [
        "Seconds from a growing queue to a new replica taking traffic, worst case of each term "
        "(assumed figures and their sources: docs/performance.md).",
        "",
        "| model | spike served by | " + " | ".join(TERMS) + " | total |",
        "|---|---|" + "---:|" * (len(TERMS) + 1),
    ]
    for name in cfg.models:
        try:
            paths = paths_of(cfg, name)
        except SizingError:
            continue
        for path in paths:
            seconds = {t.name: t.seconds for t in path.terms}
            cells = " | ".join(str(seconds[t]) for t in TERMS)
            lines.append(f"| {name} | {path.scenario} | {cells} | {path.total_seconds} |")
    return lines
