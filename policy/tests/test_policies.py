"""Each policy passes every resource of this project's dev and prod plans, and catches the
violation it exists for in a resource of those plans changed the way a careless stack would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import resource_args, stack_args
from policies import POLICIES
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

Plan = Callable[[str], list[dict[str, Any]]]
BY_NAME = {p.name: p for p in POLICIES}


def violations(policy_name: str, records: list[dict[str, Any]]) -> list[str]:
    policy = BY_NAME[policy_name]
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    if isinstance(policy, ResourceValidationPolicy):
        for record in records:
            policy.validate(resource_args(record), report)
    else:
        assert isinstance(policy, StackValidationPolicy)
        policy.validate(stack_args(records), report)
    return found


def one(records: list[dict[str, Any]], type_: str, name: str | None = None) -> dict[str, Any]:
    found = [r for r in records if r["type"] == type_ and (name is None or r["name"] == name)]
    assert found, (type_, name)
    return found[0]


def vllm(records: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        r
        for r in records
        if r["type"] == "kubernetes:apps/v1:Deployment"
        and r["props"]["spec"]["template"]["spec"]["containers"][0]["name"] == "vllm"
    )


def container(record: dict[str, Any]) -> dict[str, Any]:
    return record["props"]["spec"]["template"]["spec"]["containers"][0]


def test_the_pack_has_every_invariant_and_blocks_on_each() -> None:
    assert set(BY_NAME) == {
        "no-latest-images",
        "gpu-workloads-target-a-gpu-pool",
        "gpu-namespaces-have-a-gpu-quota",
        "models-only-through-the-ai-gateway",
        "storage-encrypted-and-private",
        "launch-templates-require-imdsv2",
        "inference-services-have-an-api-key",
        "vllm-routes-publish-only-guarded-paths",
        "triton-behind-authentication",
    }
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in POLICIES)


@pytest.mark.parametrize("stack", ["dev", "prod"])
@pytest.mark.parametrize("policy", sorted(BY_NAME))
def test_the_platform_passes(plan: Plan, stack: str, policy: str) -> None:
    assert violations(policy, plan(stack)) == []


# --- no latest images -------------------------------------------------------------------------


@pytest.mark.parametrize("image", ["vllm/vllm-openai:latest", "vllm/vllm-openai", "registry:5000/team/vllm"])
def test_an_unpinned_vllm_image_is_caught(plan: Plan, image: str) -> None:
    records = plan("prod")
    container(vllm(records))["image"] = image
    assert len(violations("no-latest-images", records)) == 1


def test_a_digest_or_a_registry_port_is_not_mistaken_for_latest(plan: Plan) -> None:
    records = plan("prod")
    container(vllm(records))["image"] = "registry:5000/vllm/vllm-openai@sha256:" + "a" * 64
    assert violations("no-latest-images", records) == []


def test_an_image_in_a_list_of_helm_values_is_caught(plan: Plan) -> None:
    records = plan("prod")
    release = one(records, "kubernetes:helm.sh/v3:Release", "keda")
    release["props"]["values"]["extraContainers"] = [{"name": "sidecar", "image": "busybox:latest"}]
    assert violations("no-latest-images", records) == [
        "values.extraContainers.[0].image: image busybox:latest is :latest"
    ]


def test_an_image_unknown_during_preview_is_left_for_the_update(plan: Plan) -> None:
    records = plan("prod")
    container(vllm(records))["image"] = UNKNOWN_STRING_VALUE
    assert violations("no-latest-images", records) == []
    assert violations("inference-services-have-an-api-key", records) == []


def test_a_helm_value_of_latest_is_caught(plan: Plan) -> None:
    records = plan("prod")
    release = one(records, "kubernetes:helm.sh/v3:Release", "keda")
    release["props"]["values"]["image"] = {"keda": {"tag": "latest"}}
    assert violations("no-latest-images", records) == [
        "values.image.keda.tag is latest; pin the chart's image tag or leave the chart's own"
    ]


# --- GPU workloads on GPU pools ----------------------------------------------------------------


def test_a_gpu_pod_without_the_pool_selector_is_caught(plan: Plan) -> None:
    records = plan("prod")
    vllm(records)["props"]["spec"]["template"]["spec"]["nodeSelector"] = {}
    (message,) = violations("gpu-workloads-target-a-gpu-pool", records)
    assert "selects no GPU pool" in message


def test_a_gpu_pod_that_does_not_tolerate_the_taint_is_caught(plan: Plan) -> None:
    records = plan("dev")
    vllm(records)["props"]["spec"]["template"]["spec"]["tolerations"] = []
    (message,) = violations("gpu-workloads-target-a-gpu-pool", records)
    assert "would stay Pending" in message


def test_pods_without_gpus_may_go_anywhere(plan: Plan) -> None:
    records = plan("prod")
    deployment = vllm(records)
    spec = deployment["props"]["spec"]["template"]["spec"]
    spec["nodeSelector"], spec["tolerations"] = {}, []
    for section in ("limits", "requests"):
        del container(deployment)["resources"][section]["nvidia.com/gpu"]
    assert violations("gpu-workloads-target-a-gpu-pool", records) == []


# --- GPU quota per namespace -----------------------------------------------------------------------


def test_a_gpu_namespace_without_a_gpu_quota_is_caught(plan: Plan) -> None:
    records = plan("prod")
    namespace = vllm(records)["props"]["metadata"]["namespace"]
    quota = next(
        r
        for r in records
        if r["type"] == "kubernetes:core/v1:ResourceQuota"
        and r["props"]["metadata"]["namespace"] == namespace
    )
    del quota["props"]["spec"]["hard"]["requests.nvidia.com/gpu"]
    found = violations("gpu-namespaces-have-a-gpu-quota", records)
    assert found and all(f"namespace {namespace}," in m for m in found)


def test_a_quota_whose_namespace_is_unknown_may_be_the_one(plan: Plan) -> None:
    records = plan("prod")
    for quota in (r for r in records if r["type"] == "kubernetes:core/v1:ResourceQuota"):
        del quota["props"]["spec"]["hard"]["requests.nvidia.com/gpu"]
    assert violations("gpu-namespaces-have-a-gpu-quota", records)  # every GPU namespace now lacks one
    quota = one(records, "kubernetes:core/v1:ResourceQuota")
    quota["props"]["spec"]["hard"]["requests.nvidia.com/gpu"] = "1"
    quota["props"]["metadata"]["namespace"] = UNKNOWN_STRING_VALUE
    assert violations("gpu-namespaces-have-a-gpu-quota", records) == []


# --- storage -----------------------------------------------------------------------------------------


def test_a_bucket_without_kms_encryption_is_caught(plan: Plan) -> None:
    records = plan("prod")
    encryption = next(
        r
        for r in records
        if r["type"].endswith("BucketServerSideEncryptionConfiguration") and "models" in r["name"]
    )
    encryption["props"]["rules"][0]["applyServerSideEncryptionByDefault"] = {"sseAlgorithm": "AES256"}
    (message,) = violations("storage-encrypted-and-private", records)
    assert "models" in message and "no default encryption with KMS" in message


def test_sse_s3_needs_its_reason_tag(plan: Plan) -> None:
    records = plan("prod")
    bucket = one(records, "aws:s3/bucket:Bucket", "llm-platform-prod-alb-logs")
    del bucket["props"]["tags"]["llm-platform.io/sse-s3"]
    (message,) = violations("storage-encrypted-and-private", records)
    assert "alb-logs" in message


def test_a_bucket_without_its_public_access_block_is_caught(plan: Plan) -> None:
    records = plan("dev")
    block = next(
        r for r in records if r["type"].endswith("BucketPublicAccessBlock") and "models" in r["name"]
    )
    block["props"]["restrictPublicBuckets"] = False
    (message,) = violations("storage-encrypted-and-private", records)
    assert "public access block" in message


def test_an_unencrypted_file_system_is_caught(plan: Plan) -> None:
    records = plan("prod")
    one(records, "aws:efs/fileSystem:FileSystem")["props"]["encrypted"] = False
    (message,) = violations("storage-encrypted-and-private", records)
    assert "not encrypted" in message


def test_an_unknown_value_skips_one_resource_not_the_rest(plan: Plan) -> None:
    records = plan("prod")
    one(records, "aws:efs/fileSystem:FileSystem")["props"]["kmsKeyId"] = UNKNOWN_STRING_VALUE
    block = next(
        r for r in records if r["type"].endswith("BucketPublicAccessBlock") and "models" in r["name"]
    )
    block["props"]["blockPublicPolicy"] = False
    (message,) = violations("storage-encrypted-and-private", records)
    assert "models" in message and "public access block" in message


# --- IMDSv2 --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [("httpTokens", "optional"), ("httpPutResponseHopLimit", 2)])
def test_a_launch_template_allowing_imdsv1_or_pods_is_caught(plan: Plan, key: str, value: Any) -> None:
    records = plan("prod")
    one(records, "aws:ec2/launchTemplate:LaunchTemplate")["props"]["metadataOptions"][key] = value
    (message,) = violations("launch-templates-require-imdsv2", records)
    assert key in message


@pytest.mark.parametrize(("key", "value"), [("httpTokens", "optional"), ("httpPutResponseHopLimit", 2)])
def test_a_karpenter_node_class_allowing_imdsv1_or_pods_is_caught(plan: Plan, key: str, value: Any) -> None:
    records = plan("prod")
    node_class = next(r for r in records if r["type"] == "kubernetes:karpenter.k8s.aws/v1:EC2NodeClass")
    node_class["props"]["spec"]["metadataOptions"][key] = value
    (message,) = violations("launch-templates-require-imdsv2", records)
    assert key in message


# --- API keys ------------------------------------------------------------------------------------------


def test_vllm_without_an_api_key_is_caught(plan: Plan) -> None:
    records = plan("dev")
    c = container(vllm(records))
    c["args"] = [a for a in c["args"] if a not in ("--api-key", "$(VLLM_API_KEY)")]
    c["env"] = [e for e in c["env"] if e["name"] != "VLLM_API_KEY"]
    (message,) = violations("inference-services-have-an-api-key", records)
    assert "without an API key" in message


def test_the_platform_passes_the_key_by_environment_only(plan: Plan) -> None:
    for stack in ("dev", "prod"):
        c = container(vllm(plan(stack)))
        assert not any(a.startswith("--api-key") for a in c["args"])
        (key,) = [e for e in c["env"] if e["name"] == "VLLM_API_KEY"]
        assert "secretKeyRef" in key["valueFrom"]


def test_a_literal_api_key_argument_is_caught(plan: Plan) -> None:
    records = plan("dev")
    c = container(vllm(records))
    c["args"] += ["--api-key", "sk-in-the-spec"]
    (message,) = violations("inference-services-have-an-api-key", records)
    assert "literal key with --api-key" in message


@pytest.mark.parametrize("flag", [["--api-key", "$(VLLM_API_KEY)"], ["--api-key=$(VLLM_API_KEY)"]])
def test_the_key_flag_is_caught_even_when_it_names_the_variable(plan: Plan, flag: list[str]) -> None:
    # The kubelet expands $(VLLM_API_KEY) into argv: /proc/<pid>/cmdline shows the key.
    records = plan("dev")
    c = container(vllm(records))
    c["args"] += flag
    (message,) = violations("inference-services-have-an-api-key", records)
    assert "command line" in message and "literal" not in message


def test_the_api_server_module_in_any_image_needs_a_key(plan: Plan) -> None:
    records = plan("dev")
    c = container(vllm(records))
    c["image"] = "registry.example.com/team/llm-server:1.4"
    c["command"] = ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    c["env"] = [e for e in c["env"] if e["name"] != "VLLM_API_KEY"]
    c["args"] = [a for a in c["args"] if a not in ("--api-key", "$(VLLM_API_KEY)")]
    (message,) = violations("inference-services-have-an-api-key", records)
    assert "without an API key" in message


def test_an_api_key_written_into_the_spec_is_caught(plan: Plan) -> None:
    records = plan("dev")
    c = container(vllm(records))
    c["env"] = [e for e in c["env"] if e["name"] != "VLLM_API_KEY"] + [{"name": "VLLM_API_KEY", "value": "k"}]
    (message,) = violations("inference-services-have-an-api-key", records)
    assert "literal" in message


# --- public routes to vLLM --------------------------------------------------------------------------


ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"


def route(records: list[dict[str, Any]]) -> dict[str, Any]:
    return one(records, ROUTE)["props"]["spec"]


def test_the_platforms_routes_match_only_guarded_prefixes(plan: Plan) -> None:
    for stack in ("dev", "prod"):
        routes = [r for r in plan(stack) if r["type"] == ROUTE]
        assert routes
        for r in routes:
            # a Triton model publishes inference only; its proxy asks the key there
            triton_route = r["props"]["metadata"]["name"].endswith("-triton")
            for rule in r["props"]["spec"]["rules"]:
                assert [m["path"] for m in rule["matches"]] == (
                    [{"type": "PathPrefix", "value": "/v2/models"}]
                    if triton_route
                    else [{"type": "PathPrefix", "value": "/v1"}, {"type": "PathPrefix", "value": "/v2"}]
                )
        assert violations("vllm-routes-publish-only-guarded-paths", plan(stack)) == []


@pytest.mark.parametrize(
    "match",
    [
        {"path": {"type": "PathPrefix", "value": "/"}},
        {"path": {"type": "PathPrefix", "value": "/invocations"}},
        {"path": {"type": "Exact", "value": "/tokenize"}},
        {"path": {"type": "PathPrefix", "value": "/metrics"}},
        {"path": {"type": "RegularExpression", "value": "/v1/.*"}},
        {"headers": [{"name": "x-team", "value": "a"}]},  # no path: every path
    ],
)
def test_a_route_to_vllm_reaching_an_unguarded_path_is_caught(plan: Plan, match: dict[str, Any]) -> None:
    records = plan("prod")
    route(records)["rules"][0]["matches"].append(match)
    (message,) = violations("vllm-routes-publish-only-guarded-paths", records)
    assert "sends requests to vLLM" in message


def test_a_route_to_vllm_without_matches_is_caught(plan: Plan) -> None:
    records = plan("dev")
    del route(records)["rules"][0]["matches"]
    (message,) = violations("vllm-routes-publish-only-guarded-paths", records)
    assert "PathPrefix /" in message


def test_a_path_rewrite_on_a_route_to_vllm_is_caught(plan: Plan) -> None:
    records = plan("dev")
    route(records)["rules"][0]["filters"] = [
        {
            "type": "URLRewrite",
            "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}},
        }
    ]
    (message,) = violations("vllm-routes-publish-only-guarded-paths", records)
    assert "rewrites the path" in message


@pytest.mark.parametrize(
    "match",
    [
        {"path": {"type": "PathPrefix", "value": "/v1/chat/completions"}},
        {"path": {"type": "Exact", "value": "/v1/models"}},
        {"path": {"type": "PathPrefix", "value": "/inference"}},
        {"path": {"type": "PathPrefix", "value": "/cohere"}},
    ],
)
def test_a_narrower_or_other_guarded_prefix_passes(plan: Plan, match: dict[str, Any]) -> None:
    records = plan("prod")
    route(records)["rules"][0]["matches"] = [match]
    assert violations("vllm-routes-publish-only-guarded-paths", records) == []


def test_a_route_to_something_other_than_vllm_may_match_any_path(plan: Plan) -> None:
    records = plan("dev")
    rule = route(records)["rules"][0]
    rule["matches"] = [{"path": {"type": "PathPrefix", "value": "/"}}]
    rule["backendRefs"] = [{"name": "web-ui", "port": 80}]
    assert violations("vllm-routes-publish-only-guarded-paths", records) == []


def test_a_route_on_an_internal_load_balancer_is_not_public(plan: Plan) -> None:
    records = plan("dev")
    route(records)["rules"][0]["matches"] = [{"path": {"type": "PathPrefix", "value": "/"}}]
    assert len(violations("vllm-routes-publish-only-guarded-paths", records)) == 1
    one(records, "kubernetes:gateway.k8s.aws/v1:LoadBalancerConfiguration")["props"]["spec"]["scheme"] = (
        "internal"
    )
    assert violations("vllm-routes-publish-only-guarded-paths", records) == []


def test_a_route_whose_backend_is_unknown_in_preview_is_left_for_the_update(plan: Plan) -> None:
    records = plan("dev")
    rule = route(records)["rules"][0]
    rule["matches"] = [{"path": {"type": "PathPrefix", "value": "/"}}]
    rule["backendRefs"][0]["name"] = UNKNOWN_STRING_VALUE
    assert violations("vllm-routes-publish-only-guarded-paths", records) == []


# --- Triton ----------------------------------------------------------------------------------------


def triton(records: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        r
        for r in records
        if r["type"] == "kubernetes:apps/v1:Deployment"
        and r["props"]["spec"]["template"]["spec"]["containers"][0]["name"] == "triton"
    )


def test_dev_declares_a_triton_model_that_passes(plan: Plan) -> None:
    records = plan("dev")
    assert container(triton(records))["image"].startswith("nvcr.io/nvidia/tritonserver:")
    assert violations("triton-behind-authentication", records) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda c: c["args"].append("--http-address=0.0.0.0"), "listens for HTTP beyond loopback"),
        (lambda c: c["args"].remove("--http-address=127.0.0.1"), "listens for HTTP beyond loopback"),
        (lambda c: c["args"].remove("--allow-grpc=false"), "serves gRPC"),
        (lambda c: c["args"].append("--allow-sagemaker=true"), "--allow-sagemaker"),
    ],
)
def test_a_triton_reachable_without_the_proxy_is_caught(plan: Plan, change: Any, expected: str) -> None:
    records = plan("dev")
    change(container(triton(records)))
    (message,) = violations("triton-behind-authentication", records)
    assert expected in message


def test_a_triton_without_its_proxy_or_gpus_is_caught(plan: Plan) -> None:
    records = plan("dev")
    pod = triton(records)["props"]["spec"]["template"]["spec"]
    pod["containers"] = pod["containers"][:1]
    for key in ("limits", "requests"):
        del pod["containers"][0]["resources"][key]["nvidia.com/gpu"]
    found = violations("triton-behind-authentication", records)
    assert len(found) == 2
    assert any("requests no nvidia.com/gpu" in m for m in found)
    assert any("no authenticating proxy" in m for m in found)


def test_with_the_ai_gateway_no_public_route_reaches_a_model_around_it(plan: Plan) -> None:
    records = plan("prod")
    assert violations("models-only-through-the-ai-gateway", records) == []
    # The ALB's route sends a model's path straight to its Service, skipping the gateway.
    route(records)["rules"][0]["backendRefs"].append(
        {"name": "llama-8b", "namespace": "search", "port": 8000}
    )
    (message,) = violations("models-only-through-the-ai-gateway", records)
    assert "straight to vLLM Service search/llama-8b" in message
    # Without the gateway (dev) the ALB routes to the model itself, as it should.
    assert violations("models-only-through-the-ai-gateway", plan("dev")) == []


def test_the_gateway_proxies_count_as_vllm_for_the_guarded_paths(plan: Plan) -> None:
    records = plan("prod")
    route(records)["rules"][0]["matches"].append({"path": {"type": "PathPrefix", "value": "/metrics"}})
    (message,) = violations("vllm-routes-publish-only-guarded-paths", records)
    assert message.endswith("/v1 and /v2)") and "/ai-gateway sends requests to vLLM but" in message
