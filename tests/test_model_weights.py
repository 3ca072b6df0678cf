"""ModelWeights: least-privilege access to one model's files, the shared volume and an idempotent sync job."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components import ModelWeights, versions
from components.core import labels
from components.core.placement import POOL_LABEL
from components.core.quantity import memory_mib
from components.core.sizing import ARCHITECTURES
from components.model_weights import (
    DOWNLOAD_FROM_HUB,
    FETCH_FROM_S3,
    INSTALL_HUB_CLIENT,
    MIRROR_TO_S3,
    hub_download_memory_bytes,
)
from tests.conftest import RunPulumi
from tests.graph import Graph, policy, props
from tests.iam_eval import allows
from tests.pod_identity import scoped_to

BUCKET = "arn:aws:s3:::models-bucket"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1111"
CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/llm-test"
REVISION = "0e9e39f249a16976918f6564b8830bc894c89659"
VIA_S3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}


def build(run_pulumi: RunPulumi, name: str = "llama", **overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "namespace": "team-a",
        "cluster_name": "llm-test",
        "cluster_arn": CLUSTER_ARN,
        "bucket_name": "models-bucket",
        "bucket_arn": BUCKET,
        "kms_key_arn": KEY,
        "revision": REVISION,
        "hugging_face_repo": "meta-llama/Llama-3.1-8B-Instruct",
        "hugging_face_token": "hf_not_a_real_token",
        "storage_class_name": "llm-test-efs",
        **overrides,
    }
    args = {k: v for k, v in args.items() if v is not None}  # None: leave the argument out

    def program() -> None:
        providers = [aws.Provider("aws", region="us-east-1"), k8s.Provider("k8s", kubeconfig="{}")]
        ModelWeights(name, args, pulumi.ResourceOptions(providers=providers))  # type: ignore[arg-type]

    return run_pulumi(program)


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build(run_pulumi)


def role_of(g: Graph, service_account: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(trust policy, permissions policy) of the role bound to `service_account`."""
    association = next(
        a
        for a in g.of_type("eks/podIdentityAssociation:PodIdentityAssociation")
        if a.props["serviceAccount"] == service_account
    )
    role = next(r for r in g.of_type("iam/role:Role") if r.state["arn"] == association.props["roleArn"])
    permissions = next(
        p for p in g.of_type("iam/rolePolicy:RolePolicy") if p.props["role"] == role.state["name"]
    )
    assert props(association)["namespace"] == "team-a"
    return policy(role, "assumeRolePolicy"), policy(permissions, "policy")


def test_reader_can_read_its_model_and_nothing_else(graph: Graph) -> None:
    _, reader = role_of(graph, "llama-model")
    own = f"{BUCKET}/models/llama/{REVISION}/model.safetensors"
    assert allows(reader, "s3:GetObject", own)
    assert allows(reader, "s3:ListBucket", BUCKET, {"s3:prefix": f"models/llama/{REVISION}/"})
    assert allows(reader, "kms:Decrypt", KEY, VIA_S3)
    assert not allows(reader, "s3:PutObject", own)
    assert not allows(reader, "s3:DeleteObject", own)
    assert not allows(reader, "s3:GetObject", f"{BUCKET}/models/qwen/abc/model.safetensors")
    assert not allows(
        reader, "s3:GetObject", f"{BUCKET}/models/llama-70b/x/config.json"
    )  # a prefix, not a name match
    assert not allows(reader, "s3:ListBucket", BUCKET, {"s3:prefix": "models/qwen/"})
    assert not allows(reader, "s3:ListBucket", BUCKET)
    assert not allows(reader, "kms:Decrypt", KEY)  # only through S3
    assert not allows(reader, "kms:Encrypt", KEY, VIA_S3)


def test_sync_job_may_also_write_its_own_prefix_only(graph: Graph) -> None:
    _, writer = role_of(graph, "llama-sync")
    assert allows(writer, "s3:PutObject", f"{BUCKET}/models/llama/{REVISION}/config.json")
    assert allows(writer, "kms:GenerateDataKey", KEY, VIA_S3)
    assert not allows(writer, "s3:PutObject", f"{BUCKET}/models/qwen/{REVISION}/config.json")
    assert not allows(writer, "s3:DeleteObject", f"{BUCKET}/models/llama/{REVISION}/config.json")
    assert not allows(writer, "s3:PutBucketPolicy", BUCKET)


@pytest.mark.parametrize("account", ["llama-model", "llama-sync"])
def test_roles_trust_only_pod_identity_of_this_cluster(graph: Graph, account: str) -> None:
    trust, _ = role_of(graph, account)
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert sorted(statement["Action"]) == ["sts:AssumeRole", "sts:TagSession"]
    assert scoped_to(trust, CLUSTER_ARN, "team-a", account)


def test_shared_volume_is_a_read_write_many_claim_of_the_efs_class(graph: Graph) -> None:
    claim = props(graph.one("core/v1:PersistentVolumeClaim"))
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "llm-test-efs"
    assert claim["metadata"]["namespace"] == "team-a"


