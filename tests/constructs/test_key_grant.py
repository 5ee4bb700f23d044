"""KeyGrant: the custom resource's properties, the provider's policies, the refusals.

The wiring is read from the synthesized ``grants_showcase`` (held to the gates in
tests/test_gates.py); the refusals build a throwaway App and never synthesize. The KMS calls the
provider (lambda_src/key_grant, tested in tests/lambdas/test_key_grant_provider.py) makes from
the template's properties are checked against botocore's model of the KMS API, so a misspelt
parameter fails here rather than at deploy time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template
from botocore.validate import ParamValidator

from constructs_lib import (
    AUTOSCALING_GRANT_OPERATIONS,
    ConstructPropError,
    CustomerManagedKey,
    KeyGrant,
    KeyPolicy,
)
from constructs_lib import _lambda_assets as lambda_assets
from constructs_lib._kms_actions import GRANT_OPERATIONS
from constructs_lib.key_grant import (
    ASSET_SOURCES,
    PACKAGE,
    POLICY_PER_PERMISSION_CONTEXT_KEY,
    PROVIDER_ID,
)
from lambda_src.key_grant.handler import DELETED_ALREADY, create_grant_parameters, handle
from tests._support.apps.grants_showcase import (
    ASG_ACCOUNT,
    ASG_STACK,
    RETIRER_ARN,
    SHARED_KEY_ARN,
    STACK,
    WRITER_ARN,
)
from tests._support.lambda_assets import RUNTIME_MODULES, imported_modules
from tests._support.synth import SynthResult

Synth = Callable[[str], SynthResult]
ACCOUNT = "111111111111"
REGION = "eu-west-1"
FUNCTION = f"{PROVIDER_ID}Function"  # logical ID prefix
# The last 8 characters of Names.unique_resource_name: a hash of the construct's path.
READER_GRANT_HASH = "150D6985"
EBS_GRANT_HASH = "3C658603"
OTHER_KEY_ARN = f"arn:aws:kms:eu-central-1:{ASG_ACCOUNT}:key/mrk-" + "0" * 32


def template(synthesized: Synth, stack: str = STACK) -> dict[str, Any]:
    return synthesized("grants_showcase").template(stack)


def logical(resources: dict[str, Any], prefix: str, resource_type: str) -> str:
    (name,) = [
        n for n, r in resources.items() if n.startswith(prefix) and r["Type"] == resource_type
    ]
    return name


def placeholder(part: dict[str, Any]) -> str:
    """A token of the template as a string: ``<Key.Arn>`` for a GetAtt, ``<Role>`` for a Ref."""
    ((function, argument),) = part.items()
    if function == "Fn::GetAtt":
        return f"<{argument[0]}.{argument[1]}>"
    if function == "Ref":
        return f"<{argument}>"
    return f"<{function}>"


def shown(value: Any) -> Any:
    """``value`` with each token (a GetAtt, a Ref) replaced by a placeholder string."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Fn::GetAtt", "Ref", "Fn::Join"):
            return placeholder(value)
        return {name: shown(item) for name, item in value.items()}
    if isinstance(value, list):
        return [shown(item) for item in value]
    return value


def properties(resource: dict[str, Any]) -> dict[str, Any]:
    """The custom resource's properties as the provider receives them, tokens as placeholders."""
    found: dict[str, Any] = shown(resource["Properties"])
    return found


def grant_resources(synthesized: Synth) -> list[dict[str, Any]]:
    return [
        resource
        for stack in (STACK, ASG_STACK)
        for resource in template(synthesized, stack)["Resources"].values()
        if resource["Type"] == "Custom::KmsGrant"
    ]


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = resource["Properties"]["PolicyDocument"]["Statement"]
    return found


# -- the KMS calls -------------------------------------------------------------------------------


def test_a_grant_on_a_key_of_the_stack_is_created_by_the_provider_and_retired_on_delete(
    synthesized: Synth,
) -> None:
    resources = template(synthesized)["Resources"]
    key = logical(resources, "DataKey", "AWS::KMS::Key")
    reader = logical(resources, "Reader", "AWS::IAM::Role")
    provider = logical(resources, "KmsKitKeyGrantProviderRole", "AWS::IAM::Role")
    grant = resources[logical(resources, "ReaderGrant", "Custom::KmsGrant")]
    assert properties(grant) == {
        "ServiceToken": f"<{resources_function(resources)}.Arn>",
        "KeyId": f"<{key}.Arn>",
        "GranteePrincipal": f"<{reader}.Arn>",
        "Operations": ["Decrypt", "DescribeKey"],
        # The provider's role retires the grant: no key policy or IAM permission needed.
        "RetiringPrincipal": f"<{provider}.Arn>",
        "Constraints": {"EncryptionContextSubset": {"app": "orders"}},
        # Not given: the construct's unique name, so that a rollback's repeat of the create
        # returns the same grant (CreateGrant is idempotent with a name).
        "Name": "GrantsShowcase-ReaderGrant-" + READER_GRANT_HASH,
        "DeleteBy": "RetireGrant",
    }
    assert (grant["DeletionPolicy"], grant["UpdateReplacePolicy"]) == ("Delete", "Delete")


def test_an_upgrade_from_the_aws_custom_resource_version_makes_new_grants(
    synthesized: Synth,
) -> None:
    # 0.2.0 made each grant with an AwsCustomResource. CloudFormation refuses a new ServiceToken
    # for a custom resource of the same logical ID, so the IDs are new: an upgrade creates each
    # grant anew and 0.2.0's provider retires the old one. The default names are new too: with
    # 0.2.0's (and the same parameters) CreateGrant would return the old grant, which the old
    # resource's delete would then retire.
    old_ids = {"ReaderGrant3FC73BC2", "WriterGrantDC9D2C89", "EbsGrant53C2391B"}
    old_names = {
        "GrantsShowcaseReaderGrant" + READER_GRANT_HASH,
        "GrantsShowcaseAsgEbsGrant" + EBS_GRANT_HASH,
    }
    grants = {
        name: resource
        for stack in (STACK, ASG_STACK)
        for name, resource in template(synthesized, stack)["Resources"].items()
        if resource["Type"] == "Custom::KmsGrant"
    }
    assert len(grants) == 3
    assert not set(grants) & old_ids
    assert not {r["Properties"]["Name"] for r in grants.values()} & old_names


