"""Physical names that must be unique in an account and Region (key aliases, trail names, the
snapshot event buses), in an account whatever the Region (IAM role names,
``account_wide=True``), or in the App (KeyGrant's CreateGrant requests, ``app_wide=True``),
taken at construct time so that a repeat fails there, naming the construct that holds the name,
rather than at deploy time.

Stacks of one App in the same concrete environment (account, for an account-wide name) share one
register; a stack whose account or Region (account, for an account-wide name) is a token has its
own, as does a name that is itself a token (``alias/${AWS::StackName}`` reads the same in every
stack and differs at deploy time). An App-wide name's register is the App's, whatever the
stacks' environments. Each stack finds its register once (reading the App is a jsii round
trip).
"""

from __future__ import annotations

import weakref
from typing import Any

from aws_cdk import Stack
from constructs import Construct

from constructs_lib._validation import is_token
from constructs_lib.key_policy import StackFacts

# kind -> name -> the construct that holds it (its path is read only for an error message)
Register = dict[str, dict[str, Construct]]

_by_stack: weakref.WeakKeyDictionary[Stack, Register] = weakref.WeakKeyDictionary()
_account_wide_by_stack: weakref.WeakKeyDictionary[Stack, Register] = weakref.WeakKeyDictionary()
_app_wide_by_stack: weakref.WeakKeyDictionary[Stack, Register] = weakref.WeakKeyDictionary()
_token_names_by_stack: weakref.WeakKeyDictionary[Stack, Register] = weakref.WeakKeyDictionary()
_by_app: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], Register]] = (
    weakref.WeakKeyDictionary()
)
_app_wide_by_app: weakref.WeakKeyDictionary[Any, Register] = weakref.WeakKeyDictionary()


def reserve(
    stack: Stack,
    facts: StackFacts,
    kind: str,
    name: str,
    holder: Construct,
    *,
    account_wide: bool = False,
    app_wide: bool = False,
) -> tuple[str | None, str]:
    """Take ``name`` of ``kind`` for ``holder``, unique in the account and Region, in the
    account if ``account_wide`` (default False), or in the App if ``app_wide`` (default False).

    Returns the path of the construct that already holds it (None when it was free, and is now
    ``holder``'s) and where the name must be unique (``account 111111111111 in eu-west-1``,
    ``account 111111111111``, ``the App`` or ``the stack``), for the caller's error message.
    """
    register, where = _register(stack, facts, name, account_wide, app_wide)
    names = register.setdefault(kind, {})
    other = names.get(name)
    if other is None:
        names[name] = holder
        return None, where
    return other.node.path, where


def release(stack: Stack, facts: StackFacts, kind: str, name: str, holder: Construct) -> None:
    """Give back ``name`` of ``kind`` if ``holder`` holds it (a construct refused after it
    reserved the name holds nothing)."""
    names = _register(stack, facts, name, False, False)[0].get(kind, {})
    if names.get(name) is holder:
        del names[name]


def _register(
    stack: Stack, facts: StackFacts, name: str, account_wide: bool, app_wide: bool
) -> tuple[Register, str]:
    """The register that holds ``name`` for ``stack``, and where the name must be unique."""
    # An account-wide register is keyed (account, ""): no Region is named "".
    region = "" if account_wide else facts.region
    concrete = not is_token(facts.account) and not is_token(region)
    if is_token(name):
        return _token_names_by_stack.setdefault(stack, {}), "the stack"
    if app_wide:
        in_app = _app_wide_by_stack.get(stack)
        if in_app is None:
            in_app = _app_wide_by_app.setdefault(stack.node.root, {})
            _app_wide_by_stack[stack] = in_app
        return in_app, "the App"
    by_stack = _account_wide_by_stack if account_wide else _by_stack
    found = by_stack.get(stack)
    if found is None:
        if concrete:
            by_env = _by_app.setdefault(stack.node.root, {})
            found = by_env.setdefault((facts.account, region), {})
        else:
            found = {}
        by_stack[stack] = found
    if not concrete:
        return found, "the stack"
    return found, f"account {facts.account}" + (f" in {region}" if region else "")
