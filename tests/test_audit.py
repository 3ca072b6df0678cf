"""The request audit: every request recorded with its caller, model, status, tokens and latency,
kept locked for the configured days in a bucket only the auditor role reads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from components.core import audit
from components.core import gateway as gw
from tests.iam_eval import allows
from tests.test_config import DELETE, PROD_SECRETS, problems, prod

BUCKET = "arn:aws:s3:::audit"
KEY = "arn:aws:kms:us-east-1:222222222222:key/1"
AUDITOR = "arn:aws:iam::222222222222:role/auditor"
RECORD = f"{BUCKET}/{audit.AUDIT_PREFIX}year=2026/month=12/day=05/x.json.gz"


def test_a_record_names_caller_model_status_tokens_and_latency() -> None:
    fields = audit.ACCESS_LOG_FIELDS
    assert {
        "time",
        "client_id",
        "route",
        "model",
        "backend",
        "status",
        "input_tokens",
        "output_tokens",
        "duration_ms",
    } <= set(fields)
    # The client id is the one API-key auth forwards; the tokens are what the budgets charge.
    assert fields["client_id"] == f"%REQ({gw.CLIENT_ID_HEADER.upper()})%"
    assert (
        gw.OUTPUT_TOKENS in fields["output_tokens"] and gw.TOKEN_METADATA_NAMESPACE in fields["input_tokens"]
    )
    assert not [v for v in fields.values() if "AUTHORIZATION" in v.upper()]  # never the key
    (setting,) = audit.access_log_telemetry()["accessLog"]["settings"]
    assert setting["format"]["json"] == fields and setting["sinks"] == [
        {"type": "File", "file": {"path": "/dev/stdout"}}
    ]


def test_only_the_auditor_reads_and_the_agent_only_adds_records() -> None:
    bucket_policy = audit.audit_bucket_policy(BUCKET, AUDITOR)
    admin = {
        "aws:PrincipalArn": "arn:aws:iam::222222222222:role/platform-admin",
        "aws:SecureTransport": "true",
    }
    auditor = {"aws:PrincipalArn": AUDITOR, "aws:SecureTransport": "true"}
    # The bucket policy denies a read to anyone but the auditor, whatever their IAM allows.
    deny = {
        "Version": "2012-10-17",
        "Statement": json.loads(bucket_policy)["Statement"]
        + [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    assert not allows(deny, "s3:GetObject", RECORD, admin)
    assert allows(deny, "s3:GetObject", RECORD, auditor)
    assert not allows(deny, "s3:GetObject", RECORD, {**auditor, "aws:SecureTransport": "false"})
    reader = audit.audit_reader_policy(BUCKET, KEY)
    assert allows(reader, "s3:GetObject", RECORD) and allows(reader, "s3:ListBucket", BUCKET)
    assert not allows(reader, "s3:PutObject", RECORD) and not allows(reader, "s3:DeleteObject", RECORD)
    writer = audit.audit_writer_policy(BUCKET, KEY)
    assert allows(writer, "s3:PutObject", RECORD)
    for action in (
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:PutObjectRetention",
        "s3:BypassGovernanceRetention",
    ):
        assert not allows(writer, action, RECORD), action
    assert not allows(writer, "s3:PutObject", f"{BUCKET}/elsewhere/x")


def test_the_agent_ships_proxy_records_and_only_opted_in_bodies() -> None:
    river = audit.alloy_audit_pipeline("audit-bucket", "us-east-1", gw.CONTROLLER_NAMESPACE, ["research"])
    assert 's3_bucket    = "audit-bucket"' in river
    assert f'namespace!~\\"{gw.CONTROLLER_NAMESPACE}|research\\"' in river
    assert "otelcol.exporter.awss3" in river
    without = audit.alloy_audit_pipeline("b", "us-east-1", gw.CONTROLLER_NAMESPACE, [])
    assert f'namespace!~\\"{gw.CONTROLLER_NAMESPACE}\\"' in without


def _records(out: Path) -> list[dict[str, Any]]:
    return json.loads((out / "resources.json").read_text())


def test_prod_keeps_90_days_locked_in_compliance_mode_and_research_opts_into_bodies(
    planned: Callable[[str], Path],
) -> None:
    out = planned("prod")
    records = _records(out)
    buckets = [
        r for r in records if r["type"] == "aws:s3/bucket:Bucket" and r["props"].get("objectLockEnabled")
    ]
    assert len(buckets) == 1
    (lock,) = [
        r
        for r in records
        if r["type"] == "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration"
    ]
    assert lock["props"]["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 90}
    encryption = [
        r
        for r in records
        if r["type"].endswith("BucketServerSideEncryptionConfiguration") and r["name"].endswith("-audit")
    ]
    assert (
        encryption[0]["props"]["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    )
    (auditor,) = [r for r in records if r["type"] == "aws:iam/role:Role" and r["name"].endswith("-auditor")]
    trust = json.loads(auditor["props"]["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"]["AWS"] == ["arn:aws:iam::222222222222:role/compliance-auditors"]
    alloy = yaml.safe_load((out / "helm" / "alloy.values.yaml").read_text())
    content = alloy["alloy"]["configMap"]["content"]
    assert "loki.process.audit.receiver" in content and "|research" in content and "|search" not in content
    (proxy,) = [
        yaml.safe_load(p.read_text())
        for p in (out / "manifests").glob("*.yaml")
        if "EnvoyProxy" in p.read_text()[:200]
    ]
    assert proxy["spec"]["telemetry"] == audit.access_log_telemetry()
    args = {
        p.name: yaml.safe_load(p.read_text())["spec"]["template"]["spec"]["containers"][0]["args"]
        for p in (out / "manifests").glob("deployment-*llama*.yaml")
    }
    assert "--enable-log-requests" in args["deployment-research-llama-70b.yaml"]
    assert "--enable-log-requests" not in args["deployment-search-llama-8b.yaml"]  # search did not opt in


def test_the_audit_needs_the_log_agents_and_bodies_need_the_gateway() -> None:
    found = problems(prod({"monitoring.logs.enabled": False}), PROD_SECRETS)
    assert any(
        p.startswith("error: gateway.audit: the log agents ship the request records") for p in found
    ), found
    no_gateway = prod(
        {"gateway": DELETE, "tenants.search.clients": DELETE, "tenants.research.clients": DELETE}
    )
    assert any(
        p.startswith("error: tenants.research.auditBodies: bodies are kept in the AI gateway's audit")
        for p in problems(no_gateway, PROD_SECRETS)
    )
    no_auditor = problems(prod({"gateway.audit.auditorPrincipalArns": []}), PROD_SECRETS)
    assert any(p.startswith("error: gateway.audit.auditorPrincipalArns") for p in no_auditor), no_auditor
