"""Declared KMS grants: ``CreateGrant`` on create, ``RetireGrant`` (or ``RevokeGrant``) on delete.

CloudFormation has no resource for a KMS grant (Terraform's KMS module has ``grants``, made with
``aws_kms_grant``). :class:`KeyGrant` makes one with a custom resource (``Custom::KmsGrant``)
whose provider function is this toolkit's (``lambda_src/key_grant``). The case that needs it: a
key of account A that an Auto Scaling group of account B encrypts its EBS volumes with. Auto
Scaling's service-linked role of B can use that key only through a grant that a principal of B
creates; A's key policy alone is not enough (EC2 Auto Scaling user guide, "Required AWS KMS key
policy for use with encrypted volumes", example 2; docs/keys.md, Declared grants).

The KeyGrants of a stack share one provider function, made with the first of them, with a
role of its own (a :class:`ManagedPolicyRole`, logs only) and a log group; each KeyGrant then
attaches a managed policy of its own to that role, with ``kms:CreateGrant`` on its key only (for
its grantee, retiring principal, kind of constraint and operations only). The role is the
grant's retiring principal, so it retires the grant on delete without any permission; a grant
given a ``retiring_principal`` of the caller's is revoked instead, which adds
``kms:RevokeGrant`` on the key. CloudFormation deletes the policy after the grant (the custom
resource depends on it), also when the KeyGrant alone is removed from the stack. A change of
what the policy allows makes a new policy (its construct ID holds a hash of it: ``_policy_id``)
instead of changing the one there is, so that the provider keeps the old permission until the
clean-up has deleted the old grant: a rollback, which asks for the old grant again before
CloudFormation restores what the custom resource depends on, is allowed.

Why not ``aws_cdk.custom_resources.AwsCustomResource`` (the first version): it does not retry a
call that IAM refuses because the policy attached just before is not yet in effect everywhere
(aws-cdk issue 37675), its provider function and role are shared with every other
AwsCustomResource of the stack (one added earlier in construct order took the role over), and a
failed create left a log stream's name as the physical ID for the rollback to delete.
"""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    CfnDeletionPolicy,
    CfnResource,
    CustomResource,
    Names,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib import _durations as durations
from constructs_lib import _kms_actions as actions
from constructs_lib import _lambda_assets as lambda_assets
from constructs_lib import _names as names
from constructs_lib import _principals as principals
from constructs_lib._validation import (
    ConstructPropError,
    check_sequence,
    check_unique,
    has_wildcard,
    is_token,
    require,
    shown,
)
from constructs_lib.compliance import acknowledge
from constructs_lib.iam import (
    DEFAULT_MANAGED_POLICIES_PER_ROLE,
    MAX_MANAGED_POLICIES_PER_ROLE,
    ManagedPolicyRole,
)
from constructs_lib.key_policy import (
    AUTOSCALING_SLR_PATH,
    GROUP_PRINCIPAL,
    PRINCIPAL_ARN,
    WILDCARD_IN_ARN,
    WILDCARD_PRINCIPAL,
    StackFacts,
    autoscaling_slr_name,
    is_group_arn,
    stack_facts,
    stack_of,
)
from constructs_lib.keys import (
    CustomerManagedKey,
    ReplicaKey,
    owning_key,
    require_key_environment,
)

# A key's ARN as CreateGrant takes it for a key of another account: key/<key ID>, where the ID is
# a UUID or, for a multi-Region key, mrk-<32 hex digits>. Groups: Region, account.
KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:([a-z]{2,}(?:-[a-z]+)+-[0-9]+):([0-9]{12}):key/"
    r"(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\Z"
)
# CreateGrant's Name (GrantNameType in botocore's model of the KMS API).
GRANT_NAME = re.compile(r"^[a-zA-Z0-9:/_-]{1,256}\Z")
MAX_GRANT_NAME_LENGTH = 256
# The end of Names.unique_resource_name: a hash of the construct's path, which a DESTROY grant's
# own name gets after a "-" (_grant_name).
PATH_HASH_LENGTH = 8
MAX_GIVEN_NAME_LENGTH = MAX_GRANT_NAME_LENGTH - 1 - PATH_HASH_LENGTH
GRANT_REQUEST_KIND = "KMS CreateGrant request"
MAX_PRINCIPAL_LENGTH = 256  # PrincipalIdType
MAX_CONTEXT_PAIRS = 8  # per encryption context constraint (CreateGrant, Constraints)
MAX_CONTEXT_VALUE_LENGTH = 384
REMOVAL_POLICIES = (RemovalPolicy.DESTROY, RemovalPolicy.RETAIN)
RESOURCE_TYPE = "Custom::KmsGrant"
PROVIDER_ID = "KmsKitKeyGrantProvider"
"""The stack-level construct that holds the provider function, its role and its log group."""
PACKAGE = "key_grant"
ASSET_SOURCES = ((lambda_assets.ROOT / "lambda_src" / PACKAGE, PACKAGE),)
PROVIDER_MEMORY_MB = 256
# Long enough to wait out IAM's propagation of a new policy (the handler retries a refused call
# until 96 seconds before the timeout, handler.RESERVE_SECONDS); CloudFormation waits up to an
# hour for the answer.
PROVIDER_TIMEOUT_MINUTES = 5
# Managed policies the provider's role holds besides the KeyGrants' own: its logs policy.
PROVIDER_ROLE_OWN_POLICIES = 1
# Hex digits of the hash of a KeyGrant's permissions in its policy's construct ID (_policy_id).
POLICY_ID_HASH_LENGTH = 8
POLICY_PER_PERMISSION_CONTEXT_KEY = "kmskit:keyGrantPolicyPerPermission"
"""Context key (cdk.json): ``false`` keeps each KeyGrant's policy at the construct ID of 0.4.0
and earlier (``Policy``, changed in place) instead of one per permission (:func:`_policy_id`):
for a stack whose provider role cannot hold two policies per KeyGrant for the one deployment
that replaces them all. Default: true."""
MAX_KEY_GRANTS_PER_STACK = MAX_MANAGED_POLICIES_PER_ROLE - PROVIDER_ROLE_OWN_POLICIES
_key_grants_by_stack: weakref.WeakKeyDictionary[Stack, int] = weakref.WeakKeyDictionary()

