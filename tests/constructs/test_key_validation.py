"""Every bad input to the key constructs is refused with the argument's name and the value.

Construct-time checks build a throwaway App and never synthesize. Policy checks run at synth
(once every grant is in), so those tests synthesize a one-key App and read the error.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Match, Template

from constructs_lib import (
    AlarmTopic,
    AuditTrail,
    ConstructPropError,
    CustomerManagedKey,
    ExternalAccount,
    KeyPolicy,
    KeyServicePrincipal,
    KmsRequestQuotaAlarm,
    ReplicaKey,
)
from constructs_lib.quota_alarm import REQUEST_QUOTA_OPERATIONS
from kmskit.key_inventory import analyze_policy
from kmskit.policy_conditions import limits_source

ACCOUNT = "111111111111"
ORG_ID = "o-abcdefghij"
ADMIN_ROLE = "arn:aws:iam::111111111111:role/Admin"
PRIMARY_ARN = "arn:aws:kms:eu-west-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab"
GROUP_ARN = "arn:aws:iam::111111111111:group/Ops"
NOT_A_GROUP = (
    'must not name an IAM group: KMS refuses a key policy naming one ("IAM user groups are not '
    'a valid principal in any policy type"); name its roles or users, or attach an IAM policy '
    "to the group for a key with KeyPolicy.default()"
)

# The default deployer is not a value the user gave: the message says so, and why the stack's
# role is unknown, instead of showing the internal default ('stack-deployer').
DEPLOYER_UNKNOWN = (
    "'deployer' must name the principal that deploys the key. Received: (not given: the "
    "stack's CloudFormation execution role could not be determined: its DefaultStackSynthesizer "
    "was given explicitly, as Stack(synthesizer=...) or App(default_stack_synthesizer=...): the "
    "stack binds a copy of it and jsii hands Python back the unbound original, whose role it "
    "cannot read; set a bootstrap qualifier through the '@aws-cdk/core:bootstrapQualifier' "
    "context instead, or pass deployer=)"
)
DEPLOYER_UNKNOWN_CLI = (
    "'deployer' must name the principal that deploys the key. Received: (not given: the "
    "stack's CloudFormation execution role could not be determined: its synthesizer, "
    "CliCredentialsStackSynthesizer, names no CloudFormation execution role; pass deployer=)"
)


def new_stack(region: str = "eu-west-1", name: str = "S") -> cdk.Stack:
    return cdk.Stack(cdk.App(), name, env=cdk.Environment(account=ACCOUNT, region=region))


def key(**kwargs: object) -> Callable[[cdk.Stack], object]:
    return lambda stack: CustomerManagedKey(stack, "K", **kwargs)  # type: ignore[arg-type]


def key_with_policy(**policy: object) -> Callable[[cdk.Stack], object]:
    """A key whose KeyPolicy.custom(**policy) is built when the test runs."""
    return lambda stack: CustomerManagedKey(
        stack,
        "K",
        policy=KeyPolicy.custom(**policy),  # type: ignore[arg-type]
    )


def two_keys_with_alias(stack: cdk.Stack) -> None:
    CustomerManagedKey(stack, "First", alias="alias/app")
    CustomerManagedKey(stack, "Second", alias="alias/app")


def same_alias_in_another_stack_of_the_environment(stack: cdk.Stack) -> None:
    CustomerManagedKey(stack, "First", alias="alias/app")
    other = cdk.Stack(
        stack.node.scope,  # type: ignore[arg-type]
        "Other",
        env=cdk.Environment(account=ACCOUNT, region="eu-west-1"),
    )
    CustomerManagedKey(other, "Second", alias="alias/app")


def two_keys_with_alias_in_an_environment_agnostic_stack(stack: cdk.Stack) -> None:
    agnostic = cdk.Stack(stack.node.scope, "Agnostic")  # type: ignore[arg-type]
    CustomerManagedKey(agnostic, "First", alias="alias/app")
    CustomerManagedKey(agnostic, "Second", alias="alias/app")


def grant_with_conditions(conditions: object) -> Callable[[cdk.Stack], object]:
    return lambda stack: CustomerManagedKey(stack, "K").grant(
        iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()),
        "kms:Decrypt",
        conditions=conditions,  # type: ignore[arg-type]
    )


def replica(stack: cdk.Stack, **kwargs: object) -> ReplicaKey:
    return ReplicaKey(stack, "R", **kwargs)  # type: ignore[arg-type]


def replica_in(region: str, **kwargs: object) -> Callable[[cdk.Stack], object]:
    """A replica in ``region`` of a primary made in the test's stack (eu-west-1)."""

    def make(stack: cdk.Stack) -> object:
        other = cdk.Stack(
            stack.node.scope,  # type: ignore[arg-type]
            "ReplicaStack",
            env=cdk.Environment(account=ACCOUNT, region=region),
            cross_region_references=True,
        )
        primary_kwargs = {k: v for k, v in kwargs.items() if k == "multi_region"}
        primary = CustomerManagedKey(stack, "Primary", **primary_kwargs)  # type: ignore[arg-type]
        rest = {k: v for k, v in kwargs.items() if k != "multi_region"}
        return replica(other, primary=primary, **rest)

    return make


def replica_in_account(account: str) -> Callable[[cdk.Stack], object]:
    """A replica in ``account`` (eu-central-1) of a primary made in the test's stack."""

    def make(stack: cdk.Stack) -> object:
        other = cdk.Stack(
            stack.node.scope,  # type: ignore[arg-type]
            "ReplicaStack",
            env=cdk.Environment(account=account, region="eu-central-1"),
            cross_region_references=True,
        )
        return replica(other, primary=CustomerManagedKey(stack, "Primary", multi_region=True))

    return make


def quota_alarm(**kwargs: object) -> Callable[[cdk.Stack], object]:
    def make(stack: cdk.Stack) -> object:
        topic_key = CustomerManagedKey(stack, "TopicKey")
        return KmsRequestQuotaAlarm(
            stack,
            "Quota",
            **{"encryption_key": topic_key, **kwargs},  # type: ignore[arg-type]
        )

    return make


LONG_ALIAS = "alias/" + "a" * 251
WILDCARD_PRINCIPAL = (
    "must not hold a wildcard principal, with conditions or without (name the roles, or add a "
    "statement for '*' through 'statements' with a condition that limits the caller, such as "
    "aws:PrincipalOrgID)"
)
CALLER_CONDITION = (
    "a condition that limits the caller (aws:PrincipalOrgID, aws:PrincipalOrgPaths, "
    "aws:PrincipalAccount, aws:PrincipalArn, aws:SourceAccount, aws:SourceArn, aws:SourceOrgID, "
    "aws:SourceOrgPaths, aws:SourceVpc, aws:SourceVpce, kms:CallerAccount) under an operator that "
    "needs the key present (not ...IfExists, Null, ForAllValues: or a negation), and under "
    "StringLike, ArnLike or ArnEquals with no wildcard in the part of a value naming the caller "
    "(an account, organization or VPC (endpoint) ID; an organization path's o-... ID; an ARN's "
    "account); an ARN with no account field (an S3 bucket's, arn:aws:s3:::name) names no caller "
    "with any operator"
)
WILDCARD_USER = (
    f"must not hold a wildcard principal without {CALLER_CONDITION} (name the roles, or give '*' "
    "such a condition: iam.OrganizationPrincipal('o-...'), iam.AnyPrincipal().with_conditions(...))"
)
MIXED_CONDITIONS = (
    "must hold principals with the same conditions: they share one statement, whose Condition "
    "applies to all of them, compared as CDK compares them, key order included (give the others "
    "a statement of their own through 'statements', or write the conditions in one order)"
)
WILDCARD_IN_ARN = (
    "must not hold wildcards ('*' or '?') in principal ARNs: IAM does not match them in a "
    "Principal (name each role, or add a statement for the account root with an ArnLike "
    "condition on aws:PrincipalArn through 'statements')"
)
SERVICE_ADMIN = (
    "must not hold an AWS service principal: the statement gives management of the key "
    "(kms:PutKeyPolicy among it), which no service needs (name the roles that administer the "
    "key; give a service use of it through service_principals=[KeyServicePrincipal...])"
)
SERVICE_WITHOUT_SOURCE = (
    "must not let an AWS service principal in without a condition that limits the source "
    "(aws:SourceArn, aws:SourceAccount, aws:SourceOrgID, aws:SourceOrgPaths, "
    "kms:EncryptionContext:<key>, kms:ViaService, kms:CallerAccount) under an operator that "
    "needs the key present (not ...IfExists, Null, ForAllValues: or a negation), with a value "
    "other than '*', and under StringLike, ArnLike or ArnEquals no wildcard in an account, "
    "organization ID or kms:ViaService, an organization path's o-... ID, or an ARN's account "
    "(aws:SourceArn, an encryption context holding an ARN); an ARN with no account field (an S3 "
    "bucket's, arn:aws:s3:::name) counts only without wildcards; every Fn::If branch must pass: "
    "without one the service uses the key for any customer who points it at a resource "
    "encrypted under it (the confused deputy)."
)


def service_without_source(service: str) -> str:
    """SERVICE_WITHOUT_SOURCE for a service the toolkit has no KeyServicePrincipal of: the
    generic remedy, never aws:SourceAccount (which not every service's requests carry)."""
    return (
        f"{SERVICE_WITHOUT_SOURCE} Use for {service}: KeyServicePrincipal.publisher("
        f"service='{service}', destination='sns' or 'sqs', source_arn_pattern=...) if it "
        "publishes to the key's topics or queues, or a condition its KMS requests carry (its "
        "documentation says which: aws:SourceArn, aws:SourceAccount or an encryption context), "
        "in service_principals=[...] or add_service_principal(...), which write the conditions "
        "AWS documents, or give the principal such a condition "
        "(iam.ServicePrincipal(...).with_conditions(...), grant(..., conditions=...))"
    )