def resources_function(resources: dict[str, Any]) -> str:
    return logical(resources, FUNCTION, "AWS::Lambda::Function")


def test_a_retained_grant_keeps_the_default_name_of_0_2_0_so_the_upgrade_takes_its_grant_over() -> (
    None
):
    # A RETAIN KeyGrant's old resource is left in place by the upgrade (its DeletionPolicy),
    # with its grant: under a new name the new resource made a second grant of the same
    # parameters, and the first one stayed, known to no stack. Under 0.2.0's name (and the same
    # parameters and retiring principal) CreateGrant returns the grant there is, and the new
    # resource holds it. A DESTROY KeyGrant's old resource retires its grant: a new name.
    stack = new_stack()
    grant(stack, "Kept", removal_policy=cdk.RemovalPolicy.RETAIN)
    grant(stack, "Deleted")
    names = {
        name: resource["Properties"]["Name"]
        for name, resource in Template.from_stack(stack).to_json()["Resources"].items()
        if resource["Type"] == "Custom::KmsGrant"
    }
    kept = next(n for logical_id, n in names.items() if logical_id.startswith("Kept"))
    deleted = next(n for logical_id, n in names.items() if logical_id.startswith("Deleted"))
    assert kept == "SKept" + kept[-8:]  # Names.unique_resource_name without separators (0.2.0)
    assert deleted == "S-Deleted-" + deleted[-8:]


def test_every_optional_parameter_and_retain(synthesized: Synth) -> None:
    resources = template(synthesized)["Resources"]
    key = logical(resources, "SharedKey", "AWS::KMS::Key")
    grant = resources[logical(resources, "WriterGrant", "Custom::KmsGrant")]
    assert properties(grant) == {
        "ServiceToken": f"<{resources_function(resources)}.Arn>",
        "KeyId": f"<{key}.Arn>",
        "GranteePrincipal": WRITER_ARN,
        "Operations": ["Encrypt", "GenerateDataKey"],
        "RetiringPrincipal": RETIRER_ARN,
        "Constraints": {"EncryptionContextEquals": {"app": "orders", "stage": "prod"}},
        "Name": "orders-writer",
        # Retired by the caller's principal, so deleted by revoking it.
        "DeleteBy": "RevokeGrant",
    }
    # Kept when removed; a change of its props still replaces (deletes) the grant before.
    assert (grant["DeletionPolicy"], grant["UpdateReplacePolicy"]) == ("Retain", "Delete")


def test_the_cross_account_grant_names_the_key_by_its_arn(synthesized: Synth) -> None:
    resources = template(synthesized, ASG_STACK)["Resources"]
    grant = resources[logical(resources, "EbsGrant", "Custom::KmsGrant")]
    slr = (
        f"arn:aws:iam::{ASG_ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
        "AWSServiceRoleForAutoScaling"
    )
    provider = logical(resources, "KmsKitKeyGrantProviderRole", "AWS::IAM::Role")
    assert properties(grant) == {
        "ServiceToken": f"<{resources_function(resources)}.Arn>",
        "KeyId": SHARED_KEY_ARN,
        "GranteePrincipal": slr,
        "Operations": list(AUTOSCALING_GRANT_OPERATIONS),
        "RetiringPrincipal": f"<{provider}.Arn>",
        "Name": "GrantsShowcaseAsg-EbsGrant-" + EBS_GRANT_HASH,
        # Retired by this account's provider role: the key's account allows CreateGrant only.
        # No Region: the key is in the stack's.
        "DeleteBy": "RetireGrant",
    }
    policy = resources[logical(resources, "EbsGrantPolicy", "AWS::IAM::ManagedPolicy")]
    (statement,) = statements(policy)
    assert statement["Action"] == "kms:CreateGrant"
    assert statement["Condition"]["StringEquals"] == {  # no constraint: no constraint type
        "kms:GranteePrincipal": slr,
        "kms:RetiringPrincipal": {"Fn::GetAtt": [provider, "Arn"]},
    }


@pytest.fixture(scope="module")
def kms_model() -> Any:
    return botocore.session.get_session().get_service_model("kms")


def invalid_parameters(model: Any, call: dict[str, Any]) -> str:
    """What botocore's validator finds wrong with ``call``'s parameters ('' when nothing)."""
    operation = model.operation_model(call["action"])
    report = ParamValidator().validate(call["parameters"], operation.input_shape)
    return str(report.generate_report()) if report.has_errors() else ""


def test_every_call_is_valid_against_the_kms_api_model(synthesized: Synth, kms_model: Any) -> None:
    # The parameters as the provider builds them from the properties CloudFormation sends.
    calls = []
    for resource in grant_resources(synthesized):
        sent = properties(resource)
        calls.append({"action": "CreateGrant", "parameters": create_grant_parameters(sent)})
        calls.append(
            {"action": sent["DeleteBy"], "parameters": {"KeyId": sent["KeyId"], "GrantId": "g"}}
        )
    assert len(calls) == 6
    for call in calls:
        assert call["action"] in kms_model.operation_names
        assert invalid_parameters(kms_model, call) == "", call


def test_the_model_check_finds_a_misspelt_or_missing_parameter(kms_model: Any) -> None:
    misspelt = {"action": "CreateGrant", "parameters": {"KeyId": "k", "Operation": ["Decrypt"]}}
    assert 'Unknown parameter in input: "Operation"' in invalid_parameters(kms_model, misspelt)
    assert 'Missing required parameter in input: "Operations"' in invalid_parameters(
        kms_model, misspelt
    )
    bad_operation = {"action": "CreateGrant", "parameters": {"KeyId": "k", "Operations": "Sign"}}
    assert "Invalid type for parameter Operations" in invalid_parameters(kms_model, bad_operation)


def test_the_delete_ignores_only_the_answers_for_no_such_grant(kms_model: Any) -> None:
    for action in ("RetireGrant", "RevokeGrant"):
        errors = {shape.name for shape in kms_model.operation_model(action).error_shapes}
        assert errors & DELETED_ALREADY == DELETED_ALREADY, action  # not AccessDenied, ...


