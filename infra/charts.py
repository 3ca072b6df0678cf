"""Which source each Helm release installs its pinned chart from, as the components take it."""

from __future__ import annotations

from components import ChartSourceArgs
from components.versions import HelmChart
from infra.config import StackConfig


def chart_source(cfg: StackConfig, chart: HelmChart) -> ChartSourceArgs:
    """The chart's own entry of chartSources, else defaultChartRepository, else nothing (the
    chart's public repository)."""
    own = cfg.chart_sources.get(chart.name)
    if own is None:
        return {} if cfg.default_chart_repository is None else {"repository": cfg.default_chart_repository}
    if own.path is not None:
        source: ChartSourceArgs = {"path": own.path}  # absolute: resolved when the config was loaded
        if own.allow_version_mismatch:
            source["allow_version_mismatch"] = True
        return source
    assert own.repository is not None  # config validation requires exactly one of the two
    return {"repository": own.repository}