SOURCE = {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
IF_EXISTS = {"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}

CONSTRUCT_TIME_CASES: list[tuple[str, Callable[[cdk.Stack], object], str]] = [
    # key spec and usage combinations
    (
        "spec-unknown",
        key(key_spec="AES_256"),
        "'key_spec' must be a KMS key spec. Received: 'AES_256'",
    ),
    (
        "usage-missing-for-rsa",
        key(key_spec=kms.KeySpec.RSA_2048),
        "'key_usage' must be given for key_spec RSA_2048 (one of ENCRYPT_DECRYPT, SIGN_VERIFY). "
        "Received: None",
    ),
    (
        "symmetric-sign",
        key(key_usage=kms.KeyUsage.SIGN_VERIFY),
        "'key_usage' must be one of ENCRYPT_DECRYPT for key_spec SYMMETRIC_DEFAULT. "
        "Received: 'SIGN_VERIFY'",
    ),
    (
        "hmac-encrypt",
        key(key_spec=kms.KeySpec.HMAC_256, key_usage=kms.KeyUsage.ENCRYPT_DECRYPT),
        "'key_usage' must be one of GENERATE_VERIFY_MAC for key_spec HMAC_256. "
        "Received: 'ENCRYPT_DECRYPT'",
    ),
    (
        "secg-key-agreement",
        key(key_spec=kms.KeySpec.ECC_SECG_P256K1, key_usage=kms.KeyUsage.KEY_AGREEMENT),
        "'key_usage' must be one of SIGN_VERIFY for key_spec ECC_SECG_P256K1. "
        "Received: 'KEY_AGREEMENT'",
    ),
    (
        "rsa-encrypt-sign-mix",
        key(key_spec=kms.KeySpec.RSA_4096, key_usage=kms.KeyUsage.GENERATE_VERIFY_MAC),
        "'key_usage' must be one of ENCRYPT_DECRYPT, SIGN_VERIFY for key_spec RSA_4096. "
        "Received: 'GENERATE_VERIFY_MAC'",
    ),
    # rotation
    (
        "rotation-asymmetric",
        key(
            key_spec=kms.KeySpec.ECC_NIST_P256,
            key_usage=kms.KeyUsage.SIGN_VERIFY,
            enable_key_rotation=True,
        ),
        "'enable_key_rotation' can only be True for SYMMETRIC_DEFAULT keys with AWS_KMS origin "
        "(this key: key_spec ECC_NIST_P256, origin AWS_KMS). Received: True",
    ),
    (
        "rotation-hmac",
        key(key_spec=kms.KeySpec.HMAC_512, enable_key_rotation=True),
        "'enable_key_rotation' can only be True for SYMMETRIC_DEFAULT keys with AWS_KMS origin "
        "(this key: key_spec HMAC_512, origin AWS_KMS). Received: True",
    ),
    (
        "rotation-external",
        key(origin="EXTERNAL", enable_key_rotation=True),
        "'enable_key_rotation' can only be True for SYMMETRIC_DEFAULT keys with AWS_KMS origin "
        "(this key: key_spec SYMMETRIC_DEFAULT, origin EXTERNAL). Received: True",
    ),
    (
        "rotation-not-bool",
        key(enable_key_rotation="maybe"),
        "'enable_key_rotation' must be True, False or None (the default for the key spec). "
        "Received: 'maybe'",
    ),
    (
        "rotation-period-short",
        key(rotation_period=cdk.Duration.days(89)),
        "'rotation_period' must be 90-2560 days. Received: 89",
    ),
    (
        "rotation-period-long",
        key(rotation_period=cdk.Duration.days(2561)),
        "'rotation_period' must be 90-2560 days. Received: 2561",
    ),
    (
        "rotation-period-partial-day",
        key(rotation_period=cdk.Duration.hours(2500)),
        "'rotation_period' must be a whole number of days. Received: '104 days 4 hours'",
    ),
    (
        "rotation-period-without-rotation",
        key(enable_key_rotation=False, rotation_period=cdk.Duration.days(180)),
        "'rotation_period' needs enable_key_rotation=True (a rotated SYMMETRIC_DEFAULT key with "
        "AWS_KMS origin; this key: key_spec SYMMETRIC_DEFAULT, origin AWS_KMS). "
        "Received: '180 days'",
    ),
    # deletion window
    (
        "pending-window-short",
        key(pending_window=cdk.Duration.days(6)),
        "'pending_window' must be 7-30 days. Received: 6",
    ),
    (
        "pending-window-long",
        key(pending_window=cdk.Duration.days(31)),
        "'pending_window' must be 7-30 days. Received: 31",
    ),
    (
        "pending-window-not-duration",
        key(pending_window=7),
        "'pending_window' must be a Duration such as Duration.days(30). Received: 7",
    ),
    # aliases
    (
        "alias-no-prefix",
        key(alias="app-data"),
        "'alias' must start with 'alias/'. Received: 'app-data'",
    ),
    (
        "alias-aws-reserved",
        key(alias="alias/aws/ebs"),
        "'alias' must not start with 'alias/aws/', which is reserved for AWS managed keys. "
        "Received: 'alias/aws/ebs'",
    ),
    (
        "alias-aws-reserved-in-capitals",
        key(alias="alias/AWS/ebs"),
        "'alias' must not start with 'alias/aws/', which is reserved for AWS managed keys. "
        "Received: 'alias/AWS/ebs'",
    ),
    (
        "alias-token-with-bad-characters-before-it",
        lambda stack: CustomerManagedKey(stack, "K", alias=f"alias/bad name {cdk.Aws.STACK_NAME}"),
        "'alias' may only contain letters, digits, '/', '_' and '-' after 'alias/'. "
        "Received: 'alias/bad name ${Token[AWS.StackName.",
    ),
    (
        "alias-bad-characters",
        key(alias="alias/app data!"),
        "'alias' may only contain letters, digits, '/', '_' and '-' after 'alias/'. "
        "Received: 'alias/app data!'",
    ),
    (
        "alias-trailing-newline",
        key(alias="alias/app\n"),
        "'alias' may only contain letters, digits, '/', '_' and '-' after 'alias/'. "
        "Received: 'alias/app\\n'",
    ),
    (
        "alias-empty-name",
        key(alias="alias/"),
        "'alias' may only contain letters, digits, '/', '_' and '-' after 'alias/'. "
        "Received: 'alias/'",
    ),
    (
        "alias-too-long",
        key(alias=LONG_ALIAS),
        f"'alias' must be at most 256 characters. Received: '{LONG_ALIAS}'",
    ),
    (
        "alias-repeated-in-stack",
        two_keys_with_alias,
        "'alias' must be unique within account 111111111111 in eu-west-1. Received: 'alias/app'",
    ),
    (
        "alias-repeated-in-another-stack-of-the-account-and-region",
        same_alias_in_another_stack_of_the_environment,
        "'alias' must be unique within account 111111111111 in eu-west-1. Received: 'alias/app'",
    ),
    (
        "alias-repeated-in-environment-agnostic-stack",
        two_keys_with_alias_in_an_environment_agnostic_stack,
        "'alias' must be unique within the stack. Received: 'alias/app'",
    ),
    (
        "alias-token-aws-reserved",
        lambda stack: CustomerManagedKey(stack, "K", alias=f"alias/aws/{cdk.Aws.STACK_NAME}"),
        "'alias' must not start with 'alias/aws/', which is reserved for AWS managed keys. "
        "Received: 'alias/aws/${Token[AWS.StackName.",
    ),
    (
        "alias-token-no-prefix",
        lambda stack: CustomerManagedKey(stack, "K", alias=f"key/{cdk.Aws.STACK_NAME}"),
        "'alias' must start with 'alias/'. Received: 'key/${Token[AWS.StackName.",
    ),
    # account IDs
    (
        "external-account-short",
        key_with_policy(admins=[f"arn:aws:iam::{ACCOUNT}:role/Admin"], external_accounts=["12345"]),
        "'external_accounts' must be a 12-digit AWS account ID. Received: '12345'",
    ),
    (
        "external-account-letters",
        lambda stack: ExternalAccount(account_id="22222222222x"),
        "'external_accounts' must be a 12-digit AWS account ID. Received: '22222222222x'",
    ),
    (
        "grant-to-account-13-digits",
        lambda stack: CustomerManagedKey(stack, "K").grant_to_account("2222222222222"),
        "'account' must be a 12-digit AWS account ID. Received: '2222222222222'",
    ),
    (
        "external-account-is-own-account",
        lambda stack: CustomerManagedKey(stack, "K").grant_to_account(ACCOUNT),
        "'account' must name another account than the key's own (111111111111); use users=[...] "
        "or grant_* for principals of this account. Received: '111111111111'",
    ),
    (
        "external-principal-of-other-account",
        lambda stack: ExternalAccount(
            account_id="222222222222", principal_arns=("arn:aws:iam::333333333333:role/R",)
        ),
        "'external_accounts' principal ARNs must belong to account 222222222222. "
        "Received: 'arn:aws:iam::333333333333:role/R'",
    ),
    (
        "external-account-repeated",
        key_with_policy(
            admins=[ADMIN_ROLE],
            external_accounts=["222222222222", "arn:aws:iam::222222222222:role/X"],
        ),
        "'external_accounts' must name each account once (several principals of one account go "
        "in one ExternalAccount(account_id=..., principal_arns=(...))). Received: '222222222222'",
    ),
    (
        "primary-arn-bad-account",
        lambda stack: replica(
            new_stack("eu-central-1"),
            primary_key_arn="arn:aws:kms:eu-west-1:1111:key/mrk-1234abcd12ab34cd56ef1234567890ab",
        ),
        "'primary_key_arn' must be a 12-digit AWS account ID. Received: '1111'",
    ),
    # AWS service principals: never administrators; elsewhere only with a source condition
    (
        "service-admin",
        key_with_policy(admins=[ADMIN_ROLE, iam.ServicePrincipal("lambda.amazonaws.com")]),
        f"'admins[1]' {SERVICE_ADMIN}. Received: 'ServicePrincipal(lambda.amazonaws.com)'",
    ),
    (
        "service-admin-with-a-source-condition",
        key_with_policy(admins=[iam.ServicePrincipal("lambda.amazonaws.com", conditions=SOURCE)]),
        f"'admins[0]' {SERVICE_ADMIN}. Received: 'ServicePrincipal(lambda.amazonaws.com)'",
    ),
    (
        "service-deployer",
        key_with_policy(admins=[ADMIN_ROLE], deployer=iam.ServicePrincipal("lambda.amazonaws.com")),
        f"'deployer' {SERVICE_ADMIN}. Received: 'ServicePrincipal(lambda.amazonaws.com)'",
    ),
    (
        "service-user",
        key_with_policy(admins=[ADMIN_ROLE], users=[iam.ServicePrincipal("s3.amazonaws.com")]),
        f"'users[0]' {service_without_source('s3.amazonaws.com')}. "
        "Received: 'ServicePrincipal(s3.amazonaws.com) with no Condition'",
    ),
    (
        "service-user-in-a-composite-principal",
        key_with_policy(
            admins=[ADMIN_ROLE],
            users=[iam.CompositePrincipal(iam.ServicePrincipal("s3.amazonaws.com"))],
        ),
        f"'users[0]' {service_without_source('s3.amazonaws.com')}. "
        "Received: 'CompositePrincipal(ServicePrincipal(s3.amazonaws.com)) with no Condition'",
    ),
    (
        "service-user-with-a-condition-that-binds-nothing",
        key_with_policy(
            admins=[ADMIN_ROLE],
            users=[iam.ServicePrincipal("s3.amazonaws.com", conditions=IF_EXISTS)],
        ),
        f"'users[0]' {service_without_source('s3.amazonaws.com')}. "
        "Received: 'ServicePrincipal(s3.amazonaws.com) "
        f"with Condition {json.dumps(IF_EXISTS)}'",
    ),
    (
        "service-service-user",
        key_with_policy(
            admins=[ADMIN_ROLE],
            service_users=[ADMIN_ROLE, iam.ServicePrincipal("ec2.amazonaws.com")],
        ),
        f"'service_users[1]' {service_without_source('ec2.amazonaws.com')}. "
        "Received: 'ServicePrincipal(ec2.amazonaws.com) with no Condition'",
    ),
    (
        "service-in-statements",
        key_with_policy(
            admins=[ADMIN_ROLE],
            statements=[
                iam.PolicyStatement(
                    principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={"Bool": {"aws:SecureTransport": "true"}},
                ),
            ],
        ),
        f"'statements[0]' {service_without_source('sns.amazonaws.com')}. "
        "Received: 'ServicePrincipal(sns.amazonaws.com) "
        'with Condition {"Bool": {"aws:SecureTransport": "true"}}\'',
    ),
    (
        "service-grant",
        lambda stack: CustomerManagedKey(stack, "K").grant_encrypt_decrypt(
            iam.ServicePrincipal("sns.amazonaws.com")
        ),
        f"'grant_encrypt_decrypt(grantee)' {service_without_source('sns.amazonaws.com')}. "
        "Received: 'ServicePrincipal(sns.amazonaws.com) with no Condition'",
    ),
    (
        "service-grant-through-the-l2-key",
        lambda stack: CustomerManagedKey(stack, "K").key.grant_decrypt(
            iam.ServicePrincipal("sns.amazonaws.com")
        ),
        f"'grant_decrypt(grantee)' {service_without_source('sns.amazonaws.com')}. "
        "Received: 'ServicePrincipal(sns.amazonaws.com) with no Condition'",
    ),
    (
        "service-grant-with-actions",
        lambda stack: CustomerManagedKey(stack, "K").grant(
            iam.ServicePrincipal("sns.amazonaws.com"), "kms:Decrypt", conditions=IF_EXISTS
        ),
        f"'grant(grantee)' {service_without_source('sns.amazonaws.com')}. Received: "
        f"'ServicePrincipal(sns.amazonaws.com) with Condition {json.dumps(IF_EXISTS)}'",
    ),
    (
        "service-added-to-the-key-policy",
        lambda stack: CustomerManagedKey(stack, "K").add_to_key_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["kms:Decrypt"],
                resources=["*"],
            )
        ),
        f"'statement' {service_without_source('sns.amazonaws.com')}. "
        "Received: 'ServicePrincipal(sns.amazonaws.com) with no Condition'",
    ),
    # wildcard principals (statements without conditions)
    (
        "wildcard-user",
        key_with_policy(users=[iam.StarPrincipal()]),
        f"'users' {WILDCARD_USER}. Received: '*'",
    ),
    (
        "wildcard-admin",
        key_with_policy(admins=[iam.AnyPrincipal()]),
        f"'admins' {WILDCARD_PRINCIPAL}. Received: '*'",
    ),
    (
        "wildcard-arn-principal-user",
        key_with_policy(admins=[ADMIN_ROLE], users=[iam.ArnPrincipal("*")]),
        f"'users' {WILDCARD_USER}. Received: '*'",
    ),
    (
        "wildcard-string-user",
        key_with_policy(admins=[ADMIN_ROLE], users=["*"]),
        f"'users' {WILDCARD_USER}. Received: '*'",
    ),
    (
        "wildcard-account-principal-user",
        key_with_policy(admins=[ADMIN_ROLE], users=[iam.AccountPrincipal("*")]),
        f"'users' {WILDCARD_USER}. Received: '*'",
    ),
    (
        "wildcard-inside-a-composite-principal",
        key_with_policy(
            admins=[ADMIN_ROLE],
            users=[iam.CompositePrincipal(iam.ArnPrincipal(f"arn:aws:iam::{ACCOUNT}:role/*"))],
        ),
        f"'users' {WILDCARD_IN_ARN}. Received: 'arn:aws:iam::{ACCOUNT}:role/*'",
    ),
    (
        "any-principal-inside-a-composite-principal",
        key_with_policy(admins=[iam.CompositePrincipal(iam.AnyPrincipal())]),
        f"'admins' {WILDCARD_PRINCIPAL}. Received: '*'",
    ),
    (
        # A principal's own conditions do not make "*" anyone less: the statement it lands in
        # (KeyUsage, KeyAdministration) would be open to every AWS account.
        "any-principal-with-conditions-user",
        key_with_policy(
            admins=[ADMIN_ROLE],
            users=[iam.AnyPrincipal().with_conditions({"Bool": {"aws:SecureTransport": "true"}})],
        ),
        f"'users' {WILDCARD_USER}. Received: "
        '\'* with conditions {"Bool": {"aws:SecureTransport": "true"}}\'',
    ),
    (
        "any-principal-with-an-organization-condition-admin",
        key_with_policy(
            admins=[
                iam.AnyPrincipal().with_conditions(
                    {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
                )
            ]
        ),
        f"'admins' {WILDCARD_PRINCIPAL}. Received: "
        '\'* with conditions {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}\'',
    ),
    (
        # A wildcard value in the condition matches every organization.
        "any-principal-with-an-organization-pattern-user",
        key_with_policy(
            admins=[ADMIN_ROLE],
            users=[
                iam.AnyPrincipal().with_conditions({"StringLike": {"aws:PrincipalOrgID": "o-*"}})
            ],
        ),
        f"'users' {WILDCARD_USER}. Received: "
        '\'* with conditions {"StringLike": {"aws:PrincipalOrgID": "o-*"}}\'',
    ),
    (
        # KeyUsage holds one Condition for all its principals.
        "users-with-different-conditions",
        key_with_policy(
            admins=[ADMIN_ROLE], users=[ADMIN_ROLE, iam.OrganizationPrincipal("o-abcdefghij")]
        ),
        f"'users' {MIXED_CONDITIONS}. Received: "
        '\'{} and {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}\'',
    ),
    (
        # CDK compares the conditions as JSON text: the same ones in another key order differ
        # (CDK: "All principals in a PolicyStatement must have the same Conditions").
        "users-with-the-same-conditions-in-another-order",
        key_with_policy(
            admins=[ADMIN_ROLE],
            users=[
                iam.AnyPrincipal().with_conditions(
                    {
                        "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"},
                        "Bool": {"aws:SecureTransport": "true"},
                    }
                ),
                iam.AccountPrincipal(ACCOUNT).with_conditions(
                    {
                        "Bool": {"aws:SecureTransport": "true"},
                        "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"},
                    }
                ),
            ],
        ),
        f"'users' {MIXED_CONDITIONS}. Received: "
        '\'{"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}, "Bool": '
        '{"aws:SecureTransport": "true"}} and {"Bool": {"aws:SecureTransport": "true"}, '
        '"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}\'',
    ),
    # principal ARNs that are no principal ARN
    *[
        (
            f"malformed-principal-arn-{index}",
            key_with_policy(admins=[arn]),
            f"'admins' must hold IAM principals or principal ARNs. Received: {arn!r}",
        )
        for index, arn in enumerate(
            [
                "arn:aws:iam::12345:role/A",
                "arn:aws:iam::",
                f"arn:aws:iam::{ACCOUNT}:role/A\n",
                f"arn:aws:iam::{ACCOUNT}:role/A B",
            ]
        )
    ],
    # wildcards inside principal ARNs (IAM: "Unsupported wildcard in principal")
    (
        "partial-wildcard-user-arn",
        key_with_policy(admins=[ADMIN_ROLE], users=[f"arn:aws:iam::{ACCOUNT}:role/app-*"]),
        f"'users' {WILDCARD_IN_ARN}. Received: 'arn:aws:iam::{ACCOUNT}:role/app-*'",
    ),
    (
        "question-mark-admin-arn",
        key_with_policy(admins=[f"arn:aws:iam::{ACCOUNT}:role/admin-?"]),
        f"'admins' {WILDCARD_IN_ARN}. Received: 'arn:aws:iam::{ACCOUNT}:role/admin-?'",
    ),
    (
        "partial-wildcard-arn-principal-object",
        key_with_policy(admins=[iam.ArnPrincipal(f"arn:aws:iam::{ACCOUNT}:role/ops-*")]),
        f"'admins' {WILDCARD_IN_ARN}. Received: 'arn:aws:iam::{ACCOUNT}:role/ops-*'",
    ),
    (
        "partial-wildcard-external-principal",
        lambda stack: ExternalAccount(
            account_id="222222222222", principal_arns=("arn:aws:iam::222222222222:role/*",)
        ),
        f"'external_accounts' {WILDCARD_IN_ARN}. Received: 'arn:aws:iam::222222222222:role/*'",
    ),
    (
        "partial-wildcard-external-account-arn",
        key_with_policy(
            admins=[ADMIN_ROLE], external_accounts=["arn:aws:iam::222222222222:role/app-*"]
        ),
        f"'external_accounts' {WILDCARD_IN_ARN}. Received: 'arn:aws:iam::222222222222:role/app-*'",
    ),
    # sequence props given a string or a single object
    (
        "via-services-string",
        lambda stack: ExternalAccount(account_id="222222222222", via_services="ec2"),  # type: ignore[arg-type]
        "'via_services' must be a list or tuple of service prefixes. Received: 'ec2'",
    ),
    (
        "principal-arns-string",
        lambda stack: ExternalAccount(
            account_id="222222222222",
            principal_arns="arn:aws:iam::222222222222:role/R",  # type: ignore[arg-type]
        ),
        "'principal_arns' must be a list or tuple of principal ARN strings. "
        "Received: 'arn:aws:iam::222222222222:role/R'",
    ),
    (
        "external-accounts-string",
        key_with_policy(admins=[ADMIN_ROLE], external_accounts="222222222222"),
        "'external_accounts' must be a list or tuple of account IDs, principal ARNs or "
        "ExternalAccount. Received: '222222222222'",
    ),
    (
        "users-string",
        key_with_policy(admins=[ADMIN_ROLE], users=f"arn:aws:iam::{ACCOUNT}:role/App"),
        "'users' must be a list or tuple of IAM principals or principal ARNs. "
        f"Received: 'arn:aws:iam::{ACCOUNT}:role/App'",
    ),
    (
        "admins-single-principal",
        key_with_policy(admins=iam.ArnPrincipal(ADMIN_ROLE)),
        "'admins' must be a list or tuple of IAM principals or principal ARNs. Received: <",
    ),
    (
        "statements-single-statement",
        key_with_policy(admins=[ADMIN_ROLE], statements=iam.PolicyStatement()),
        "'statements' must be a list or tuple of aws_iam.PolicyStatement. Received: <",
    ),
    (
        "service-principals-not-key-service-principals",
        key_with_policy(admins=[ADMIN_ROLE], service_principals=["cloudtrail.amazonaws.com"]),
        "'service_principals' must hold KeyServicePrincipal objects "
        "(KeyServicePrincipal.cloudtrail(...), ...). Received: 'cloudtrail.amazonaws.com'",
    ),
    # other props
    (
        "description-too-long",
        key(description="d" * 8193),
        f"'description' must be a string of at most 8192 characters. Received: '{'d' * 8193}'",
    ),
    (
        "policy-external-account-is-the-keys-own",
        key_with_policy(admins=[ADMIN_ROLE], external_accounts=[ACCOUNT]),
        "'external_accounts' must name another account than the key's own (111111111111); use "
        "users=[...] or grant_* for principals of this account. Received: '111111111111'",
    ),
    (
        "via-service-endpoint-instead-of-prefix",
        lambda stack: ExternalAccount(
            account_id="222222222222", via_services=("ec2.amazonaws.com",)
        ),
        "'via_services' must hold service prefixes such as 'ec2' or 'rds'. "
        "Received: 'ec2.amazonaws.com'",
    ),
    (
        "origin-unknown",
        key(origin="AWS_CLOUDHSM"),
        "'origin' must be one of AWS_KMS, EXTERNAL. Received: 'AWS_CLOUDHSM'",
    ),
    (
        "policy-not-a-key-policy",
        key(policy={"Statement": []}),
        "'policy' must be KeyPolicy.default() or KeyPolicy.custom(...). "
        "Received: {'Statement': []}",
    ),
    (
        "multi-region-not-bool",
        key(multi_region="yes"),
        "'multi_region' must be True or False. Received: 'yes'",
    ),
    (
        "removal-policy-snapshot",
        key(removal_policy=cdk.RemovalPolicy.SNAPSHOT),
        "'removal_policy' must not be RemovalPolicy.SNAPSHOT: CloudFormation cannot snapshot a "
        "KMS key. Received: <RemovalPolicy.SNAPSHOT: 'SNAPSHOT'>",
    ),
    *[
        (
            f"primary-arn-malformed-{index}",
            lambda stack, arn=arn: replica(new_stack("eu-central-1"), primary_key_arn=arn),
            "'primary_key_arn' must be the ARN of a multi-Region key "
            f"(arn:aws:kms:<region>:<account>:key/mrk-...). Received: {arn!r}",
        )
        for index, arn in enumerate(
            [
                f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab\n",
                f"arn:aws:kms:mars:{ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab",
                f"arn:aws:kms::{ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab",
                f"arn:foo:kms:eu-west-1:{ACCOUNT}:key/mrk-1234abcd12ab34cd56ef1234567890ab",
                f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/mrk-",
            ]
        )
    ],
    (
        "removal-policy-string",
        key(removal_policy="retain"),
        "'removal_policy' must be an aws_cdk.RemovalPolicy. Received: 'retain'",
    ),
    (
        "admins-not-principals",
        key_with_policy(admins=["Admin"]),
        "'admins' must hold IAM principals or principal ARNs. Received: 'Admin'",
    ),
    (
        "users-arn-of-no-principal",
        key_with_policy(admins=[ADMIN_ROLE], users=["arn:aws:s3:::app-data"]),
        "'users' must hold IAM principals or principal ARNs. Received: 'arn:aws:s3:::app-data'",
    ),
    (
        "deployer-unknown-for-cli-credentials-synthesizer",
        lambda stack: CustomerManagedKey(
            cdk.Stack(
                stack.node.scope,  # type: ignore[arg-type]
                "CliDeployed",
                synthesizer=cdk.CliCredentialsStackSynthesizer(),
            ),
            "K",
            policy=KeyPolicy.custom(admins=[ADMIN_ROLE]),
        ),
        DEPLOYER_UNKNOWN_CLI,
    ),
    (
        "deployer-unknown-for-an-explicit-default-synthesizer",
        lambda stack: CustomerManagedKey(
            cdk.Stack(
                stack.node.scope,  # type: ignore[arg-type]
                "QualifiedDeploy",
                synthesizer=cdk.DefaultStackSynthesizer(qualifier="platform"),
            ),
            "K",
            policy=KeyPolicy.custom(admins=[ADMIN_ROLE]),
        ),
        DEPLOYER_UNKNOWN,
    ),
    # replicas
    (
        "replica-primary-not-multi-region",
        replica_in("eu-central-1"),
        "'primary' must be a multi-Region key (CustomerManagedKey(..., multi_region=True)). "
        "Received: 'S/Primary'",
    ),
    (
        "replica-same-region",
        replica_in("eu-west-1", multi_region=True),
        "'primary' must be in another Region than the replica (eu-west-1). Received: 'S/Primary'",
    ),
    (
        "replica-spec-mismatch",
        replica_in("eu-central-1", multi_region=True, key_spec=kms.KeySpec.HMAC_256),
        "'key_spec' must match the primary's (SYMMETRIC_DEFAULT). Received: 'HMAC_256'",
    ),
    (
        "replica-usage-mismatch",
        replica_in("eu-central-1", multi_region=True, key_usage=kms.KeyUsage.SIGN_VERIFY),
        "'key_usage' must match the primary's (ENCRYPT_DECRYPT). Received: 'SIGN_VERIFY'",
    ),
    (
        "replica-primary-in-another-account",
        replica_in_account("222222222222"),
        "'primary' must be in the replica's account (222222222222). Received: 'S/Primary'",
    ),
    (
        "replica-primary-given-an-arn",
        lambda stack: replica(new_stack("eu-central-1"), primary=PRIMARY_ARN),
        "'primary' must be a CustomerManagedKey (an ARN goes in 'primary_key_arn'). "
        f"Received: '{PRIMARY_ARN}'",
    ),
    (
        "replica-primary-and-arn",
        lambda stack: replica(
            new_stack("eu-central-1"), primary=PRIMARY_ARN, primary_key_arn=PRIMARY_ARN
        ),
        f"'primary' or 'primary_key_arn' must be given, not both. Received: '{PRIMARY_ARN}'",
    ),
    (
        "replica-no-primary",
        lambda stack: replica(new_stack("eu-central-1")),
        "'primary' or 'primary_key_arn' must be given, and neither was. Received: None",
    ),
    (
        "replica-arn-not-multi-region",
        lambda stack: replica(
            new_stack("eu-central-1"),
            primary_key_arn="arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd",
        ),
        "'primary_key_arn' must be the ARN of a multi-Region key "
        "(arn:aws:kms:<region>:<account>:key/mrk-...). "
        "Received: 'arn:aws:kms:eu-west-1:111111111111:key/1234abcd-12ab-34cd'",
    ),
    (
        "replica-arn-same-region",
        lambda stack: replica(new_stack("eu-west-1"), primary_key_arn=PRIMARY_ARN),
        f"'primary_key_arn' must be in another Region than the replica (eu-west-1). "
        f"Received: '{PRIMARY_ARN}'",
    ),
    (
        "replica-arn-other-account",
        lambda stack: replica(
            new_stack("eu-central-1"),
            primary_key_arn=PRIMARY_ARN.replace("111111111111", "222222222222"),
        ),
        "'primary_key_arn' must be in the replica's account (111111111111). Received: "
        f"'{PRIMARY_ARN.replace('111111111111', '222222222222')}'",
    ),
    # IAM groups cannot be key policy principals
    (
        "users-group-arn",
        key_with_policy(admins=[ADMIN_ROLE], users=[GROUP_ARN]),
        f"'users' {NOT_A_GROUP}. Received: '{GROUP_ARN}'",
    ),
    (
        "admins-group-principal",
        key_with_policy(admins=[iam.ArnPrincipal(GROUP_ARN)]),
        f"'admins' {NOT_A_GROUP}. Received: '{GROUP_ARN}'",
    ),
    (
        "users-group-arn-of-the-stack-account",
        key_with_policy(
            admins=[ADMIN_ROLE],
            users=[f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:group/Ops"],
        ),
        f"'users' {NOT_A_GROUP}. Received: 'arn:${{Token[AWS.Partition.",
    ),
    (
        "users-imported-group",
        lambda stack: CustomerManagedKey(
            stack,
            "K",
            policy=KeyPolicy.custom(
                admins=[ADMIN_ROLE], users=[iam.Group.from_group_arn(stack, "G", GROUP_ARN)]
            ),
        ),
        f"'users' {NOT_A_GROUP}. Received: '{GROUP_ARN}'",
    ),
    (
        "admins-group-construct",
        lambda stack: CustomerManagedKey(
            stack, "K", policy=KeyPolicy.custom(admins=[iam.Group(stack, "G")])
        ),
        f"'admins' {NOT_A_GROUP}. Received: 'S/G'",
    ),
    (
        "service-users-group-in-a-composite-principal",
        key_with_policy(
            admins=[ADMIN_ROLE],
            service_users=[
                iam.CompositePrincipal(iam.ArnPrincipal(ADMIN_ROLE), iam.ArnPrincipal(GROUP_ARN))
            ],
        ),
        f"'service_users' {NOT_A_GROUP}. Received: '{GROUP_ARN}'",
    ),
    (
        "external-account-group-arn",
        key_with_policy(
            admins=[ADMIN_ROLE], external_accounts=["arn:aws:iam::222222222222:group/Ops"]
        ),
        f"'external_accounts' {NOT_A_GROUP}. Received: 'arn:aws:iam::222222222222:group/Ops'",
    ),
    (
        "grant-to-group-arn",
        lambda stack: CustomerManagedKey(stack, "K").grant_decrypt(iam.ArnPrincipal(GROUP_ARN)),
        f"'grantee' {NOT_A_GROUP}. Received: '{GROUP_ARN}'",
    ),
    (
        "grant-to-group-in-a-composite-principal",
        lambda stack: CustomerManagedKey(stack, "K").grant_decrypt(
            iam.CompositePrincipal(iam.ArnPrincipal(ADMIN_ROLE), iam.ArnPrincipal(GROUP_ARN))
        ),
        f"'grantee' {NOT_A_GROUP}. Received: '{GROUP_ARN}'",
    ),
    (
        "grant-to-group-with-custom-policy",
        lambda stack: CustomerManagedKey(
            stack, "K", policy=KeyPolicy.custom(admins=[ADMIN_ROLE])
        ).grant_decrypt(iam.Group(stack, "G")),
        f"'grantee' {NOT_A_GROUP}. Received: 'S/G'",
    ),
    (
        "sm2-outside-china",
        key(key_spec="SM2", key_usage="SIGN_VERIFY"),
        "'key_spec' must not be SM2 outside the China Regions (cn-*): this stack is in "
        "eu-west-1. Received: 'SM2'",
    ),
    (
        "sm2-replica-outside-china",
        lambda stack: replica(
            new_stack("eu-central-1"),
            primary_key_arn=PRIMARY_ARN,
            key_spec="SM2",
            key_usage="SIGN_VERIFY",
        ),
        "'key_spec' must not be SM2 outside the China Regions (cn-*): this stack is in "
        "eu-central-1. Received: 'SM2'",
    ),
    (
        "replica-origin-unknown",
        lambda stack: replica(
            new_stack("eu-central-1"), primary_key_arn=PRIMARY_ARN, origin="IMPORTED"
        ),
        "'origin' must be one of AWS_KMS, EXTERNAL. Received: 'IMPORTED'",
    ),
    (
        "replica-origin-mismatch",
        replica_in("eu-central-1", multi_region=True, origin="EXTERNAL"),
        "'origin' must match the primary's (AWS_KMS). Received: 'EXTERNAL'",
    ),
    # service principals
    (
        "cloudtrail-trail-arn-a-name",
        lambda stack: KeyServicePrincipal.cloudtrail(trail_arn="audit"),
        "'trail_arn' must be a trail ARN (arn:aws:cloudtrail:<region>:<account>:trail/<name>). "
        "Received: 'audit'",
    ),
    # aws:SourceArn is matched with StringEquals: a wildcard would match no trail.
    (
        "cloudtrail-trail-arn-wildcard",
        lambda stack: KeyServicePrincipal.cloudtrail(
            trail_arn=f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/*"
        ),
        "'trail_arn' must be a trail ARN (arn:aws:cloudtrail:<region>:<account>:trail/<name>). "
        f"Received: 'arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/*'",
    ),
    *[
        (
            f"cloudtrail-trail-arn-malformed-{index}",
            lambda stack, arn=arn: KeyServicePrincipal.cloudtrail(trail_arn=arn),
            "'trail_arn' must be a trail ARN (arn:aws:cloudtrail:<region>:<account>:trail/<name>). "
            f"Received: {arn!r}",
        )
        for index, arn in enumerate(
            [
                f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/my trail",
                f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/audit\n",
                f"arn:aws:cloudtrail:x:{ACCOUNT}:trail/audit",
            ]
        )
    ],
    (
        "cloudtrail-log-readers-none",
        lambda stack: KeyServicePrincipal.cloudtrail(
            trail_arn=f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/audit",
            log_readers=None,  # type: ignore[arg-type]
        ),
        "'log_readers' must be a list or tuple of IAM principals or ARNs. Received: None",
    ),
    (
        "cloudwatch-logs-empty-group-name",
        lambda stack: KeyServicePrincipal.cloudwatch_logs(log_group_name=""),
        "'log_group_name' must be a log group name (or None for any log group of the account). "
        "Received: ''",
    ),
    (
        "publisher-service-none",
        lambda stack: KeyServicePrincipal.publisher(
            service=None,  # type: ignore[arg-type]
            destination="sns",
        ),
        "'service' must be a service principal ending in '.amazonaws.com'. Received: None",
    ),
    (
        "publisher-service-suffix-only",
        lambda stack: KeyServicePrincipal.publisher(service=".amazonaws.com", destination="sns"),
        "'service' must be a service principal ending in '.amazonaws.com'. "
        "Received: '.amazonaws.com'",
    ),
    (
        "publisher-source-arn-pattern-empty",
        lambda stack: KeyServicePrincipal.publisher(
            service="cloudwatch.amazonaws.com", destination="sns", source_arn_pattern=""
        ),
        "'source_arn_pattern' must be an ARN pattern such as "
        "'arn:aws:cloudwatch:eu-west-1:111111111111:alarm:*', or None. Received: ''",
    ),
    # Any truthy flag was taken as True: allow_grants="no" allowed grants.
    (
        "external-account-allow-grants-a-string",
        lambda stack: ExternalAccount(
            account_id="222222222222",
            allow_grants="no",  # type: ignore[arg-type]
        ),
        "'allow_grants' must be True or False. Received: 'no'",
    ),
    (
        "external-account-require-caller-account-an-int",
        lambda stack: ExternalAccount(
            account_id="222222222222",
            require_caller_account=1,  # type: ignore[arg-type]
        ),
        "'require_caller_account' must be True or False. Received: 1",
    ),
    (
        "external-account-principal-arn-not-a-string",
        lambda stack: ExternalAccount(
            account_id="222222222222",
            principal_arns=[5],  # type: ignore[list-item]
        ),
        "'principal_arns' must hold principal ARN strings. Received: 5",
    ),
    (
        "eventbridge-sns-publisher-with-a-source-arn",
        lambda stack: KeyServicePrincipal.publisher(
            service="events.amazonaws.com",
            destination="sns",
            source_arn_pattern="arn:aws:events:eu-west-1:111111111111:rule/*",
        ),
        "'source_arn_pattern' must be None for events.amazonaws.com publishing to SNS: the KMS "
        "requests of EventBridge-to-encrypted topics carry no aws:SourceArn, so the statement "
        "would never match. Received: 'arn:aws:events:eu-west-1:111111111111:rule/*'",
    ),
    # rds.amazonaws.com never publishes: RDS event notifications come from events.rds.
    (
        "publisher-rds-not-events-rds",
        lambda stack: KeyServicePrincipal.publisher(service="rds.amazonaws.com", destination="sns"),
        "'service' must name the principal the service publishes as: use "
        "events.rds.amazonaws.com (RDS event notifications are published by "
        "events.rds.amazonaws.com, for aws:SourceArn the RDS resource; rds.amazonaws.com never "
        "publishes to SNS or SQS). Received: 'rds.amazonaws.com'",
    ),
    # grants
    (
        "grant-sign-on-encryption-key",
        lambda stack: CustomerManagedKey(stack, "K").grant_sign_verify(
            iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
        ),
        "'grant_sign_verify' needs a key with key_usage SIGN_VERIFY; S/K has key_usage "
        "ENCRYPT_DECRYPT. Received: 'ENCRYPT_DECRYPT'",
    ),
    (
        "grant-non-kms-action",
        lambda stack: CustomerManagedKey(stack, "K").grant(
            iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()), "s3:GetObject"
        ),
        "'key_actions' must be kms: actions (such as 'kms:Decrypt' or 'kms:GenerateDataKey*'). "
        "Received: 's3:GetObject'",
    ),
    (
        "grant-empty-kms-action",
        lambda stack: CustomerManagedKey(stack, "K").grant(
            iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal()), "kms:"
        ),
        "'key_actions' must be kms: actions (such as 'kms:Decrypt' or 'kms:GenerateDataKey*'). "
        "Received: 'kms:'",
    ),
    (
        "grant-to-an-arn-string",
        lambda stack: CustomerManagedKey(stack, "K").grant(
            f"arn:aws:iam::{ACCOUNT}:role/R",  # type: ignore[arg-type]
            "kms:Decrypt",
        ),
        "'grantee' must be an IGrantable (a role, a user, a function...). "
        f"Received: 'arn:aws:iam::{ACCOUNT}:role/R'",
    ),
    (
        "add-service-principal-a-string",
        lambda stack: CustomerManagedKey(stack, "K").add_service_principal(
            "logs.amazonaws.com"  # type: ignore[arg-type]
        ),
        "'service' must be a KeyServicePrincipal (such as KeyServicePrincipal.cloudwatch_logs()). "
        "Received: 'logs.amazonaws.com'",
    ),
    (
        "grant-no-action",
        lambda stack: CustomerManagedKey(stack, "K").grant(
            iam.Role(stack, "R", assumed_by=iam.AccountRootPrincipal())
        ),
        "'key_actions' must name at least one kms: action. Received: ()",
    ),
    (
        "grant-condition-body-not-a-mapping",
        grant_with_conditions({"Bool": "true"}),
        "'conditions' must map condition operators to {key: value} mappings, such as "
        "{'Bool': {'aws:SecureTransport': 'true'}}. Received: {'Bool': 'true'}",
    ),
    (
        "grant-conditions-not-a-mapping",
        grant_with_conditions([("Bool", {"aws:SecureTransport": "true"})]),
        "'conditions' must map condition operators to {key: value} mappings, such as "
        "{'Bool': {'aws:SecureTransport': 'true'}}. "
        "Received: [('Bool', {'aws:SecureTransport': 'true'})]",
    ),
    # alarm topic and quota alarm
    (
        "alarm-topic-publishers-a-string",
        lambda stack: AlarmTopic(
            stack,
            "T",
            encryption_key=CustomerManagedKey(stack, "K"),
            publishers="events.amazonaws.com",
        ),
        "'publishers' must be a list or tuple of service principals. "
        "Received: 'events.amazonaws.com'",
    ),
    (
        "alarm-topic-display-name-too-long",
        lambda stack: AlarmTopic(
            stack, "T", encryption_key=CustomerManagedKey(stack, "K"), display_name="x" * 101
        ),
        f"'display_name' must be a string of at most 100 characters. Received: '{'x' * 101}'",
    ),
    (
        "alarm-topic-display-name-not-a-string",
        lambda stack: AlarmTopic(
            stack,
            "T",
            encryption_key=CustomerManagedKey(stack, "K"),
            display_name=5,  # type: ignore[arg-type]
        ),
        "'display_name' must be a string of at most 100 characters. Received: 5",
    ),
    (
        "alarm-topic-asymmetric-key",
        lambda stack: AlarmTopic(
            stack,
            "T",
            encryption_key=CustomerManagedKey(
                stack, "K", key_spec=kms.KeySpec.RSA_2048, key_usage=kms.KeyUsage.ENCRYPT_DECRYPT
            ),
        ),
        "'encryption_key' must be a symmetric encryption key (SNS encrypts with "
        "SYMMETRIC_DEFAULT keys only). Received: 'RSA_2048'",
    ),
    (
        "quota-threshold-zero",
        quota_alarm(threshold_percent=0),
        "'threshold_percent' must be a percentage of the quota, more than 0 and at most 100. "
        "Received: 0",
    ),
    (
        "quota-threshold-over-100",
        quota_alarm(threshold_percent=120),
        "'threshold_percent' must be a percentage of the quota, more than 0 and at most 100. "
        "Received: 120",
    ),
    (
        "quota-threshold-string",
        quota_alarm(threshold_percent="80%"),
        "'threshold_percent' must be a percentage of the quota, more than 0 and at most 100. "
        "Received: '80%'",
    ),
    (
        "quota-resource",
        quota_alarm(resource="Cryptographic Operations"),
        "'resource' must be an AWS/Usage Resource of KMS: one of the shared quotas "
        "CryptographicOperationsSymmetric, CryptographicOperationsRsa, CryptographicOperationsEcc, "
        "or a KMS API operation with a quota of its own "
        f"({', '.join(REQUEST_QUOTA_OPERATIONS)}). Received: 'Cryptographic Operations'",
    ),
    (
        "quota-period-seconds",
        quota_alarm(period=cdk.Duration.seconds(30)),
        "'period' must be a whole number of minutes (AWS/Usage is published per minute). "
        "Received: '30 seconds'",
    ),
    (
        "quota-period-zero",
        quota_alarm(period=cdk.Duration.seconds(0)),
        "'period' must be a whole number of minutes (AWS/Usage is published per minute). "
        "Received: '0 seconds'",
    ),
    (
        "quota-datapoints",
        quota_alarm(evaluation_periods=2, datapoints_to_alarm=3),
        "'datapoints_to_alarm' must be 1-2 (evaluation_periods). Received: 3",
    ),
    (
        "quota-evaluation-window-over-a-day",
        quota_alarm(evaluation_periods=1441),
        "'evaluation_periods' must be at most 1440 with a period of 1 minute (CloudWatch "
        "evaluates at most 86,400 seconds: one day for periods under an hour). Received: 1441",
    ),
    (
        "quota-evaluation-window-over-seven-days",
        quota_alarm(period=cdk.Duration.hours(1), evaluation_periods=169),
        "'evaluation_periods' must be at most 168 with a period of 1 hour (CloudWatch "
        "evaluates at most 604,800 seconds: seven days). Received: 169",
    ),
    (
        "quota-alarm-name-empty",
        quota_alarm(alarm_name=""),
        "'alarm_name' must be a string of 1-255 characters without ASCII control characters. "
        "Received: ''",
    ),
    (
        "quota-alarm-name-with-a-newline",
        quota_alarm(alarm_name="kms-quota\n"),
        "'alarm_name' must be a string of 1-255 characters without ASCII control characters. "
        "Received: 'kms-quota\\n'",
    ),
    (
        "quota-alarm-name-not-a-string",
        quota_alarm(alarm_name=5),
        "'alarm_name' must be a string of 1-255 characters without ASCII control characters. "
        "Received: 5",
    ),
    (
        "quota-neither-topic-nor-key",
        lambda stack: KmsRequestQuotaAlarm(stack, "Quota"),
        "'alarm_topic' or 'encryption_key' must be given, and neither was. Received: None",
    ),
    (
        "quota-topic-and-key",
        lambda stack: KmsRequestQuotaAlarm(
            stack,
            "Quota",
            encryption_key=CustomerManagedKey(stack, "K"),
            alarm_topic=AlarmTopic(stack, "T", encryption_key=CustomerManagedKey(stack, "K2")),
        ),
        "'alarm_topic' or 'encryption_key' must be given, not both. Received: 'S/T'",
    ),
]


@pytest.mark.parametrize(
    ("make", "message"),
    [pytest.param(make, message, id=name) for name, make, message in CONSTRUCT_TIME_CASES],
)
def test_bad_input_is_refused_at_construct_time(
    make: Callable[[cdk.Stack], object], message: str
) -> None:
    with pytest.raises(ConstructPropError) as error:
        make(new_stack())
    # Messages ending in "Received: <" or a token's start show only what is stable.
    if message.endswith(("<", "${Token[AWS.StackName.", "${Token[AWS.Partition.")):
        assert str(error.value).startswith(message)
    else:
        assert str(error.value) == message


@pytest.mark.parametrize(
    ("service", "remedy"),
    [
        (
            "events.amazonaws.com",
            "Use for events.amazonaws.com: KeyServicePrincipal.publisher(service="
            "'events.amazonaws.com', destination='sns' or 'sqs') in service_principals "
            "(encryption context of the key's topics or queues; EventBridge's KMS requests for "
            "an encrypted topic carry no aws:SourceAccount or aws:SourceArn), "
            "targets.SnsTopic(topic, authorize_using_role=True)",
        ),
        ("cloudtrail.amazonaws.com", "KeyServicePrincipal.cloudtrail(trail_arn=...)"),
        (
            "logs.eu-west-1.amazonaws.com",
            "KeyServicePrincipal.cloudwatch_logs(log_group_name=...)",
        ),
        (
            "dnssec-route53.amazonaws.com",
            "KeyServicePrincipal.route53_dnssec(hosted_zone_ids=...)",
        ),
    ],
)
def test_the_refusal_of_a_service_suggests_what_works_for_it(service: str, remedy: str) -> None:
    # Never a condition the service's KMS requests may not carry: EventBridge's for an
    # encrypted topic carry no aws:SourceAccount, which would deny every delivery.
    with pytest.raises(ConstructPropError) as error:
        key_with_policy(admins=[ADMIN_ROLE], users=[iam.ServicePrincipal(service)])(new_stack())
    assert remedy in str(error.value)
    assert "{'aws:SourceAccount': ...}" not in str(error.value)


def test_a_trail_arn_known_only_at_deploy_time_is_accepted() -> None:
    arn = f"arn:{cdk.Aws.PARTITION}:cloudtrail:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:trail/audit"
    assert KeyServicePrincipal.cloudtrail(trail_arn=arn).identity == (arn,)


def one_stack_app() -> tuple[cdk.App, cdk.Stack]:
    app = cdk.App()
    return app, cdk.Stack(app, "S", env=cdk.Environment(account=ACCOUNT, region="eu-west-1"))


def synth_error(policy: KeyPolicy) -> str:
    app, stack = one_stack_app()
    CustomerManagedKey(stack, "K", policy=policy)
    with pytest.raises(RuntimeError) as error:
        app.synth()
    return str(error.value)


ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"


def put_key_policy(
    principal: iam.IPrincipal,
    *,
    action: str = "kms:PutKeyPolicy",
    effect: iam.Effect = iam.Effect.ALLOW,
) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid="Keeper", effect=effect, principals=[principal], actions=[action], resources=["*"]
    )


def with_statement(sid: str, principal: iam.IPrincipal, action: str) -> Callable[[], KeyPolicy]:
    """A custom policy with one extra Allow statement on every resource, built when it runs."""
    return lambda: KeyPolicy.custom(
        admins=[ADMIN],
        statements=[
            iam.PolicyStatement(sid=sid, principals=[principal], actions=[action], resources=["*"])
        ],
    )


LOCK_OUT_START = (
    "[S/K] 'policy' must leave at least one principal with kms:PutKeyPolicy, or the key is "
    "locked out for good (give it admins=[...] or a deployer). Received: "
)
LOCK_OUT = f"{LOCK_OUT_START}no Allow statement for an IAM principal includes kms:PutKeyPolicy"
# The lock-out error names the Deny statements that took kms:PutKeyPolicy away.
LOCK_OUT_BY_GUARD = (
    f"{LOCK_OUT_START}Deny statements without conditions ('Guard') take it from every principal "
    "an Allow gives it to (a Deny for '*' from everyone, one for an account root from every "
    "principal of that account)"
)


def deny(
    principal: iam.IPrincipal,
    *,
    actions: list[str] | None = None,
    not_actions: list[str] | None = None,
) -> Callable[[], KeyPolicy]:
    """A custom policy with admins and one Deny without conditions, built when it runs."""
    return lambda: KeyPolicy.custom(
        admins=[ADMIN],
        statements=[
            iam.PolicyStatement(
                sid="Guard",
                effect=iam.Effect.DENY,
                principals=[principal],
                actions=actions,
                not_actions=not_actions,
                resources=["*"],
            )
        ],
    )


def oversized_policy() -> KeyPolicy:
    # 300 roles with 80-character ARNs: about 25 KB of principals in each of two statements.
    roles = [
        f"arn:aws:iam::{ACCOUNT}:role/application-role-with-a-long-name-{n:04d}" for n in range(300)
    ]
    return KeyPolicy.custom(admins=roles, users=roles)


SYNTH_TIME_CASES: list[tuple[str, Callable[[], KeyPolicy], str]] = [
    (
        "lock-out",
        lambda: KeyPolicy.custom(users=[ADMIN], deployer=None),
        LOCK_OUT,
    ),
    (
        "lock-out-put-key-policy-for-a-service-only",
        lambda: KeyPolicy.custom(
            users=[ADMIN],
            deployer=None,
            statements=[
                put_key_policy(
                    iam.ServicePrincipal("ec2.amazonaws.com").with_conditions(
                        {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
                    )
                )
            ],
        ),
        LOCK_OUT,
    ),
    (
        "lock-out-put-key-policy-denied",
        lambda: KeyPolicy.custom(
            users=[ADMIN],
            deployer=None,
            statements=[put_key_policy(iam.ArnPrincipal(ADMIN), effect=iam.Effect.DENY)],
        ),
        LOCK_OUT,
    ),
    # A Deny takes kms:PutKeyPolicy from the deployer and the admins: KMS refuses these keys
    # at deploy time (MalformedPolicyDocumentException, the lock-out safety check).
    (
        "lock-out-put-key-policy-denied-to-the-account-root",
        deny(iam.AccountRootPrincipal(), actions=["kms:PutKeyPolicy"]),
        LOCK_OUT_BY_GUARD,
    ),
    (
        "lock-out-put-key-policy-denied-to-the-account-id",
        deny(iam.AccountPrincipal(ACCOUNT), actions=["kms:PutKeyPolicy"]),
        LOCK_OUT_BY_GUARD,
    ),
    (
        "lock-out-everything-but-decrypt-denied-to-everyone",
        deny(iam.AnyPrincipal(), not_actions=["kms:Decrypt"]),
        LOCK_OUT_BY_GUARD,
    ),
    (
        "lock-out-put-policy-pattern-denied-to-everyone",
        deny(iam.AnyPrincipal(), actions=["kms:Put*Policy"]),
        LOCK_OUT_BY_GUARD,
    ),
    (
        "lock-out-put-key-policy-in-another-case-denied-to-everyone",
        deny(iam.AnyPrincipal(), actions=["KMS:putkeypolicy"]),
        LOCK_OUT_BY_GUARD,
    ),
    (
        # Two Deny statements, each taking it from some: both named, the one without Sid by
        # its position.
        "lock-out-by-two-denies",
        lambda: KeyPolicy.custom(
            admins=[ADMIN],
            statements=[
                iam.PolicyStatement(
                    effect=iam.Effect.DENY,
                    principals=[iam.ArnPrincipal(ADMIN)],
                    actions=["kms:PutKeyPolicy"],
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="NoDeployer",
                    effect=iam.Effect.DENY,
                    principals=[iam.AccountRootPrincipal()],
                    actions=["kms:PutKeyPolicy"],
                    resources=["*"],
                ),
            ],
        ),
        f"{LOCK_OUT_START}Deny statements without conditions ('#3', 'NoDeployer') take it",
    ),
    (
        # IAM does not match wildcards in a Principal: this Deny denies nobody.
        "wildcard-arn-in-a-deny",
        deny(iam.ArnPrincipal(f"arn:aws:iam::{ACCOUNT}:role/temp-*"), actions=["kms:Decrypt"]),
        "[S/K] 'policy' must not hold wildcards ('*' or '?') in the principal ARNs of a Deny "
        "statement: IAM does not match them in a Principal (Access Analyzer: 'Unsupported "
        "wildcard in principal'), so the Deny would not deny the principals the pattern seems to "
        "name (name each role, or deny '*' with an ArnLike condition on aws:PrincipalArn). "
        "Received: "
        f"statement 'Guard' with Principal \"arn:aws:iam::{ACCOUNT}:role/temp-*\"",
    ),
    (
        "wildcard-account-in-a-deny",
        deny(iam.AccountPrincipal("*"), actions=["kms:PutKeyPolicy"]),
        'Received: statement \'Guard\' with Principal {"Fn::Join": ["", ["arn:", '
        '{"Ref": "AWS::Partition"}, ":iam::*:root"]]}',
    ),
    (
        # The wildcard is in Fn::Sub's variable map, not its template: found as deployed.
        "wildcard-substituted-into-a-deny",
        deny(
            iam.ArnPrincipal(cdk.Fn.sub("arn:aws:iam::${Pattern}:root", {"Pattern": "*"})),
            actions=["kms:PutKeyPolicy"],
        ),
        'Received: statement \'Guard\' with Principal {"Fn::Sub": ["arn:aws:iam::${Pattern}:root", '
        '{"Pattern": "*"}]}',
    ),
    (
        # Both branches of an Fn::If are known at synth: a wildcard in either is found.
        "wildcard-in-a-branch-of-a-deny",
        deny(
            iam.ArnPrincipal(
                cdk.Token.as_string(
                    cdk.Fn.condition_if("C", "arn:aws:iam::*:root", f"arn:aws:iam::{ACCOUNT}:root")
                )
            ),
            actions=["kms:PutKeyPolicy"],
        ),
        'Received: statement \'Guard\' with Principal {"Fn::If": ["C", "arn:aws:iam::*:root", ',
    ),
    (
        "wildcard-in-a-branch-of-an-allow",
        with_statement(
            "AnyAccountIf",
            iam.ArnPrincipal(
                cdk.Token.as_string(cdk.Fn.condition_if("C", "*", f"arn:aws:iam::{ACCOUNT}:root"))
            ),
            "kms:Decrypt",
        ),
        f"[S/K] 'policy' must not allow a wildcard principal without {CALLER_CONDITION}. Received: "
        'statement \'AnyAccountIf\' with Principal {"AWS": {"Fn::If": ["C", "*", ',
    ),
    (
        "wildcard-substituted-into-an-allow",
        with_statement(
            "AnyAccountSub",
            iam.ArnPrincipal(cdk.Fn.sub("arn:aws:iam::${Pattern}:root", {"Pattern": "*"})),
            "kms:Decrypt",
        ),
        f"[S/K] 'policy' must not allow a wildcard principal without {CALLER_CONDITION}. Received: "
        'statement \'AnyAccountSub\' with Principal {"AWS": {"Fn::Sub": '
        '["arn:aws:iam::${Pattern}:root", {"Pattern": "*"}]}} and no Condition',
    ),
    (
        "wildcard-without-condition",
        with_statement("Everyone", iam.AnyPrincipal(), "kms:Decrypt"),
        f"[S/K] 'policy' must not allow a wildcard principal without {CALLER_CONDITION}. Received: "
        'statement \'Everyone\' with Principal {"AWS": "*"}',
    ),
    (
        # AccountPrincipal("*") renders an Fn::Join, not a string: its literal parts count.
        "wildcard-account-principal-in-statements",
        with_statement("AnyAccount", iam.AccountPrincipal("*"), "kms:Decrypt"),
        f"[S/K] 'policy' must not allow a wildcard principal without {CALLER_CONDITION}. Received: "
        'statement \'AnyAccount\' with Principal {"AWS": {"Fn::Join": ["", ["arn:", {"Ref": '
        '"AWS::Partition"}, ":iam::*:root"]]}} and no Condition',
    ),
    (
        "wildcard-federated-principal-in-statements",
        with_statement("AnyFederated", iam.FederatedPrincipal("*"), "kms:Decrypt"),
        f"[S/K] 'policy' must not allow a wildcard principal without {CALLER_CONDITION}. Received: "
        'statement \'AnyFederated\' with Principal {"Federated": "*"} and no Condition',
    ),
    (
        "allow-to-everyone-but-one-principal",
        lambda: KeyPolicy.custom(
            admins=[ADMIN],
            statements=[
                iam.PolicyStatement(
                    sid="AllButOne",
                    not_principals=[iam.ArnPrincipal(ADMIN)],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                )
            ],
        ),
        f"[S/K] 'policy' must not allow a wildcard principal without {CALLER_CONDITION}. Received: "
        f'statement \'AllButOne\' with NotPrincipal {{"AWS": "{ADMIN}"}}',
    ),
    (
        # aws:SecureTransport says how the caller calls, not who it is: any account's role
        # over TLS gets in (kmskit key inventory reports this statement PUBLIC).
        "wildcard-with-a-condition-that-does-not-limit-the-caller",
        lambda: KeyPolicy.custom(
            admins=[ADMIN],
            statements=[
                iam.PolicyStatement(
                    sid="Open",
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={"Bool": {"aws:SecureTransport": "true"}},
                )
            ],
        ),
        f"[S/K] 'policy' must not allow a wildcard principal without {CALLER_CONDITION}. Received: "
        'statement \'Open\' with Principal {"AWS": "*"} and Condition '
        '{"Bool": {"aws:SecureTransport": "true"}}',
    ),
    (
        "lock-out-put-key-policy-denied-to-everyone",
        lambda: KeyPolicy.custom(
            admins=[ADMIN],
            statements=[put_key_policy(iam.AnyPrincipal(), effect=iam.Effect.DENY)],
        ),
        LOCK_OUT_BY_GUARD.replace("'Guard'", "'Keeper'"),
    ),
    (
        "root-kms-star-in-custom",
        with_statement("Root", iam.AccountRootPrincipal(), "kms:*"),
        "[S/K] 'policy' KeyPolicy.custom(...) must not give the account root kms:* (that is "
        "KeyPolicy.default()). Received: statement 'Root' with Action \"kms:*\"",
    ),
    (
        "star-principal-without-condition",
        with_statement("Star", iam.StarPrincipal(), "kms:Decrypt"),
        f"[S/K] 'policy' must not allow a wildcard principal without {CALLER_CONDITION}. Received: "
        "statement 'Star' with Principal \"*\"",
    ),
    (
        "root-star-action-in-custom",
        with_statement("Root", iam.AccountRootPrincipal(), "*"),
        "[S/K] 'policy' KeyPolicy.custom(...) must not give the account root kms:* (that is "
        "KeyPolicy.default()). Received: statement 'Root' with Action \"*\"",
    ),
    (
        "sid-repeated",
        with_statement("KeyAdministration", iam.ArnPrincipal(ADMIN), "kms:Decrypt"),
        "[S/K] 'policy' must not repeat a statement Sid (KMS refuses the policy with "
        "MalformedPolicyDocumentException). Received: Sid 'KeyAdministration' in 2 statements",
    ),
    (
        "over-32768-bytes",
        oversized_policy,
        "[S/K] 'policy' must be at most 32768 bytes (a KMS limit that cannot be raised). "
        "Received: ",
    ),
]


@pytest.mark.parametrize(
    ("make_policy", "message"),
    [pytest.param(make, message, id=name) for name, make, message in SYNTH_TIME_CASES],
)
def test_bad_policy_is_refused_at_synth(make_policy: Callable[[], KeyPolicy], message: str) -> None:
    assert message in synth_error(make_policy())


def test_oversized_policy_reports_its_size() -> None:
    error = synth_error(oversized_policy())
    size = int(error.split("Received: ")[-1].split(" bytes")[0])
    assert size > 32_768


def test_wildcard_principal_with_a_condition_is_accepted() -> None:
    app, stack = one_stack_app()
    CustomerManagedKey(
        stack,
        "K",
        policy=KeyPolicy.custom(
            admins=[ADMIN],
            statements=[
                iam.PolicyStatement(
                    principals=[iam.AnyPrincipal()],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
                )
            ],
        ),
    )
    assert app.synth().get_stack_by_name("S").template["Resources"]


@pytest.mark.parametrize("action", ["*", "kms:*", "kms:Put*", "kms:PutKeyPolicy"])
def test_put_key_policy_kept_by_a_wildcard_action_is_no_lock_out(action: str) -> None:
    # deployer=None and no admins: only the extra statement keeps kms:PutKeyPolicy.
    app, stack = one_stack_app()
    keeper = put_key_policy(iam.ArnPrincipal(ADMIN), action=action)
    CustomerManagedKey(
        stack, "K", policy=KeyPolicy.custom(users=[ADMIN], deployer=None, statements=[keeper])
    )
    assert {
        "Sid": "Keeper",
        "Effect": "Allow",
        "Principal": {"AWS": ADMIN},
        "Action": action,
        "Resource": "*",
    } in key_statements(app)


def test_root_limited_by_a_condition_may_get_kms_star_in_a_custom_policy() -> None:
    # The documented way to allow a role created after the key: the account root with an
    # ArnEquals condition on aws:PrincipalArn lets in that role alone, not the whole account.
    app, stack = one_stack_app()
    later_role = f"arn:aws:iam::{ACCOUNT}:role/created-later"
    limited = iam.PolicyStatement(
        sid="LaterRole",
        principals=[iam.AccountRootPrincipal()],
        actions=["kms:*"],
        resources=["*"],
        conditions={"ArnEquals": {"aws:PrincipalArn": later_role}},
    )
    CustomerManagedKey(stack, "K", policy=KeyPolicy.custom(admins=[ADMIN], statements=[limited]))
    (statement,) = [s for s in key_statements(app) if s.get("Sid") == "LaterRole"]
    assert statement["Action"] == "kms:*"
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": later_role}}


def key_statements(app: cdk.App, stack_name: str = "S") -> list[dict[str, object]]:
    template = app.synth().get_stack_by_name(stack_name).template
    (key_resource,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Key"]
    statements: list[dict[str, object]] = key_resource["Properties"]["KeyPolicy"]["Statement"]
    return statements


def partition_join(*rest: object) -> dict[str, object]:
    """``f"arn:{stack.partition}..."`` as CDK resolves it: an Fn::Join of ``arn:``, a Ref to
    ``AWS::Partition`` and ``rest``."""
    return {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, *rest]]}


# The conditions of kmskit's key inventory tests (tests/kmskit/test_key_inventory.py), each on
# an Allow for "*": the constructs must refuse exactly those the inventory reports PUBLIC.
CALLER_CONDITIONS: list[dict[str, dict[str, object]]] = [
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abcdefghij"}},
    {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}},
    {"Null": {"aws:PrincipalOrgID": "false"}},
    {"StringLike": {"aws:PrincipalArn": "*"}},
    {"ForAllValues:StringEquals": {"aws:PrincipalOrgPaths": ["o-abcdefghij/r-ab12/*"]}},
    {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
    {"StringLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/app-*"}},
    {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
    {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
    {"StringLike": {"kms:CallerAccount": "????????????"}},
    {"StringLike": {"aws:SourceVpce": "vpce-*"}},
    {"ArnEquals": {"aws:PrincipalArn": "*"}},
    {"StringLike": {"aws:PrincipalOrgPaths": "o-abcdefghij/*"}},
    {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}},
    # Intrinsics are matched as deployed (partition "aws", the stack's account).
    {"ArnLike": {"aws:PrincipalArn": partition_join(":iam::*:role/*")}},
    {"StringLike": {"aws:PrincipalArn": partition_join(":iam::*:*")}},
    {"StringLike": {"aws:PrincipalOrgID": {"Fn::Sub": "o-*${AWS::NoValue}"}}},
    {"ArnLike": {"aws:PrincipalArn": partition_join(":iam::", {"Ref": "AWS::AccountId"}, ":*")}},
    {
        "StringEquals": {
            "kms:CallerAccount": ACCOUNT,
            "kms:ViaService": "ebs.eu-west-1.amazonaws.com",
        }
    },
    {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}},
    {"StringEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}},
    {
        "ArnEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"},
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
    },
]


def key_allowing_everyone(
    condition: dict[str, dict[str, object]],
) -> tuple[cdk.App, cdk.Stack, iam.PolicyStatement]:
    """A key whose custom policy allows "*" kms:Decrypt under ``condition`` (Sid Everyone)."""
    app, stack = one_stack_app()
    statement = iam.PolicyStatement(
        sid="Everyone",
        principals=[iam.AnyPrincipal()],
        actions=["kms:Decrypt"],
        resources=["*"],
        conditions=condition,
    )
    CustomerManagedKey(stack, "K", policy=KeyPolicy.custom(admins=[ADMIN], statements=[statement]))
    return app, stack, statement


@pytest.mark.parametrize("condition", CALLER_CONDITIONS, ids=json.dumps)
def test_a_wildcard_allow_is_refused_exactly_when_the_key_inventory_calls_it_public(
    condition: dict[str, dict[str, object]],
) -> None:
    app, stack, statement = key_allowing_everyone(condition)
    resolved = stack.resolve(statement.to_statement_json())
    public = analyze_policy({"Statement": [resolved]}, ACCOUNT).public_statements != ()
    if public:
        with pytest.raises(RuntimeError, match="'policy' must not allow a wildcard principal"):
            app.synth()
    else:
        assert key_statements(app)[-1]["Sid"] == "Everyone"


@pytest.mark.parametrize("prop", ["users", "service_users"])
def test_users_may_be_everyone_of_an_organization(prop: str) -> None:
    # As key.grant_decrypt(iam.OrganizationPrincipal(...)) does: "*" with aws:PrincipalOrgID.
    app, stack = one_stack_app()
    organization = iam.OrganizationPrincipal("o-abcdefghij")
    CustomerManagedKey(
        stack, "K", policy=KeyPolicy.custom(admins=[ADMIN], **{prop: [organization]})
    )
    (statement,) = [s for s in key_statements(app) if s["Principal"] == {"AWS": "*"}]
    condition = statement["Condition"]
    assert isinstance(condition, dict)
    assert condition["StringEquals"]["aws:PrincipalOrgID"] == "o-abcdefghij"


@pytest.mark.parametrize(
    "condition",
    [
        {"StringLike": {"aws:PrincipalOrgID": "o-*"}},
        {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}},
        {"StringLike": {"kms:CallerAccount": "????????????"}},
        {"StringLike": {"aws:SourceVpce": "vpce-*"}},
        {"ArnEquals": {"aws:PrincipalArn": "*"}},
        # The literal text of an intrinsic, or of a string holding CDK tokens, counts too.
        {"ArnLike": {"aws:PrincipalArn": partition_join(":iam::*:role/*")}},
        pytest.param(
            {"ArnLike": {"aws:PrincipalArn": f"arn:{cdk.Aws.PARTITION}:iam::*:role/*"}},
            id="ArnLike arn:{Aws.PARTITION}:iam::*:role/*",
        ),
        pytest.param(
            {"StringLike": {"aws:PrincipalArn": f"arn:{cdk.Aws.PARTITION}:iam::*:*"}},
            id="StringLike arn:{Aws.PARTITION}:iam::*:*",
        ),
        pytest.param(
            {"StringLike": {"aws:PrincipalOrgID": cdk.Fn.sub("o-*${AWS::NoValue}")}},
            id="StringLike Fn.sub(o-*${AWS::NoValue})",
        ),
        {"ArnLike": {"aws:PrincipalArn": {"Fn::Sub": ["arn:aws:iam::${A}:role/*", {"A": "*"}]}}},
        # Both branches of an Fn::If are known at synth: each must limit the caller.
        pytest.param(
            {"StringLike": {"aws:PrincipalOrgID": cdk.Fn.condition_if("C", "o-*", ORG_ID)}},
            id="StringLike Fn.condition_if(C, o-*, o-...)",
        ),
        {
            "StringLike": {
                "aws:PrincipalOrgID": {"Fn::If": ["C", ORG_ID, {"Fn::If": ["D", "o-*", ORG_ID]}]}
            }
        },
        # An ARN with no account field (an S3 bucket's) names no caller, wildcards or not.
        {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}},
        {"StringEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}},
        pytest.param(
            {"StringEquals": {"aws:SourceArn": f"arn:{cdk.Aws.PARTITION}:s3:::my-bucket"}},
            id="StringEquals arn:{Aws.PARTITION}:s3:::my-bucket",
        ),
    ],
    ids=json.dumps,
)
def test_a_wildcard_value_in_the_caller_condition_does_not_limit_the_caller(
    condition: dict[str, dict[str, object]],
) -> None:
    app, _, _ = key_allowing_everyone(condition)
    with pytest.raises(RuntimeError, match="'policy' must not allow a wildcard principal"):
        app.synth()


def test_a_bucket_arn_limits_everyone_only_with_the_bucket_owner_next_to_it() -> None:
    bucket = {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::my-bucket"}}
    with pytest.raises(ConstructPropError, match=r"^'users' must not hold a wildcard principal"):
        KeyPolicy.custom(admins=[ADMIN], users=[iam.AnyPrincipal().with_conditions(bucket)])
    owned = iam.AnyPrincipal().with_conditions({**bucket, **SOURCE})
    app, stack = one_stack_app()
    CustomerManagedKey(stack, "K", policy=KeyPolicy.custom(admins=[ADMIN], users=[owned]))
    (statement,) = [s for s in key_statements(app) if s.get("Sid") == "KeyUsage"]
    assert statement["Condition"] == {**bucket, **SOURCE}


def test_a_service_limited_to_its_source_is_accepted_wherever_it_is_named() -> None:
    app, stack = one_stack_app()
    sns = iam.ServicePrincipal("sns.amazonaws.com")
    key = CustomerManagedKey(
        stack,
        "K",
        policy=KeyPolicy.custom(
            admins=[ADMIN],
            users=[iam.ServicePrincipal("s3.amazonaws.com").with_conditions(SOURCE)],
            service_users=[iam.ServicePrincipal("ec2.amazonaws.com", conditions=SOURCE)],
            statements=[
                iam.PolicyStatement(
                    sid="Sns",
                    principals=[sns],
                    actions=["kms:Decrypt"],
                    resources=["*"],
                    conditions={
                        "ArnLike": {
                            "kms:EncryptionContext:aws:sns:topicArn": (
                                f"arn:aws:sns:eu-west-1:{ACCOUNT}:*"
                            )
                        }
                    },
                )
            ],
        ),
    )
    key.grant_encrypt(iam.ServicePrincipal("events.amazonaws.com").with_conditions(SOURCE))
    key.grant(sns, "kms:GenerateDataKey", conditions=SOURCE)
    key.add_to_key_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("logs.amazonaws.com")],
            actions=["kms:Encrypt"],
            resources=["*"],
            conditions=SOURCE,
        )
    )
    services = [s for s in key_statements(app) if "Service" in s["Principal"]]
    assert sorted(str(s["Principal"]["Service"]) for s in services) == [
        "ec2.amazonaws.com",
        "events.amazonaws.com",
        "logs.amazonaws.com",
        "s3.amazonaws.com",
        "sns.amazonaws.com",
        "sns.amazonaws.com",
    ]
    assert all(limits_source(s["Condition"]) for s in services)


@pytest.mark.parametrize("path", ["users", "statements"])
@pytest.mark.parametrize(
    ("account", "accepted"), [(cdk.Aws.ACCOUNT_ID, True), ("*", False)], ids=["own", "any"]
)
def test_users_and_statements_judge_a_caller_condition_with_tokens_alike(
    path: str, account: str, accepted: bool
) -> None:
    # An environment-agnostic stack: partition and account are tokens until resolved, and
    # KeyPolicy.custom checks users= before there is a stack to resolve them with.
    app = cdk.App()
    stack = cdk.Stack(app, "S")
    arn = f"arn:{stack.partition}:iam::{account}:role/app-*"
    everyone = iam.AnyPrincipal().with_conditions({"ArnLike": {"aws:PrincipalArn": arn}})
    statement = iam.PolicyStatement(
        sid="Everyone", principals=[everyone], actions=["kms:Decrypt"], resources=["*"]
    )

    def make() -> None:
        policy = (
            KeyPolicy.custom(admins=[ADMIN], users=[everyone])
            if path == "users"
            else KeyPolicy.custom(admins=[ADMIN], statements=[statement])
        )
        CustomerManagedKey(stack, "K", policy=policy)
        app.synth()

    if accepted:
        make()
    else:
        with pytest.raises((ConstructPropError, RuntimeError), match="wildcard principal"):
            make()


@pytest.mark.parametrize(
    "make_policy",
    [
        # NotAction listing kms:PutKeyPolicy: the Deny leaves it.
        deny(iam.AnyPrincipal(), not_actions=["kms:Decrypt", "kms:PutKeyPolicy"]),
        deny(iam.AnyPrincipal(), not_actions=["kms:Put*"]),
        # Another account's root: its principals lose it, this account's keep it.
        deny(iam.AccountPrincipal("222222222222"), actions=["kms:PutKeyPolicy"]),
        # One principal denied; the deployer keeps it.
        deny(iam.ArnPrincipal(ADMIN), actions=["kms:PutKeyPolicy"]),
        # A pattern that does not match kms:PutKeyPolicy.
        deny(iam.AnyPrincipal(), actions=["kms:Put*Tags"]),
    ],
    ids=["not-action-lists-it", "not-action-pattern", "other-account", "one-role", "other-put"],
)
def test_a_deny_that_leaves_put_key_policy_to_someone_is_no_lock_out(
    make_policy: Callable[[], KeyPolicy],
) -> None:
    app, stack = one_stack_app()
    CustomerManagedKey(stack, "K", policy=make_policy())
    assert key_statements(app)[-1]["Sid"] == "Guard"


def test_an_allow_with_not_action_leaving_put_key_policy_in_keeps_it() -> None:
    app, stack = one_stack_app()
    keeper = iam.PolicyStatement(
        sid="Keeper",
        principals=[iam.ArnPrincipal(ADMIN)],
        not_actions=["kms:Decrypt"],
        resources=["*"],
    )
    CustomerManagedKey(
        stack, "K", policy=KeyPolicy.custom(users=[ADMIN], deployer=None, statements=[keeper])
    )
    assert key_statements(app)[-1]["Sid"] == "Keeper"


def test_deny_for_everyone_without_a_condition_is_accepted() -> None:
    # A guard rail: a Deny with a wildcard principal opens nothing, so it needs no condition.
    app, stack = one_stack_app()
    guard = iam.PolicyStatement(
        sid="NoDeletion",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=["kms:ScheduleKeyDeletion"],
        resources=["*"],
    )
    CustomerManagedKey(stack, "K", policy=KeyPolicy.custom(admins=[ADMIN], statements=[guard]))
    assert {
        "Sid": "NoDeletion",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "kms:ScheduleKeyDeletion",
        "Resource": "*",
    } in key_statements(app)


def test_alias_with_a_token_is_accepted() -> None:
    app, stack = one_stack_app()
    CustomerManagedKey(stack, "K", alias=f"alias/{cdk.Aws.STACK_NAME}-data")
    template = app.synth().get_stack_by_name("S").template
    (alias,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::Alias"]
    assert alias["Properties"]["AliasName"] == {
        "Fn::Join": ["", ["alias/", {"Ref": "AWS::StackName"}, "-data"]]
    }


def test_a_token_alias_is_unique_within_its_stack_only() -> None:
    # The same text in two stacks of one environment names two aliases at deploy time.
    app = cdk.App()
    env = cdk.Environment(account=ACCOUNT, region="eu-west-1")
    alias = f"alias/{cdk.Aws.STACK_NAME}-data"
    blue, green = cdk.Stack(app, "Blue", env=env), cdk.Stack(app, "Green", env=env)
    CustomerManagedKey(blue, "K", alias=alias)
    assert CustomerManagedKey(green, "K", alias=alias).alias is not None
    with pytest.raises(ConstructPropError) as refused:
        CustomerManagedKey(green, "K2", alias=alias)
    assert str(refused.value) == f"'alias' must be unique within the stack. Received: {alias!r}"


def test_a_refused_key_reserves_no_alias() -> None:
    stack = new_stack()
    with pytest.raises(ConstructPropError):
        CustomerManagedKey(stack, "K", alias="alias/app", policy={"bad": 1})  # type: ignore[arg-type]
    assert CustomerManagedKey(stack, "K2", alias="alias/app").alias is not None


def test_same_alias_in_another_region_or_account_is_allowed() -> None:
    app = cdk.App()
    for name, account, region in (
        ("A", ACCOUNT, "eu-west-1"),
        ("B", ACCOUNT, "eu-central-1"),
        ("C", "222222222222", "eu-west-1"),
    ):
        stack = cdk.Stack(app, name, env=cdk.Environment(account=account, region=region))
        CustomerManagedKey(stack, "K", alias="alias/app-data")
    # Another App is another deployment: its aliases are its own.
    CustomerManagedKey(new_stack(), "K", alias="alias/app-data")
    assert len(app.synth().stacks) == 3


def test_external_accounts_known_at_deploy_time_get_unique_sids() -> None:
    app, stack = one_stack_app()
    partners = [cdk.CfnParameter(stack, name).value_as_string for name in ("First", "Second")]
    CustomerManagedKey(
        stack, "K", policy=KeyPolicy.custom(admins=[ADMIN], external_accounts=partners)
    )
    sids = [statement["Sid"] for statement in key_statements(app)]
    assert sids == [
        "KeyDeployment",
        "KeyAdministration",
        "ExternalUse1",
        "ExternalGrants1",
        "ExternalUse2",
        "ExternalGrants2",
    ]


def test_sm2_key_is_accepted_in_china_and_where_the_region_is_unknown() -> None:
    china = cdk.Stack(cdk.App(), "China", env=cdk.Environment(account=ACCOUNT, region="cn-north-1"))
    agnostic = cdk.Stack(cdk.App(), "Agnostic")
    for stack in (china, agnostic):
        key = CustomerManagedKey(stack, "K", key_spec="SM2", key_usage="SIGN_VERIFY")
        assert key.key_spec == "SM2"


def test_group_of_the_key_account_gets_an_identity_policy_under_the_default_policy() -> None:
    """The default policy delegates to IAM: a group's own policy is enough, nothing names it."""
    stack = new_stack()
    group = iam.Group(stack, "G")
    grant = CustomerManagedKey(stack, "K").grant_decrypt(group)
    assert grant.success
    assert grant.principal_statements


def test_keys_and_trails_work_in_a_stack_given_its_own_default_synthesizer() -> None:
    # A per-stack bootstrap qualifier is common; jsii hands back the unbound synthesizer, whose
    # role getter throws. Default-policy keys need no role, custom ones take deployer=.
    app = cdk.App()
    stack = cdk.Stack(
        app,
        "Qualified",
        env=cdk.Environment(account="111111111111", region="eu-west-1"),
        synthesizer=cdk.DefaultStackSynthesizer(qualifier="platform"),
    )
    role = "arn:aws:iam::111111111111:role/cdk-platform-cfn-exec-role-111111111111-eu-west-1"
    CustomerManagedKey(stack, "Default")
    CustomerManagedKey(stack, "Custom", policy=KeyPolicy.custom(admins=[ADMIN_ROLE], deployer=role))
    AuditTrail(stack, "Audit")
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::KMS::Key", 3)
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [Match.object_like({"Sid": "KeyDeployment", "Principal": {"AWS": role}})]
                )
            }
        },
    )


def test_a_second_replica_of_one_primary_in_one_region_is_refused() -> None:
    # KMS holds one replica of a multi-Region key per Region: the second ReplicateKey fails.
    app = cdk.App()

    def stack(name: str, region: str) -> cdk.Stack:
        return cdk.Stack(
            app,
            name,
            env=cdk.Environment(account=ACCOUNT, region=region),
            cross_region_references=True,
        )

    primary = CustomerManagedKey(stack("Primary", "eu-west-1"), "K", multi_region=True)
    ReplicaKey(stack("Frankfurt", "eu-central-1"), "R", primary=primary)
    ReplicaKey(stack("Stockholm", "eu-north-1"), "R", primary=primary)
    ReplicaKey(stack("FrankfurtByArn", "eu-central-1"), "R", primary_key_arn=PRIMARY_ARN)
    second = stack("FrankfurtAgain", "eu-central-1")
    with pytest.raises(ConstructPropError) as construct_error:
        ReplicaKey(second, "R", primary=primary)
    assert str(construct_error.value) == (
        "'primary' must have one replica per Region: Frankfurt/R already replicates it within "
        "account 111111111111 in eu-central-1. Received: 'Primary/K'"
    )
    with pytest.raises(ConstructPropError) as arn_error:
        ReplicaKey(second, "ByArn", primary_key_arn=PRIMARY_ARN)
    assert str(arn_error.value) == (
        "'primary_key_arn' must have one replica per Region: FrankfurtByArn/R already "
        f"replicates it within account 111111111111 in eu-central-1. Received: '{PRIMARY_ARN}'"
    )
