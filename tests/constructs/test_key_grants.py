"""Grants: which half (identity policy, key policy, or both) each case writes.

One App, synthesized once for this module (it is not an example configuration, so it is not
held to the nag gates: CDK grants write inline identity policies on purpose).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
import botocore.session
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import cx_api

from constructs_lib import ConstructPropError, CustomerManagedKey, ExternalAccount, KeyPolicy
from constructs_lib._kms_actions import ADMIN_ACTIONS, KNOWN_ACTIONS
from stacks.config import cdk_json_context

ACCOUNT = "111111111111"
PARTNER = "222222222222"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
# grant() spells out the action wildcards of the key policy's user statement.
SYMMETRIC_USER = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyPair",
    "kms:GenerateDataKeyPairWithoutPlaintext",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
]


@dataclass
class Templates:
    main: dict[str, Any]
    partner: dict[str, Any]

    @classmethod
    def of(cls, assembly: cx_api.CloudAssembly, stack_name: str) -> Templates:
        """The template of one stack of ``assembly`` as ``main`` (no partner stack)."""
        return cls(main=assembly.get_stack_by_name(stack_name).template, partner={})

    def resource_types(self) -> set[str]:
        return {r["Type"] for r in self.main["Resources"].values()}

    def logical_id(self, resource_type: str, prefix: str) -> str:
        (found,) = [
            name
            for name, r in self.main["Resources"].items()
            if r["Type"] == resource_type and name.startswith(prefix)
        ]
        return str(found)

    def key_policy(self, prefix: str) -> list[dict[str, Any]]:
        key = self.main["Resources"][self.logical_id("AWS::KMS::Key", prefix)]
        statements: list[dict[str, Any]] = key["Properties"]["KeyPolicy"]["Statement"]
        return statements

    def key_arn(self, prefix: str) -> dict[str, Any]:
        return {"Fn::GetAtt": [self.logical_id("AWS::KMS::Key", prefix), "Arn"]}

    def role_arn(self, prefix: str) -> dict[str, Any]:
        return {"Fn::GetAtt": [self.logical_id("AWS::IAM::Role", prefix), "Arn"]}

    def identity_policy(self, role_prefix: str) -> list[dict[str, Any]]:
        role_ref = {"Ref": self.logical_id("AWS::IAM::Role", role_prefix)}
        policies = [
            r
            for r in self.main["Resources"].values()
            if r["Type"] == "AWS::IAM::Policy" and role_ref in r["Properties"]["Roles"]
        ]
        return [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]


def allows(
    statements: list[dict[str, Any]],
    principal: tuple[str, Any],
    actions: list[str] | str,
    condition: dict[str, Any] | None = None,
) -> bool:
    """Some Allow statement names ``principal`` (kind, value) for all ``actions``.

    cdk.json turns on ``@aws-cdk/aws-iam:minimizePolicies``, which merges statements that
    differ only in principals or actions, so a grant may share its statement with another.
    """
    wanted = {actions} if isinstance(actions, str) else set(actions)
    kind, value = principal
    for statement in statements:
        if statement["Effect"] != "Allow" or statement.get("Condition") != condition:
            continue
        named = statement["Principal"].get(kind)
        named = named if isinstance(named, list) else [named]
        granted = statement["Action"]
        granted = {granted} if isinstance(granted, str) else set(granted)
        if value in named and wanted <= granted:
            return True
    return False


# A service principal is granted only with a condition that limits its source.
EVENTS_SOURCE = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def app_with_stack(name: str) -> tuple[cdk.App, cdk.Stack]:
    """An App with the cdk.json context and one stack ``name`` of ACCOUNT in eu-west-1."""
    app = cdk.App(context=cdk_json_context())
    return app, cdk.Stack(app, name, env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))


def role(stack: cdk.Stack, name: str, **kwargs: Any) -> iam.Role:
    return iam.Role(stack, name, assumed_by=iam.AccountRootPrincipal(), **kwargs)


@pytest.fixture(scope="module")
def templates() -> Templates:
    app, stack = app_with_stack("Grants")
    partner = cdk.Stack(app, "Partner", env=cdk.Environment(account=PARTNER, region="eu-west-1"))
    custom = KeyPolicy.custom(admins=[ADMIN])

    default_key = CustomerManagedKey(stack, "DefaultKey")
    custom_key = CustomerManagedKey(stack, "CustomKey", policy=custom)
    signer = CustomerManagedKey(
        stack,
        "SignerKey",
        key_spec=kms.KeySpec.ECC_NIST_P256,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
        policy=custom,
    )
    mac = CustomerManagedKey(stack, "MacKey", key_spec=kms.KeySpec.HMAC_384)

    default_key.grant_encrypt_decrypt(role(stack, "DefaultUser"))
    custom_key.grant_encrypt_decrypt(role(stack, "CustomUser"))
    signer.grant_sign_verify(role(stack, "SignUser"))
    mac.grant_generate_mac(role(stack, "MacUser"))
    default_key.grant_for_aws_resources(role(stack, "ServiceUser"))
    default_key.grant(
        iam.ServicePrincipal("events.amazonaws.com"), "kms:Decrypt", conditions=EVENTS_SOURCE
    )
    custom_key.grant_to_account(PARTNER)
    custom_key.grant_to_account(ExternalAccount(account_id="333333333333", via_services=("ec2",)))
    default_key.grant_decrypt(role(partner, "PartnerReader", role_name="partner-reader"))
    queue = sqs.Queue(stack, "Queue", encryption_master_key=custom_key.key)
    queue.grant_consume_messages(role(stack, "QueueReader"))
    bucket = s3.Bucket(stack, "Bucket", encryption_key=custom_key.key)
    bucket.grant_read(role(stack, "BucketReader"))
    volume = ec2.Volume(
        stack,
        "Volume",
        availability_zone="eu-west-1a",
        size=cdk.Size.gibibytes(8),
        encrypted=True,
        encryption_key=custom_key.key,
    )
    volume.grant_attach_volume(role(stack, "VolumeAttacher"))
    custom_key.grant(role(stack, "GrantMaker"), "kms:CreateGrant")

    assembly = app.synth()
    return Templates(
        main=assembly.get_stack_by_name("Grants").template,
        partner=assembly.get_stack_by_name("Partner").template,
    )


def test_default_policy_same_account_grant_is_an_identity_policy_only(
    templates: Templates,
) -> None:
    assert {
        "Action": SYMMETRIC_USER,
        "Effect": "Allow",
        "Resource": templates.key_arn("DefaultKey"),
    } in templates.identity_policy("DefaultUser")
    assert not allows(
        templates.key_policy("DefaultKey"),
        ("AWS", templates.role_arn("DefaultUser")),
        "kms:Decrypt",
    )


def test_custom_policy_grant_writes_the_key_policy_and_the_identity_policy(
    templates: Templates,
) -> None:
    assert allows(
        templates.key_policy("CustomKey"), ("AWS", templates.role_arn("CustomUser")), SYMMETRIC_USER
    )
    assert {
        "Action": SYMMETRIC_USER,
        "Effect": "Allow",
        "Resource": templates.key_arn("CustomKey"),
    } in templates.identity_policy("CustomUser")


def test_sign_verify_grant(templates: Templates) -> None:
    actions = ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"]
    assert allows(
        templates.key_policy("SignerKey"), ("AWS", templates.role_arn("SignUser")), actions
    )
    assert {
        "Action": actions,
        "Effect": "Allow",
        "Resource": templates.key_arn("SignerKey"),
    } in templates.identity_policy("SignUser")


def test_generate_mac_grant_on_a_default_policy_key(templates: Templates) -> None:
    assert templates.identity_policy("MacUser") == [
        {
            "Action": ["kms:GenerateMac", "kms:VerifyMac"],
            "Effect": "Allow",
            "Resource": templates.key_arn("MacKey"),
        }
    ]
    assert len(templates.key_policy("MacKey")) == 1  # still just the AWS default


def test_grant_for_aws_resources_keeps_its_condition(templates: Templates) -> None:
    assert templates.identity_policy("ServiceUser") == [
        {
            "Action": ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            "Condition": {"Bool": {"kms:GrantIsForAWSResource": "true"}},
            "Effect": "Allow",
            "Resource": templates.key_arn("DefaultKey"),
        }
    ]


def test_service_principal_grant_goes_to_the_key_policy(templates: Templates) -> None:
    assert allows(
        templates.key_policy("DefaultKey"),
        ("Service", "events.amazonaws.com"),
        "kms:Decrypt",
        EVENTS_SOURCE,
    )


def test_grant_to_account_writes_user_and_grant_statements(templates: Templates) -> None:
    partner_root = ("AWS", f"arn:aws:iam::{PARTNER}:root")
    statements = templates.key_policy("CustomKey")
    assert allows(statements, partner_root, SYMMETRIC_USER)
    assert allows(
        statements,
        partner_root,
        ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
        {"Bool": {"kms:GrantIsForAWSResource": "true"}},
    )


def test_grant_to_account_with_via_service(templates: Templates) -> None:
    assert allows(
        templates.key_policy("CustomKey"),
        ("AWS", "arn:aws:iam::333333333333:root"),
        SYMMETRIC_USER,
        {"StringEquals": {"kms:ViaService": ["ec2.eu-west-1.amazonaws.com"]}},
    )


def test_cross_account_role_is_named_in_the_key_policy_only(templates: Templates) -> None:
    assert allows(
        templates.key_policy("DefaultKey"),
        ("AWS", f"arn:aws:iam::{PARTNER}:root"),
        "kms:Decrypt",
        {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{PARTNER}:role/partner-reader"}},
    )
    # Its own account's IAM policy is that account's business (see docs/keys.md).
    types = {r["Type"] for r in templates.partner["Resources"].values()}
    assert "AWS::IAM::Policy" not in types


def test_grants_made_by_other_constructs_on_key_reach_the_key_policy(
    templates: Templates,
) -> None:
    # sqs.Queue.grant_consume_messages calls key.grant_decrypt on the aws_kms.Key it was given.
    assert allows(
        templates.key_policy("CustomKey"), ("AWS", templates.role_arn("QueueReader")), "kms:Decrypt"
    )
    assert {
        "Action": "kms:Decrypt",
        "Effect": "Allow",
        "Resource": templates.key_arn("CustomKey"),
    } in templates.identity_policy("QueueReader")


def test_bucket_grants_on_key_reach_the_key_policy(templates: Templates) -> None:
    assert allows(
        templates.key_policy("CustomKey"),
        ("AWS", templates.role_arn("BucketReader")),
        ["kms:Decrypt", "kms:DescribeKey"],
    )


@pytest.mark.parametrize("grantee", ["VolumeAttacher", "GrantMaker"])
def test_create_grant_in_the_key_policy_is_for_aws_resources_only(
    templates: Templates, grantee: str
) -> None:
    # ec2.Volume asks for a bare kms:CreateGrant and conditions only the identity statement:
    # unconditioned in the key policy, the role could grant itself kms:Decrypt.
    principal = ("AWS", templates.role_arn(grantee))
    statements = templates.key_policy("CustomKey")
    assert allows(
        statements, principal, "kms:CreateGrant", {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    )
    assert not allows(statements, principal, "kms:CreateGrant")


def test_a_repeated_grant_is_made_once_and_a_different_one_again() -> None:
    app, stack = app_with_stack("Repeat")
    key = CustomerManagedKey(stack, "Key", policy=KeyPolicy.custom(admins=[ADMIN]))
    reader = role(stack, "Reader")
    first = key.grant_decrypt(reader)
    # CDK Pipelines and other constructs repeat grants through .key.
    assert key.key.grant_decrypt(reader) is first
    assert key.grant(reader, "kms:Decrypt") is first
    other = key.grant_encrypt_decrypt(reader)
    assert other is not first
    conditioned = key.grant(
        reader, "kms:Decrypt", conditions={"Bool": {"aws:SecureTransport": "true"}}
    )
    assert conditioned is not first

    templates = Templates.of(app.synth(), "Repeat")
    reader_arn = ("AWS", templates.role_arn("Reader"))
    named = [
        s for s in templates.key_policy("Key") if s.get("Principal", {}).get("AWS") == reader_arn[1]
    ]
    decrypt_only = [s for s in named if s["Action"] == "kms:Decrypt" and "Condition" not in s]
    assert len(decrypt_only) <= 1
    assert allows(named, reader_arn, SYMMETRIC_USER)
    assert allows(named, reader_arn, "kms:Decrypt", {"Bool": {"aws:SecureTransport": "true"}})


def test_a_construct_made_in_node_is_the_same_grantee_whichever_object_names_it() -> None:
    # CDK Pipelines hands an imported deployment role to grant() through .key, as a new Python
    # proxy object at every call; the grant is still made once per role.
    _, stack = app_with_stack("Proxies")
    key = CustomerManagedKey(stack, "Key", policy=KeyPolicy.custom(admins=[ADMIN]))
    iam.Role.from_role_arn(stack, "Deploy", f"arn:aws:iam::{PARTNER}:role/Deploy")
    iam.Role.from_role_arn(stack, "Other", f"arn:aws:iam::{PARTNER}:role/Other")
    deploy, deploy_again = stack.node.find_child("Deploy"), stack.node.find_child("Deploy")
    assert deploy is not deploy_again

    first = key.grant_decrypt(deploy)  # type: ignore[arg-type]
    assert key.grant_decrypt(deploy_again) is first  # type: ignore[arg-type]
    assert key.grant_decrypt(stack.node.find_child("Other")) is not first  # type: ignore[arg-type]


def two_stacks(*, depends: bool) -> tuple[cdk.App, cdk.Stack, cdk.Stack]:
    """A key stack and an application stack of the same account and Region."""
    app = cdk.App(context=cdk_json_context())
    env = cdk.Environment(account=ACCOUNT, region="eu-west-1")
    keys, application = cdk.Stack(app, "Keys", env=env), cdk.Stack(app, "App", env=env)
    if depends:
        application.add_dependency(keys)
    return app, keys, application


@pytest.mark.parametrize("depends", [False, True], ids=["no-dependency", "app-depends-on-keys"])
def test_custom_policy_key_refuses_a_role_of_another_stack_known_only_at_deploy(
    depends: bool,
) -> None:
    # Naming the role would make Keys depend on App, which uses the key (a dependency cycle);
    # the account root instead would open the key to the whole account.
    app, keys, application = two_stacks(depends=depends)
    key = CustomerManagedKey(keys, "Key", policy=KeyPolicy.custom(admins=[ADMIN]))
    reader = role(application, "Reader")
    with pytest.raises(ConstructPropError) as error:
        key.grant_decrypt(reader)
    assert error.value.prop == "grantee"
    assert error.value.received == "App/Reader"
    assert "is in stack App" in str(error.value)
    assert "users=[...]" in str(error.value)
    # Nothing was written: the role has no identity policy and the key policy names no one new.
    assembly = app.synth()
    app_types = Templates.of(assembly, "App").resource_types()
    assert "AWS::IAM::Policy" not in app_types
    statements = Templates.of(assembly, "Keys").key_policy("Key")
    assert [s["Sid"] for s in statements] == ["KeyDeployment", "KeyAdministration"]


def test_a_refused_grant_to_a_nested_stack_names_the_stacks_by_path_not_token() -> None:
    # A nested stack's name is a deploy-time token: the error names its construct path.
    _app, keys, application = two_stacks(depends=False)
    key = CustomerManagedKey(keys, "Key", policy=KeyPolicy.custom(admins=[ADMIN]))
    nested = cdk.NestedStack(application, "Nested")
    reader = role(nested, "Reader")
    with pytest.raises(ConstructPropError) as error:
        key.grant_decrypt(reader)
    message = str(error.value)
    assert "must be in the key's stack (Keys)" in message
    assert "App/Nested/Reader is in stack App/Nested," in message
    assert "Token[" not in message


def test_default_policy_key_still_grants_a_role_of_another_stack() -> None:
    app, keys, application = two_stacks(depends=False)
    key = CustomerManagedKey(keys, "Key")
    key.grant_decrypt(role(application, "Reader"))
    assembly = app.synth()
    statements = Templates.of(assembly, "Keys").key_policy("Key")
    assert [s["Sid"] for s in statements] == ["EnableIAMUserPermissions"]
    app_types = Templates.of(assembly, "App").resource_types()
    assert "AWS::IAM::Policy" in app_types


def partner_reader_grant(*, depends: bool, custom: bool = True) -> list[dict[str, Any]]:
    """A key (custom or default policy) granted to a named role of another account's stack."""
    app, keys = app_with_stack("Keys")
    partner = cdk.Stack(app, "Partner", env=cdk.Environment(account=PARTNER, region="eu-west-1"))
    if depends:
        partner.add_dependency(keys)
    policy = KeyPolicy.custom(admins=[ADMIN]) if custom else KeyPolicy.default()
    key = CustomerManagedKey(keys, "Key", policy=policy)
    key.grant_decrypt(role(partner, "Reader", role_name="partner-reader"))
    return Templates.of(app.synth(), "Keys").key_policy("Key")


