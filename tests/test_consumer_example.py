"""examples/consumer: another team's stack adds a model through the platform's outputs, planned
offline against the outputs of the dev platform's own offline plan."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.plan.mocks import PlatformMocks
from infra.plan.run import run_program
from infra.plan.stackfile import read_stack
from infra.plan.write import is_manifest, manifest
from tests.conftest import REPO
from tests.crd import is_custom, validate_custom
from tests.graph import Graph, props

CONSUMER = REPO / "examples" / "consumer"
PLATFORM_STACK = "organization/llm-platform/dev"


def plan_consumer(platform_outputs: dict[str, Any]) -> Graph:
    files = read_stack(CONSUMER, "dev")
    assert files.config[f"{files.project}:platformStack"] == PLATFORM_STACK
    return Graph(
        run_program(
            lambda: runpy.run_path(str(CONSUMER / "__main__.py"), run_name="__main__"),
            project=files.project,
            stack="dev",
            config=files.config,
            secret_keys=files.secret_keys,
            mock=PlatformMocks(stack_references={PLATFORM_STACK: platform_outputs}),
        )
    )


@pytest.fixture(scope="module")
def dev_outputs(planned: Callable[[str], Path]) -> dict[str, Any]:
    return dict(json.loads((planned("dev") / "outputs.json").read_text()))


@pytest.fixture(scope="module")
def consumer(dev_outputs: dict[str, Any]) -> Graph:
    return plan_consumer(dev_outputs)


def test_the_team_gets_a_namespace_weights_access_and_a_service(consumer: Graph) -> None:
    components = {(r.type.split(":")[-1], r.name) for r in consumer if r.type.startswith("llmplatform:")}
    assert components == {
        ("Tenant", "chat"),
        ("ModelWeights", "mistral-7b"),
        ("InferenceService", "mistral-7b"),
    }
    quota = props(consumer.one("core/v1:ResourceQuota"))["spec"]["hard"]
    assert quota["requests.nvidia.com/gpu"] == "1"


def test_the_model_lands_on_the_platform_pool(consumer: Graph, dev_outputs: dict[str, Any]) -> None:
    pod = props(consumer.one("apps/v1:Deployment"))["spec"]["template"]["spec"]
    placement = dev_outputs["gpuPools"]["l4"]["placement"]
    assert pod["nodeSelector"] == placement["nodeSelector"]
    assert pod["tolerations"] == placement["tolerations"]
    (container,) = pod["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert (
        container["args"][0]
        == f"s3://{dev_outputs['modelStore']['bucketName']}/models/mistral-7b/2026-11-01/"
    )


def test_the_route_scaler_and_monitor_use_the_platform(consumer: Graph, dev_outputs: dict[str, Any]) -> None:
    route = props(consumer.one("gateway.networking.k8s.io/v1:HTTPRoute"))["spec"]
    gateway = dev_outputs["gateway"]
    assert route["parentRefs"][0]["name"] == gateway["name"]
    assert route["parentRefs"][0]["namespace"] == gateway["namespace"]
    assert route["hostnames"] == [f"mistral-7b.{gateway['domain']}"]
    scaler = props(consumer.one("keda.sh/v1alpha1:ScaledObject"))
    assert scaler["metadata"]["annotations"]["llm-platform.io/installed-by"] == dev_outputs["kedaRelease"]
    assert (
        scaler["spec"]["triggers"][0]["metadata"]["serverAddress"]
        == dev_outputs["monitoring"]["prometheusUrl"]
    )
    monitor = props(consumer.one("monitoring.coreos.com/v1:PodMonitor"))
    assert (
        monitor["metadata"]["annotations"]["llm-platform.io/installed-by"]
        == dev_outputs["monitoring"]["releaseName"]
    )
    assert consumer.outputs["endpoint"] == f"https://mistral-7b.{gateway['domain']}"


def test_the_pod_role_reads_only_this_model(consumer: Graph, dev_outputs: dict[str, Any]) -> None:
    bucket = dev_outputs["modelStore"]["bucketArn"]
    documents = [json.loads(props(p)["policy"]) for p in consumer.of_type("iam/rolePolicy:RolePolicy")]
    resources = {r for d in documents for s in d["Statement"] for r in _list(s.get("Resource"))}
    assert f"{bucket}/models/mistral-7b/*" in resources
    assert f"{bucket}/*" not in resources


def test_custom_resources_match_the_pinned_crds(consumer: Graph) -> None:
    objects = [manifest(r) for r in consumer if is_manifest(r)]
    custom = [o for o in objects if is_custom(o)]
    assert {o["kind"] for o in custom} >= {
        "ScaledObject",
        "HTTPRoute",
        "PodMonitor",
        "TargetGroupConfiguration",
    }
    for obj in custom:
        validate_custom(obj)


def test_a_pool_without_spare_gpus_fails_the_preview(dev_outputs: dict[str, Any]) -> None:
    full = json.loads(json.dumps(dev_outputs))
    l4 = full["gpuPools"]["l4"]
    l4["gpusReserved"] = l4["maxNodes"] * l4["placement"]["gpusPerNode"]
    with pytest.raises(Exception, match=r"model.maxReplicas: 1 x 1 GPUs, but pool l4 has 0 to spare"):
        plan_consumer(full)


def test_a_pool_of_another_instance_type_fails_the_preview(dev_outputs: dict[str, Any]) -> None:
    other = json.loads(json.dumps(dev_outputs))
    other["gpuPools"]["l4"]["instanceTypes"] = ["g5.xlarge"]
    with pytest.raises(Exception, match=r"model.instanceType: pool l4 runs \['g5.xlarge'\], not g6.xlarge"):
        plan_consumer(other)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
