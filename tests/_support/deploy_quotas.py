"""Size quotas and policy rules that CloudFormation, IAM, S3 and KMS enforce only at deploy time,
checked on a synthesized template."""

from __future__ import annotations

import collections
import json
from collections.abc import Mapping
from typing import Any

# CloudFormation: a template uploaded through S3 (as `cdk deploy` and CDK Pipelines do).
TEMPLATE_BYTES = 1_000_000
# Characters of the policy as the service stores it (IAM does not count whitespace).
POLICY_QUOTAS = {
    "AWS::IAM::ManagedPolicy": ("PolicyDocument", 6_144),
    "AWS::IAM::Policy": ("PolicyDocument", 10_240),  # all inline policies of a role together
    "AWS::S3::BucketPolicy": ("PolicyDocument", 20_480),
    "AWS::KMS::Key": ("KeyPolicy", 32_768),
}
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "AWS::Region": "ap-southeast-2",
    "AWS::URLSuffix": "amazonaws.com",
}
# Any other value known only at deploy time (a GetAtt, an import), as CDK estimates an ARN.
UNKNOWN_VALUE = "x" * 150


def deployed(value: Any) -> Any:
    """``value`` as the service receives it: pseudo parameters resolved, Fn::Join joined, any
    other intrinsic function replaced by a 150-character stand-in."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((name, argument),) = value.items()
            if name == "Ref" and argument in PSEUDO_PARAMETERS:
                return PSEUDO_PARAMETERS[argument]
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(str(deployed(part)) for part in parts)
            if name == "Ref" or name.startswith("Fn::"):
                return UNKNOWN_VALUE
        return {key: deployed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [deployed(item) for item in value]
    return value


def deployed_size(document: Any) -> int:
    """Characters of ``document`` once deployed, without whitespace."""
    return len(json.dumps(deployed(document), separators=(",", ":")))


def oversized_policies(template: Mapping[str, Any]) -> list[str]:
    """``"<logical id> (<type>): <size> > <quota>"`` for each policy over its service's quota."""
    problems = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] in POLICY_QUOTAS:
            prop, quota = POLICY_QUOTAS[resource["Type"]]
            size = deployed_size(resource["Properties"][prop])
            if size > quota:
                problems.append(f"{logical_id} ({resource['Type']}): {size} > {quota}")
    return problems


def repeated_sids(template: Mapping[str, Any]) -> list[str]:
    """``"<logical id>: Sid <sid> x<count>"`` for each policy document (key, bucket, queue,
    topic, IAM or trust policy) that repeats a statement Sid: IAM, S3 and KMS refuse it."""
    problems: list[str] = []

    def visit(logical_id: str, value: Any) -> None:
        if isinstance(value, dict):
            statements = value.get("Statement")
            if isinstance(statements, list):
                sids = collections.Counter(
                    s["Sid"] for s in statements if isinstance(s, dict) and "Sid" in s
                )
                problems.extend(
                    f"{logical_id}: Sid {sid!r} x{count}"
                    for sid, count in sids.items()
                    if count > 1
                )
            for item in value.values():
                visit(logical_id, item)
        elif isinstance(value, list):
            for item in value:
                visit(logical_id, item)

    for logical_id, resource in template.get("Resources", {}).items():
        visit(logical_id, resource.get("Properties", {}))
    return problems
