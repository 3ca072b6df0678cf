"""ModelStore: a private, encrypted, TLS-only bucket and an EFS cache only the nodes can reach."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components import ModelStore, versions
from components.core.storage import MODEL_FILES_UID
from tests.conftest import RunPulumi
from tests.graph import Graph, policy, props
from tests.iam_eval import allows
from tests.pod_identity import scoped_to

CLUSTER_ARN = "arn:aws:eks:us-east-1:123456789012:cluster/llm-test"
SUBNETS = ["subnet-0a", "subnet-0b", "subnet-0c"]
ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]


def build(run_pulumi: RunPulumi, **overrides: Any) -> Graph:
    args: dict[str, Any] = {
        "cluster_name": "llm-test",
        "cluster_arn": CLUSTER_ARN,
        "vpc_id": "vpc-0123",
        "subnets_by_zone": dict(zip(ZONES, SUBNETS, strict=True)),
        "system_node_group_name": "llm-test-system",
        "node_security_group_id": "sg-nodes",
        "noncurrent_version_days": 30,
        **overrides,
    }

    def program() -> None:
        providers = [aws.Provider("aws", region="us-east-1"), k8s.Provider("k8s", kubeconfig="{}")]
        ModelStore("llm-test", args, pulumi.ResourceOptions(providers=providers))  # type: ignore[arg-type]

    return run_pulumi(program)


@pytest.fixture
def graph(run_pulumi: RunPulumi) -> Graph:
    return build(run_pulumi, access_log_retention_days=365)


def _for_bucket(g: Graph, suffix: str, bucket_name: str) -> Any:
    return next(r for r in g.of_type(suffix) if r.name == bucket_name)


def test_model_bucket_is_encrypted_with_its_own_rotating_key(graph: Graph) -> None:
    sse = props(_for_bucket(graph, "BucketServerSideEncryptionConfiguration", "llm-test-models"))
    (rule,) = sse["rules"]
    default = rule["applyServerSideEncryptionByDefault"]
    assert default["sseAlgorithm"] == "aws:kms"
    key = next(k for k in graph.of_type("kms/key:Key") if k.name == "llm-test-models")
    assert default["kmsMasterKeyId"] == key.state["arn"]
    assert props(key)["enableKeyRotation"] is True
    assert rule["bucketKeyEnabled"] is True


def test_buckets_are_private_owner_enforced_and_tls_only(graph: Graph) -> None:
    buckets = graph.of_type("s3/bucket:Bucket")
    assert len(buckets) == 2  # models and access logs
    for bucket in buckets:
        block = props(_for_bucket(graph, "BucketPublicAccessBlock", bucket.name))
        assert all(
            block[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        owner = props(_for_bucket(graph, "BucketOwnershipControls", bucket.name))
        assert owner["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        doc = policy(_for_bucket(graph, "BucketPolicy", bucket.name), "policy")
        arn = bucket.state["arn"]
        assert not allows(doc, "s3:GetObject", f"{arn}/models/x", {"aws:SecureTransport": "false"})


def test_model_bucket_keeps_replaced_files_for_a_while(graph: Graph) -> None:
    versioning = props(_for_bucket(graph, "BucketVersioning", "llm-test-models"))
    assert versioning["versioningConfiguration"]["status"] == "Enabled"
    rules = {
        r["id"]: r
        for r in props(_for_bucket(graph, "BucketLifecycleConfiguration", "llm-test-models"))["rules"]
    }
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    assert rules["abort-incomplete-uploads"]["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 7


def test_access_logs_go_to_an_sse_s3_bucket_only_s3_logging_may_write(graph: Graph) -> None:
    logging = props(graph.one("s3/bucketLogging:BucketLogging"))
    models = _for_bucket(graph, "s3/bucket:Bucket", "llm-test-models")
    logs = _for_bucket(graph, "s3/bucket:Bucket", "llm-test-access-logs")
    assert logging["bucket"] == models.state["bucket"]
    assert logging["targetBucket"] == logs.state["bucket"]
    sse = props(_for_bucket(graph, "BucketServerSideEncryptionConfiguration", "llm-test-access-logs"))
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    rules = props(_for_bucket(graph, "BucketLifecycleConfiguration", "llm-test-access-logs"))["rules"]
    assert {"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": 365}} in rules
    doc = json.loads(_for_bucket(graph, "BucketPolicy", "llm-test-access-logs").props["policy"])
    (write,) = [s for s in doc["Statement"] if s["Effect"] == "Allow"]
    assert write["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert write["Condition"]["ArnLike"]["aws:SourceArn"] == models.state["arn"]


def test_without_access_logging_there_is_no_log_bucket(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi)
    assert [b.name for b in g.of_type("s3/bucket:Bucket")] == ["llm-test-models"]
    assert g.of_type("s3/bucketLogging:BucketLogging") == []


def test_file_system_is_encrypted_elastic_and_mounted_in_every_subnet(graph: Graph) -> None:
    fs = props(graph.one("efs/fileSystem:FileSystem"))
    assert fs["encrypted"] is True and fs["kmsKeyId"].startswith("arn:aws:kms:")
    assert fs["throughputMode"] == "elastic"
    targets = graph.of_type("efs/mountTarget:MountTarget")
    assert sorted(props(t)["subnetId"] for t in targets) == SUBNETS


def test_nfs_is_open_to_the_nodes_only(graph: Graph) -> None:
    (rule,) = graph.of_type("vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    assert props(rule)["referencedSecurityGroupId"] == "sg-nodes"
    assert (props(rule)["fromPort"], props(rule)["toPort"], props(rule)["ipProtocol"]) == (2049, 2049, "tcp")
    assert "cidrIpv4" not in props(rule)
    group = graph.one("ec2/securityGroup:SecurityGroup")
    assert props(group).get("ingress", []) == []
    doc = policy(graph.one("efs/fileSystemPolicy:FileSystemPolicy"), "policy")
    fs_arn = graph.one("efs/fileSystem:FileSystem").state["arn"]
    mount = {"elasticfilesystem:AccessedViaMountTarget": "true", "aws:SecureTransport": "true"}
    assert allows(doc, "elasticfilesystem:ClientMount", fs_arn, mount)
    assert not allows(doc, "elasticfilesystem:ClientMount", fs_arn, {**mount, "aws:SecureTransport": "false"})
    assert not allows(doc, "elasticfilesystem:ClientRootAccess", fs_arn, mount)


def test_efs_csi_driver_runs_on_its_own_pod_identity_role(graph: Graph) -> None:
    addon = props(graph.one("eks/addon:Addon"))
    assert (addon["addonName"], addon["addonVersion"]) == (
        "aws-efs-csi-driver",
        versions.EFS_CSI_ADDON.version,
    )
    (association,) = addon["podIdentityAssociations"]
    assert association["serviceAccount"] == "efs-csi-controller-sa"
    role = graph.one("iam/role:Role")
    assert role.state["arn"] == association["roleArn"]
    (trust,) = policy(role, "assumeRolePolicy")["Statement"]
    assert trust["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert scoped_to(policy(role, "assumeRolePolicy"), CLUSTER_ARN, "kube-system", "efs-csi-controller-sa")
    attachment = props(graph.one("iam/rolePolicyAttachment:RolePolicyAttachment"))
    assert attachment["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEFSCSIDriverPolicy"


def test_storage_class_provisions_one_access_point_per_claim(graph: Graph) -> None:
    sc = props(graph.one("storage.k8s.io/v1:StorageClass"))
    assert sc["provisioner"] == "efs.csi.aws.com"
    params = sc["parameters"]
    assert params["provisioningMode"] == "efs-ap"
    assert params["fileSystemId"].startswith("fs-")
    assert params["subPathPattern"] == "${.PVC.namespace}/${.PVC.name}"
    assert params["ensureUniqueDirectory"] == "false"  # a re-made claim finds its files again
    assert params["uid"] == str(MODEL_FILES_UID)
    assert sc["reclaimPolicy"] == "Delete"
    assert graph.depends_on(graph.one("storage.k8s.io/v1:StorageClass"), graph.one("eks/addon:Addon"))


def test_protect_keeps_data_and_force_destroy_is_off_by_default(run_pulumi: RunPulumi) -> None:
    g = build(run_pulumi, protect=True, access_log_retention_days=90)
    protected = sorted((r.type.split(":")[-1], r.name) for r in g if r.protect)
    assert protected == [
        ("Bucket", "llm-test-access-logs"),
        ("Bucket", "llm-test-models"),
        ("FileSystem", "llm-test-efs"),
        ("Key", "llm-test-efs"),
        ("Key", "llm-test-models"),
    ]
    assert all(r.retain_on_delete for r in g if r.protect)
    assert props(g.one("storage.k8s.io/v1:StorageClass"))["reclaimPolicy"] == "Retain"
    assert all(props(b)["forceDestroy"] is False for b in g.of_type("s3/bucket:Bucket"))
    dev = build(run_pulumi, force_destroy=True)
    assert props(dev.one("s3/bucket:Bucket"))["forceDestroy"] is True


def test_mount_targets_are_named_by_zone_and_replaced_delete_first(graph: Graph) -> None:
    """A zone takes one mount target: a target made before its predecessor is deleted fails
    with MountTargetConflict, and one named by list position moves when a zone is added."""
    targets = {t.name: t for t in graph.of_type("efs/mountTarget:MountTarget")}
    assert {name: props(t)["subnetId"] for name, t in targets.items()} == {
        f"llm-test-efs-{zone}": subnet for zone, subnet in zip(ZONES, SUBNETS, strict=True)
    }
    for i, zone in enumerate(ZONES):
        target = targets[f"llm-test-efs-{zone}"]
        assert target.delete_before_replace
        assert target.alias_names == [f"llm-test-efs-{i}"]  # the name by position it had before


def test_adding_a_zone_in_front_changes_no_other_mount_target(run_pulumi: RunPulumi) -> None:
    before = {t.name: props(t) for t in build(run_pulumi).of_type("efs/mountTarget:MountTarget")}
    subnets = {"us-east-1d": "subnet-0d", **dict(zip(ZONES, SUBNETS, strict=True))}
    after = {
        t.name: props(t)
        for t in build(run_pulumi, subnets_by_zone=subnets).of_type("efs/mountTarget:MountTarget")
    }
    assert {name: after[name] for name in before} == before
    assert after.keys() - before.keys() == {"llm-test-efs-us-east-1d"}


def test_versioning_is_in_place_before_the_lifecycle_expires_noncurrent_versions(graph: Graph) -> None:
    lifecycle = _for_bucket(graph, "BucketLifecycleConfiguration", "llm-test-models")
    assert graph.depends_on(lifecycle, _for_bucket(graph, "BucketVersioning", "llm-test-models"))
