"""Images through the ECR pull-through cache: the reference rewrite and the cache's resources."""

from __future__ import annotations

import json

import pytest

from components.core.images import split, through_cache
from components.image_cache import ImageCache
from components.versions import HUB_SYNC_IMAGE, VLLM_IMAGE
from tests.conftest import RunPulumi
from tests.graph import on_aws, props

ECR = "111111111111.dkr.ecr.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (VLLM_IMAGE, f"{ECR}/docker-hub/{VLLM_IMAGE}"),
        (HUB_SYNC_IMAGE, f"{ECR}/docker-hub/library/{HUB_SYNC_IMAGE}"),
        ("docker.io/vllm/vllm-openai:v1", f"{ECR}/docker-hub/vllm/vllm-openai:v1"),
        # Registries the cache does not hold stay where they are.
        (
            "nvcr.io/nvidia/tritonserver:26.07-vllm-python-py3",
            "nvcr.io/nvidia/tritonserver:26.07-vllm-python-py3",
        ),
        ("public.ecr.aws/aws-cli/aws-cli:2.36.32", "public.ecr.aws/aws-cli/aws-cli:2.36.32"),
        ("localhost:5000/x:1", "localhost:5000/x:1"),
    ],
)
def test_docker_hub_images_and_only_those_go_through_the_cache(image: str, expected: str) -> None:
    assert through_cache(image, ECR) == expected


def test_a_host_is_a_name_with_a_dot_or_port_and_everything_else_is_docker_hub() -> None:
    assert split("vllm/vllm-openai:v1") == ("docker.io", "vllm/vllm-openai:v1")
    assert split("registry.k8s.io/pause:3.10") == ("registry.k8s.io", "pause:3.10")


def test_nodes_may_fill_only_the_cache_and_its_repositories_are_encrypted_and_immutable(
    run_pulumi: RunPulumi,
) -> None:
    cred = "arn:aws:secretsmanager:us-east-1:111111111111:secret:ecr-pullthroughcache/docker-hub-AbCdEf"
    graph = run_pulumi(lambda: ImageCache("images", {"docker_hub_credential_arn": cred}, on_aws()))
    rule = props(graph.one("aws:ecr/pullThroughCacheRule:PullThroughCacheRule"))
    assert (rule["ecrRepositoryPrefix"], rule["upstreamRegistryUrl"], rule["credentialArn"]) == (
        "docker-hub",
        "registry-1.docker.io",
        cred,
    )
    template = props(graph.one("aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate"))
    assert template["prefix"] == rule["ecrRepositoryPrefix"]
    assert template["appliedFors"] == ["PULL_THROUGH_CACHE"]
    assert template["encryptionConfigurations"] == [{"encryptionType": "KMS"}]
    assert template["imageTagMutability"] == "IMMUTABLE"
    policy = json.loads(props(graph.one("aws:iam/policy:Policy"))["policy"])
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"]
    assert statement["Resource"].endswith(":repository/docker-hub/*")
    assert ":ecr:us-east-1:" in statement["Resource"]