LAMBDA_RULES = {
    "concurrency": ("NIST.800.53.R5-LambdaConcurrency", "HIPAA.Security-LambdaConcurrency"),
    "dlq": (
        "NIST.800.53.R5-LambdaDLQ",
        "HIPAA.Security-LambdaDLQ",
        "Serverless-LambdaDLQ",
    ),
    "vpc": (
        "NIST.800.53.R5-LambdaInsideVPC",
        "HIPAA.Security-LambdaInsideVPC",
        "PCI.DSS.321-LambdaInsideVPC",
    ),
    "tracing": ("Serverless-LambdaTracing",),
}
LAMBDA_REASONS = {
    "concurrency": (
        "KeyGrant's provider function is invoked by CloudFormation alone, once per "
        "create, update or delete of a grant in this stack; reserved concurrency would take from "
        "the account's unreserved pool and limit nothing that CloudFormation does not already"
    ),
    "dlq": (
        "KeyGrant's provider function answers every CloudFormation event on its pre-signed URL, "
        "a failed CreateGrant, RetireGrant or RevokeGrant with KMS's reason, which fails (and "
        "rolls back) the stack operation that records it; an event it could not answer is "
        "invoked again by Lambda, and a dead-letter queue could not answer it either"
    ),
    "vpc": (
        "KeyGrant's provider function only calls the regional KMS API (CreateGrant, "
        "RetireGrant, RevokeGrant) and handles no data; a VPC would need a KMS interface "
        "endpoint and would add no data path to protect"
    ),
    "tracing": (
        "KeyGrant's provider function makes one KMS call per CloudFormation event; "
        "CloudTrail records each CreateGrant, RetireGrant and RevokeGrant with its caller, so "
        "X-Ray traces would add nothing and need an xray:PutTraceSegments permission on every "
        "resource"
    ),
}
LOG_GROUP_RULES = (
    "NIST.800.53.R5-CloudWatchLogGroupEncrypted",
    "HIPAA.Security-CloudWatchLogGroupEncrypted",
    "PCI.DSS.321-CloudWatchLogGroupEncrypted",
)
LOG_GROUP_REASON = (
    "The log group of KeyGrant's provider function receives the CloudFormation events (the "
    "CreateGrant, RetireGrant and RevokeGrant parameters, which the stack template and "
    "CloudTrail hold as well), grant IDs and errors, never the grant token or the response "
    "URL; CloudWatch Logs encrypts it at rest with its own key"
)


@dataclass(frozen=True)
class _Key:
    """What a KeyGrant knows of its key."""

    arn: str
    call_region: str | None  # the Region to call KMS in, when it is not the stack's
    owner: CustomerManagedKey | ReplicaKey | None  # a key construct of this toolkit


@jsii.implements(iam.IPrincipal)
class _GrantPrincipal:
    """The provider's role as one KeyGrant's grants see it: a key policy names the role, and the
    identity statements go to the KeyGrant's own managed policy (not the role's), so that
    CloudFormation deletes them after the grant they let the provider make."""

    def __init__(self, role: iam.IRole, policy: iam.ManagedPolicy) -> None:
        self._role = role
        self._policy = policy

    @property
    def grant_principal(self) -> iam.IPrincipal:
        return self

    @property
    def assume_role_action(self) -> str:
        return self._role.assume_role_action

    @property
    def policy_fragment(self) -> iam.PrincipalPolicyFragment:
        return self._role.policy_fragment

    @property
    def principal_account(self) -> str | None:
        return self._role.principal_account

    def add_to_policy(self, statement: iam.PolicyStatement) -> bool:
        return self.add_to_principal_policy(statement).statement_added

    def add_to_principal_policy(
        self, statement: iam.PolicyStatement
    ) -> iam.AddToPrincipalPolicyResult:
        self._policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(statement_added=True, policy_dependable=self._policy)


