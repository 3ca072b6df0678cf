"""Stack config: both stack files load, and each kind of mistake is named by its key path."""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonschema
import pytest
import yaml

from infra.config import ConfigError, load_stack_config
from infra.config.schema import stack_file_schema
from tests.conftest import REPO, stack_config, stack_sections

SECRET_SECTIONS = frozenset({"storage", "tenants", "models", "monitoring"})  # as the stack files hold them


def problems(sections: dict[str, Any], secret_sections: frozenset[str] = SECRET_SECTIONS) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_config(sections, secret_sections)
    return [str(p) for p in caught.value.problems]


def dev(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dev stack config with `changes` applied at dotted key paths ("gpuPools.l4.maxSize")."""
    return changed("dev", changes or {})


def prod(changes: dict[str, Any] | None = None) -> dict[str, Any]:
    return changed("prod", changes or {})


def changed(stack: str, changes: dict[str, Any]) -> dict[str, Any]:
    sections = copy.deepcopy(stack_sections(stack))
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = sections
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[leaf]
        else:
            node[leaf] = value
    return sections


DELETE = object()


def test_dev_and_prod_are_valid_and_different() -> None:
    dev_cfg, prod_cfg = stack_config("dev"), stack_config("prod")
    assert dev_cfg.gpu_pools["l4"].capacity_type == "spot"
    assert dev_cfg.gpu_pools["l4"].min_size == 0
    assert dev_cfg.cluster.endpoint.public_access_cidrs
    assert len(prod_cfg.network.availability_zones) == 3
    assert prod_cfg.network.nat_gateways == "perZone"
    assert all(p.capacity_type == "onDemand" for p in prod_cfg.gpu_pools.values())
    assert prod_cfg.protect and not dev_cfg.protect
    assert prod_cfg.aws.allowed_account_ids != dev_cfg.aws.allowed_account_ids


BAD_CONFIGS = [
    pytest.param(
        dev({"gpuPools.l4.instanceTypes": ["g9.mega"]}),
        "error: gpuPools.l4.instanceTypes[0]: 'g9.mega' is not a GPU instance type of the catalog",
        id="unknown-instance-type",
    ),
    pytest.param(
        dev({"gpuPools.l4.instanceTypes": ["m7i.large"]}),
        "error: gpuPools.l4.instanceTypes[0]: 'm7i.large' is not a GPU instance type",
        id="cpu-type-in-gpu-pool",
    ),
    pytest.param(
        dev({"gpuPools.l4.instanceTypes": ["g6.xlarge", "g6e.xlarge"]}),
        "error: gpuPools.l4.instanceTypes: mixes GPU shapes: g6.xlarge (1 x L4), g6e.xlarge (1 x L40S)",
        id="mixed-gpus",
    ),
    pytest.param(
        dev({"gpuPools.l4.instanceTypes": ["g6e.xlarge", "g6e.12xlarge"]}),
        "error: gpuPools.l4.instanceTypes: mixes GPU shapes: g6e.xlarge (1 x L40S), g6e.12xlarge (4 x L40S)",
        id="mixed-gpu-counts",
    ),
    pytest.param(
        dev({"gpuPools.l4.minSize": 5}),
        "error: gpuPools.l4.minSize: 5 is above maxSize 4",
        id="min-above-max",
    ),
    pytest.param(
        dev({"gpuPools.l4.minSize": 1}),
        "error: gpuPools.l4.minSize: 1: a Karpenter pool has no minimum, it launches nodes for the models' "
        "pending replicas; keep GPUs warm with the models' minReplicas, or set kind: managed",
        id="karpenter-pool-with-a-minimum",
    ),
    pytest.param(
        dev({"gpuPools.l4.desiredSize": 1}),
        "error: gpuPools.l4.desiredSize: applies only to kind: managed",
        id="karpenter-pool-with-a-desired-size",
    ),
    pytest.param(
        prod({"gpuPools.l40s.maxSize": 4}),
        "error: gpuPools.l40s.maxSize: 4 nodes x 1 GPU = 4 GPUs cannot hold the 5 GPUs its models may scale to: "
        "llama-8b (max 4 replicas x 1 GPU) of search, llama-8b-canary (max 1 replica x 1 GPU) of search",
        id="karpenter-pool-below-its-maximum",
    ),
    pytest.param(
        dev({"gpuPools.l4.desiredSize": 5}),
        "error: gpuPools.l4.desiredSize: 5 is outside minSize..maxSize (0..4)",
        id="desired-outside-range",
    ),
    pytest.param(
        dev(
            {
                "network": {
                    "availabilityZones": ["us-east-1a", "us-east-1b", "us-east-1c"],
                    "existingVpc": {
                        "vpcId": "vpc-0123456789abcdef0",
                        "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                    },
                }
            }
        ),
        "error: network.existingVpc.privateSubnetIds: 2 subnets for 3 availability zones",
        id="fewer-subnets-than-zones",
    ),
    pytest.param(
        dev(
            {
                "network": {
                    "availabilityZones": ["us-east-1a", "us-east-1b"],
                    "existingVpc": {
                        "vpcId": "vpc-0123456789abcdef0",
                        "privateSubnetIds": [
                            "subnet-0123456789abcdef0",
                            "subnet-0123456789abcdef1",
                            "subnet-0123456789abcdef2",
                        ],
                    },
                }
            }
        ),
        "error: network.existingVpc.privateSubnetIds: 3 subnets for 2 availability zones; "
        "list exactly one subnet per zone",
        id="more-subnets-than-zones",
    ),
    pytest.param(
        dev(
            {
                "network": {
                    "availabilityZones": ["us-east-1a", "us-east-1b"],
                    "natGateways": "perZone",
                    "existingVpc": {
                        "vpcId": "vpc-0123456789abcdef0",
                        "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                    },
                }
            }
        ),
        "error: network.natGateways: applies only to a new VPC",
        id="nat-setting-on-adopted-vpc",
    ),
    pytest.param(
        dev({"network.availabilityZones": ["us-east-1a", "us-west-2b"]}),
        "error: network.availabilityZones[1]: 'us-west-2b' is not an availability zone of us-east-1",
        id="zone-of-another-region",
    ),
    pytest.param(
        dev({"network.vpcCidr": "10.40.0.0/24"}),
        "error: network.vpcCidr: /24 is outside /16 to /20",
        id="vpc-too-small",
    ),
    pytest.param(
        dev({"aws.region": "us-gov-central-1"}),
        "error: aws.region: ALB access logs: no Elastic Load Balancing log account is known for us-gov-central-1",
        id="alb-logs-undeliverable-in-region",
    ),
    pytest.param(
        dev(
            {
                "network": {
                    "availabilityZones": ["us-east-1a", "us-east-1b"],
                    "existingVpc": {
                        "vpcId": "vpc-0123456789abcdef0",
                        "privateSubnetIds": ["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
                    },
                }
            }
        ),
        "error: network.existingVpc.publicSubnetIds: is empty, but ingress needs public subnets",
        id="adopted-vpc-without-public-subnets-for-the-alb",
    ),
    pytest.param(
        dev({"cluster.endpoint": {"publicAccessCidrs": ["0.0.0.0/0"]}}),
        "error: cluster.endpoint.publicAccessCidrs[0]: 0.0.0.0/0 opens the Kubernetes API to the whole internet",
        id="endpoint-open-to-all",
    ),
    pytest.param(
        dev({"cluster.admins": ["arn:aws:sts::111111111111:assumed-role/admin/session"]}),
        "error: cluster.admins[0]: 'arn:aws:sts::111111111111:assumed-role/admin/session' is not an IAM role or user ARN",
        id="session-arn-as-admin",
    ),
    pytest.param(
        dev({"cluster.admins": DELETE}),
        "error: cluster.admins: is required but not set",
        id="missing-admins",
    ),
    pytest.param(
        dev({"gpuPools.l4.maxsize": 2}),
        "error: gpuPools.l4.maxsize: unknown key; known keys here: kind, instanceTypes, capacityType, minSize, maxSize",
        id="typo-in-key",
    ),
    pytest.param(
        {**dev(), "gpupools": {}},
        "error: gpupools: unknown key; this program reads llm-platform:{aws, network, cluster, gpuPools",
        id="typo-in-section",
    ),
    pytest.param(
        dev({"gpuPools.l4.capacityType": "Spot"}),
        "error: gpuPools.l4.capacityType: Input should be 'onDemand' or 'spot'",
        id="capacity-type-spelling",
    ),
    pytest.param(
        dev({"gpuPools": {"L4_pool": {"instanceTypes": ["g6.xlarge"], "maxSize": 1}}}),
        "error: gpuPools.L4_pool: 'L4_pool' is not a short name",
        id="pool-name-not-a-label",
    ),
    pytest.param(
        dev({"cluster.systemNodes": {"instanceTypes": ["g5.xlarge"]}}),
        "error: cluster.systemNodes.instanceTypes[0]: 'g5.xlarge' is not a CPU instance type of the catalog",
        id="gpu-type-in-system-pool",
    ),
    pytest.param(
        dev({"gpuPools.l4.rootVolumeGiB": 40}),
        "error: gpuPools.l4.rootVolumeGiB: Input should be greater than or equal to 100",
        id="root-volume-too-small-for-vllm",
    ),
]


@pytest.mark.parametrize(("sections", "expected"), BAD_CONFIGS)
def test_bad_config_names_the_key_and_the_fix(sections: dict[str, Any], expected: str) -> None:
    found = problems(sections)
    assert any(line.startswith(expected) for line in found), found


def test_every_problem_is_reported_not_only_the_first() -> None:
    found = problems(
        dev(
            {
                "gpuPools.l4.minSize": 3,
                "network.vpcCidr": "10.0.0.0/8",
                "cluster.endpoint": {"publicAccessCidrs": ["0.0.0.0/0"]},
            }
        )
    )
    assert len(found) == 3, found


def test_schema_file_is_current() -> None:
    on_disk = json.loads((REPO / "docs" / "config.schema.json").read_text())
    assert on_disk == stack_file_schema(), "regenerate: python -m infra schema > docs/config.schema.json"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stack_files_validate_against_the_schema(stack: str) -> None:
    doc = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
    jsonschema.validate(doc, stack_file_schema())


def test_schema_rejects_a_typo_an_editor_should_flag() -> None:
    doc = yaml.safe_load((REPO / "Pulumi.dev.yaml").read_text())
    doc["config"]["llm-platform:gpupools"] = {}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, stack_file_schema())


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for model, definition in schema["$defs"].items():
        for name, prop in definition.get("properties", {}).items():
            found.append((f"{model}.{name}", prop))
    found += list(schema["properties"]["config"]["properties"].items())
    return found


def test_every_config_field_is_described() -> None:
    undescribed = [name for name, prop in _properties(stack_file_schema()) if not prop.get("description")]
    assert undescribed == []


def test_config_reference_lists_every_key() -> None:
    reference = (REPO / "docs" / "config.md").read_text()
    from infra.config.reference import render_reference

    assert reference == render_reference(), "regenerate: python -m infra schema --markdown > docs/config.md"
    # every type reads as a word a stack author knows, never a Python class
    assert "<class" not in reference and "secret string" in reference


PROD_SECRETS = SECRET_SECTIONS
LLAMA_8B = {
    "tenant": "search",
    "pool": "l40s",
    "architecture": "llama-3.1-8b",
    "maxModelLen": 8192,
    "apiKey": "[secret]",
    "tensorParallelSize": 1,
    "maxReplicas": 2,
    "source": {"s3": {"revision": "v1"}},
}

BAD_WORKLOAD_CONFIGS = [
    pytest.param(
        prod(
            {
                "tenants.search.quota.gpus": 4,
                "tenants.search.clients": DELETE,  # they name llama-8b
                "models.llama-8b": DELETE,
                "models.llama": {**LLAMA_8B, "pool": "h100", "tensorParallelSize": 2, "maxReplicas": 3},
            }
        ),
        "error: tenants.search.quota.gpus: 4 GPUs cannot hold model llama (max 3 replicas x 2 GPUs)",
        id="quota-below-model-maximum",
    ),
    pytest.param(
        prod(
            {
                "models.llama-8b.maxReplicas": 9,
                "tenants.search.quota.gpus": 10,
                "tenants.search.quota.memory": "400Gi",
            }
        ),
        "error: gpuPools.l40s.maxSize: 7 nodes x 1 GPU = 7 GPUs cannot hold the 10 GPUs its models may scale to",
        id="pool-below-model-demand",
    ),
    pytest.param(
        prod({"models.llama-8b.tenant": "ads"}),
        "error: models.llama-8b.tenant: 'ads' is not a tenant; add it under llm-platform:tenants",
        id="model-of-unknown-tenant",
    ),
    pytest.param(
        prod({"models.llama-8b.pool": "a10g"}),
        "error: models.llama-8b.pool: 'a10g' is not a GPU pool; pools: l40s, h100",
        id="model-on-unknown-pool",
    ),
    pytest.param(
        prod({"models.llama-8b.weights": "s3Stream"}),
        "error: models.llama-8b.weights: s3Stream streams weights already in the model bucket; it needs source.s3",
        id="stream-a-hub-model",
    ),
    pytest.param(
        prod({"models.llama-8b.source": {}}),
        "error: models.llama-8b.source: set exactly one of huggingFace or s3",
        id="no-source",
    ),
    pytest.param(
        prod({"models.llama-8b.source.huggingFace.revision": "main"}),
        "error: models.llama-8b.source.huggingFace.revision: 'main' is not a 40-character commit hash",
        id="hub-branch-instead-of-commit",
    ),
    pytest.param(
        prod({"storage.forceDestroy": True}),
        "error: storage.forceDestroy: cannot be true while protect is true",
        id="force-destroy-protected-data",
    ),
    pytest.param(
        prod({"tenants.search.quota.memory": "256GB"}),
        "error: tenants.search.quota.memory: '256GB' is not a memory quantity such as 256Gi or 512Mi",
        id="memory-quantity-unit",
    ),
    pytest.param(
        prod({"tenants.search.accessRoleArns": ["arn:aws:iam::222222222222:role/platform-admin"]}),
        "error: tenants.search.accessRoleArns[0]: arn:aws:iam::222222222222:role/platform-admin is already in cluster.admins",
        id="tenant-role-is-an-admin",
    ),
    pytest.param(
        prod(
            {
                "models.llama-70b.tensorParallelSize": 8,
                "models.llama-70b.maxReplicas": 2,
                "gpuPools.h100.instanceTypes": ["g6e.12xlarge"],
                "gpuPools.h100.maxSize": 4,
            }
        ),
        "error: models.llama-70b.tensorParallelSize: 8 GPUs per replica, but a node has 4",
        id="replica-larger-than-node",
    ),
    pytest.param(
        prod({"tenants.research.quota.gpus": 32}),
        "error: tenants.research.quota.gpus: 32 GPUs, but the pools its models run on hold at most 24",
        id="quota-beyond-its-pools",
    ),
]


@pytest.mark.parametrize(("sections", "expected"), BAD_WORKLOAD_CONFIGS)
def test_bad_storage_tenant_and_model_config_is_named(sections: dict[str, Any], expected: str) -> None:
    found = problems(sections, PROD_SECRETS)
    assert any(line.startswith(expected) for line in found), found


def test_a_plain_text_token_is_refused() -> None:
    found = problems(prod(), secret_sections=frozenset({"tenants", "models", "monitoring"}))
    assert found == [
        "error: storage.huggingFaceToken: is stored in plain text; set it with "
        "`pulumi config set --secret --path 'llm-platform:storage.huggingFaceToken' <value>`"
    ]


BAD_SERVING_CONFIGS = [
    pytest.param(
        prod(
            {"models.llama-70b.pool": "a10g"}
            | {"gpuPools.a10g": {"instanceTypes": ["g5.12xlarge"], "maxSize": 4}}
        ),
        "error: models.llama-70b: does not fit pool a10g (4 x A10G (22.4 GiB each) per node of pool a10g): "
        "at 4 GPUs the 131.5 GiB of bfloat16 weights leave 0.0 GiB of KV cache",
        id="model-cannot-fit-the-pool",
    ),
    pytest.param(
        prod({"models.llama-70b.tensorParallelSize": 2}),
        "error: models.llama-70b.tensorParallelSize: 2 is too small: at 2 GPUs the 131.5 GiB of bfloat16 weights "
        "leave 9.5 GiB of KV cache; one 32768-token sequence needs 10.0 GiB",
        id="pinned-tensor-parallel-too-small",
    ),
    pytest.param(
        prod({"models.llama-70b.tensorParallelSize": 3}),
        "error: models.llama-70b.tensorParallelSize: 3 does not divide the 64 attention heads",
        id="pinned-tensor-parallel-not-dividing-heads",
    ),
    pytest.param(
        prod({"models.llama-8b.tensorParallelSize": 2}),
        "error: models.llama-8b.tensorParallelSize: 2 GPUs per replica, but a node has 1",
        id="pinned-tensor-parallel-beyond-the-node",
    ),
    pytest.param(
        prod(
            {
                "models.llama-8b-canary": {
                    **LLAMA_8B,
                    "architecture": "llama-3.1-8b",
                    "maxReplicas": 1,
                    "minReplicas": 1,
                }
            }
        ),
        "error: models.llama-8b-canary: two autoscalers would scale Deployment search/llama-8b-canary",
        id="two-scalers-on-one-deployment",
    ),
    pytest.param(
        prod({"models.llama-8b.canary.weight": 150}),
        "error: models.llama-8b.canary.weight: Input should be less than or equal to 100",
        id="canary-weight-over-100",
    ),
    pytest.param(
        prod({"models.llama-8b.canary": {"weight": 10}}),
        "error: models.llama-8b.canary: changes nothing: set imageTag, revision, maxNumSeqs or gpuMemoryUtilization",
        id="canary-changing-nothing",
    ),
    pytest.param(
        prod({"models.llama-8b.canary.imageTag": "latest"}),
        "error: models.llama-8b.canary.imageTag: 'latest' is not a vLLM release tag",
        id="canary-image-latest",
    ),
    pytest.param(
        prod({"models.llama-70b.apiKey": DELETE}),
        "error: models.llama-70b.apiKey: is required but not set",
        id="missing-api-key",
    ),
    pytest.param(
        prod({"models.llama-8b.minReplicas": 0}),
        "error: models.llama-8b.minReplicas: 0 needs autoscaling.workingHours",
        id="scale-to-zero-without-a-wake-up",
    ),
    pytest.param(
        prod({"ingress": DELETE}),
        "error: ingress: is required to serve models",
        id="models-without-ingress",
    ),
    pytest.param(
        prod({"models.llama-8b.architecture": "llama-4-maverick"}),
        "error: models.llama-8b.architecture: 'llama-4-maverick' is not a known architecture",
        id="unknown-architecture",
    ),
    pytest.param(
        prod({"models.llama-70b.autoscaling.fallbackReplicas": 9}),
        "error: models.llama-70b.autoscaling.fallbackReplicas: 9 is above maxReplicas 4",
        id="fallback-above-maximum",
    ),
    pytest.param(
        prod({"tenants.search.quota.memory": "128Gi"}),
        "error: tenants.search.quota.memory: 128Gi cannot hold 181Gi of serving pods at maximum scale",
        id="quota-memory-below-serving-pods",
    ),
]


@pytest.mark.parametrize(("sections", "expected"), BAD_SERVING_CONFIGS)
def test_bad_serving_config_is_named_with_its_numbers(sections: dict[str, Any], expected: str) -> None:
    found = problems(sections)
    assert any(line.startswith(expected) for line in found), found


def test_a_plain_text_api_key_is_refused() -> None:
    found = problems(prod(), secret_sections=frozenset({"storage", "tenants", "monitoring"}))
    assert "error: models.llama-8b.apiKey: is stored in plain text; set it with " in found[0]
    assert len(found) == 2  # both models


def test_a_managed_pool_keeps_its_node_floor() -> None:
    # kind: managed is an EKS managed node group: minSize and desiredSize are its own
    cfg = load_stack_config(
        dev({"gpuPools.l4.kind": "managed", "gpuPools.l4.minSize": 1, "gpuPools.l4.desiredSize": 1}),
        SECRET_SECTIONS,
    )
    assert (cfg.gpu_pools["l4"].kind, cfg.gpu_pools["l4"].min_size) == ("managed", 1)


def test_a_boolean_is_not_a_cidr() -> None:
    """ipaddress reads False as 0.0.0.0/32 (with a DeprecationWarning); the config refuses it."""
    from pydantic import ValidationError

    from infra.config.cloud import EndpointConfig
    from infra.config.workloads import IngressConfig

    ingress = {
        "domain": "llm.example.com",
        "certificateArn": "arn:aws:acm:us-east-1:111111111111:certificate/0b7e",
    }
    with pytest.raises(ValidationError, match=r"(?i)false is not a CIDR"):
        IngressConfig.model_validate({**ingress, "allowedCidrs": [False]})
    with pytest.raises(ValidationError, match=r"(?i)true is not a CIDR"):
        EndpointConfig.model_validate({"publicAccessCidrs": ["10.0.0.0/8", True]})
    assert IngressConfig.model_validate({**ingress, "allowedCidrs": ["10.0.0.0/8"]}).allowed_cidrs


def test_a_triton_model_behind_the_ai_gateway_is_refused() -> None:
    found = problems(prod({"models.llama-8b.runtime": "triton", "models.llama-8b.canary": DELETE}))
    assert any(
        p.startswith("error: models.llama-8b.runtime: triton is not served through the AI gateway")
        for p in found
    ), found
