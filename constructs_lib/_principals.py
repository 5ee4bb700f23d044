"""Principals made once per process.

These principals hold no state of their own (the account root resolves to the account of
whichever stack renders it), so every statement of every stack and App in one process can share
one object. Making a new one per statement is a jsii round-trip each time.
"""

from __future__ import annotations

from functools import cache

from aws_cdk import aws_iam as iam


@cache
def account_root() -> iam.AccountRootPrincipal:
    """The account root of the stack the statement is rendered in."""
    return iam.AccountRootPrincipal()


@cache
def anyone() -> iam.AnyPrincipal:
    """``"AWS": "*"``: only for Deny statements or with conditions."""
    return iam.AnyPrincipal()


@cache
def service(name: str) -> iam.ServicePrincipal:
    """The service principal ``name`` (e.g. ``cloudtrail.amazonaws.com``), without conditions."""
    return iam.ServicePrincipal(name)