class _Provider(Construct):
    """The stack's provider function, with its role and log group, made with its first
    KeyGrant."""

    def __init__(self, scope: Stack) -> None:
        super().__init__(scope, PROVIDER_ID)
        self.role = ManagedPolicyRole(
            self,
            "Role",
            assumed_by=principals.service("lambda.amazonaws.com"),
            description="KeyGrant: the provider function that creates and retires grants",
        )
        # Each KeyGrant's policy attaches itself to the role; KeyGrant counts them (warning past
        # IAM's default quota, refusal past its maximum): the role does not warn again.
        self.role.defer_attached_policy_count("KeyGrant")
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(self.log_group, LOG_GROUP_RULES, LOG_GROUP_REASON)
        self.logs_grant = iam.Grant.add_to_principal(
            grantee=self.role,
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resource_arns=[self.log_group.log_group_arn],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_assets.RUNTIME,
            architecture=lambda_assets.ARCHITECTURE,
            handler=f"{PACKAGE}.handler.handler",
            code=lambda_.Code.from_asset(lambda_assets.stage(PACKAGE, ASSET_SOURCES)),
            # The role by its ARN, so that the function does not also depend on the role its
            # Role property names (cfn-lint W3005). The role's policies come before each custom
            # resource, which is what calls KMS and writes to the log group.
            role=iam.Role.from_role_arn(self, "FunctionRole", self.role.role_arn, mutable=False),
            timeout=durations.minutes(PROVIDER_TIMEOUT_MINUTES),
            memory_size=PROVIDER_MEMORY_MB,
            log_group=self.log_group,
            description="kmskit KeyGrant: creates, retires and revokes this stack's KMS grants",
        )
        for kind, rules in LAMBDA_RULES.items():
            acknowledge(self.function, rules, LAMBDA_REASONS[kind])

    @classmethod
    def of(cls, stack: Stack) -> _Provider:
        """The stack's provider, made now if need be."""
        found = stack.node.try_find_child(PROVIDER_ID)
        if found is None:
            return cls(stack)
        if not isinstance(found, _Provider):
            raise ConstructPropError(
                "scope",
                f"must be in a stack whose construct ID {PROVIDER_ID} is free: KeyGrant makes "
                "its provider there",
                found.node.path,
            )
        return found