def test_the_grant_operations_are_the_apis() -> None:
    model = botocore.session.get_session().get_service_model("kms")
    enum = model.operation_model("CreateGrant").input_shape.members["Operations"].member.enum
    assert list(GRANT_OPERATIONS) == enum


# -- the provider's permissions ------------------------------------------------------------------


def test_each_grant_has_its_own_policy_on_the_key_only(synthesized: Synth) -> None:
    resources = template(synthesized)["Resources"]
    key = logical(resources, "DataKey", "AWS::KMS::Key")
    reader = logical(resources, "Reader", "AWS::IAM::Role")
    role = logical(resources, "KmsKitKeyGrantProviderRole", "AWS::IAM::Role")
    policy_id = logical(resources, "ReaderGrantPolicy", "AWS::IAM::ManagedPolicy")
    policy = resources[policy_id]
    assert policy["Properties"]["Roles"] == [{"Ref": role}]
    assert statements(policy) == [
        {
            "Action": "kms:CreateGrant",
            "Condition": {
                # This grant only: its grantee, retiring principal, kind of constraint and
                # operations.
                "StringEquals": {
                    "kms:GranteePrincipal": {"Fn::GetAtt": [reader, "Arn"]},
                    "kms:RetiringPrincipal": {"Fn::GetAtt": [role, "Arn"]},
                    "kms:GrantConstraintType": "EncryptionContextSubset",
                },
                "ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "DescribeKey"]},
            },
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [key, "Arn"]},
        },
    ]  # no kms:RevokeGrant: the provider's role retires the grant as its retiring principal
    # Created before, and deleted after, the grant it lets the provider create; the
    # role's own policy (its logs) before the provider runs.
    grant = resources[logical(resources, "ReaderGrant", "Custom::KmsGrant")]
    own = logical(resources, "KmsKitKeyGrantProviderRoleGrantsPolicy", "AWS::IAM::ManagedPolicy")
    assert sorted(grant["DependsOn"]) == sorted([own, policy_id])


def test_a_change_of_what_the_grant_policy_allows_makes_a_new_policy_for_the_rollback() -> None:
    """CloudFormation rolls an update back from the dependents: the custom resource (CreateGrant
    with the old parameters, to get the old grant back) before the policy it depends on. A
    policy changed in place would then allow only the new grant and refuse the rollback
    (UPDATE_ROLLBACK_FAILED). A policy of another construct ID, so of another logical ID, is
    created before the custom resource's update and deleted in the clean-up after the old
    grant: the provider holds both until then."""

    def policy(**props: Any) -> str:
        made = grant(new_stack(), **props)
        assert made.policy in made.custom_resource.node.dependencies
        assert made.policy.node.id.startswith("Policy")
        return made.policy.node.id

    before = policy()
    assert policy() == before  # the same at every synthesis
    changed = [
        policy(grantee_principal=RETIRER_ARN),
        policy(operations=["Decrypt", "Encrypt"]),
        policy(retiring_principal=RETIRER_ARN),  # and kms:RevokeGrant
        policy(key=SHARED_KEY_ARN.replace("1234abcd", "5678abcd")),
        policy(encryption_context_equals={"app": "x"}),
    ]
    assert len({before, *changed}) == 1 + len(changed)
    # What the policy does not hold keeps it: the grant's name, the constraint's values.
    assert policy(name="another-name") == before
    assert policy(encryption_context_equals={"app": "y"}) == changed[-1]


def test_the_policy_of_earlier_releases_is_kept_where_the_context_says_so() -> None:
    """``kmskit:keyGrantPolicyPerPermission: false`` keeps the policy at 0.4.0's construct ID
    (so its logical ID), changed in place, for a stack whose provider role cannot hold two
    policies per KeyGrant for the deployment that replaces them all; a value other than a
    boolean is refused naming the context key and the value."""

    def policy(context: Any, **props: Any) -> str:
        stack = cdk.Stack(
            cdk.App(context={POLICY_PER_PERMISSION_CONTEXT_KEY: context}),
            "S",
            env=cdk.Environment(account=ACCOUNT, region=REGION),
        )
        return grant(stack, **props).policy.node.id

    assert policy(False) == policy(False, grantee_principal=RETIRER_ARN) == "Policy"
    per_permission = policy(True)
    assert per_permission.startswith("Policy")
    assert per_permission != "Policy"
    assert per_permission == policy(None)  # the default
    assert per_permission != policy(True, grantee_principal=RETIRER_ARN)
    # `cdk -c kmskit:keyGrantPolicyPerPermission=false` passes the string.
    assert policy("false") == policy("FALSE") == "Policy"
    assert policy("true") == per_permission
    with pytest.raises(ConstructPropError) as error:
        policy("no")
    assert str(error.value) == (
        "'kmskit:keyGrantPolicyPerPermission' must be true or false (cdk.json context, or cdk -c "
        "KEY=false). Received: 'no'"
    )


def test_the_provider_role_may_only_write_its_logs(synthesized: Synth) -> None:
    resources = template(synthesized)["Resources"]
    role = logical(resources, "KmsKitKeyGrantProviderRole", "AWS::IAM::Role")
    logs = logical(resources, "KmsKitKeyGrantProviderLogs", "AWS::Logs::LogGroup")
    own = resources[
        logical(resources, "KmsKitKeyGrantProviderRoleGrantsPolicy", "AWS::IAM::ManagedPolicy")
    ]
    assert statements(own) == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [logs, "Arn"]},
        }
    ]
    # The provider's log, kept a year and after the stack.
    log_group = resources[logs]
    assert (log_group["Properties"]["RetentionInDays"], log_group["DeletionPolicy"]) == (
        365,
        "Retain",
    )
    assert "Policies" not in resources[role]["Properties"]
    assert "ManagedPolicyArns" not in resources[role]["Properties"]
    function = resources[resources_function(resources)]["Properties"]
    assert function["Role"] == {"Fn::GetAtt": [role, "Arn"]}
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": logs}}
    assert function["MemorySize"] == 256
    # This toolkit's provider (lambda_src/key_grant), with time to wait out IAM's propagation.
    assert (function["Handler"], function["Runtime"], function["Architectures"]) == (
        "key_grant.handler.handler",
        "python3.14",
        ["arm64"],
    )
    assert function["Timeout"] == 300
    assert "DependsOn" not in resources[resources_function(resources)]  # the GetAtt is enough
    # One provider for the two grants of the stack, nothing with a wildcard resource.
    assert [r["Type"] for r in resources.values()].count("AWS::Lambda::Function") == 1
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            assert all(s["Resource"] != "*" for s in statements(resource))


