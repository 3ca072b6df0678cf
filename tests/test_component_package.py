"""The components as a package for other languages: the schema Pulumi's own analyzer infers,
and components built through the hosting provider as a TypeScript or YAML stack would."""

from __future__ import annotations

import inspect
import re
from typing import Any, get_type_hints

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

import components
from components.host import COMPONENTS, PACKAGE, PlatformProvider, schema
from tests.conftest import REPO, RunPulumi
from tests.graph import Graph, on_aws, props


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def public_components() -> set[type[pulumi.ComponentResource]]:
    exported = (getattr(components, name) for name in components.__all__)
    return {c for c in exported if inspect.isclass(c) and issubclass(c, pulumi.ComponentResource)}


def args_type(component: type[pulumi.ComponentResource]) -> Any:
    return get_type_hints(component.__init__)["args"]


def outputs_of(component: type[pulumi.ComponentResource]) -> set[str]:
    """Annotated public attributes: what the analyzer turns into outputs."""
    return {camel(k) for k in inspect.get_annotations(component) if not k.startswith("_")}


@pytest.fixture(scope="module")
def package() -> dict[str, Any]:
    return schema()


def test_every_public_component_is_hosted(package: dict[str, Any]) -> None:
    assert set(COMPONENTS) == public_components()
    assert set(package["resources"]) == {f"{PACKAGE}:index:{c.__name__}" for c in public_components()}


@pytest.mark.parametrize("component", COMPONENTS, ids=lambda c: c.__name__)
def test_schema_has_every_input_and_output(package: dict[str, Any], component: type[Any]) -> None:
    resource = package["resources"][f"{PACKAGE}:index:{component.__name__}"]
    args = args_type(component)
    assert set(resource["inputProperties"]) == {camel(k) for k in args.__annotations__}
    assert set(resource.get("requiredInputs", [])) == {camel(k) for k in args.__required_keys__}
    assert set(resource["properties"]) == outputs_of(component)
    assert resource["description"]
    documented = [*resource["inputProperties"].items(), *resource["properties"].items()]
    assert [name for name, p in documented if not p.get("description")] == []


def test_nested_types_are_documented(package: dict[str, Any]) -> None:
    for token, t in package["types"].items():
        assert t.get("description"), token
        assert [k for k, p in t["properties"].items() if not p.get("description")] == [], token


def test_type_tokens_match_the_package(planned: Any) -> None:
    """The host accepts only <package>:index:<ClassName>; every component the stack registers
    must carry that token, or `pulumi package add` consumers could not construct it."""
    resources = yaml.safe_load((planned("prod") / "resources.json").read_text())
    registered = {r["type"] for r in resources if r["type"].startswith(f"{PACKAGE}:")}
    assert registered == {f"{PACKAGE}:index:{c.__name__}" for c in COMPONENTS}


