"""TEST DOUBLE for the e2e only: a stand-in for the AWS CLI's `aws eks get-token`.

The kubeconfig the program builds (components/core/kubeconfig.py) gets its
token from `aws eks get-token --cluster-name X --region R --output json`, as
for a real EKS cluster. In the e2e that cluster is the local kube-apiserver,
which accepts the token in the file named by LLM_PLATFORM_E2E_KUBE_TOKEN_FILE;
this prints it as the ExecCredential the real command prints. Every other
`aws` command exits 2: this is not the AWS CLI and proves nothing about AWS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

TOKEN_FILE_ENV = "LLM_PLATFORM_E2E_KUBE_TOKEN_FILE"
NOT_AWS = "aws: this is the llm-platform e2e stand-in for the AWS CLI (a test double, not AWS)"


def exec_credential(token: str, now: datetime | None = None) -> dict[str, object]:
    """What `aws eks get-token` prints: a v1beta1 ExecCredential, valid for 14 minutes like EKS's."""
    expires = (now or datetime.now(UTC)) + timedelta(minutes=14)
    return {
        "kind": "ExecCredential",
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {},
        "status": {"expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "token": token},
    }


def main(argv: list[str]) -> int:
    if argv[:2] != ["eks", "get-token"]:
        print(f"{NOT_AWS}; it answers only `aws eks get-token`, not `aws {' '.join(argv)}`", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog="aws eks get-token", description=NOT_AWS)
    parser.add_argument("--cluster-name", required=True)
    parser.add_argument("--region")
    parser.add_argument("--output", choices=["json"], default="json")
    parser.parse_args(argv[2:])  # exits 2 on anything else, as the AWS CLI does

    path = os.environ.get(TOKEN_FILE_ENV)
    if not path:
        print(f"{NOT_AWS}; set {TOKEN_FILE_ENV} to the file holding the API server's token", file=sys.stderr)
        return 1
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        print(f"{NOT_AWS}; cannot read {TOKEN_FILE_ENV}={path}: {exc}", file=sys.stderr)
        return 1
    if not token:
        print(f"{NOT_AWS}; {TOKEN_FILE_ENV}={path} is empty", file=sys.stderr)
        return 1
    print(json.dumps(exec_credential(token)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