def test_the_provider_asset_is_its_package_alone_and_imports_what_the_runtime_has(
    tmp_path: Path,
) -> None:
    folder = Path(lambda_assets.stage(PACKAGE, ASSET_SOURCES))
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["key_grant/__init__.py", "key_grant/handler.py", "key_grant/response.py"]
    for path, names in imported_modules(folder).items():
        assert names <= RUNTIME_MODULES, (path, names - RUNTIME_MODULES)
    # Importable as the handler setting names it, from (a copy of) the asset's root alone: the
    # staged folder goes into the function as it is, so nothing may write to it.
    copy = tmp_path / "asset"
    shutil.copytree(folder, copy)
    subprocess.run(
        [sys.executable, "-c", "import key_grant.handler"],
        cwd=copy,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"},
        check=True,
    )


def test_a_custom_policy_key_names_the_provider_role_in_its_key_policy(synthesized: Synth) -> None:
    resources = template(synthesized)["Resources"]
    key = resources[logical(resources, "SharedKey", "AWS::KMS::Key")]
    role = {
        "Fn::GetAtt": [logical(resources, "KmsKitKeyGrantProviderRole", "AWS::IAM::Role"), "Arn"]
    }
    named = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if s["Principal"] == {"AWS": role}
    ]
    assert named == [
        {
            "Action": "kms:CreateGrant",
            "Condition": {
                "StringEquals": {
                    "kms:GranteePrincipal": WRITER_ARN,
                    "kms:RetiringPrincipal": RETIRER_ARN,
                    "kms:GrantConstraintType": "EncryptionContextEquals",
                },
                "ForAllValues:StringEquals": {
                    "kms:GrantOperations": ["Encrypt", "GenerateDataKey"]
                },
            },
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Resource": "*",
        },
        {
            "Action": "kms:RevokeGrant",
            "Effect": "Allow",
            "Principal": {"AWS": role},
            "Resource": "*",
        },
    ]
    # Created after the key (its ARN is a parameter), and so after its key policy.
    grant = resources[logical(resources, "WriterGrant", "Custom::KmsGrant")]
    assert properties(grant)["KeyId"] == f"<{logical(resources, 'SharedKey', 'AWS::KMS::Key')}.Arn>"


def test_a_self_retiring_grant_on_a_custom_policy_key_needs_only_create_grant() -> None:
    # Removing such a KeyGrant removes its key-policy statement in the same update, before
    # CloudFormation deletes the grant: retiring it needs none, so the grant is still deleted.
    app = cdk.App()
    stack = cdk.Stack(app, "S", env=cdk.Environment(account=ACCOUNT, region=REGION))
    key = CustomerManagedKey(stack, "K", policy=KeyPolicy.custom(admins=[RETIRER_ARN]))
    KeyGrant(stack, "G", key=key, grantee_principal=WRITER_ARN, operations=["Decrypt"])
    resources = Template.from_stack(stack).to_json()["Resources"]
    role = {
        "Fn::GetAtt": [logical(resources, "KmsKitKeyGrantProviderRole", "AWS::IAM::Role"), "Arn"]
    }
    key_policy = resources[logical(resources, "KKey", "AWS::KMS::Key")]["Properties"]["KeyPolicy"]
    assert [s["Action"] for s in key_policy["Statement"] if s["Principal"] == {"AWS": role}] == [
        "kms:CreateGrant"
    ]
    grant = resources[logical(resources, "G", "Custom::KmsGrant")]
    assert properties(grant)["DeleteBy"] == "RetireGrant"


def test_the_gates_are_clean_with_the_frameworks_findings_acknowledged_on_it(
    synthesized: Synth,
) -> None:
    result = synthesized("grants_showcase")
    assert result.validation_findings() == []
    paths = {path for path, _, _ in result.acknowledgments()}
    assert paths == {
        f"/{stack}/{where}"
        for stack in (STACK, ASG_STACK)
        for where in (f"{PROVIDER_ID}/Function", f"{PROVIDER_ID}/Logs")
    }


# -- attributes and refusals ---------------------------------------------------------------------


def new_stack(account: str = ACCOUNT, region: str = REGION) -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=account, region=region))


def grant(stack: cdk.Stack, id: str = "G", **props: Any) -> KeyGrant:
    defaults: dict[str, Any] = {
        "key": SHARED_KEY_ARN,
        "grantee_principal": WRITER_ARN,
        "operations": ["Decrypt"],
    }
    return KeyGrant(stack, id, **{**defaults, **props})


def refused(**props: Any) -> str:
    stack = new_stack()
    with pytest.raises(ConstructPropError) as error:
        grant(stack, **props)
    return str(error.value)


def test_a_key_of_another_region_is_called_there_and_attributes_are_public() -> None:
    stack = new_stack(account=ASG_ACCOUNT)
    made = grant(stack, key=OTHER_KEY_ARN, operations=("Decrypt", "Encrypt"))
    assert (made.key_arn, made.grantee_arn, made.operations) == (
        OTHER_KEY_ARN,
        WRITER_ARN,
        ("Decrypt", "Encrypt"),
    )
    (resource,) = Template.from_stack(stack).find_resources("Custom::KmsGrant").values()
    assert properties(resource)["Region"] == "eu-central-1"  # for every call of the provider
    assert isinstance(made.policy, iam.ManagedPolicy)
    assert made.grant_id.startswith("${Token[")


