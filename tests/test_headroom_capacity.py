"""Headroom in the stack: placeholders count at minimum scale (nodes, cost), never at maximum,
hold the pool's largest replica, and pull images the way the serving pods do."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from infra.config import ConfigError, load_stack_config
from infra.config.derived import HEADROOM_TENANT, capacity_inputs, pulled
from infra.plan.stackfile import read_stack
from tests.conftest import REPO, stack_sections
from tests.graph import Graph, props


def config(stack: str, **pool_changes: dict[str, Any]) -> Any:
    files = read_stack(REPO, stack)
    sections, *rest = files.sections("llm-platform")
    sections = copy.deepcopy(sections)
    for pool, change in pool_changes.items():
        sections["gpuPools"][pool].update(change)
    return load_stack_config(sections, *rest)


def test_placeholders_count_at_minimum_and_not_at_maximum() -> None:
    models, _, _ = capacity_inputs(config("prod"))
    (h100,) = [m for m in models if m.tenant == HEADROOM_TENANT and m.pool == "h100"]
    assert (h100.min_gpus, h100.max_gpus) == (4, 0)
    assert h100.gpus_per_replica == max(m.gpus_per_replica for m in models if m.pool == "h100")


def test_headroom_that_cannot_fit_beside_the_minimum_fails_the_plan_with_numbers() -> None:
    with pytest.raises(ConfigError, match=r"gpuPools\.h100\.maxSize.*h100-headroom \(5 x 4\)"):
        config("prod", h100={"headroom": 5})


def test_the_placeholders_run_the_image_the_serving_pods_run(stack_graph: Graph) -> None:
    deployments = stack_graph.of_type("kubernetes:apps/v1:Deployment")
    serving = {
        c["image"]
        for d in deployments
        if "priorityClassName" not in props(d)["spec"]["template"]["spec"]
        for c in props(d)["spec"]["template"]["spec"]["containers"]
        if "nvidia.com/gpu" in c["resources"]["limits"]
    }
    held = {
        c["image"]
        for d in deployments
        if "priorityClassName" in props(d)["spec"]["template"]["spec"]
        for c in props(d)["spec"]["template"]["spec"]["containers"]
    }
    assert held <= serving


CRED = "arn:aws:secretsmanager:us-east-1:111111111111:secret:ecr-pullthroughcache/docker-hub-AbCdEf"


def test_with_a_pull_through_cache_every_vllm_pod_pulls_from_ecr() -> None:
    files = read_stack(REPO, "dev")
    sections, *rest = files.sections("llm-platform")
    sections = {**copy.deepcopy(sections), "images": {"dockerHubCacheCredentialArn": CRED}}
    cfg = load_stack_config(sections, *rest)
    assert pulled(cfg, "vllm/vllm-openai:v0.33.0") == (
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/docker-hub/vllm/vllm-openai:v0.33.0"
    )


@pytest.mark.parametrize(
    ("arn", "complaint"),
    [
        (CRED.replace("us-east-1", "eu-west-1"), "in us-east-1"),
        (CRED.replace("ecr-pullthroughcache/", "dockerhub/"), "ecr-pullthroughcache/"),
        (CRED.replace("111111111111", "999999999999"), "allowedAccountIds"),
    ],
)
def test_a_cache_secret_ecr_cannot_read_fails_at_plan_time(arn: str, complaint: str) -> None:
    sections = {**stack_sections("dev"), "images": {"dockerHubCacheCredentialArn": arn}}
    files = read_stack(REPO, "dev")
    _, *rest = files.sections("llm-platform")
    with pytest.raises(ConfigError) as failed:
        load_stack_config(sections, *rest)
    assert "images.dockerHubCacheCredentialArn" in str(failed.value)
    assert complaint in str(failed.value)