@jsii.implements(iam.IGrantable)
class KeyGrant(Construct):
    """A KMS grant, created when the stack deploys and retired (or revoked) when it is deleted.

    A grant lets ``grantee_principal`` call ``operations`` with the key, without a change to the
    key policy or an IAM policy. Use one where a policy cannot do the job: above all a principal
    of another account that must use a key through a grant made in its own account (Auto
    Scaling's service-linked role, docs/keys.md), or a use limited by an encryption context
    constraint.

    The provider function that calls KMS runs in this construct's stack and account, and needs
    ``kms:CreateGrant`` from the key policy: for a key construct of this toolkit in this App the
    construct grants it through the key's :meth:`~CustomerManagedKey.grant` (the key policy names
    the provider's role where the key has a custom policy); for a key given by ARN, that key's
    policy (in its own account) must allow this account, without ``kms:GrantIsForAWSResource``.

    Args:
        key: a :class:`CustomerManagedKey` or :class:`ReplicaKey` (or its ``.key``) of this
            account and Region, an imported ``aws_kms.IKey``, or a key ARN (``arn:aws:kms:
            <region>:<account>:key/<key ID>``; CreateGrant takes only the key ARN for a key of
            another account, and no alias). A key construct of another stack must have the
            default policy (a custom one would name the role of this stack: a dependency cycle).
        grantee_principal: who gets the grant: an IAM principal ARN (role, user, account root,
            assumed role) or an ``aws_iam.IPrincipal`` with one.
        operations: CreateGrant's operations (``"Decrypt"``, ``"GenerateDataKey"``, ...), each
            once; for a key construct, only those its key spec and usage allow.
        encryption_context_equals: the grant's operations need exactly this encryption context
            (1-8 pairs). Default: none.
        encryption_context_subset: the grant's operations need at least these pairs (1-8). Not
            together with ``encryption_context_equals``. Default: none. Either one needs a
            symmetric encryption key (a key construct of another spec is refused).
        retiring_principal: who may retire the grant (an ARN or an ``IPrincipal``); the grant
            is then revoked on delete (``kms:RevokeGrant``, which the key policy must allow).
            Default: the provider's role, which retires the grant on delete with no key policy
            or IAM permission.
        name: the start of the grant's name (letters, digits and ``:/_-``); two KeyGrants of
            the App that would ask CreateGrant for one grant (the same name, key, grantee,
            operations, retiring principal and constraint) are refused. The name makes
            CreateGrant idempotent, so a repeated create with the same parameters (a
            rollback's) returns the same grant. A DESTROY grant's name is this,
            ``-`` and the hash of the construct's path that ends its default name (1-247
            characters, so that the name is at most 256: ``orders-reader-150D6985``), so that a
            KeyGrant of another construct ID or stack asks for another grant rather than getting
            this one back, which the old KeyGrant's removal would then retire; a RETAIN grant's
            name is this alone (1-256 characters). Default: the construct's unique name in the
            App, ``-`` between the parts (``Names.unique_resource_name``, e.g.
            ``Stack-ReaderGrant-150D6985``); for ``RemovalPolicy.RETAIN``, without them, as in
            0.2.0 (``StackReaderGrant150D6985``), so that the upgrade takes 0.2.0's retained
            grant over.
        removal_policy: ``RemovalPolicy.DESTROY`` deletes (retires or revokes) the grant when
            the construct or its stack is deleted; ``RemovalPolicy.RETAIN`` leaves it in place (a
            change of the grant's props still replaces it, deleting the one before). Default:
            DESTROY.

    Attributes:
        custom_resource: the ``CustomResource`` (resource type ``Custom::KmsGrant``).
        provider_function: the stack's provider function (shared by its KeyGrants).
        policy: this grant's managed policy, attached to the provider's role.
        grant_id: the grant's ID (known at deploy time).
        key_arn, grantee_arn, operations: what the grant is for.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: CustomerManagedKey | ReplicaKey | kms.IKey | str,
        grantee_principal: iam.IPrincipal | str,
        operations: list[str] | tuple[str, ...],
        encryption_context_equals: Mapping[str, str] | None = None,
        encryption_context_subset: Mapping[str, str] | None = None,
        retiring_principal: iam.IPrincipal | str | None = None,
        name: str | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, id)
        stack = stack_of(scope)
        target = _key(key, stack)
        grantee = _principal_arn("grantee_principal", grantee_principal)
        ops = _operations(operations, target.owner)
        constraints = _constraints(encryption_context_equals, encryption_context_subset, target)
        retiring = (
            None
            if retiring_principal is None
            else _principal_arn("retiring_principal", retiring_principal)
        )
        # Without a retiring principal of the caller's, the provider's role is the grant's: it
        # then retires the grant on delete, which needs no key policy or IAM permission. A
        # revocation needs kms:RevokeGrant from the key policy, and a custom key policy loses
        # the KeyGrant's statements in the same update that removes the KeyGrant, before
        # CloudFormation deletes the grant.
        self_retiring = retiring is None
        require(
            name is None
            or (isinstance(name, str) and (is_token(name) or bool(GRANT_NAME.match(name)))),
            "name",
            "must be 1-256 letters, digits and ':/_-' (CreateGrant's rule for a grant's Name)",
            name,
        )
        require(
            removal_policy in REMOVAL_POLICIES,
            "removal_policy",
            "must be RemovalPolicy.DESTROY (delete the grant with the construct) or "
            "RemovalPolicy.RETAIN",
            removal_policy,
        )
        grant_name = _grant_name(self, name, removal_policy)
        _reserve_grant(
            self,
            name,
            grant_name,
            stack=stack,
            key=key,
            target=target,
            grantee=grantee,
            operations=ops,
            retiring=retiring,
            constraints=constraints,
            removal_policy=removal_policy,
        )
        self.key_arn = target.arn
        self.grantee_arn = grantee
        self.operations = ops

        provider = _Provider.of(stack)
        role = provider.role
        self.provider_function = provider.function
        self._count_policy_on_role(stack)
        properties: dict[str, Any] = {
            "KeyId": target.arn,
            "GranteePrincipal": grantee,
            "Operations": list(ops),
            "RetiringPrincipal": role.role_arn if retiring is None else retiring,
            # A name makes CreateGrant idempotent: a rollback's repeat of the create (or an
            # update that changes none of the grant's parameters) gets the grant it made
            # before, not a second one that the first would outlive.
            "Name": grant_name,
            "DeleteBy": "RetireGrant" if self_retiring else "RevokeGrant",
        }
        if constraints:
            properties["Constraints"] = constraints
        if target.call_region is not None:
            properties["Region"] = target.call_region
        # Not 0.2.0's logical ID (its AwsCustomResource's, at Resource/Resource): CloudFormation
        # refuses a new ServiceToken for a custom resource ("Modifying service token is not
        # allowed"). An upgrade so creates every grant anew, and 0.2.0's provider retires the
        # old one (DESTROY) or CloudFormation leaves it (RETAIN): see _grant_name.
        self.custom_resource = CustomResource(
            self,
            "Resource",
            service_token=provider.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties=properties,
            removal_policy=removal_policy,
        )
        if removal_policy == RemovalPolicy.RETAIN:
            # Kept when removed; replaced (the old grant deleted) when its props change.
            resource = self.custom_resource.node.default_child
            assert isinstance(resource, CfnResource)
            resource.cfn_options.update_replace_policy = CfnDeletionPolicy.DELETE
        provider.logs_grant.apply_before(self.custom_resource)

        # The grant this KeyGrant makes and no other: its grantee, operations, retiring
        # principal and kind of constraint.
        exact: dict[str, Any] = {
            "kms:GranteePrincipal": grantee,
            "kms:RetiringPrincipal": properties["RetiringPrincipal"],
        }
        for constraint in constraints:
            exact["kms:GrantConstraintType"] = constraint
        create_conditions: dict[str, dict[str, Any]] = {
            "StringEquals": exact,
            "ForAllValues:StringEquals": {"kms:GrantOperations": list(ops)},
        }
        self.policy = iam.ManagedPolicy(
            self,
            _policy_id(stack, target.arn, create_conditions, revokes=not self_retiring)
            if _policy_per_permission(self)
            else "Policy",
            description=f"KeyGrant {self.node.path}",
            roles=[role],
        )
        self._principal = _GrantPrincipal(role, self.policy)
        if target.owner is not None:
            target.owner.grant(self, "kms:CreateGrant", conditions=create_conditions)
            if not self_retiring:
                target.owner.grant(self, "kms:RevokeGrant")
        else:
            grants = [
                iam.Grant.add_to_principal(
                    grantee=self,
                    actions=["kms:CreateGrant"],
                    resource_arns=[target.arn],
                    conditions=create_conditions,
                )
            ]
            if not self_retiring:
                grants.append(
                    iam.Grant.add_to_principal(
                        grantee=self, actions=["kms:RevokeGrant"], resource_arns=[target.arn]
                    )
                )
            for grant in grants:
                grant.assert_success()
        # Only the policies: the key (and with it its key policy, which the toolkit key's grant
        # may have added to) is named by the custom resource's parameters already.
        self.custom_resource.node.add_dependency(self.policy)
        self.grant_id = self.custom_resource.get_att_string("GrantId")

    def _count_policy_on_role(self, stack: Stack) -> None:
        """Each KeyGrant attaches a managed policy to the stack's provider role, which IAM
        limits (10 per role by default, 20 with a quota increase): refused beyond 20, a warning
        beyond 10, as :class:`ManagedPolicyRole` does for its own policies."""
        count = _key_grants_by_stack.get(stack, 0) + 1
        require(
            count <= MAX_KEY_GRANTS_PER_STACK,
            f"{stack.node.path} KeyGrants",
            f"must be at most {MAX_KEY_GRANTS_PER_STACK} per stack: each attaches a managed "
            "policy to the stack's KeyGrant provider role, which holds "
            f"{PROVIDER_ROLE_OWN_POLICIES} of its own, and IAM allows at most "
            f"{MAX_MANAGED_POLICIES_PER_ROLE} per role (split the grants across stacks)",
            f"{count} KeyGrants",
        )
        _key_grants_by_stack[stack] = count
        if count + PROVIDER_ROLE_OWN_POLICIES == DEFAULT_MANAGED_POLICIES_PER_ROLE + 1:
            Annotations.of(self).add_warning_v2(
                "kmskit:keyGrantPolicyQuota",
                f"{self.node.path} is KeyGrant {count} of stack {stack.node.path}: its "
                f"provider role needs more than {DEFAULT_MANAGED_POLICIES_PER_ROLE} managed "
                "policies: request an IAM quota increase (managed policies per role) first",
            )

    @property
    def grant_principal(self) -> iam.IPrincipal:
        """The provider's role, writing to this grant's policy (``aws_iam.IGrantable``)."""
        return self._principal

    @staticmethod
    def autoscaling_service_linked_role(scope: Construct, *, suffix: str | None = None) -> str:
        """The ARN of EC2 Auto Scaling's service-linked role in ``scope``'s account
        (``AWSServiceRoleForAutoScaling``, or ``..._<suffix>``), the grantee of the cross-account
        EBS recipe; use it with ``operations=AUTOSCALING_GRANT_OPERATIONS``."""
        role = autoscaling_slr_name(suffix)
        facts = stack_facts(stack_of(scope))
        return f"arn:{facts.partition}:iam::{facts.account}:role/{AUTOSCALING_SLR_PATH}{role}"


def _policy_per_permission(grant: Construct) -> bool:
    """:data:`POLICY_PER_PERMISSION_CONTEXT_KEY` in ``grant``'s context: true unless set to
    false (a JSON boolean, or the string ``cdk -c KEY=false`` passes)."""
    given = grant.node.try_get_context(POLICY_PER_PERMISSION_CONTEXT_KEY)
    value = (
        {"true": True, "false": False}.get(given.lower(), given)
        if isinstance(given, str)
        else given
    )
    require(
        value is None or isinstance(value, bool),
        POLICY_PER_PERMISSION_CONTEXT_KEY,
        "must be true or false (cdk.json context, or cdk -c KEY=false)",
        value,
    )
    return value is not False


def _policy_id(stack: Stack, key_arn: str, conditions: Mapping[str, Any], *, revokes: bool) -> str:
    """The construct ID of a KeyGrant's managed policy: ``Policy`` and a hash of what it allows
    (the key, CreateGrant's conditions, RevokeGrant or not).

    A change of the grant's key, grantee, retiring principal, operations or kind of constraint
    so gets a new policy rather than changing the one there is: CloudFormation creates the new
    one before the custom resource's update and deletes the old one in the clean-up, after the
    old grant (the custom resource depends on it). In between the provider holds both, so a
    rollback of the update, which restores the custom resource before what it depends on (it
    asks for the old grant again, CreateGrant with the old parameters), and the clean-up's
    RevokeGrant of the old grant on the old key are allowed. Changed in place, the policy
    would allow only the new grant by then, and the rollback would fail
    (``UPDATE_ROLLBACK_FAILED``). Tokens (a role's or key's ARN) are hashed as the template
    writes them (their ``Fn::GetAtt``), so the ID is the same at every synthesis."""
    permissions = stack.resolve({"key": key_arn, "conditions": conditions, "revokes": revokes})
    digest = hashlib.sha256(json.dumps(permissions, sort_keys=True).encode()).hexdigest()
    return f"Policy{digest[:POLICY_ID_HASH_LENGTH].upper()}"


def _grant_name(grant: KeyGrant, given: str | None, removal_policy: RemovalPolicy) -> str:
    """The grant's name: by default the construct's unique name in the App; a DESTROY grant's
    ``given`` name gets the hash of the construct's path that ends it.

    CreateGrant returns the grant there is for the same name and parameters. A new logical ID
    (a construct ID changed, a KeyGrant moved to another stack with the same retiring
    principal) makes CloudFormation create a new resource, then delete the old one, which
    retires its grant: under the same name the new resource would get that grant back and lose
    it, still holding its ID. So a DESTROY grant's name depends on the construct's path, given
    or not. A RETAIN grant's old resource is left in place with its grant, deleting nothing, and
    the new resource may take it over (the upgrade from 0.2.0 below relies on it): its name is
    the one given, as before.

    An upgrade from 0.2.0 replaces each grant's custom resource by one of a new logical ID. A
    DESTROY grant's old resource then retires 0.2.0's grant, so the new one needs a new name
    (``-`` between the parts): with 0.2.0's, it would get the grant being retired. A RETAIN
    grant's old resource is left in place with its grant, so it keeps 0.2.0's name (no
    separators): the new resource gets that grant rather than a second one that no stack would
    delete.
    """
    if removal_policy == RemovalPolicy.RETAIN:
        if given is not None:
            return given
        return Names.unique_resource_name(grant, max_length=MAX_GRANT_NAME_LENGTH)
    unique = Names.unique_resource_name(grant, max_length=MAX_GRANT_NAME_LENGTH, separator="-")
    return unique if given is None else f"{given}-{unique[-PATH_HASH_LENGTH:]}"


def _reserve_grant(
    grant: KeyGrant,
    name: str | None,
    grant_name: str,
    *,
    stack: Stack,
    key: Any,
    target: _Key,
    grantee: str,
    operations: tuple[str, ...],
    retiring: str | None,
    constraints: Mapping[str, Any],
    removal_policy: RemovalPolicy,
) -> None:
    """The grant's CreateGrant request (``grant_name``, the key, grantee, operations, retiring
    principal and constraints) taken in the App, or refused naming the KeyGrant that makes the
    same request (:mod:`constructs_lib._names`): CreateGrant returns one grant for both, which
    the removal of either would retire. ``name``: the ``name`` prop, checked for its length.

    Only a request known to be the same is refused: one whose parameters are all literal is
    compared across the App; one with a parameter known only at deploy time (a token: a role
    ARN, a pseudo parameter, which may read the same in two stacks and differ there) only with
    the requests of its own stack. The provider's role, the default retiring principal, is
    each stack's own, so two stacks never make the same request with it.
    """
    require(
        name is None
        or removal_policy == RemovalPolicy.RETAIN
        or is_token(name)
        or len(name) <= MAX_GIVEN_NAME_LENGTH,
        "name",
        f"must be at most {MAX_GIVEN_NAME_LENGTH} characters for a RemovalPolicy.DESTROY grant: "
        f"its grant's name is the name, '-' and a hash of the construct's path "
        f"({PATH_HASH_LENGTH} characters), and CreateGrant takes at most "
        f"{MAX_GRANT_NAME_LENGTH}",
        name,
    )
    # A key construct's ARN is a token; its path names it across the App.
    key_id = target.arn if target.owner is None else target.owner.node.path
    retired_by = retiring if retiring is not None else f"the provider's role of {stack.node.path}"
    request = json.dumps(
        [grant_name, key_id, grantee, sorted(operations), retired_by, constraints], sort_keys=True
    )
    other, where = names.reserve(
        stack, stack_facts(stack), GRANT_REQUEST_KIND, request, grant, app_wide=True
    )
    if other is None:
        return
    # Worded only now: a construct's path is a jsii round trip.
    shown_key = key_id if target.owner is not None or not is_token(key_id) else shown(key)
    constraint = (
        " and ".join(
            f"{kind} {_shown(json.dumps(pairs, sort_keys=True))}"
            for kind, pairs in constraints.items()
        )
        if constraints
        else "none"
    )
    raise ConstructPropError(
        "name",
        f"must tell the grant apart within {where}: {other} already asks CreateGrant for a "
        f"grant named {grant_name!r} on {shown_key} with the same grantee "
        f"({_shown(grantee)}), operations ({', '.join(operations)}), retiring principal "
        f"({_shown(retired_by)}) and encryption context constraint ({constraint}), and "
        f"{grant.node.path} asks for it too: CreateGrant returns one grant for both, which "
        "the removal of either KeyGrant would retire. Give one of them another name",
        name,
    )


def _shown(value: str) -> str:
    """``value`` for an error message: itself, or what a token is."""
    return "one known at deploy time" if is_token(value) else value


# -- checks ---------------------------------------------------------------------------------------


def _key(value: Any, stack: Stack) -> _Key:
    facts = stack_facts(stack)
    owner = owning_key(value)
    if owner is not None:
        _check_key_construct(owner, stack)
        return _Key(arn=owner.key_arn, call_region=None, owner=owner)
    if isinstance(value, str):
        arn = value
    elif hasattr(value, "key_arn") and not hasattr(value, "alias_name"):
        arn = value.key_arn  # an imported aws_kms.IKey (or an aws_kms.Key of its own)
    else:
        raise ConstructPropError(
            "key",
            "must be a CustomerManagedKey or ReplicaKey (or its .key), an aws_kms.IKey or a key "
            "ARN; CreateGrant takes no alias",
            shown(value),
        )
    if is_token(arn):
        if not isinstance(value, str):
            # An aws_kms.Key made in the App: its ARN is known at deploy time only, and so is
            # the Region to call; CreateGrant runs in this stack's, so the key must be there.
            _check_same_environment(facts, value)
        return _Key(arn=arn, call_region=None, owner=None)
    require(
        "alias/" not in arn,
        "key",
        "must name a key, not an alias: CreateGrant takes a key ID or key ARN only, and for a "
        "key of another account only its key ARN",
        arn,
    )
    match = KEY_ARN.match(arn)
    require(
        match is not None,
        "key",
        "must be a key ARN (arn:aws:kms:<region>:<account>:key/<key ID>): CreateGrant needs "
        "the key ARN for a key of another account, and the provider's policy names it",
        arn,
    )
    assert match is not None
    region = match.group(1)
    return _Key(
        arn=arn,
        call_region=None if region == facts.region else region,
        owner=None,
    )


def _check_same_environment(mine: StackFacts, key: Construct) -> None:
    """A key construct (the toolkit's or an ``aws_kms.Key``) in this account and Region."""
    require_key_environment(
        "key",
        mine,
        key,
        must_be="a key construct of",
        why="; give a key elsewhere by its key ARN, and allow this account in its key policy",
    )


def _check_key_construct(owner: CustomerManagedKey | ReplicaKey, stack: Stack) -> None:
    """A key construct in this account and Region; of this stack, where its policy is custom."""
    _check_same_environment(stack_facts(stack), owner)
    if not owner.policy.delegates_to_iam and stack_of(owner) is not stack:
        raise ConstructPropError(
            "key",
            f"must be in this construct's stack ({stack.node.path}) when it has a custom key "
            "policy: the key policy would name the provider's role of this stack, and this stack "
            "names the key, so each stack would depend on the other. Make the KeyGrant in the "
            "key's stack, or give the key by ARN and allow the role in its policy",
            owner.node.path,
        )


def _principal_arn(prop: str, value: Any) -> str:
    """The ARN of an IAM principal (CreateGrant's GranteePrincipal / RetiringPrincipal)."""
    if isinstance(value, str):
        arn = value
    elif hasattr(value, "policy_fragment"):  # jsii interfaces are not runtime-checkable
        if isinstance(value, iam.StarPrincipal | iam.AnyPrincipal):
            raise ConstructPropError(prop, WILDCARD_PRINCIPAL, "*")
        named = value.policy_fragment.principal_json
        arns = list(named.get("AWS", [])) if set(named) == {"AWS"} else []
        if len(arns) != 1:
            raise ConstructPropError(
                prop,
                "must be an IAM principal with one ARN (a role, a user, an account root); KMS "
                "takes a service principal only with a SourceArn constraint, which KeyGrant "
                "does not make",
                getattr(value, "service", None) or shown(value),
            )
        arn = arns[0]
        conditions = value.policy_fragment.conditions
        if conditions and arn != "*":  # ("*": refused below)
            raise ConstructPropError(
                prop,
                "must be a principal without conditions: a grant holds none, so KeyGrant "
                "would give the grant to the principal unconditionally (limit its use with "
                "encryption_context_equals or encryption_context_subset)",
                dict(conditions),
            )
    else:
        raise ConstructPropError(
            prop, "must be an IAM principal ARN or an aws_iam.IPrincipal", shown(value)
        )
    if not isinstance(arn, str) or is_token(arn):
        return str(arn)
    require(arn != "*", prop, WILDCARD_PRINCIPAL, arn)
    require(not has_wildcard(arn), prop, WILDCARD_IN_ARN, arn)
    require(not is_group_arn(arn), prop, GROUP_PRINCIPAL, arn)
    require(
        bool(PRINCIPAL_ARN.match(arn)) and len(arn) <= MAX_PRINCIPAL_LENGTH,
        prop,
        "must be the ARN of an IAM principal (arn:aws:iam::<account>:role/..., user/..., root, "
        f"or arn:aws:sts::<account>:assumed-role/...), at most {MAX_PRINCIPAL_LENGTH} characters",
        arn,
    )
    return arn


def _operations(value: Any, owner: CustomerManagedKey | ReplicaKey | None) -> tuple[str, ...]:
    ops = check_sequence("operations", value, "KMS grant operations")
    require(bool(ops), "operations", "must name at least one grant operation", list(ops))
    for op in ops:
        if isinstance(op, str) and op in actions.GRANT_OPERATIONS:
            continue
        meant = _closest_operation(op) if isinstance(op, str) else None
        raise ConstructPropError(
            "operations",
            "must hold KMS grant operations as CreateGrant names them ("
            + (f"did you mean '{meant}'?" if meant else ", ".join(actions.GRANT_OPERATIONS))
            + ")",
            op,
        )
    check_unique("operations", ops)
    if owner is not None:
        usage, spec = owner.key_usage, owner.key_spec
        refused = [
            action.removeprefix("kms:")
            for action in actions.unusable(tuple(f"kms:{op}" for op in ops), usage, spec)
        ] + [op for op in ops if op in actions.KEY_ENCAPSULATION_OPERATIONS]
        if refused:  # the message reads the construct path, a round trip
            raise ConstructPropError(
                "operations",
                f"must be usable on {owner.node.path} (key_spec {spec}, key_usage {usage}): KMS "
                f"refuses a grant of {', '.join(refused)} on it",
                list(ops),
            )
    return tuple(ops)


def _closest_operation(value: str) -> str | None:
    lowered = {op.lower(): op for op in actions.GRANT_OPERATIONS}
    match = get_close_matches(value.removeprefix("kms:").lower(), list(lowered), n=1, cutoff=0.8)
    return lowered[match[0]] if match else None


def _constraints(equals: Any, subset: Any, target: _Key) -> dict[str, dict[str, str]]:
    require(
        equals is None or subset is None,
        "encryption_context_subset",
        "must not be given together with 'encryption_context_equals': a grant takes one "
        "encryption context constraint",
        subset,
    )
    prop, context = (
        ("encryption_context_equals", equals)
        if equals is not None
        else ("encryption_context_subset", subset)
    )
    if context is None:
        return {}
    require(
        isinstance(context, Mapping) and bool(context),
        prop,
        "must map encryption context keys to values (at least one pair; KMS reads an empty "
        "map as no constraint)",
        context,
    )
    require(
        len(context) <= MAX_CONTEXT_PAIRS,
        prop,
        f"must hold at most {MAX_CONTEXT_PAIRS} pairs (KMS's limit per grant constraint)",
        dict(context),
    )
    for key, value in context.items():
        require(
            isinstance(key, str) and bool(key) and isinstance(value, str) and bool(value),
            prop,
            "must map non-empty strings to non-empty strings",
            {key: value},
        )
        require(
            len(value) <= MAX_CONTEXT_VALUE_LENGTH or is_token(value),
            prop,
            f"values must be at most {MAX_CONTEXT_VALUE_LENGTH} characters",
            {key: value},
        )
    owner = target.owner
    if owner is not None and owner.key_spec != "SYMMETRIC_DEFAULT":
        raise ConstructPropError(
            prop,
            f"needs a symmetric encryption key: {owner.node.path} has key_spec {owner.key_spec}, "
            "whose operations take no encryption context, so the constraint would limit nothing",
            dict(context),
        )
    name = "EncryptionContextEquals" if equals is not None else "EncryptionContextSubset"
    return {name: dict(context)}