def test_refuses_what_is_no_key_arn() -> None:
    assert refused(key="alias/orders") == (
        "'key' must name a key, not an alias: CreateGrant takes a key ID or key ARN only, and "
        "for a key of another account only its key ARN. Received: 'alias/orders'"
    )
    assert refused(key=f"arn:aws:kms:{REGION}:{ASG_ACCOUNT}:alias/orders").startswith(
        "'key' must name a key, not an alias"
    )
    assert refused(key="1234abcd-12ab-34cd-56ef-1234567890ab") == (
        "'key' must be a key ARN (arn:aws:kms:<region>:<account>:key/<key ID>): CreateGrant "
        "needs the key ARN for a key of another account, and the provider's policy names it. "
        "Received: '1234abcd-12ab-34cd-56ef-1234567890ab'"
    )
    eleven_digits = f"arn:aws:kms:{REGION}:12345678901:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert refused(key=eleven_digits).startswith("'key' must be a key ARN (arn:aws:kms:")
    assert refused(key=42) == (
        "'key' must be a CustomerManagedKey or ReplicaKey (or its .key), an aws_kms.IKey or a "
        "key ARN; CreateGrant takes no alias. Received: 42"
    )


def test_refuses_a_key_alias_construct() -> None:
    stack = new_stack()
    alias = kms.Alias.from_alias_name(stack, "A", "alias/orders")
    with pytest.raises(ConstructPropError, match=r"^'key' must be a CustomerManagedKey") as error:
        grant(stack, key=alias)
    assert str(error.value).endswith("Received: 'S/A'")


def test_refuses_a_key_construct_of_another_account_or_region_or_a_custom_one_elsewhere() -> None:
    app = cdk.App()
    here = cdk.Stack(app, "Here", env=cdk.Environment(account=ACCOUNT, region=REGION))
    far = cdk.Stack(app, "Far", env=cdk.Environment(account=ACCOUNT, region="eu-central-1"))
    with pytest.raises(ConstructPropError) as error:
        grant(here, key=CustomerManagedKey(far, "K"))
    assert str(error.value) == (
        "'key' must be a key construct of this construct's Region (eu-west-1; this key: "
        "eu-central-1); give a key elsewhere by its key ARN, and allow this account in its key "
        "policy. Received: 'Far/K'"
    )
    other = cdk.Stack(app, "Other", env=cdk.Environment(account=ACCOUNT, region=REGION))
    custom = CustomerManagedKey(other, "C", policy=KeyPolicy.custom(admins=[RETIRER_ARN]))
    with pytest.raises(
        ConstructPropError, match=r"^'key' must be in this construct's stack \(Here\)"
    ):
        grant(here, "G2", key=custom)
    grant(here, "G3", key=CustomerManagedKey(other, "D"))  # a default policy: IAM alone decides
    app.synth()  # and no dependency cycle


def test_an_aws_kms_key_of_another_region_is_refused_and_one_of_this_region_taken() -> None:
    # Its ARN is a token, so nothing else would show where to call CreateGrant: the stack's
    # Region, where the key is not (the grant would fail at deploy).
    app = cdk.App()
    here = cdk.Stack(app, "Here", env=cdk.Environment(account=ACCOUNT, region=REGION))
    far = cdk.Stack(app, "Far", env=cdk.Environment(account=ACCOUNT, region="eu-central-1"))
    with pytest.raises(ConstructPropError) as error:
        grant(here, key=kms.Key(far, "Native"))
    assert str(error.value) == (
        "'key' must be a key construct of this construct's Region (eu-west-1; this key: "
        "eu-central-1); give a key elsewhere by its key ARN, and allow this account in its key "
        "policy. Received: 'Far/Native'"
    )
    native = kms.Key(here, "Native")
    made = grant(here, "G2", key=native)
    assert made.key_arn == native.key_arn


def test_refuses_operations_kms_does_not_grant() -> None:
    assert refused(operations=["kms:Decrypt"]) == (
        "'operations' must hold KMS grant operations as CreateGrant names them (did you mean "
        "'Decrypt'?). Received: 'kms:Decrypt'"
    )
    assert refused(operations=["ListGrants"]).startswith(
        "'operations' must hold KMS grant operations as CreateGrant names them (Decrypt, Encrypt,"
    )
    assert refused(operations="Decrypt") == (
        "'operations' must be a list or tuple of KMS grant operations. Received: 'Decrypt'"
    )
    assert refused(operations=[]) == (
        "'operations' must name at least one grant operation. Received: []"
    )
    assert refused(operations=["Decrypt", "Decrypt"]) == (
        "'operations' must not repeat a value. Received: 'Decrypt'"
    )


@pytest.mark.parametrize(
    ("spec", "usage", "operations", "kms_refuses"),
    [
        ("ECC_NIST_P256", "SIGN_VERIFY", ["Sign", "Encrypt"], "Encrypt"),
        ("SYMMETRIC_DEFAULT", None, ["Decrypt", "Sign", "GetPublicKey"], "Sign, GetPublicKey"),
        ("RSA_2048", "ENCRYPT_DECRYPT", ["Decrypt", "GenerateDataKey"], "GenerateDataKey"),
        ("HMAC_256", None, ["GenerateMac", "Decrypt"], "Decrypt"),
        ("SYMMETRIC_DEFAULT", None, ["Encapsulate"], "Encapsulate"),
    ],
)
def test_refuses_operations_that_do_not_fit_the_keys_usage(
    spec: str, usage: str | None, operations: list[str], kms_refuses: str
) -> None:
    stack = new_stack()
    key = CustomerManagedKey(stack, "K", key_spec=spec, key_usage=usage)
    with pytest.raises(ConstructPropError) as error:
        grant(stack, key=key.key, operations=operations)
    assert str(error.value) == (
        f"'operations' must be usable on S/K (key_spec {spec}, key_usage {key.key_usage}): KMS "
        f"refuses a grant of {kms_refuses} on it. Received: {operations!r}"
    )


def test_operations_that_fit_the_key_are_taken() -> None:
    stack = new_stack()
    signer = CustomerManagedKey(stack, "K", key_spec="ECC_NIST_P256", key_usage="SIGN_VERIFY")
    made = grant(stack, key=signer, operations=["Sign", "Verify", "GetPublicKey", "DescribeKey"])
    assert made.operations == ("Sign", "Verify", "GetPublicKey", "DescribeKey")


def test_refuses_grantees_kms_does_not_take() -> None:
    group = f"arn:aws:iam::{ACCOUNT}:group/Ops"
    assert refused(grantee_principal=group).startswith(
        "'grantee_principal' must not name an IAM group"
    )
    assert refused(grantee_principal="*").startswith(
        "'grantee_principal' must not hold a wildcard principal"
    )
    assert refused(grantee_principal=f"arn:aws:iam::{ACCOUNT}:role/app-*").startswith(
        "'grantee_principal' must not hold wildcards"
    )
    assert refused(grantee_principal="arn:aws:s3:::bucket") == (
        "'grantee_principal' must be the ARN of an IAM principal (arn:aws:iam::<account>:role/..., "
        "user/..., root, or arn:aws:sts::<account>:assumed-role/...), at most 256 characters. "
        "Received: 'arn:aws:s3:::bucket'"
    )
    assert refused(grantee_principal=iam.ServicePrincipal("ec2.amazonaws.com")) == (
        "'grantee_principal' must be an IAM principal with one ARN (a role, a user, an account "
        "root); KMS takes a service principal only with a SourceArn constraint, which KeyGrant "
        "does not make. Received: 'ec2.amazonaws.com'"
    )
    assert refused(grantee_principal=iam.AnyPrincipal()).startswith(
        "'grantee_principal' must not hold a wildcard principal"
    )
    assert refused(retiring_principal=42) == (
        "'retiring_principal' must be an IAM principal ARN or an aws_iam.IPrincipal. Received: 42"
    )


def test_refuses_a_principal_with_conditions_a_grant_cannot_hold() -> None:
    conditional = iam.ArnPrincipal(WRITER_ARN).with_conditions(
        {"StringEquals": {"aws:PrincipalTag/team": "orders"}}
    )
    assert refused(grantee_principal=conditional) == (
        "'grantee_principal' must be a principal without conditions: a grant holds none, so "
        "KeyGrant would give the grant to the principal unconditionally (limit its use with "
        "encryption_context_equals or encryption_context_subset). Received: "
        "{'StringEquals': {'aws:PrincipalTag/team': 'orders'}}"
    )
    stack = new_stack()
    role = iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
    with pytest.raises(ConstructPropError, match=r"^'retiring_principal' must be a principal wit"):
        grant(
            stack,
            retiring_principal=iam.PrincipalWithConditions(
                role, {"Bool": {"aws:SecureTransport": "true"}}
            ),
        )


def test_refuses_arns_and_names_longer_than_kms_takes() -> None:
    long_role = f"arn:aws:iam::{ACCOUNT}:role/" + "r" * (256 - len(f"arn:aws:iam::{ACCOUNT}:role/"))
    # The longest taken: a DESTROY grant's name gets "-" and the path's hash (256 in all).
    made = grant(new_stack(), grantee_principal=long_role, name="n" * 247)
    assert len(grant_name(made)) == 256
    grant(new_stack(), name="n" * 256, removal_policy=cdk.RemovalPolicy.RETAIN)
    assert refused(grantee_principal=long_role + "r").startswith(
        "'grantee_principal' must be the ARN of an IAM principal"
    )
    assert refused(retiring_principal=long_role + "r").endswith(f"Received: '{long_role}r'")
    assert refused(name="n" * 257).startswith("'name' must be 1-256 letters")
    assert refused(name="n" * 248) == (
        "'name' must be at most 247 characters for a RemovalPolicy.DESTROY grant: its grant's "
        "name is the name, '-' and a hash of the construct's path (8 characters), and "
        f"CreateGrant takes at most 256. Received: '{'n' * 248}'"
    )


def grant_name(made: KeyGrant) -> str:
    """The Name of ``made``'s custom resource, as the template has it."""
    stack = cdk.Stack.of(made)
    resource = made.custom_resource.node.default_child
    assert isinstance(resource, cdk.CfnResource)
    resources = Template.from_stack(stack).to_json()["Resources"]
    name: str = resources[stack.get_logical_id(resource)]["Properties"]["Name"]
    return name


def test_a_destroy_grant_of_a_name_of_its_own_is_told_apart_by_the_path_of_its_construct() -> None:
    """CreateGrant returns the grant there is for the same name and parameters. A KeyGrant whose
    construct ID changes (or that moves to another stack, with a retiring principal of its own)
    is a new logical resource, created before the old one is deleted: under the same name it
    got the old grant back, which the old resource's delete then retired. The hash of the path
    that ends the default name ends a given one too; a RETAIN grant keeps the name as given
    (its old resource retires nothing)."""
    names = {}
    for construct_id in ("OrdersReader", "ReaderOfOrders"):
        made = grant(new_stack(), construct_id, name="orders-reader")
        names[construct_id] = grant_name(made)
        unique = cdk.Names.unique_resource_name(made, separator="-")
        assert names[construct_id] == "orders-reader-" + unique[-8:]
    assert names["OrdersReader"] != names["ReaderOfOrders"]
    moved = grant(
        cdk.Stack(cdk.App(), "T", env=cdk.Environment(account=ACCOUNT, region=REGION)),
        "OrdersReader",
        name="orders-reader",
    )
    assert grant_name(moved) not in names.values()
    kept = grant(new_stack(), name="orders-reader", removal_policy=cdk.RemovalPolicy.RETAIN)
    assert grant_name(kept) == "orders-reader"


class FakeKms:
    """KMS's grants as the CreateGrant API reference describes them: a named CreateGrant with
    the parameters of a grant there is returns that grant."""

    def __init__(self) -> None:
        self.grants: dict[str, tuple[str, bool]] = {}  # ID -> (parameters, live)

    def create_grant(self, **parameters: Any) -> dict[str, str]:
        asked = json.dumps(parameters, sort_keys=True)
        for grant_id, (made, live) in self.grants.items():
            if live and made == asked:
                return {"GrantId": grant_id, "GrantToken": "token-" + grant_id}
        grant_id = f"{len(self.grants) + 1:064d}"
        self.grants[grant_id] = (asked, True)
        return {"GrantId": grant_id, "GrantToken": "token-" + grant_id}

    def retire_grant(self, **parameters: str) -> dict[str, Any]:
        grant_id = parameters.get("GrantId") or parameters["GrantToken"].removeprefix("token-")
        self.grants[grant_id] = (self.grants[grant_id][0], False)
        return {}


def test_a_renamed_keygrant_of_a_name_of_its_own_keeps_its_grant_through_the_clean_up() -> None:
    """The deployment that changes the construct ID, as CloudFormation runs it: the new
    resource's create, then the old one's delete (helper-192's grant_rename2.py)."""
    kms_api = FakeKms()

    def deploy(request: str, construct_id: str, physical_id: str | None = None) -> str:
        stack = new_stack()
        made = grant(stack, construct_id, name="orders-reader")
        (resource,) = Template.from_stack(stack).find_resources("Custom::KmsGrant").values()
        event: dict[str, Any] = {
            "RequestType": request,
            "LogicalResourceId": stack.get_logical_id(made.custom_resource.node.default_child),
            "ResourceProperties": properties(resource),  # Fn::GetAtt as "<Role.Arn>"
        }
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        answer = handle(event, deadline=0.0, client_for=lambda region: kms_api)
        assert answer.status == "SUCCESS", answer.reason
        return answer.physical_resource_id

    old = deploy("Create", "OrdersReader")
    new = deploy("Create", "ReaderOfOrders")
    deploy("Delete", "OrdersReader", old)
    assert new != old
    assert kms_api.grants[new][1]  # the new resource's grant is live
    assert not kms_api.grants[old][1]


def test_one_name_is_taken_by_a_stage_deployed_to_many_accounts() -> None:
    """One Stage class deployed to several accounts, each granting its Auto Scaling role on one
    central key under one name (helper-201's stage.py): their requests differ (grantee, the
    stacks' provider roles; a DESTROY name's path hash), so nothing is refused, RETAIN or not."""
    app = cdk.App()
    for account in (ACCOUNT, ASG_ACCOUNT):
        for policy in (cdk.RemovalPolicy.DESTROY, cdk.RemovalPolicy.RETAIN):
            stage = cdk.Stage(app, f"S{account}{policy.name}")
            stack = cdk.Stack(
                stage, "Workload", env=cdk.Environment(account=account, region=REGION)
            )
            grant(
                stack,
                "AsgEbs",
                grantee_principal=KeyGrant.autoscaling_service_linked_role(stack),
                operations=AUTOSCALING_GRANT_OPERATIONS,
                name="asg-ebs",
                removal_policy=policy,
            )
            # The same grantee and retiring principal of one's own: another account's grantee.
            grant(
                stack,
                "Writer",
                grantee_principal=f"arn:aws:iam::{account}:role/writer",
                retiring_principal=RETIRER_ARN,
                name="writer",
                removal_policy=policy,
            )
    # Grant names need not be unique on a key: another grantee is another grant.
    stack = new_stack()
    grant(stack, "Reader", name="orders", removal_policy=cdk.RemovalPolicy.RETAIN)
    grant(
        stack,
        "Other",
        grantee_principal=RETIRER_ARN,
        name="orders",
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )


def test_two_keygrants_asking_for_one_grant_are_refused() -> None:
    """Two KeyGrants whose CreateGrant requests are the same (a RETAIN name copied, or a rename
    done as "add the new, remove the old" in one deployment) would hold one grant: refused at
    synth, naming both and the parameters, in one stack or two of the App."""
    app = cdk.App()
    one = cdk.Stack(app, "One", env=cdk.Environment(account=ACCOUNT, region=REGION))
    two = cdk.Stack(app, "Two", env=cdk.Environment(account=ASG_ACCOUNT, region="us-east-1"))
    key = CustomerManagedKey(one, "Data")
    kept = cdk.RemovalPolicy.RETAIN
    grant(one, "Reader", key=key, name="orders-reader", removal_policy=kept)
    grant(one, "Writer", key=SHARED_KEY_ARN, name="orders-reader", removal_policy=kept)
    grant(new_stack(), "Reader", key=SHARED_KEY_ARN, name="orders-reader", removal_policy=kept)
    with pytest.raises(ConstructPropError) as error:
        grant(one, "ReaderAgain", key=key.key, name="orders-reader", removal_policy=kept)
    assert str(error.value) == (
        "'name' must tell the grant apart within the App: One/Reader already asks CreateGrant "
        "for a grant named 'orders-reader' on One/Data with the same grantee "
        f"({WRITER_ARN}), operations (Decrypt), retiring principal (the provider's role of "
        "One) and encryption context constraint (none), and One/ReaderAgain asks for it too: "
        "CreateGrant returns one grant for both, which the removal of either KeyGrant would "
        "retire. Give one of them another name. Received: 'orders-reader'"
    )
    mine = {"retiring_principal": RETIRER_ARN, "encryption_context_equals": {"app": "orders"}}
    grant(one, "Mine", key=SHARED_KEY_ARN, name="mine", removal_policy=kept, **mine)
    with pytest.raises(ConstructPropError) as error:
        grant(two, "Mine", key=SHARED_KEY_ARN, name="mine", removal_policy=kept, **mine)
    assert str(error.value).startswith(
        "'name' must tell the grant apart within the App: One/Mine already asks CreateGrant "
        f"for a grant named 'mine' on {SHARED_KEY_ARN} with the same grantee ({WRITER_ARN}), "
        f"operations (Decrypt), retiring principal ({RETIRER_ARN}) and encryption context "
        'constraint (EncryptionContextEquals {"app": "orders"}), and Two/Mine asks for it too'
    )
    # Default names are the constructs' own, unique in the App; a DESTROY name ends with the
    # hash of its construct's path.
    grant(one, "Default1", key=key)
    grant(one, "Default2", key=key)
    grant(one, "Destroyed1", key=key, name="orders-reader")
    grant(one, "Destroyed2", key=key, name="orders-reader")


def test_a_stack_takes_as_many_grants_as_its_provider_role_takes_policies() -> None:
    stack = new_stack()
    for n in range(1, 20):
        grant(stack, f"G{n}")
    with pytest.raises(ConstructPropError) as error:
        grant(stack, "G20")
    assert str(error.value) == (
        "'S KeyGrants' must be at most 19 per stack: each attaches a managed policy to the "
        "stack's KeyGrant provider role, which holds 1 of its own, and IAM allows at "
        "most 20 per role (split the grants across stacks). Received: '20 KeyGrants'"
    )
    # The 10th makes 11 managed policies on the role: over IAM's default quota.
    annotations = Annotations.from_stack(stack)
    annotations.has_no_warning("/S/G9", Match.any_value())
    annotations.has_warning(
        "/S/G10", Match.string_like_regexp("KeyGrant 10 of stack S.*quota increase")
    )
    assert len(annotations.find_warning("*", Match.any_value())) == 1


def test_takes_an_account_or_a_role_as_grantee() -> None:
    stack = new_stack()
    made = grant(stack, grantee_principal=iam.AccountPrincipal(ASG_ACCOUNT))
    assert stack.resolve(made.grantee_arn) == {
        "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":iam::{ASG_ACCOUNT}:root"]]
    }


def test_refuses_bad_encryption_context_constraints() -> None:
    assert refused(
        encryption_context_equals={"app": "orders"}, encryption_context_subset={"app": "x"}
    ) == (
        "'encryption_context_subset' must not be given together with "
        "'encryption_context_equals': a grant takes one encryption context constraint. "
        "Received: {'app': 'x'}"
    )
    assert refused(encryption_context_subset={}) == (
        "'encryption_context_subset' must map encryption context keys to values (at least one "
        "pair; KMS reads an empty map as no constraint). Received: {}"
    )
    nine = {f"k{i}": "v" for i in range(9)}
    assert refused(encryption_context_equals=nine) == (
        "'encryption_context_equals' must hold at most 8 pairs (KMS's limit per grant "
        f"constraint). Received: {nine!r}"
    )
    assert refused(encryption_context_equals={"app": 1}) == (
        "'encryption_context_equals' must map non-empty strings to non-empty strings. "
        "Received: {'app': 1}"
    )
    assert refused(encryption_context_equals={"app": "x" * 385}).startswith(
        "'encryption_context_equals' values must be at most 384 characters."
    )
    stack = new_stack()
    signer = CustomerManagedKey(stack, "K", key_spec="RSA_2048", key_usage="ENCRYPT_DECRYPT")
    with pytest.raises(ConstructPropError) as error:
        grant(stack, key=signer, encryption_context_subset={"app": "orders"})
    assert str(error.value) == (
        "'encryption_context_subset' needs a symmetric encryption key: S/K has key_spec "
        "RSA_2048, whose operations take no encryption context, so the constraint would limit "
        "nothing. Received: {'app': 'orders'}"
    )


def test_refuses_a_bad_name_or_removal_policy() -> None:
    assert refused(name="orders writer") == (
        "'name' must be 1-256 letters, digits and ':/_-' (CreateGrant's rule for a grant's "
        "Name). Received: 'orders writer'"
    )
    assert refused(removal_policy=cdk.RemovalPolicy.SNAPSHOT) == (
        "'removal_policy' must be RemovalPolicy.DESTROY (delete the grant with the construct) or "
        "RemovalPolicy.RETAIN. Received: <RemovalPolicy.SNAPSHOT: 'SNAPSHOT'>"
    )


def test_the_autoscaling_role_arn_and_its_suffix() -> None:
    stack = new_stack(account=ASG_ACCOUNT)
    arn = KeyGrant.autoscaling_service_linked_role(stack, suffix="web")
    assert stack.resolve(arn) == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":iam::{ASG_ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/"
                "AWSServiceRoleForAutoScaling_web",
            ],
        ]
    }
    with pytest.raises(ConstructPropError, match=r"^'suffix' must be 1-35 letters"):
        KeyGrant.autoscaling_service_linked_role(stack, suffix="a b")


