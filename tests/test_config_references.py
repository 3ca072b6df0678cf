"""Every config value that refers to something else is checked against it (docs/config.md,
"What the checks compare"): ARNs, reserved names, time zones, context windows, DNS lengths."""

from __future__ import annotations

from typing import Any

import pytest

from infra.config.crossrefs import RESERVED_NAMESPACES, is_time_zone, partition_of
from tests.test_config import DELETE, dev, problems, prod

PROD_ADMIN = "arn:aws:iam::222222222222:role/platform-admin"
TENANT = {"quota": {"gpus": 0, "cpu": "1", "memory": "1Gi"}}

CASES = [
    # ARNs against the stack's region, partition and accounts
    pytest.param(
        prod({"ingress.certificateArn": "arn:aws:acm:eu-west-1:222222222222:certificate/5c1d2e3f-4a5b"}),
        "error: ingress.certificateArn: is a certificate in eu-west-1, but the load balancer is in us-east-1",
        id="certificate-of-another-region",
    ),
    pytest.param(
        prod({"ingress.certificateArn": "arn:aws:acm:us-east-1:333333333333:certificate/5c1d2e3f-4a5b"}),
        "error: ingress.certificateArn: names account 333333333333, which is not in aws.allowedAccountIds (222222222222)",
        id="certificate-of-another-account",
    ),
    pytest.param(
        prod({"cluster.admins": [PROD_ADMIN, "arn:aws:iam::111111111111:role/platform-admin"]}),
        "error: cluster.admins[1]: names account 111111111111, which is not in aws.allowedAccountIds",
        id="admin-of-another-account",
    ),
    pytest.param(
        prod({"tenants.search.accessRoleArns": ["arn:aws:iam::111111111111:role/search"]}),
        "error: tenants.search.accessRoleArns[0]: names account 111111111111",
        id="tenant-role-of-another-account",
    ),
    pytest.param(
        dev(
            {
                "aws.allowedAccountIds": [],
                "cluster.admins": [
                    "arn:aws:iam::111111111111:role/platform-admin",
                    "arn:aws:iam::444444444444:role/deployer",
                ],
            }
        ),
        "error: cluster.admins[1]: names account 444444444444, but cluster.admins[0] names 111111111111",
        id="arns-of-two-accounts-without-allowed-ids",
    ),
    pytest.param(
        prod({"cluster.admins": ["arn:aws-us-gov:iam::222222222222:role/platform-admin"]}),
        "error: cluster.admins[0]: is in partition aws-us-gov, but region us-east-1 is in partition aws",
        id="arn-of-another-partition",
    ),
    pytest.param(
        prod({"aws.allowedAccountIds": ["222222222222", "222222222222"]}),
        "error: aws.allowedAccountIds: lists an account twice",
        id="account-listed-twice",
    ),
    # names against the names the platform and Kubernetes reserve
    *[
        pytest.param(
            dev({f"tenants.{name}": TENANT}),
            f"error: tenants.{name}: '{name}' is a namespace Kubernetes or the platform owns",
            id=f"tenant-named-{name}",
        )
        for name in ("kube-system", "monitoring", "keda", "gpu-runtime", "default", "kube-flannel")
    ],
    pytest.param(
        dev({"tenants.llm-platform-dev": TENANT}),
        "error: tenants.llm-platform-dev: 'llm-platform-dev' is the platform's own namespace",
        id="tenant-named-like-the-gateway-namespace",
    ),
    pytest.param(
        dev({"tenants.playground.group": "system:masters"}),
        "error: tenants.playground.group: 'system:masters' starts with a prefix Kubernetes and EKS reserve",
        id="tenant-group-system-masters",
    ),
    pytest.param(
        prod({"tenants.research.group": "search-ml"}),
        "error: tenants.research.group: 'search-ml' is already the group of tenant search",
        id="two-tenants-one-group",
    ),
    pytest.param(
        dev({"gpuPools.system": {"instanceTypes": ["g6.xlarge"], "maxSize": 1}}),
        "error: gpuPools.system: 'system' is the name of the system node group",
        id="gpu-pool-named-system",
    ),
    pytest.param(
        dev({"aws.tags": {"aws:cost-center": "x"}}),
        "error: aws.tags.aws:cost-center: tag keys starting with aws: are reserved for AWS",
        id="reserved-tag-key",
    ),
    # time zones and schedules
    pytest.param(
        dev({"models.qwen-7b.autoscaling.workingHours.timezone": "Europe/Atlantis"}),
        "error: models.qwen-7b.autoscaling.workingHours.timezone: 'Europe/Atlantis' is not a time zone of the IANA database",
        id="unknown-time-zone",
    ),
    pytest.param(
        dev({"models.qwen-7b.autoscaling.workingHours.timezone": "CEST"}),
        "error: models.qwen-7b.autoscaling.workingHours.timezone: 'CEST' is not a time zone",
        id="abbreviation-not-a-zone",
    ),
    pytest.param(
        dev({"models.qwen-7b.autoscaling.workingHours.start": "0 25 * * 1-5"}),
        "error: models.qwen-7b.autoscaling.workingHours.start: hour '25' is outside 0-23",
        id="cron-hour-out-of-range",
    ),
    pytest.param(
        dev({"models.qwen-7b.autoscaling.workingHours.end": "0 8 * * 1-5"}),
        "error: models.qwen-7b.autoscaling.workingHours.end: is the same as start",
        id="working-hours-of-no-length",
    ),
    # lengths against the model's context window and DNS
    pytest.param(
        dev({"models.qwen-7b.maxModelLen": 65536}),
        "error: models.qwen-7b.maxModelLen: 65536 is longer than the 32768-token context window of qwen2.5-7b",
        id="max-model-len-beyond-context-window",
    ),
    pytest.param(
        dev(
            {
                "models.qwen-7b.architecture": {
                    "parameters": 7.61e9,
                    "layers": 28,
                    "attentionHeads": 28,
                    "kvHeads": 4,
                    "headDim": 128,
                    "contextLength": 8192,
                }
            }
        ),
        "error: models.qwen-7b.maxModelLen: 16384 is longer than the 8192-token context window",
        id="max-model-len-beyond-a-given-context-length",
    ),
    pytest.param(
        dev({"ingress.domain": f"{'a' * 64}.example.com"}),
        "error: ingress.domain: label 1 has 64 characters; DNS allows at most 63",
        id="domain-label-too-long",
    ),
    # values that only make sense together
    pytest.param(
        prod({"monitoring.thresholds.gpuUtilizationLowPercent": 96}),
        "error: monitoring.thresholds.gpuUtilizationLowPercent: 96 is not below gpuUtilizationHighPercent 95",
        id="idle-threshold-above-busy-threshold",
    ),
    pytest.param(
        prod({"monitoring.alerting.info.emailSmarthost": "email-smtp.us-east-1.amazonaws.com"}),
        "error: monitoring.alerting.info.emailSmarthost: 'email-smtp.us-east-1.amazonaws.com' is not host:port",
        id="smarthost-without-port",
    ),
    pytest.param(
        prod({"monitoring.alerting.critical.slackChannel": "#oncall"}),
        "error: monitoring.alerting.critical.slackChannel: applies only with slackWebhookUrl",
        id="slack-channel-without-slack",
    ),
    pytest.param(
        prod({"models.llama-8b.canary.maxNumSeqs": 100_000}),
        "error: models.llama-8b.canary.maxNumSeqs: Input should be less than or equal to 4096",
        id="canary-batch-beyond-the-model-limit",
    ),
]


