"""Chart sources: every Helm release can install its pinned chart from a mirror or a local chart,
and nothing lets a mirror or a vendored chart change which chart or version is installed."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import ChartSourceArgs, Keda, versions
from components._k8s import chart_location
from components.core.charts import read_chart
from infra.config import ConfigError, load_stack_config
from infra.config.stack import StackConfig
from tests.conftest import REPO, RunPulumi, plan_cli
from tests.graph import on_k8s, props
from tests.test_config import SECRET_SECTIONS, dev

STANDIN = REPO / "e2e" / "charts" / "standin"
MIRROR = "https://artifactory.example.com/artifactory/api/helm/helm-remote"
OCI_MIRROR = "oci://registry.example.com/helm-mirror"


def chart_dir(parent: Path, name: str, version: str) -> Path:
    """A minimal chart directory, as `helm pull --untar` leaves one."""
    path = parent / name
    (path / "templates").mkdir(parents=True)
    (path / "Chart.yaml").write_text(yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version}))
    return path


def chart_tgz(parent: Path, name: str, version: str) -> Path:
    """A packaged chart, laid out as `helm package` writes it (<name>/Chart.yaml inside)."""
    path = parent / f"{name}-{version}.tgz"
    with tarfile.open(path, "w:gz") as archive:
        for member, text in (
            (f"{name}/Chart.yaml", yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version})),
            (f"{name}/charts/sub/Chart.yaml", yaml.safe_dump({"name": "sub", "version": "9.9.9"})),
        ):
            data = text.encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def load(sections: dict[str, Any], project_dir: Path = REPO) -> StackConfig:
    return load_stack_config(sections, SECRET_SECTIONS, project_dir=project_dir)


def problems(sections: dict[str, Any], project_dir: Path = REPO) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(sections, project_dir)
    return [str(p) for p in caught.value.problems]


# --- config ---------------------------------------------------------------------------------


def test_no_chart_sources_is_the_default() -> None:
    cfg = load(dev())
    assert cfg.chart_sources == {} and cfg.default_chart_repository is None


def test_mirrors_are_accepted_for_any_pinned_chart() -> None:
    sources = {chart.name: {"repository": OCI_MIRROR} for chart in versions.HELM_CHARTS}
    cfg = load(
        dev({"chartSources": {**sources, "keda": {"repository": MIRROR}}, "defaultChartRepository": MIRROR})
    )
    assert cfg.default_chart_repository == MIRROR
    assert cfg.chart_sources["keda"].repository == MIRROR
    assert cfg.chart_sources["loki"].repository == OCI_MIRROR


def test_a_relative_chart_path_starts_at_the_project_directory(tmp_path: Path) -> None:
    chart_dir(tmp_path / "vendor", "keda", versions.KEDA.version)
    chart_tgz(tmp_path / "vendor", "loki", versions.LOKI.version)
    cfg = load(
        dev(
            {"chartSources": {"keda": {"path": "vendor/keda"}, "loki": {"path": "./vendor/loki-18.11.0.tgz"}}}
        ),
        project_dir=tmp_path,
    )
    assert cfg.chart_sources["keda"].path == str(tmp_path / "vendor" / "keda")
    assert cfg.chart_sources["loki"].path == str(tmp_path / "vendor" / "loki-18.11.0.tgz")


def test_the_standin_chart_is_accepted_only_with_allow_version_mismatch() -> None:
    standin = {"path": "e2e/charts/standin", "allowVersionMismatch": True}
    cfg = load(dev({"chartSources": {chart.name: standin for chart in versions.HELM_CHARTS}}))
    assert {s.path for s in cfg.chart_sources.values()} == {str(STANDIN)}
    assert problems(dev({"chartSources": {"keda": {"path": "e2e/charts/standin"}}})) == [
        f"error: chartSources.keda.path: the chart at {STANDIN} is standin 0.1.0, but the platform pins "
        "keda 2.20.2; vendor the pinned chart (helm pull keda --version 2.20.2): a local chart must not "
        "change what is installed"
    ]


NAMES = ", ".join(chart.name for chart in versions.HELM_CHARTS)
# (chartSources, the exact error line); {tmp} is the project directory of the test, where
# the `charts` fixture made old/keda (keda 2.19.0), loki-18.10.0.tgz, empty/ and notes.txt.
BAD_CHART_SOURCES = [
    pytest.param(
        {"kedaa": {"repository": MIRROR}},
        f"error: chartSources.kedaa: 'kedaa' is not a chart the platform installs; charts: {NAMES}",
        id="unknown-chart",
    ),
    pytest.param(
        {"keda": {"repository": "http://charts.example.com/helm"}},
        "error: chartSources.keda.repository: 'http://charts.example.com/helm' is not an https:// or oci:// "
        "URL of a chart repository",
        id="plain-http-mirror",
    ),
    pytest.param(
        {"keda": {"path": "vendor/keda"}},
        "error: chartSources.keda.path: {tmp}/vendor/keda does not exist (a relative path starts at the "
        "project directory, where Pulumi.yaml is)",
        id="missing-path",
    ),
    pytest.param(
        {"keda": {"path": "empty"}},
        "error: chartSources.keda.path: {tmp}/empty has no Chart.yaml: not a chart directory",
        id="directory-without-chart-yaml",
    ),
    pytest.param(
        {"keda": {"path": "{tmp}/notes.txt"}},
        "error: chartSources.keda.path: {tmp}/notes.txt is neither a chart directory nor a packaged chart "
        "(.tgz from `helm package`)",
        id="file-that-is-no-chart",
    ),
    pytest.param(
        {"keda": {"path": "old/keda"}},
        "error: chartSources.keda.path: the chart at {tmp}/old/keda is keda 2.19.0, but the platform pins "
        "keda 2.20.2; vendor the pinned chart (helm pull keda --version 2.20.2): a local chart must not "
        "change what is installed",
        id="local-chart-of-another-version",
    ),
    pytest.param(
        {"loki": {"path": "loki-18.10.0.tgz"}},
        "error: chartSources.loki.path: the chart at {tmp}/loki-18.10.0.tgz is loki 18.10.0, but the platform "
        "pins loki 18.11.0; vendor the pinned chart (helm pull loki --version 18.11.0): a local chart must "
        "not change what is installed",
        id="packaged-chart-of-another-version",
    ),
    pytest.param(
        {"alloy": {"path": "old/keda"}},
        "error: chartSources.alloy.path: the chart at {tmp}/old/keda is keda 2.19.0, but the platform pins "
        "alloy 1.11.1; vendor the pinned chart (helm pull alloy --version 1.11.1): a local chart must not "
        "change what is installed",
        id="local-chart-of-another-chart",
    ),
    pytest.param(
        {"keda": {"repository": MIRROR, "path": "old/keda"}},
        "error: chartSources.keda: set exactly one of repository (a mirror) or path (a local chart)",
        id="mirror-and-path",
    ),
    pytest.param(
        {"keda": {}},
        "error: chartSources.keda: set exactly one of repository (a mirror) or path (a local chart)",
        id="no-source",
    ),
    pytest.param(
        {"keda": {"repository": MIRROR, "allowVersionMismatch": True}},
        "error: chartSources.keda.allowVersionMismatch: applies only to a local chart (path)",
        id="mismatch-allowed-on-a-mirror",
    ),
    pytest.param(
        {"keda": {"repo": MIRROR}},
        "error: chartSources.keda.repo: unknown key; known keys here: repository, path, allowVersionMismatch",
        id="typo-in-key",
    ),
]


@pytest.fixture(scope="module")
def charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("project")
    chart_dir(tmp / "old", "keda", "2.19.0")
    chart_tgz(tmp, "loki", "18.10.0")
    (tmp / "empty").mkdir()
    (tmp / "notes.txt").write_text("not a chart")
    return tmp


def _at(value: Any, tmp: Path) -> Any:
    if isinstance(value, dict):
        return {k: _at(v, tmp) for k, v in value.items()}
    return value.replace("{tmp}", str(tmp)) if isinstance(value, str) else value


@pytest.mark.parametrize(("sources", "expected"), BAD_CHART_SOURCES)
def test_a_bad_chart_source_names_the_key_and_the_fix(
    charts: Path, sources: dict[str, Any], expected: str
) -> None:
    assert problems(dev({"chartSources": _at(sources, charts)}), project_dir=charts) == [
        _at(expected, charts)
    ]


def test_a_default_repository_must_be_https_or_oci() -> None:
    assert problems(dev({"defaultChartRepository": "ftp://mirror.example.com/charts"})) == [
        "error: defaultChartRepository: 'ftp://mirror.example.com/charts' is not an https:// or oci:// URL "
        "of a chart repository"
    ]


def test_the_config_reference_names_every_pinned_chart() -> None:
    described = StackConfig.model_fields["chart_sources"].description or ""
    assert [c.name for c in versions.HELM_CHARTS if c.name not in described] == []


# --- the component side ---------------------------------------------------------------------


def test_chart_location_keeps_the_pinned_chart_and_version(tmp_path: Path) -> None:
    keda = versions.KEDA
    assert chart_location(keda) == {
        "chart": "keda",
        "version": "2.20.2",
        "repository_opts": {"repo": keda.repository},
    }
    assert chart_location(keda, {"repository": MIRROR}) == {
        "chart": "keda",
        "version": "2.20.2",
        "repository_opts": {"repo": MIRROR},
    }
    assert chart_location(keda, {"repository": OCI_MIRROR + "/"}) == {
        "chart": f"{OCI_MIRROR}/keda",
        "version": "2.20.2",
    }
    local = chart_tgz(tmp_path, "keda", "2.20.2")
    assert chart_location(keda, {"path": str(local)}) == {"chart": str(local)}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"repository": MIRROR, "path": str(STANDIN)}, "keda chart: set repository or path, not both"),
        (
            {"path": str(STANDIN)},
            "keda chart: the chart at .* is standin 0.1.0, but the platform pins keda 2.20.2",
        ),
        ({"path": "/nonexistent/keda"}, "keda chart: /nonexistent/keda does not exist"),
        ({"repository": "http://mirror.example.com"}, "is not an https:// or oci:// URL"),
        ({"repository": MIRROR, "allow_version_mismatch": True}, "applies only to a local chart"),
    ],
)
def test_chart_location_refuses_a_source_that_changes_the_chart(source: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        chart_location(versions.KEDA, source)


def test_a_component_installs_its_chart_from_the_source_it_is_given(run_pulumi: RunPulumi) -> None:
    def program() -> None:
        opts = on_k8s()
        Keda("keda", {"namespace": "keda", "chart_source": {"repository": OCI_MIRROR}}, opts)
        standin: ChartSourceArgs = {"path": str(STANDIN), "allow_version_mismatch": True}
        Keda("stand-in", {"namespace": "stand-in", "chart_source": standin}, opts)

    graph = run_pulumi(program)
    mirrored = props(graph.one("helm.sh/v3:Release", "keda"))
    assert (mirrored["chart"], mirrored["version"], mirrored.get("repositoryOpts")) == (
        f"{OCI_MIRROR}/keda",
        "2.20.2",
        None,
    )
    assert "standsInFor" not in mirrored["values"]
    standin = props(graph.one("helm.sh/v3:Release", "stand-in"))
    assert standin["chart"] == str(STANDIN)
    assert "version" not in standin and "repositoryOpts" not in standin
    assert standin["values"]["standsInFor"] == "keda"
    assert standin["values"]["operator"] == {"replicaCount": 2}  # the real chart's values still go in


# --- the offline plan -----------------------------------------------------------------------


def _stack_file(tmp_path: Path, base: str, config: dict[str, Any]) -> Path:
    doc = yaml.safe_load((REPO / f"Pulumi.{base}.yaml").read_text())
    doc["config"].update(config)
    path = tmp_path / f"Pulumi.{base}-charts.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _releases(out: Path) -> dict[str, dict[str, Any]]:
    records = json.loads((out / "resources.json").read_text())
    return {r["name"]: r["props"] for r in records if r["type"] == "kubernetes:helm.sh/v3:Release"}


def test_plan_installs_each_release_from_its_source(tmp_path: Path) -> None:
    vendored = chart_tgz(tmp_path, "alloy", versions.ALLOY.version)
    stack_file = _stack_file(
        tmp_path,
        "prod",
        {
            "llm-platform:defaultChartRepository": MIRROR,
            "llm-platform:chartSources": {
                "keda": {"repository": OCI_MIRROR},
                "alloy": {"path": str(vendored)},
                "loki": {"path": "e2e/charts/standin", "allowVersionMismatch": True},
            },
        },
    )
    out = tmp_path / "out"
    result = plan_cli("plan", "--stack", "prod", "--config", str(stack_file), "--out", str(out))
    assert result.returncode == 0, result.stderr
    releases = _releases(out)
    pins = {chart.name: chart for chart in versions.HELM_CHARTS}

    keda = releases["keda"]
    assert (keda["chart"], keda["version"], keda.get("repositoryOpts")) == (
        f"{OCI_MIRROR}/keda",
        "2.20.2",
        None,
    )
    alloy = releases["llm-platform-prod-alloy"]
    assert alloy["chart"] == str(vendored) and "version" not in alloy and "repositoryOpts" not in alloy
    loki = releases["llm-platform-prod-loki"]
    assert loki["chart"] == str(STANDIN) and "version" not in loki and "repositoryOpts" not in loki
    assert loki["values"]["standsInFor"] == "loki"
    assert yaml.safe_load((out / "helm" / "loki.values.yaml").read_text())["standsInFor"] == "loki"

    from_default = {
        n: r
        for n, r in releases.items()
        if n not in ("keda", "llm-platform-prod-alloy", "llm-platform-prod-loki")
    }
    assert (
        len(from_default) == 8
    )  # four charts of the cluster, karpenter (OCI: an https mirror serves it too), three of the AI gateway
    for release in from_default.values():
        assert release["repositoryOpts"] == {"repo": MIRROR}
        assert release["version"] == pins[release["chart"]].version
        assert "standsInFor" not in release["values"]


def test_plan_of_the_committed_stacks_uses_the_public_repositories(planned: Any) -> None:
    pins = {chart.name: chart for chart in versions.HELM_CHARTS}
    releases = _releases(planned("prod"))
    assert len(releases) == len(pins)
    for release in releases.values():
        name = release["chart"].rsplit("/", 1)[-1]
        pin = pins[name]
        if pin.repository.startswith("oci://"):  # addressed by its full reference
            assert (release["chart"], release["version"]) == (f"{pin.repository}/{name}", pin.version)
            assert "repositoryOpts" not in release
        else:
            assert (release["version"], release["repositoryOpts"]) == (pin.version, {"repo": pin.repository})


def test_plan_refuses_a_vendored_chart_of_another_version(tmp_path: Path) -> None:
    old = chart_dir(tmp_path, "kube-prometheus-stack", "80.0.0")
    stack_file = _stack_file(
        tmp_path, "dev", {"llm-platform:chartSources": {"kube-prometheus-stack": {"path": str(old)}}}
    )
    out = tmp_path / "out"
    result = plan_cli("plan", "--stack", "dev", "--config", str(stack_file), "--out", str(out))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: chartSources.kube-prometheus-stack.path: the chart at {old} is kube-prometheus-stack 80.0.0, "
        "but the platform pins kube-prometheus-stack 88.5.3; vendor the pinned chart (helm pull "
        "kube-prometheus-stack --version 88.5.3): a local chart must not change what is installed"
    ]
    assert not out.exists()


# --- the stand-in chart of the e2e ----------------------------------------------------------


def test_the_standin_chart_makes_one_configmap_named_after_its_release() -> None:
    chart = yaml.safe_load((STANDIN / "Chart.yaml").read_text())
    assert (chart["apiVersion"], chart["name"], chart["version"]) == ("v2", "standin", "0.1.0")
    assert read_chart(STANDIN).name == "standin"
    templates = sorted((STANDIN / "templates").iterdir())
    assert [t.name for t in templates] == ["configmap.yaml"]
    text = templates[0].read_text()
    assert text.count("kind: ") == 1 and "kind: ConfigMap" in text
    assert re.search(r"^  name: \{\{ \.Release\.Name \}\}-standin$", text, re.M)
    assert re.search(r"^  namespace: \{\{ \.Release\.Namespace \}\}$", text, re.M)
    assert re.search(r"^  standsInFor: \{\{ \.Values\.standsInFor \| default \"\" \| quote \}\}$", text, re.M)
    assert re.search(r"^  release: \{\{ \.Release\.Name \| quote \}\}$", text, re.M)


# --- the Gateway API CRDs: a manifest file, not a chart, with the same firewall need ----------


def test_gateway_api_crds_default_to_their_github_release() -> None:
    assert load(dev()).gateway_api_crds is None


def test_gateway_api_crds_from_a_local_file_start_at_the_project_directory(tmp_path: Path) -> None:
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "standard-install.yaml").write_text("# the pinned release's file\n")
    cfg = load(dev({"gatewayApiCrds": "vendor/standard-install.yaml"}), project_dir=tmp_path)
    assert cfg.gateway_api_crds == str(tmp_path / "vendor" / "standard-install.yaml")
    mirror = "https://mirror.example.com/gateway-api/v1.6.1/standard-install.yaml"
    assert load(dev({"gatewayApiCrds": mirror})).gateway_api_crds == mirror


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("vendor/missing.yaml", "no file at"),
        ("http://mirror.example.com/standard-install.yaml", "must be an https:// URL or a local file path"),
    ],
)
def test_a_bad_gateway_api_crds_source_names_the_key(tmp_path: Path, value: str, expected: str) -> None:
    [problem] = problems(dev({"gatewayApiCrds": value}), project_dir=tmp_path)
    assert problem.startswith("error: gatewayApiCrds: ") and expected in problem


def test_plan_installs_the_gateway_api_crds_from_the_given_file(
    tmp_path: Path, planned: Callable[[str], Path]
) -> None:
    crds = tmp_path / "standard-install.yaml"
    crds.write_text("# vendored\n")
    stack_file = _stack_file(tmp_path, "dev", {"llm-platform:gatewayApiCrds": str(crds)})
    out = tmp_path / "out"
    result = plan_cli("plan", "--stack", "dev", "--config", str(stack_file), "--out", str(out))
    assert result.returncode == 0, result.stderr
    [config_file] = [
        r
        for r in json.loads((out / "resources.json").read_text())
        if r["type"] == "kubernetes:yaml/v2:ConfigFile"
    ]
    assert config_file["props"]["file"] == str(crds)
    committed = json.loads((planned("dev") / "resources.json").read_text())
    [default] = [r for r in committed if r["type"] == "kubernetes:yaml/v2:ConfigFile"]
    assert default["props"]["file"] == versions.GATEWAY_API_CRDS