def test_a_grant_on_a_key_given_by_arn_revoked_on_delete_may_revoke_it() -> None:
    stack = new_stack()
    grant(stack, retiring_principal=RETIRER_ARN)
    (policy,) = (
        Template.from_stack(stack)
        .find_resources("AWS::IAM::ManagedPolicy", {"Properties": {"Description": "KeyGrant S/G"}})
        .values()
    )
    assert [(s["Action"], s["Resource"]) for s in statements(policy)] == [
        ("kms:CreateGrant", SHARED_KEY_ARN),
        ("kms:RevokeGrant", SHARED_KEY_ARN),
    ]
    assert "Condition" not in statements(policy)[1]  # RevokeGrant takes no grant's condition


def test_an_imported_key_is_named_by_its_arn() -> None:
    stack = new_stack(account=ASG_ACCOUNT)
    imported = kms.Key.from_key_arn(stack, "Imported", SHARED_KEY_ARN)
    made = grant(stack, key=imported)
    assert made.key_arn == SHARED_KEY_ARN
    (policy,) = (
        Template.from_stack(stack)
        .find_resources("AWS::IAM::ManagedPolicy", {"Properties": {"Description": "KeyGrant S/G"}})
        .values()
    )
    assert {s["Resource"] for s in statements(policy)} == {SHARED_KEY_ARN}


def test_another_aws_custom_resource_made_first_changes_nothing_of_the_grants() -> None:
    from aws_cdk import custom_resources as cr  # noqa: PLC0415

    def build(other_first: bool) -> dict[str, Any]:
        stack = new_stack()
        if other_first:
            cr.AwsCustomResource(
                stack,
                "Other",
                on_create=cr.AwsSdkCall(
                    service="STS",
                    action="GetCallerIdentity",
                    physical_resource_id=cr.PhysicalResourceId.of("id"),
                ),
                policy=cr.AwsCustomResourcePolicy.from_statements(
                    [iam.PolicyStatement(actions=["sts:GetCallerIdentity"], resources=["*"])]
                ),
                install_latest_aws_sdk=False,
            )
        grant(stack)
        resources: dict[str, Any] = Template.from_stack(stack).to_json()["Resources"]
        return {
            name: resource
            for name, resource in resources.items()
            if name.startswith(("G", PROVIDER_ID))
        }

    # Before, the first AwsCustomResource of a stack made the provider every other one ran on:
    # one added earlier in construct order took the grants' role over.
    assert build(other_first=True) == build(other_first=False)
