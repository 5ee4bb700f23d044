"""IAM roles whose grants land in customer managed policies.

CDK's ``grant*`` methods add statements to a role's inline ``DefaultPolicy``; the NIST 800-53 R5,
HIPAA and PCI DSS packs refuse inline policies (``IAMNoInlinePolicy``). :class:`ManagedPolicyRole`
keeps every CDK grant working unchanged but collects the statements in ``AWS::IAM::ManagedPolicy``
resources attached to the role, so no acknowledgment is needed.

IAM caps a managed policy at 6,144 characters, and CDK's overflow splitting only applies to the
inline default policy. So the role starts a further managed policy whenever the next statement
would not fit in the ones it has, sized as CDK sizes statements for its own ``OverflowPolicyN``:
literal strings at their length, a deploy-time value (a token such as ``arn:${AWS::Partition}:...``)
at 150 characters or the ``@aws-cdk/aws-iam.arnSizeEstimate`` context value. With
``@aws-cdk/aws-iam:minimizePolicies`` on (as in cdk.json), CDK merges statements that differ only
in their resources, so such a statement costs only its new resources. The CDK Pipelines role that
assumes the deploy role of 150 environments needs about 23,000 characters that way: four or five
policies, where one would fail at deploy time. :func:`split_statements` packs policy statements
written as plain JSON the same way (the snapshot replication functions' policies).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jsii
from aws_cdk import Annotations, AspectPriority, Aspects, FeatureFlags, IAspect, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct, DependencyGroup, IConstruct, IValidation

from constructs_lib._validation import ConstructPropError, as_list, is_token, require

# IAM's quota is 6,144 characters (whitespace not counted); CDK splits at 6,000 to leave room for
# the policy's own envelope ({"Version": ..., "Statement": [...]}).
MAX_POLICY_SIZE = 6_000
# Managed policies attached to one role: 10 by default, 20 with a quota increase (IAM's maximum).
DEFAULT_MANAGED_POLICIES_PER_ROLE = 10
MAX_MANAGED_POLICIES_PER_ROLE = 20
ARN_SIZE_ESTIMATE_CONTEXT_KEY = "@aws-cdk/aws-iam.arnSizeEstimate"
MINIMIZE_POLICIES_FLAG = "@aws-cdk/aws-iam:minimizePolicies"
DEFAULT_ARN_SIZE_ESTIMATE = 150
ACTION_SIZE_ESTIMATE = 20


@dataclass
class _PolicyBudget:
    """What one grants policy holds, estimated: its size, and the resources of each group of
    statements CDK will merge into one (same effect, actions and conditions, no Sid)."""

    size: int = 0
    merge_groups: dict[str, set[str]] = field(default_factory=dict)

    def cost(self, parts: _StatementParts) -> int:
        """Characters the statement of ``parts`` would add to this policy."""
        if parts.merge_key is not None and parts.merge_key in self.merge_groups:
            known = self.merge_groups[parts.merge_key]
            return sum(size for resource, size in parts.resources.items() if resource not in known)
        resources = parts.resources
        return parts.base + (len("Resource") + 5 + sum(resources.values()) if resources else 0)

    def fits(self, parts: _StatementParts) -> bool:
        return self.size + self.cost(parts) <= MAX_POLICY_SIZE

    def add(self, parts: _StatementParts) -> None:
        self.size += self.cost(parts)
        if parts.merge_key is not None:
            self.merge_groups.setdefault(parts.merge_key, set()).update(parts.resources)


def _first_fit(budgets: list[_PolicyBudget], parts: _StatementParts) -> int | None:
    return next((i for i, budget in enumerate(budgets) if budget.fits(parts)), None)


@dataclass(frozen=True)
class _Sizing:
    arn_estimate: int
    merges: bool  # @aws-cdk/aws-iam:minimizePolicies


class _StatementParts(NamedTuple):
    merge_key: str | None
    base: int  # everything but Resource
    resources: dict[str, int]


def _statement_parts(statement: Mapping[str, Any], sizing: _Sizing) -> _StatementParts:
    """``(merge key, size without Resource, {resource: size})`` of ``statement`` as
    ``PolicyStatement.to_statement_json()`` renders it, sized as aws-cdk-lib's
    ``PolicyStatement._estimateSize`` does, plus what IAM counts and that estimate leaves out:
    the Sid, the ``"Condition"`` key and the statement's braces and comma. The merge key
    is ``None`` for a statement CDK never merges (one with a Sid or a NotResource, or any
    without minimizePolicies)."""
    arn_estimate = sizing.arn_estimate
    # CDK's estimate leaves out the braces and comma of each statement, its Sid and the
    # "Condition" key, about 30 characters of a named statement with conditions: the replication
    # functions' policies hold about 20 such statements, more than CDK's 144-character margin.
    size = len("{},") + len(f'"Effect": "{statement.get("Effect", "Allow")}",')
    if statement.get("Sid"):
        size += len(f'"Sid": "{statement["Sid"]}",')
    if statement.get("Condition"):
        size += len('"Condition":,')
    for key, token_estimate in (
        ("Action", ACTION_SIZE_ESTIMATE),
        ("NotAction", ACTION_SIZE_ESTIMATE),
        ("NotResource", arn_estimate),
    ):
        values = as_list(statement.get(key))
        if values:
            size += len(key) + 5 + sum(_value_size(v, token_estimate) for v in values)
    for principal_key in ("Principal", "NotPrincipal"):
        principals = statement.get(principal_key) or {}
        if isinstance(principals, Mapping):
            size += arn_estimate * sum(len(as_list(v)) for v in principals.values())
        else:  # "*"
            size += arn_estimate
    size += len(json.dumps(statement.get("Condition") or {}, separators=(",", ":")))
    resources = {str(v): _value_size(v, arn_estimate) for v in as_list(statement.get("Resource"))}
    mergeable = sizing.merges and "Sid" not in statement and "NotResource" not in statement
    merge_key = (
        json.dumps(
            {
                name: sorted(map(str, as_list(value))) if name.endswith("Action") else value
                for name, value in statement.items()
                if name != "Resource"
            },
            sort_keys=True,
        )
        if mergeable
        else None
    )
    return _StatementParts(merge_key, size, resources)


def _value_size(value: Any, token_estimate: int) -> int:
    return (token_estimate if is_token(value) else len(str(value))) + 3


def split_statements(
    statements: Sequence[Mapping[str, Any]], *, arn_estimate: int = DEFAULT_ARN_SIZE_ESTIMATE
) -> list[list[dict[str, Any]]]:
    """Plain-JSON policy statements (``{"Sid": ..., "Action": ..., "Resource": ...}``) packed,
    in order and first fit, into as few managed policies of MAX_POLICY_SIZE characters as they
    need (sized as the module's docstring says; statements given here are never merged).

    A statement too large for a policy on its own is cut by its ``Resource`` list into several,
    each with the rest of the statement and its Sid numbered (``CopyRds``, ``CopyRds2``, ...).
    Small statements come back as one group, unchanged.
    """
    sizing = _Sizing(arn_estimate=arn_estimate, merges=False)
    budgets: list[_PolicyBudget] = []
    groups: list[list[dict[str, Any]]] = []
    for statement in statements:
        for piece, parts in _cut_to_fit(statement, sizing):
            index = _first_fit(budgets, parts)
            if index is None:
                budgets.append(_PolicyBudget())
                groups.append([])
                index = len(groups) - 1
            budgets[index].add(parts)
            groups[index].append(piece)
    return groups


def _cut_to_fit(
    statement: Mapping[str, Any], sizing: _Sizing
) -> list[tuple[dict[str, Any], _StatementParts]]:
    """``statement``, or its pieces if it does not fit one policy, each with its sizes."""
    parts = _statement_parts(statement, sizing)
    if _PolicyBudget().fits(parts):
        return [(dict(statement), parts)]
    room = MAX_POLICY_SIZE - parts.base - len("Resource") - 5
    chunks: list[list[str]] = [[]]
    used = 0
    for resource in as_list(statement.get("Resource")):
        size = _value_size(resource, sizing.arn_estimate)
        if chunks[-1] and used + size > room:
            chunks.append([])
            used = 0
        chunks[-1].append(resource)
        used += size
    sid = statement.get("Sid")
    pieces = [
        {
            **statement,
            **({"Sid": f"{sid}{number}" if number > 1 else sid} if sid else {}),
            "Resource": chunk,
        }
        for number, chunk in enumerate(chunks, start=1)
    ]
    return [(piece, _statement_parts(piece, sizing)) for piece in pieces]


class ManagedPolicyRole(iam.Role):
    """An ``iam.Role`` whose principal-policy statements go to customer managed policies.

    Takes exactly the keyword arguments of ``iam.Role``. Statements are collected as they are
    granted and placed at synth (or when :attr:`grants_policies` is read), all read from Node in
    one call rather than one per grant: into ``GrantsPolicy``, and when a statement would not fit
    in any policy made so far (6,000 estimated characters each), into another (``GrantsPolicy2``,
    ...), attached to the role like the first (the module's docstring says how statements are
    sized). What a grant returns to depend on covers every grants policy. IAM counts every
    managed policy attached to the role against its quota: the grants policies, those given
    as ``managed_policies`` or with :meth:`add_managed_policy` (each ARN once, as ``iam.Role``
    attaches it), and the managed policies of the role's stack that attach themselves to it
    (``iam.ManagedPolicy(roles=[role])``, ``policy.attach_to_role(role)``: counted at synth). More
    than 10 in all draw a warning (that needs an IAM quota increase); more than 20 raise
    :class:`~constructs_lib.ConstructPropError`, naming what added the one too many (grants are
    placed at synth, and policies attaching themselves are counted then: synth then fails with
    its message).

    Attributes:
        grants_policies: the managed policies, in the order they were made (empty without
            grants). Acknowledge cdk-nag findings on the role to cover all of them.
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self._policies: list[iam.ManagedPolicy] = []
        self._budgets: list[_PolicyBudget] = []
        self._pending: list[iam.PolicyStatement] = []
        self._policies_dependable = DependencyGroup()
        self._sizing: _Sizing | None = None
        self._placement_scheduled = False
        self._quota_warned = False
        # The ARNs of the managed policies attached as iam.Role renders them (once per ARN, a
        # policy given twice once): IAM counts them with the grants policies.
        self._attached_arns = list(
            dict.fromkeys(p.managed_policy_arn for p in kwargs.get("managed_policies") or ())
        )
        if self._attached_arns:
            self._check_attached_policies(f"{self.node.path} managed_policies")
        # Policies attached from their side (ManagedPolicy(roles=[role]), attach_to_role) tell
        # the role nothing: they are counted at synth.
        self._attaching_counted_by: str | None = None
        self.node.add_validation(_AttachedPoliciesValidation(self))

    def defer_attached_policy_count(self, counter: str) -> None:
        """Leave the count of the managed policies that attach themselves to the role to
        ``counter`` (a construct that makes them, counts them and refuses one too many itself,
        as KeyGrant does for its provider's role), so that the quota warning is not given twice.
        Policies given as ``managed_policies`` or with :meth:`add_managed_policy`, and grants
        policies, are still counted here."""
        self._attaching_counted_by = counter

    @property
    def grants_policies(self) -> list[iam.ManagedPolicy]:
        self._place_pending()
        return list(self._policies)

    @property
    def grants_policy(self) -> iam.ManagedPolicy | None:
        """The first of :attr:`grants_policies` (``None`` without grants)."""
        policies = self.grants_policies
        return policies[0] if policies else None

    def add_managed_policy(self, policy: iam.IManagedPolicy) -> None:
        arn = policy.managed_policy_arn
        if arn not in self._attached_arns:
            self._check_attached_policies(f"{self.node.path} add_managed_policy", given=1)
            self._attached_arns.append(arn)
        super().add_managed_policy(policy)

    def add_to_principal_policy(
        self, statement: iam.PolicyStatement
    ) -> iam.AddToPrincipalPolicyResult:
        if not self._placement_scheduled:
            Aspects.of(self).add(_PlacePendingGrants(self), priority=AspectPriority.MUTATING)
            self._placement_scheduled = True
        self._pending.append(statement)
        return iam.AddToPrincipalPolicyResult(
            statement_added=True, policy_dependable=self._policies_dependable
        )

    def _place_pending(self) -> None:
        """Each pending statement into the first grants policy it fits in, or a new one."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        rendered = iam.PolicyDocument(statements=pending).to_json()["Statement"]
        sizing = self._statement_sizing()
        placed: dict[int, list[iam.PolicyStatement]] = {}
        for statement, statement_json in zip(pending, rendered, strict=True):
            parts = _statement_parts(statement_json, sizing)
            index = _first_fit(self._budgets, parts)
            if index is None:
                index = self._add_grants_policy()
            self._budgets[index].add(parts)
            placed.setdefault(index, []).append(statement)
        for index, statements in placed.items():
            self._policies[index].add_statements(*statements)

    def _check_attached_policies(
        self, what: str, *, given: int = 0, grants: int = 0, attaching: int = 0
    ) -> None:
        """Refuse more than IAM's maximum of attached managed policies, counting ``given``
        more given policies and ``grants`` more grants policies (``what`` adds them), and
        ``attaching`` policies that attach themselves to the role, and warn once past its
        default quota."""
        given += len(self._attached_arns)
        grants += len(self._policies)
        total = given + grants + attaching
        counted = (
            f"{given} given with managed_policies or add_managed_policy, {grants} holding its "
            "grants"
        )
        if attaching:
            counted += (
                f", {attaching} attaching it themselves (ManagedPolicy(roles=...), attach_to_role)"
            )
        require(
            total <= MAX_MANAGED_POLICIES_PER_ROLE,
            what,
            f"must keep the role within IAM's maximum of {MAX_MANAGED_POLICIES_PER_ROLE} attached "
            f"managed policies per role ({counted}, of {MAX_POLICY_SIZE} characters "
            "each; split the grants or policies across roles)",
            f"{total} attached managed policies",
        )
        if total > DEFAULT_MANAGED_POLICIES_PER_ROLE and not self._quota_warned:
            self._quota_warned = True
            Annotations.of(self).add_warning_v2(
                "kmskit:managedPolicyRoleQuota",
                f"{self.node.path} needs more than {DEFAULT_MANAGED_POLICIES_PER_ROLE} attached "
                f"managed policies ({total}: {counted}): request an IAM quota "
                "increase (managed policies per role) first",
            )

    def _policies_attaching_themselves(self) -> int:
        """The managed policies of the role's stack, other than its grants policies, whose
        ``Roles`` name this role (``ManagedPolicy(roles=[role])``, ``attach_to_role``)."""
        stack = Stack.of(self)
        own = stack.resolve(self.role_name)
        grants = {policy.node.path for policy in self._policies}
        return sum(
            1
            for construct in stack.node.find_all()
            if isinstance(construct, iam.CfnManagedPolicy)
            and construct.node.scope is not None
            and construct.node.scope.node.path not in grants
            and own in (stack.resolve(construct.roles) or ())
        )

    def _add_grants_policy(self) -> int:
        count = len(self._policies) + 1
        self._check_attached_policies(f"{self.node.path} grants", grants=1)
        policy = iam.ManagedPolicy(
            self,
            "GrantsPolicy" if count == 1 else f"GrantsPolicy{count}",
            description=f"Grants of {self.node.path}" + ("" if count == 1 else f" (part {count})"),
            roles=[self],
        )
        self._policies.append(policy)
        self._policies_dependable.add(policy)
        self._budgets.append(_PolicyBudget())
        return count - 1

    def _statement_sizing(self) -> _Sizing:
        if self._sizing is None:
            configured = self.node.try_get_context(ARN_SIZE_ESTIMATE_CONTEXT_KEY)
            self._sizing = _Sizing(
                arn_estimate=(
                    configured if isinstance(configured, int) else DEFAULT_ARN_SIZE_ESTIMATE
                ),
                merges=FeatureFlags.of(self).is_enabled(MINIMIZE_POLICIES_FLAG) is True,
            )
        return self._sizing


@jsii.implements(IValidation)
class _AttachedPoliciesValidation:
    """At synth: the role's managed policies, with those attached from the policy side, within
    IAM's maximum (and a warning past its default quota)."""

    def __init__(self, role: ManagedPolicyRole) -> None:
        self._role = role

    def validate(self) -> list[str]:
        if self._role._attaching_counted_by is not None:
            return []
        attaching = self._role._policies_attaching_themselves()
        if not attaching:
            return []
        try:
            self._role._check_attached_policies(
                f"{self._role.node.path} managed policies", attaching=attaching
            )
        except ConstructPropError as error:
            return [str(error)]
        return []


@jsii.implements(IAspect)
class _PlacePendingGrants:
    """Before synth: the role's pending grants into its managed policies."""

    def __init__(self, role: ManagedPolicyRole) -> None:
        self._role = role

    def visit(self, node: IConstruct) -> None:
        if node is self._role:
            self._role._place_pending()
