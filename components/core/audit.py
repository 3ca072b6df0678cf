"""The request audit: what the gateway records for every request, how it reaches the locked
bucket, and who may read it. No Pulumi here.

Every request through the AI gateway's proxies leaves one JSON line (ACCESS_LOG_FIELDS) on the
proxy's stdout. Alloy, which already tails every pod's log for Loki, also sends those lines
(and, for tenants that opt in, vLLM's request and response log lines) to an S3 bucket with
Object Lock in compliance mode: nobody, the account root included, can delete or overwrite a
record before its retention ends. Only the auditor role may read the bucket.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from components.core import gateway as gw
from components.core.iam import deny_insecure_transport, document

AUDIT_PREFIX = "requests/"
"""Where the records land in the bucket (under it, Alloy's S3 exporter writes year=/month=/day=/hour= partitions)."""

ACCESS_LOG_FIELDS: dict[str, str] = {
    "time": "%START_TIME%",
    "client_id": f"%REQ({gw.CLIENT_ID_HEADER.upper()})%",
    # The route is httproute/<tenant namespace>/<model>/...: the tenant and the model it reached.
    "route": "%ROUTE_NAME%",
    "model": f"%REQ({gw.MODEL_HEADER.upper()})%",
    # The track's backend (the model's stable or canary Service): which revision answered.
    "backend": "%DYNAMIC_METADATA(io.envoy.ai_gateway:backend_name)%",
    "status": "%RESPONSE_CODE%",
    "input_tokens": f"%DYNAMIC_METADATA({gw.TOKEN_METADATA_NAMESPACE}:{gw.INPUT_TOKENS})%",
    "output_tokens": f"%DYNAMIC_METADATA({gw.TOKEN_METADATA_NAMESPACE}:{gw.OUTPUT_TOKENS})%",
    "duration_ms": "%DURATION%",
    "request_id": "%REQ(X-REQUEST-ID)%",
    "method": "%REQ(:METHOD)%",
    "path": "%REQ(:PATH)%",
}
"""One audit record per request (Envoy access-log command operators). The caller's key is not
logged: API-key auth has removed it, and the client id names the caller instead."""

AUDIT_MARKER = "client_id"
"""A proxy log line is an audit record when it is JSON with this field."""


def access_log_telemetry() -> dict[str, Any]:
    """EnvoyProxy spec.telemetry: the audit record on the proxy's stdout, for every request."""
    return {
        "accessLog": {
            "settings": [
                {
                    "format": {"type": "JSON", "json": dict(ACCESS_LOG_FIELDS)},
                    "sinks": [{"type": "File", "file": {"path": "/dev/stdout"}}],
                }
            ]
        }
    }


def alloy_audit_pipeline(
    bucket: str, region: str, proxy_namespace: str, body_namespaces: Sequence[str]
) -> str:
    """Alloy (River) to add to the node agents' config: the gateway's audit records, and vLLM's
    request/response lines of the tenants that opted in, to the audit bucket. It reads what
    `loki.source.file "pods"` already tails, through a second receiver."""
    selected = [proxy_namespace, *sorted(body_namespaces)]
    namespaces = "|".join(selected)
    return f"""
loki.process "audit" {{
  stage.cri {{}}
  stage.match {{
    selector = "{{namespace!~\\"{namespaces}\\"}}"
    action   = "drop"
  }}
  stage.match {{
    selector = "{{namespace=\\"{proxy_namespace}\\"}} !~ \\"\\\\\\"{AUDIT_MARKER}\\\\\\"\\""
    action   = "drop"
  }}
  forward_to = [otelcol.receiver.loki.audit.receiver]
}}

otelcol.receiver.loki "audit" {{
  output {{
    logs = [otelcol.processor.batch.audit.input]
  }}
}}

otelcol.processor.batch "audit" {{
  timeout = "60s"
  output {{
    logs = [otelcol.exporter.awss3.audit.input]
  }}
}}

otelcol.exporter.awss3 "audit" {{
  s3_uploader {{
    region       = {json.dumps(region)}
    s3_bucket    = {json.dumps(bucket)}
    s3_prefix    = {json.dumps(AUDIT_PREFIX.rstrip("/"))}
    s3_partition_format = "year=%Y/month=%m/day=%d/hour=%H/minute=%M"
    compression  = "gzip"
  }}
  marshaler {{
    type = "otlp_json"
  }}
}}
"""


def audit_writer_policy(bucket_arn: str, key_arn: str) -> str:
    """Alloy may add records under the prefix, and nothing else: no read, no delete."""
    return document(
        {
            "Sid": "WriteAuditRecords",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": f"{bucket_arn}/{AUDIT_PREFIX}*",
        },
        {
            "Sid": "EncryptAuditRecords",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        },
    )


def audit_reader_policy(bucket_arn: str, key_arn: str) -> str:
    """The auditor may list and read the records (and their retention), and change nothing."""
    return document(
        {
            "Sid": "ListAuditRecords",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
            "Resource": bucket_arn,
        },
        {
            "Sid": "ReadAuditRecords",
            "Effect": "Allow",
            "Action": sorted(["s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectRetention"]),
            "Resource": f"{bucket_arn}/*",
        },
        {
            "Sid": "DecryptAuditRecords",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": key_arn,
            "Condition": {"StringLike": {"kms:ViaService": "s3.*.amazonaws.com"}},
        },
    )


def audit_bucket_policy(bucket_arn: str, auditor_role_arn: str) -> str:
    """TLS only, and no principal but the auditor role reads a record, whatever its own IAM
    policies allow (an account admin included)."""
    return document(
        deny_insecure_transport(bucket_arn, f"{bucket_arn}/*"),
        {
            "Sid": "OnlyTheAuditorReads",
            "Effect": "Deny",
            "Principal": "*",
            "Action": sorted(["s3:GetObject", "s3:GetObjectVersion"]),
            "Resource": f"{bucket_arn}/*",
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": auditor_role_arn}},
        },
    )


def auditor_trust(principal_arns: Sequence[str]) -> str:
    """Who may assume the auditor role: the principals the config names, with MFA."""
    return document(
        {
            "Effect": "Allow",
            "Principal": {"AWS": sorted(principal_arns)},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        }
    )
