"""IAM roles whose grants land in a customer managed policy.

CDK's ``grant*`` methods add statements to a role's inline ``DefaultPolicy``; the NIST 800-53 R5,
HIPAA and PCI DSS packs refuse inline policies (``IAMNoInlinePolicy``). :class:`ManagedPolicyRole`
keeps every CDK grant working unchanged but collects the statements in one
``AWS::IAM::ManagedPolicy`` attached to the role, so no acknowledgment is needed.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import aws_iam as iam
from constructs import Construct


class ManagedPolicyRole(iam.Role):
    """An ``iam.Role`` whose principal-policy statements go to a customer managed policy.

    Takes exactly the keyword arguments of ``iam.Role``. The policy (``.grants_policy``) is made
    on the first grant and attached to the role.
    """

    def __init__(self, scope: Construct, id: str, **kwargs: Any) -> None:
        super().__init__(scope, id, **kwargs)
        self.grants_policy: iam.ManagedPolicy | None = None

    def add_to_principal_policy(
        self, statement: iam.PolicyStatement
    ) -> iam.AddToPrincipalPolicyResult:
        if self.grants_policy is None:
            self.grants_policy = iam.ManagedPolicy(
                self,
                "GrantsPolicy",
                description=f"Grants of {self.node.path}",
                roles=[self],
            )
        self.grants_policy.add_statements(statement)
        return iam.AddToPrincipalPolicyResult(
            statement_added=True, policy_dependable=self.grants_policy
        )