def test_plugin_manifest_launches_the_host() -> None:
    manifest = yaml.safe_load((REPO / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    assert manifest["runtime"]["options"]["virtualenv"] == ".venv"
    entry = (REPO / "__main__.py").read_text()
    assert re.search(r"^from components\.host import main$", entry, re.M)
    assert "main()" in entry


# What an InferenceService gets from a TypeScript or YAML stack: camelCase names, and every
# number a float, as Pulumi's wire format carries them.
WIRE_INPUTS: dict[str, Any] = {
    "namespace": "team-a",
    "placement": {
        "nodeSelector": {"llm-platform.io/pool": "l40s"},
        "tolerations": [
            {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        ],
    },
    "serve": {"servedModelName": "llama", "tensorParallelSize": 2.0, "maxModelLen": 32768.0},
    "modelUri": "/models/rev1",
    "resources": {"cpuMillicores": 20000.0, "memoryMib": 180000.0, "shmMib": 6144.0},
    "startupSeconds": 900.0,
    "serviceAccountName": "llama-model",
    "claimName": "llama-weights",
    "weightsReady": "llama-sync-rev1",
    "apiKey": "sk-not-a-real-key",
    "autoscaling": {"minReplicas": 1.0, "maxReplicas": 4.0, "targetQueueDepth": 6.0},
    "prometheusUrl": "http://kps-prometheus.monitoring.svc:9090",
    "kedaRelease": "keda",
    "route": {"gatewayName": "edge", "gatewayNamespace": "gateway", "hostname": "llama.example.com"},
    "canary": {"weight": 10.0, "maxNumSeqs": 64.0},
}


def native_args(wire: dict[str, Any]) -> dict[str, Any]:
    """The same inputs as a Python stack passes them."""

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {snake(k) if not k.startswith("llm-") else k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    return dict(convert(wire))


def snake(name: str) -> str:
    if "." in name or "/" in name:  # label keys are data, not field names
        return name
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def objects(g: Graph) -> dict[tuple[str, str], Any]:
    return {(r.type, r.name): props(r) for r in g if not r.type.startswith(f"{PACKAGE}:")}


def test_hosted_component_builds_what_the_python_component_builds(run_pulumi: RunPulumi) -> None:
    provider = PlatformProvider(COMPONENTS, PACKAGE)
    state: dict[str, Any] = {}

    def hosted() -> None:
        opts = pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="{}")])
        result = provider.construct("llama", f"{PACKAGE}:index:InferenceService", WIRE_INPUTS, opts)
        state.update(result.state)

    def native() -> None:
        opts = pulumi.ResourceOptions(providers=[k8s.Provider("k8s", kubeconfig="{}")])
        components.InferenceService("llama", native_args(WIRE_INPUTS), opts)  # type: ignore[arg-type]

    built_hosted, built_native = objects(run_pulumi(hosted)), objects(run_pulumi(native))
    assert built_hosted == built_native
    assert ("kubernetes:apps/v1:Deployment", "llama-canary") in built_hosted
    assert set(state) == {"serviceName", "hostname", "routeName"}


def test_hosted_outputs_are_camel_case(run_pulumi: RunPulumi) -> None:
    provider = PlatformProvider(COMPONENTS, PACKAGE)
    placements: list[Any] = []

    def hosted() -> None:
        result = provider.construct(
            "l40s",
            f"{PACKAGE}:index:GpuNodePool",
            {"clusterName": "c", "subnetIds": ["subnet-1"], "instanceTypes": ["g6e.xlarge"], "maxSize": 2.0},
            on_aws(),
        )
        result.state["placement"].apply(placements.append)

    run_pulumi(hosted)
    assert placements == [
        {
            "pool": "l40s",
            "nodeSelector": {"llm-platform.io/pool": "l40s"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
            ],
            "gpuModel": "L40S",
            "gpusPerNode": 1,
            "gpuMemoryMib": 45_776,
        }
    ]


def test_missing_required_input_is_named(run_pulumi: RunPulumi) -> None:
    provider = PlatformProvider(COMPONENTS, PACKAGE)
    inputs = {k: v for k, v in WIRE_INPUTS.items() if k != "kedaRelease"}
    with pytest.raises(Exception, match="Missing required input 'kedaRelease' on 'InferenceService'"):
        provider.map_inputs(inputs, provider._component_defs["InferenceService"])


def test_the_docs_show_typescript_go_and_yaml_consumers(package: dict[str, Any]) -> None:
    readme = (REPO / "README.md").read_text()
    guide = (REPO / "docs" / "components.md").read_text()
    assert re.search(r"^pulumi package add \S*llm-platform\S*", readme, re.M)
    required = package["resources"][f"{PACKAGE}:index:InferenceService"]["requiredInputs"]
    for language, doc in (("typescript", readme), ("go", guide), ("yaml", guide)):
        blocks = re.findall(rf"```{language}\n(.*?)```", doc, re.S)
        using = [b for b in blocks if re.search(r"llmplatform[.:](index:)?(New)?InferenceService", b)]
        assert len(using) == 1, language
        for name in required:  # an example that leaves out a required input would not run
            spelled = name[0].upper() + name[1:] if language == "go" else name
            assert re.search(rf"\b{spelled}:", using[0]), (language, name)