@pytest.mark.parametrize("custom", [True, False], ids=["custom-policy", "default-policy"])
@pytest.mark.parametrize("depends", [False, True], ids=["no-dependency", "deploys-after-the-key"])
def test_a_named_role_of_another_stack_is_its_account_root_limited_to_its_arn(
    depends: bool, custom: bool
) -> None:
    # KMS refuses a principal that does not exist yet, and whether the role's stack deploys
    # first is not known at grant time (dependencies from references appear at synth): the root
    # with aws:PrincipalArn lets in that role alone whatever the order, as the deployer
    # statement does. The default policy too: its account root alone would let in every
    # principal of the other account whose IAM policies allow it.
    statements = partner_reader_grant(depends=depends, custom=custom)
    assert allows(
        statements,
        ("AWS", f"arn:aws:iam::{PARTNER}:root"),
        "kms:Decrypt",
        {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{PARTNER}:role/partner-reader"}},
    )
    assert not allows(
        statements, ("AWS", f"arn:aws:iam::{PARTNER}:role/partner-reader"), "kms:Decrypt"
    )
    assert not allows(statements, ("AWS", f"arn:aws:iam::{PARTNER}:root"), "kms:Decrypt")
    if custom:
        unconditioned_roots = [
            s
            for s in statements
            if "Condition" not in s and s["Principal"]["AWS"].endswith(":root")
        ]
        assert unconditioned_roots == []


def test_a_named_role_whose_stack_depends_on_the_key_only_through_references() -> None:
    # Same account, another Region: the role's identity policy references the key, so its stack
    # deploys after the key's, a dependency CDK adds only at synth.
    app, keys = app_with_stack("Keys")
    other = cdk.Stack(
        app,
        "Other",
        env=cdk.Environment(account=ACCOUNT, region="eu-central-1"),
        cross_region_references=True,
    )
    key = CustomerManagedKey(keys, "Key", policy=KeyPolicy.custom(admins=[ADMIN]))
    key.grant_decrypt(role(other, "Reader", role_name="reader"))
    assembly = app.synth()
    statements = Templates.of(assembly, "Keys").key_policy("Key")
    assert allows(
        statements,
        ("AWS", f"arn:aws:iam::{ACCOUNT}:root"),
        "kms:Decrypt",
        {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/reader"}},
    )
    assert not allows(statements, ("AWS", f"arn:aws:iam::{ACCOUNT}:role/reader"), "kms:Decrypt")


def test_imported_role_of_another_stack_is_named_as_it_is() -> None:
    # CDK Pipelines' deployment roles: imported by ARN in Node, they exist before the key.
    app, keys, application = two_stacks(depends=True)
    key = CustomerManagedKey(keys, "Key", policy=KeyPolicy.custom(admins=[ADMIN]))
    iam.Role.from_role_arn(application, "Deploy", f"arn:aws:iam::{PARTNER}:role/Deploy")
    role(application, "Worker")  # a stack needs one resource
    key.key.grant_decrypt(application.node.find_child("Deploy"))  # type: ignore[arg-type]
    statements = Templates.of(app.synth(), "Keys").key_policy("Key")
    assert allows(statements, ("AWS", f"arn:aws:iam::{PARTNER}:role/Deploy"), "kms:Decrypt")


def test_grant_admin_through_key_includes_the_import_actions_of_an_external_key() -> None:
    app, stack = app_with_stack("Admin")
    imported = CustomerManagedKey(
        stack, "Imported", origin="EXTERNAL", policy=KeyPolicy.custom(admins=[ADMIN])
    )
    imported.key.grant_admin(role(stack, "Operator"))  # type: ignore[attr-defined]  # kms.Key
    templates = Templates.of(app.synth(), "Admin")
    operator = ("AWS", templates.role_arn("Operator"))
    import_actions = [
        "kms:DeleteImportedKeyMaterial",
        "kms:GetParametersForImport",
        "kms:ImportKeyMaterial",
        "kms:PutKeyPolicy",
    ]
    assert allows(templates.key_policy("Imported"), operator, import_actions)
    granted = {
        action
        for statement in templates.identity_policy("Operator")
        for action in statement["Action"]
    }
    assert set(import_actions) <= granted


def test_each_grant_method_gives_the_actions_of_its_key_usage() -> None:
    # The grant_* methods of the construct and of .key (which other CDK constructs call), on
    # custom-policy keys: the key policy and the identity policy both get exactly these actions.
    app, stack = app_with_stack("Usages")
    custom = KeyPolicy.custom(admins=[ADMIN])
    symmetric = CustomerManagedKey(stack, "Symmetric", policy=custom)
    rsa = CustomerManagedKey(
        stack,
        "Rsa",
        key_spec=kms.KeySpec.RSA_3072,
        key_usage=kms.KeyUsage.ENCRYPT_DECRYPT,
        policy=custom,
    )
    signer = CustomerManagedKey(
        stack,
        "Signer",
        key_spec=kms.KeySpec.RSA_2048,
        key_usage=kms.KeyUsage.SIGN_VERIFY,
        policy=custom,
    )
    mac = CustomerManagedKey(stack, "Mac", key_spec=kms.KeySpec.HMAC_256, policy=custom)
    agreement = CustomerManagedKey(
        stack,
        "Agreement",
        key_spec=kms.KeySpec.ECC_NIST_P384,
        key_usage=kms.KeyUsage.KEY_AGREEMENT,
        policy=custom,
    )
    expected: dict[str, tuple[str, list[str] | str]] = {}

    def check(name: str, key: CustomerManagedKey, grant: Any, actions: list[str] | str) -> None:
        grant(role(stack, name))
        expected[name] = (key.node.id, actions)

    symmetric_encrypt = [
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:GenerateDataKeyPair",
        "kms:GenerateDataKeyPairWithoutPlaintext",
        "kms:GenerateDataKeyWithoutPlaintext",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ]
    check("SymEnc", symmetric, symmetric.grant_encrypt, symmetric_encrypt)
    check("ViaKeySymEnc", symmetric, symmetric.key.grant_encrypt, symmetric_encrypt)
    # RSA keys make no data keys; the public key lets callers encrypt outside KMS.
    rsa_encrypt = ["kms:Encrypt", "kms:GetPublicKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"]
    check("RsaEnc", rsa, rsa.grant_encrypt, rsa_encrypt)
    check("RsaDec", rsa, rsa.key.grant_decrypt, "kms:Decrypt")
    check(
        "RsaBoth",
        rsa,
        rsa.grant_encrypt_decrypt,
        [
            "kms:Decrypt",
            "kms:DescribeKey",
            "kms:Encrypt",
            "kms:GetPublicKey",
            "kms:ReEncryptFrom",
            "kms:ReEncryptTo",
        ],
    )
    check("Signs", signer, signer.key.grant_sign, "kms:Sign")
    check("Verifies", signer, signer.key.grant_verify, "kms:Verify")
    check("MakesMac", mac, mac.key.grant_generate_mac, "kms:GenerateMac")
    check("ChecksMac", mac, mac.key.grant_verify_mac, "kms:VerifyMac")
    # The construct has every grant_* method of .key (docs/envelope.md: signer.grant_sign).
    check("DirectSign", signer, signer.grant_sign, "kms:Sign")
    check("DirectVerify", signer, signer.grant_verify, "kms:Verify")
    check("DirectChecksMac", mac, mac.grant_verify_mac, "kms:VerifyMac")
    # The construct's grant_generate_mac also verifies (unchanged, docs/keys.md "Grants");
    # .key's generates only, as aws-cdk-lib's, for the constructs that call it.
    check("DirectMakesMac", mac, mac.grant_generate_mac, ["kms:GenerateMac", "kms:VerifyMac"])
    check("DirectAdmin", signer, signer.grant_admin, list(ADMIN_ACTIONS))
    check("ViaKeyAdmin", mac, mac.key.grant_admin, list(ADMIN_ACTIONS))
    check(
        "DeriveSecret",
        agreement,
        agreement.grant_key_agreement,
        ["kms:DeriveSharedSecret", "kms:GetPublicKey"],
    )

    templates = Templates.of(app.synth(), "Usages")
    for name, (key_id, actions) in expected.items():
        assert templates.identity_policy(name) == [
            {"Action": actions, "Effect": "Allow", "Resource": templates.key_arn(key_id)}
        ], name
        # minimizePolicies may merge the statements of two roles given the same actions.
        arn = templates.role_arn(name)
        granted = {
            action
            for s in templates.key_policy(key_id)
            if arn
            in (
                s["Principal"]["AWS"]
                if isinstance(s["Principal"]["AWS"], list)
                else [s["Principal"]["AWS"]]
            )
            for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
        }
        assert granted == ({actions} if isinstance(actions, str) else set(actions)), name
        assert allows(templates.key_policy(key_id), ("AWS", arn), actions), name


@pytest.mark.parametrize(
    ("on_key", "method", "key_usage"),
    [
        (False, "grant_encrypt", "ENCRYPT_DECRYPT"),
        (True, "grant_encrypt", "ENCRYPT_DECRYPT"),
        (False, "grant_decrypt", "ENCRYPT_DECRYPT"),
        (True, "grant_decrypt", "ENCRYPT_DECRYPT"),
        (False, "grant_sign", "SIGN_VERIFY"),
        (True, "grant_sign", "SIGN_VERIFY"),
        (False, "grant_verify", "SIGN_VERIFY"),
        (True, "grant_verify", "SIGN_VERIFY"),
        (False, "grant_generate_mac", "GENERATE_VERIFY_MAC"),
        (True, "grant_generate_mac", "GENERATE_VERIFY_MAC"),
        (False, "grant_verify_mac", "GENERATE_VERIFY_MAC"),
        (True, "grant_verify_mac", "GENERATE_VERIFY_MAC"),
        (False, "grant_key_agreement", "KEY_AGREEMENT"),
    ],
)
def test_a_grant_method_of_another_key_usage_is_refused(
    on_key: bool, method: str, key_usage: str
) -> None:
    # A policy for actions the key cannot perform would pass synth and fail every call.
    stack = cdk.Stack(cdk.App(), "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))
    spec, usage = (
        (kms.KeySpec.ECC_NIST_P256, kms.KeyUsage.SIGN_VERIFY)
        if key_usage != "SIGN_VERIFY"
        else (kms.KeySpec.SYMMETRIC_DEFAULT, None)
    )
    key = CustomerManagedKey(stack, "K", key_spec=spec, key_usage=usage)
    owner = key.key if on_key else key  # .key: the methods other CDK constructs call
    reader = role(stack, "R")
    with pytest.raises(ConstructPropError) as error:
        getattr(owner, method)(reader)
    other = "SIGN_VERIFY" if key_usage != "SIGN_VERIFY" else "ENCRYPT_DECRYPT"
    assert str(error.value) == (
        f"'{method}' needs a key with key_usage {key_usage}; S/K has key_usage {other}. "
        f"Received: '{other}'"
    )


def test_the_grants_of_key_reach_the_key_policy() -> None:
    # aws-cdk-lib's KeyGrants (key.grants.decrypt(...)) would write only the identity policy of
    # a role of the key's account, which a custom policy ignores: every call would be denied.
    app, stack = app_with_stack("Modern")
    key = CustomerManagedKey(stack, "Key", policy=KeyPolicy.custom(admins=[ADMIN]))
    grants = key.key.grants  # type: ignore[attr-defined]  # kms.Key
    grants.decrypt(role(stack, "Reader"))
    grants.actions(role(stack, "Describer"), "kms:DescribeKey")
    with pytest.raises(ConstructPropError, match="'grant_sign' needs a key with key_usage"):
        grants.sign(role(stack, "Signer"))
    templates = Templates.of(app.synth(), "Modern")
    statements = templates.key_policy("Key")
    assert allows(statements, ("AWS", templates.role_arn("Reader")), "kms:Decrypt")
    assert allows(statements, ("AWS", templates.role_arn("Describer")), "kms:DescribeKey")
    assert {
        "Action": "kms:Decrypt",
        "Effect": "Allow",
        "Resource": templates.key_arn("Key"),
    } in templates.identity_policy("Reader")


UNBOUND_GRANTS = [
    pytest.param(
        kms.Key.grant_decrypt,
        "aws_kms.Key.grant_decrypt(key.key, grantee)",
        "key.key.grant_decrypt(grantee)",
        id="Key.grant_decrypt",
    ),
    pytest.param(
        lambda k, g: kms.Key.grant(k, g, "kms:Decrypt"),
        "aws_kms.Key.grant(key.key, grantee, *actions)",
        "key.key.grant(grantee, *actions)",
        id="Key.grant",
    ),
    pytest.param(
        kms.Key.grant_sign,
        "aws_kms.Key.grant_sign(key.key, grantee)",
        "key.key.grant_sign(grantee)",
        id="Key.grant_sign",
    ),
    pytest.param(
        lambda k, g: kms.KeyGrants.from_key(k).decrypt(g),
        "aws_kms.KeyGrants.from_key(key.key).decrypt(grantee)",
        "key.key.grants.decrypt(...)",
        id="KeyGrants.decrypt",
    ),
    pytest.param(
        lambda k, g: kms.KeyGrants.from_key(k).actions(g, "kms:Decrypt"),
        "aws_kms.KeyGrants.from_key(key.key).actions(grantee)",
        "key.key.grants.actions(...)",
        id="KeyGrants.actions",
    ),
]


@pytest.mark.parametrize(
    ("service", "custom"),
    [(False, True), (True, False)],
    ids=["role-custom-policy", "service-default-policy"],
)
@pytest.mark.parametrize(("call", "named", "instead"), UNBOUND_GRANTS)
def test_aws_cdk_libs_own_grant_code_called_on_key_is_refused_naming_the_call(
    call: Any, named: str, instead: str, service: bool, custom: bool
) -> None:
    """aws-cdk-lib's unbound Key methods read ``.grants`` in JavaScript, which failed with a jsii
    serialization error on the routed grants (``'_RoutedKeyGrants' has no attribute
    '__jsii_type__'``); KeyGrants.from_key(key.key) granted past the key's checks: a service
    without a source condition, a grant a signing key cannot serve, a custom policy's key
    policy half left out. Neither can go through grant() (aws-cdk-lib's KeyGrants never calls
    back into Python): each is refused before it writes anything, naming the call and the
    checked one to make instead."""
    app, stack = app_with_stack("Unbound")
    key = CustomerManagedKey(
        stack, "Key", policy=KeyPolicy.custom(admins=[ADMIN]) if custom else None
    )
    grantee = iam.ServicePrincipal("events.amazonaws.com") if service else role(stack, "Reader")
    with pytest.raises(RuntimeError) as error:  # raised in a jsii callback
        call(key.key, grantee)
    received = "ServicePrincipal(events.amazonaws.com)" if service else "Unbound/Reader"
    assert str(error.value).startswith(
        f"'{named}' must not be called on Unbound/Key.key: aws-cdk-lib's "
    )
    assert "past Unbound/Key's checks (key usage, the key policy's half of the grant" in str(
        error.value
    )
    assert f"call {instead} instead (the same method, checked). Received: " in str(error.value)
    assert received in str(error.value)
    template = Templates.of(app.synth(), "Unbound")
    assert "AWS::IAM::Policy" not in template.resource_types()
    assert not [s for s in template.key_policy("Key") if "events" in json.dumps(s)]


def _l1_queue(stack: cdk.Stack, key: kms.IKey, grantee: iam.IGrantable) -> None:
    queue = sqs.CfnQueue(stack, "Queue", kms_master_key_id=key)  # an IKeyRef, read in JS
    sqs.QueueGrants.from_queue(queue).send_messages(grantee)


def _l1_topic(stack: cdk.Stack, key: kms.IKey, grantee: iam.IGrantable) -> None:
    topic = sns.CfnTopic(stack, "Topic", kms_master_key_id=key)
    sns.TopicGrants.from_topic(topic).publish(grantee)


def _glue_table(stack: cdk.Stack, key: kms.IKey, grantee: iam.IGrantable) -> None:
    table = glue.S3Table(
        stack,
        "Table",
        database=glue.Database(stack, "Db"),
        columns=[glue.Column(name="a", type=glue.Schema.STRING)],
        data_format=glue.DataFormat.JSON,
        client_side_encryption=glue.TableClientSideEncryption.kms(key),
    )
    table.grant_read_write(grantee)


@pytest.mark.parametrize(
    ("build", "key_actions"),
    [
        (_l1_queue, {"kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}),
        (_l1_topic, {"kms:Decrypt", "kms:GenerateDataKey*"}),
        (_glue_table, {"kms:Decrypt", "kms:Encrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}),
    ],
    ids=["CfnQueue", "CfnTopic", "glue.S3Table-client-side"],
)
def test_aws_cdk_libs_constructs_that_use_key_grants_themselves_still_grant(
    build: Any, key_actions: set[str]
) -> None:
    """aws-cdk-lib's own KeyGrants.fromKey on ``key.key`` (an L1 queue's or topic's
    ``kms_master_key_id``, a Glue table's client-side encryption key), read as an IKeyRef in
    JavaScript, is its construct's grant, not the user's call: let through, as docs/keys.md
    says (identity policy only)."""
    app, stack = app_with_stack("Builtin")
    key = CustomerManagedKey(stack, "Key")
    build(stack, key.key, role(stack, "User"))
    templates = Templates.of(app.synth(), "Builtin")
    granted = [
        s for s in templates.identity_policy("User") if s["Resource"] == templates.key_arn("Key")
    ]
    assert len(granted) == 1
    assert set(granted[0]["Action"]) == key_actions


def test_key_grants_read_by_other_aws_cdk_lib_code_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``.grants`` read in JavaScript other than by an unbound Key method (no aws-cdk-lib
    2.275 construct does; one that did would get no routed grants): refused, naming it."""
    _, stack = app_with_stack("Other")
    key = CustomerManagedKey(stack, "Key")
    monkeypatch.setattr("constructs_lib.keys._called_from_jsii", lambda: True)
    with pytest.raises(ConstructPropError) as error:
        _ = key.key.grants  # type: ignore[attr-defined]  # kms.Key
    assert str(error.value) == (
        "'Other/Key.key.grants' cannot be used by aws-cdk-lib's own code (called through "
        "aws-cdk-lib's JavaScript): its grants would not go through Other/Key's checks (key "
        "usage, the key policy's half of the grant under a custom policy, and the source "
        "condition an AWS service principal needs); grant on the key with key.grant_*(...) "
        "yourself, or give that construct a key of its own. Received: \"aws-cdk-lib's "
        'JavaScript"'
    )


def test_a_grant_kms_would_refuse_on_the_key_usage_is_refused() -> None:
    # aws-cdk-lib's L2s grant through grant() without knowing the key: an SQS queue on a
    # signing key asks for Encrypt and data keys, which KMS never allows on it.
    _, stack = app_with_stack("Usage")
    signer = CustomerManagedKey(
        stack, "Signer", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.SIGN_VERIFY
    )
    queue = sqs.Queue(stack, "Queue", encryption_master_key=signer.key)
    with pytest.raises(RuntimeError, match=r"KMS refuses kms:Decrypt, kms:Encrypt, "):
        queue.grant_send_messages(role(stack, "Sender"))
    rsa = CustomerManagedKey(
        stack, "Rsa", key_spec=kms.KeySpec.RSA_2048, key_usage=kms.KeyUsage.ENCRYPT_DECRYPT
    )
    with pytest.raises(ConstructPropError) as error:
        rsa.grant(role(stack, "DataKeys"), "kms:GenerateDataKey", "kms:DescribeKey")
    assert str(error.value) == (
        "'key_actions' must be usable on Usage/Rsa (key_spec RSA_2048, key_usage "
        "ENCRYPT_DECRYPT): KMS refuses kms:GenerateDataKey on it. "
        "Received: ['kms:GenerateDataKey', 'kms:DescribeKey']"
    )
    rsa.grant(role(stack, "Reader"), "kms:Decrypt", "kms:GetPublicKey")


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("kms:Encyrpt", "'key_actions' must name KMS actions (did you mean 'kms:Encrypt'?)"),
        ("kms:GenerateDataKeys", "must name KMS actions (did you mean 'kms:GenerateDataKey'?)"),
        ("kms:Fly*", "'key_actions' must name KMS actions (see the KMS API reference)"),
    ],
)
def test_a_grant_of_an_action_kms_does_not_have_is_refused(action: str, message: str) -> None:
    # IAM accepts any action name, so a misspelled one allowed nothing and the grantee met
    # AccessDenied at run time.
    _, stack = app_with_stack("Misspelled")
    key = CustomerManagedKey(stack, "Key")
    with pytest.raises(ConstructPropError) as error:
        key.grant(role(stack, "Reader"), "kms:Decrypt", action)
    assert message in str(error.value)
    assert str(error.value).endswith(f"Received: '{action}'")


def test_a_grant_takes_any_case_and_wildcards_that_name_kms_actions() -> None:
    _, stack = app_with_stack("Spellings")
    key = CustomerManagedKey(stack, "Key")
    key.grant(role(stack, "Reader"), "kms:decrypt", "kms:Describe*", "kms:GenerateDataKey*")


def test_the_known_kms_actions_are_the_apis_operations() -> None:
    # Kept in step with botocore's model of the KMS API (ReEncrypt is two IAM actions, and
    # SynchronizeMultiRegionKey is a permission without an operation).
    model = botocore.session.get_session().get_service_model("kms")
    operations = {f"kms:{name}" for name in model.operation_names} - {"kms:ReEncrypt"}
    extra = {"kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:SynchronizeMultiRegionKey"}
    assert operations | extra == KNOWN_ACTIONS