def test_sync_job_puts_the_revision_in_its_path_and_name(graph: Graph) -> None:
    job = props(graph.one("batch/v1:Job"))
    assert job["metadata"]["name"] == "llama-sync-0e9e39f249a1"
    pod = job["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for c in pod["initContainers"] + pod["containers"] for e in c["env"]}
    assert env["DEST"] == f"/models/{REVISION}"
    assert env["PREFIX"] == f"models/llama/{REVISION}/"
    assert pod["serviceAccountName"] == "llama-sync"
    assert pod["nodeSelector"] == {POOL_LABEL: "system"}
    assert job["metadata"]["labels"][labels.PUBLIC_HTTPS_EGRESS] == "true"
    assert pod["securityContext"]["runAsNonRoot"] is True
    for container in pod["initContainers"] + pod["containers"]:
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_sync_job_waits_for_its_credentials(graph: Graph) -> None:
    job = graph.one("batch/v1:Job")
    sync_association = next(
        a
        for a in graph.of_type("eks/podIdentityAssociation:PodIdentityAssociation")
        if a.props["serviceAccount"] == "llama-sync"
    )
    assert graph.depends_on(job, sync_association)


def test_hub_token_is_a_secret_file_never_an_environment_value(graph: Graph) -> None:
    secret = graph.one("core/v1:Secret")
    assert props(secret)["stringData"] == {"token": "[secret]"}
    pod = props(graph.one("batch/v1:Job"))["spec"]["template"]["spec"]
    download = next(c for c in pod["initContainers"] if c["name"] == "download")
    assert not any("valueFrom" in e or e["name"] == "HF_TOKEN" for e in download["env"])
    assert {"name": "hf-token", "mountPath": "/var/run/secrets/huggingface", "readOnly": True} in download[
        "volumeMounts"
    ]
    assert {"name": "hf-token", "secret": {"secretName": "llama-hf-token"}} in pod["volumes"]


def test_weights_already_in_the_bucket_are_fetched_without_the_hub(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, hugging_face_repo=None, hugging_face_token=None, revision="v3")
    pod = props(g.one("batch/v1:Job"))["spec"]["template"]["spec"]
    assert pod["initContainers"] == []
    (fetch,) = pod["containers"]
    assert fetch["command"][-1] == FETCH_FROM_S3
    assert g.of_type("core/v1:Secret") == []


def test_streaming_from_s3_needs_only_the_read_role(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, hugging_face_repo=None, hugging_face_token=None, revision="v3", stream_from_s3=True)
    kinds = sorted(r.type.split(":")[-1] for r in g if r.custom and not r.is_provider)
    assert kinds == ["PodIdentityAssociation", "Role", "RolePolicy", "ServiceAccount"]
    outputs = g.one("llmplatform:index:ModelWeights").outputs
    assert outputs["model_uri"] == "s3://models-bucket/models/llama/v3/"


def _hub_pod(graph: Graph) -> dict[str, Any]:
    return dict(props(graph.one("batch/v1:Job"))["spec"]["template"]["spec"])


def test_hub_download_runs_a_small_pinned_image_not_the_cuda_vllm_image(graph: Graph) -> None:
    pod = _hub_pod(graph)
    images = {c["name"]: c["image"] for c in pod["initContainers"] + pod["containers"]}
    assert images["download"] == images["install-hub-client"] == versions.HUB_SYNC_IMAGE
    assert "vllm" not in " ".join(images.values())
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", versions.HUB_SYNC_IMAGE)
    # the client is installed at pinned versions, with hf_xet, into a bounded emptyDir
    assert f"huggingface_hub[hf_xet]=={versions.HUGGINGFACE_HUB_VERSION}" in INSTALL_HUB_CLIENT
    assert f"hf_xet=={versions.HF_XET_VERSION}" in INSTALL_HUB_CLIENT
    assert "--no-cache-dir" in INSTALL_HUB_CLIENT
    (client,) = [v for v in pod["volumes"] if v["name"] == "hub-client"]
    assert client["emptyDir"]["sizeLimit"]


def test_hub_caches_live_on_the_model_volume_not_the_node_disk(graph: Graph) -> None:
    pod = _hub_pod(graph)
    download = next(c for c in pod["initContainers"] if c["name"] == "download")
    env = {e["name"]: e.get("value") for e in download["env"]}
    dest = f"/models/{REVISION}"
    assert env["HF_XET_CACHE"].startswith(f"{dest}/.cache/")
    assert env["HF_HUB_CACHE"].startswith(f"{dest}/.cache/")
    assert env["HF_XET_CHUNK_CACHE_SIZE_BYTES"] == "0"
    assert env["PYTHONPATH"] == env["HUB_CLIENT_DIR"]
    # every emptyDir the job writes to has a bound
    assert all(v["emptyDir"].get("sizeLimit") for v in pod["volumes"] if "emptyDir" in v)
    assert '--exclude ".cache/*"' in MIRROR_TO_S3 and 'rm -rf "$DEST/.cache/xet"' in MIRROR_TO_S3


def test_hub_download_memory_holds_the_largest_catalog_model(graph: Graph) -> None:
    download = next(c for c in _hub_pod(graph)["initContainers"] if c["name"] == "download")
    limit_mib = memory_mib(download["resources"]["limits"]["memory"])
    need = max(hub_download_memory_bytes(a.parameters) for a in ARCHITECTURES.values())
    assert limit_mib * 2**20 >= need
    assert memory_mib(download["resources"]["requests"]["memory"]) <= limit_mib


def test_every_aws_client_gets_the_region_boto3_reads(stack_graph: Graph) -> None:
    """boto3 (vLLM's S3 streamer, the Hub client) reads AWS_DEFAULT_REGION, not AWS_REGION."""
    found = 0
    for resource in stack_graph.of_type("batch/v1:Job") + stack_graph.of_type("apps/v1:Deployment"):
        pod = props(resource)["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if "AWS_REGION" in env:
                found += 1
                assert env.get("AWS_DEFAULT_REGION") == env["AWS_REGION"], container["name"]
    assert found


# --- the sync scripts themselves, run against fakes of aws and huggingface_hub -----------------


def _fake_tools(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A fake `aws` that records its calls and creates a config.json, and a fake Hub client."""
    calls = tmp_path / "calls.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    aws_cli = bin_dir / "aws"
    aws_cli.write_text(
        '#!/bin/sh\necho "aws $*" >> "$CALLS"\n'
        'last=$(eval echo \\${$#}); case "$last" in s3://*) ;; *) mkdir -p "$last"; touch "$last/config.json";; esac\n'
    )
    aws_cli.chmod(0o755)
    hub = tmp_path / "py" / "huggingface_hub"
    hub.mkdir(parents=True)
    (hub / "__init__.py").write_text(
        "import os, pathlib\n"
        "def snapshot_download(repo_id, revision, local_dir):\n"
        "    open(os.environ['CALLS'], 'a').write(f'hub {repo_id}@{revision}\\n')\n"
        "    pathlib.Path(local_dir).mkdir(parents=True, exist_ok=True)\n"
        "    (pathlib.Path(local_dir) / 'config.json').write_text('{}')\n"
    )
    dest = tmp_path / "models" / "rev1"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(tmp_path / "py"),
        "CALLS": str(calls),
        "DEST": str(dest),
        "BUCKET": "models-bucket",
        "PREFIX": "models/llama/rev1/",
        "REPO": "meta-llama/Llama-3.1-8B-Instruct",
        "REVISION": "rev1",
    }
    return env, calls


def _run_hub_sync(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-c", DOWNLOAD_FROM_HUB], env=env, check=True)
    subprocess.run(["/bin/sh", "-c", MIRROR_TO_S3], env=env, check=True)


def test_hub_sync_downloads_mirrors_and_a_second_run_copies_nothing(tmp_path: Path) -> None:
    env, calls = _fake_tools(tmp_path)
    _run_hub_sync(env)
    first = calls.read_text().splitlines()
    assert first == [
        "hub meta-llama/Llama-3.1-8B-Instruct@rev1",
        f"aws s3 sync --only-show-errors --exclude .cache/* {env['DEST']}/ s3://models-bucket/models/llama/rev1/",
    ]
    assert (Path(env["DEST"]) / ".complete").exists()
    _run_hub_sync(env)
    assert calls.read_text().splitlines() == first


def test_bucket_sync_is_idempotent_and_refuses_an_empty_prefix(tmp_path: Path) -> None:
    env, calls = _fake_tools(tmp_path)
    subprocess.run(["/bin/sh", "-c", FETCH_FROM_S3], env=env, check=True)
    subprocess.run(["/bin/sh", "-c", FETCH_FROM_S3], env=env, check=True)
    assert len(calls.read_text().splitlines()) == 1

    empty = tmp_path / "bin" / "aws"
    empty.write_text('#!/bin/sh\necho "aws $*" >> "$CALLS"\n')  # copies nothing
    result = subprocess.run(
        ["/bin/sh", "-c", FETCH_FROM_S3],
        env={**env, "DEST": str(tmp_path / "models" / "rev2")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "no model (config.json) under s3://models-bucket/models/llama/rev1/" in result.stderr
    assert not (tmp_path / "models" / "rev2" / ".complete").exists()


def test_a_canary_of_the_stable_revision_shares_its_sync_job(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, extra_revisions=[REVISION])
    assert [props(j)["metadata"]["name"] for j in g.of_type("batch/v1:Job")] == ["llama-sync-0e9e39f249a1"]


def test_revisions_sharing_their_first_characters_get_distinct_jobs(run_pulumi: RunPulumi) -> None:
    g = build(
        run_pulumi,
        hugging_face_repo=None,
        hugging_face_token=None,
        revision="llama-70b-2026-10",
        extra_revisions=["llama-70b-2026-11", "LLAMA_70B_2026_12"],
    )
    names = [props(j)["metadata"]["name"] for j in g.of_type("batch/v1:Job")]
    assert names[0] == "llama-sync-llama-70b-20"
    assert len(set(names)) == 3 and all(len(n) <= 63 for n in names)