@pytest.mark.parametrize(("sections", "expected"), CASES)
def test_a_value_that_refers_to_something_is_checked_against_it(
    sections: dict[str, Any], expected: str
) -> None:
    found = problems(sections)
    assert any(line.startswith(expected) for line in found), found


def test_both_stacks_pass_every_reference_check() -> None:
    for sections in (dev(), prod()):
        from infra.config import load_stack_config
        from tests.test_config import SECRET_SECTIONS

        load_stack_config(sections, SECRET_SECTIONS)


def test_reserved_names_cover_the_platform_namespaces() -> None:
    from components.core.labels import MONITORING_NAMESPACE
    from components.ingress_gateway import CONTROLLER_NAMESPACE

    assert {MONITORING_NAMESPACE, CONTROLLER_NAMESPACE, "keda", "gpu-runtime"} <= set(RESERVED_NAMESPACES)


def test_time_zones_come_from_the_iana_database() -> None:
    assert is_time_zone("Europe/Berlin") and is_time_zone("UTC") and is_time_zone("America/New_York")
    assert not any(is_time_zone(z) for z in ("", "Europe/Atlantis", "../etc/passwd", "a" * 300, "CEST"))


def test_partitions_of_regions() -> None:
    assert partition_of("us-east-1") == "aws"
    assert partition_of("us-gov-west-1") == "aws-us-gov"
    assert partition_of("cn-north-1") == "aws-cn"


def test_a_model_without_working_hours_needs_no_time_zone() -> None:
    # scale-to-zero without a schedule is its own error; no time zone error is made up
    found = problems(dev({"models.qwen-7b.autoscaling.workingHours": DELETE}))
    assert not any("timezone" in line for line in found), found
