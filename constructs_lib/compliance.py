"""cdk-nag v3 gates and acknowledgments.

cdk-nag v3 packs are CDK validation plugins: an error-level finding makes ``app.synth()`` raise
``ValidationFailed``. Register the packs once on the App with :func:`add_compliance_checks`.

A finding this toolkit cannot meet is acknowledged on the one construct it concerns, with a
specific reason, through :func:`acknowledge` (:func:`acknowledge_all` for several reasons on one
construct). Every acknowledgment also appears in ``docs/compliance.md``; a test reads the
synthesized metadata and fails on any that is missing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    App,
    IPolicyValidationContext,
    IPolicyValidationPlugin,
    PolicyValidationPluginReport,
    PolicyViolatingResource,
    PolicyViolation,
    Validations,
)
from cdk_nag import (
    AwsSolutionsChecks,
    HIPAASecurityChecks,
    NIST80053R5Checks,
    PCIDSS321Checks,
    ServerlessChecks,
)
from constructs import IConstruct

from constructs_lib._validation import require

NAG_PACKS = (
    AwsSolutionsChecks,
    NIST80053R5Checks,
    HIPAASecurityChecks,
    PCIDSS321Checks,
    ServerlessChecks,
)
"""The five packs every app built with the toolkit is held to."""

# A rule as a pack's report names it: ``<Pack>-<Rule>``, a finding's detail in brackets
# (``AwsSolutions-IAM5[Resource::*]``), optionally after the namespace aws-cdk-lib's report prints
# (``AwsSolutions::AwsSolutions-IAM5``, which must be the pack's own). Every cdk-nag 3 rule name
# is letters and digits.
_RULE_ID = re.compile(
    r"(?:(?P<namespace>[^\s:\[]+)::)?"
    r"(?P<rule>(?P<pack>AwsSolutions|NIST\.800\.53\.R5|HIPAA\.Security|PCI\.DSS\.321|Serverless"
    r"|KmsToolkit)-[A-Za-z0-9]+)(?P<finding>\[\S(?:.*\S)?\])?"
)
_RULE_ID_SHAPE = (
    "must name cdk-nag rules as the validation report does: '<pack>-<rule>' or "
    "'<pack>-<rule>[<finding>]', optionally after '<pack>::', with <pack> one of "
    "AwsSolutions, NIST.800.53.R5, HIPAA.Security, PCI.DSS.321, Serverless or KmsToolkit and "
    "<rule> letters and digits"
)
MIN_REASON_LENGTH = 40
# Reasons that say nothing about the construct they excuse.
_VAGUE_REASONS = {"n/a", "not needed", "false positive", "suppressed", "ok", "by design"}


UNCHECKED_PLUGIN = "KmsToolkit"
UNCHECKED_RULE = "KmsToolkit-NotCheckedByCdkNag"
"""The rule :class:`UncheckedResources` reports (a warning), bare or with a resource in brackets."""
_UNCHECKED_RULES = (UNCHECKED_RULE,)

# Template resources cdk-nag has nothing to check on: the custom resources themselves (their
# properties go to a Lambda function), CDK's version metadata.
_NOTHING_TO_CHECK = ("Custom::", "AWS::CloudFormation::CustomResource", "AWS::CDK::Metadata")
# Types that carry permissions and that no rule of cdk-nag 3.0.2 inspects, even as a typed L1
# (its IAM rules read iam.CfnRole, CfnUser, CfnGroup, CfnPolicy and CfnManagedPolicy only).
NO_RULE_INSPECTS = (
    "AWS::IAM::RolePolicy",
    "AWS::IAM::UserPolicy",
    "AWS::IAM::GroupPolicy",
    "AWS::SSO::PermissionSet",
)
# The construct a nested stack's resources are under in the tree (a Python subclass reports it).
_NESTED_STACK_FQN = "aws-cdk-lib.NestedStack"


@jsii.implements(IPolicyValidationPlugin)
class UncheckedResources:
    """A validation plugin that names the resources the cdk-nag packs cannot have checked.

    What it names: every resource of a stack's (or nested stack's) template that no typed L1
    made (other than the ``Custom::...`` resources themselves and ``AWS::CDK::Metadata``), and
    every resource of a type in :data:`NO_RULE_INSPECTS` (``AWS::IAM::RolePolicy``,
    ``UserPolicy``, ``GroupPolicy``: inline policies no rule of cdk-nag 3.0.2 reads, typed or
    not). What it does not: a typed L1 that a pack's rules skip for its type but that grants
    nothing is not named, nor is a typed resource the rules read only in part (each rule checks
    what it checks).

    cdk-nag's rules test each construct against its typed L1 class (``iam.CfnRole``,
    ``lambda_.CfnFunction`` ...). aws-cdk-lib writes some resources as plain ``CfnResource``
    instead, which no rule of any pack inspects: the IAM role and Lambda function of each custom
    resource provider of aws-cdk-lib's core (``Custom::CrossRegionExportWriter`` and
    ``Custom::CrossRegionExportReader`` for strong cross-Region references,
    ``Custom::S3AutoDeleteObjects`` for ``auto_delete_objects=True`` ...), whose roles carry
    ``AWSLambdaBasicExecutionRole`` and, for the cross-Region ones, an inline SSM policy; and the
    role a weak cross-account reference reads the producer's outputs with. This plugin reads the
    cloud assembly after synthesis: a resource of a stack's template (or of a nested stack's
    template, found through its parent's ``AWS::CloudFormation::Stack``) that the construct tree
    (``tree.json``) does not record as a typed L1 is reported at warning level (synth goes on;
    the report and the validation report file name it), each resource under a rule of its own,
    ``KmsToolkit-NotCheckedByCdkNag[<type>::<logical ID>]`` (:func:`unchecked_rule`). Review such
    a resource yourself, then acknowledge that rule on its stack (or the construct that made it)
    with :func:`acknowledge`, as a finding of the packs is: aws-cdk-lib matches a rule ID exactly,
    so the acknowledgment covers that one resource and a resource added later is reported again.

    An App synthesized without tree metadata (``App(tree_metadata=False)``) cannot be checked:
    the plugin then reports that on each stack as the bare ``KmsToolkit-NotCheckedByCdkNag``
    (the only finding the bare rule acknowledges).
    """

    @property
    def name(self) -> str:
        return UNCHECKED_PLUGIN

    @property
    def rule_ids(self) -> list[str]:
        return list(_UNCHECKED_RULES)

    @property
    def version(self) -> str:
        return "1.0.0"

    def validate(self, context: IPolicyValidationContext) -> PolicyValidationPluginReport:
        # template_paths is one jsii round trip; stack_templates costs several per stack (0.6 s
        # at 500 stacks), so each template's stack is read from its assembly's manifest.
        # template_paths names top-level templates only: a nested stack's template is found
        # through the AWS::CloudFormation::Stack resource of its parent (_nested_templates).
        template_paths = [Path(path) for path in context.template_paths]
        stack_of = _stacks_of_templates(template_paths)
        typed = _typed_logical_ids(_tree_file(template_paths), sorted(set(stack_of.values())))
        if typed is None:
            untreed = [
                PolicyViolatingResource(
                    locations=["tree.json"],
                    template_path=str(path),
                    construct_path=stack_of.get(path),
                )
                for path in template_paths
            ]
            violations = (
                [_unchecked_violation(UNCHECKED_RULE, _NO_TREE, untreed)] if untreed else []
            )
            return PolicyValidationPluginReport(success=True, violations=violations)
        # One finding per resource, the resource in brackets, so that acknowledging one resource
        # (aws-cdk-lib matches a rule ID exactly) leaves any other, added later, reported.
        unchecked: dict[tuple[str, str], list[PolicyViolatingResource]] = {}
        for top_template in template_paths:
            # A template no manifest names has no typed L1 known: all its resources are named.
            pending = [(top_template, stack_of.get(top_template, ""))]
            while pending:
                template_path, stack_path = pending.pop()
                known = typed.get(stack_path, {})
                resources = json.loads(template_path.read_text(encoding="utf-8")).get(
                    "Resources", {}
                )
                nested = _nested_templates(template_path.parent, resources, known)
                for logical_id, resource in resources.items():
                    kind = str(resource.get("Type", ""))
                    if logical_id in nested:
                        pending.append(nested[logical_id])
                        continue
                    if kind == "AWS::CloudFormation::Stack":
                        # A stack whose template is not read here (a CfnStack of an outside
                        # template): what it deploys, no pack sees.
                        unchecked.setdefault((unchecked_rule(kind, logical_id), kind), []).append(
                            PolicyViolatingResource(
                                locations=["TemplateURL"],
                                resource_logical_id=logical_id,
                                template_path=str(template_path),
                            )
                        )
                        continue
                    if kind not in NO_RULE_INSPECTS and (
                        logical_id in known or kind.startswith(_NOTHING_TO_CHECK)
                    ):
                        continue
                    unchecked.setdefault((unchecked_rule(kind, logical_id), kind), []).append(
                        PolicyViolatingResource(
                            locations=[f"Type: {kind}"],
                            resource_logical_id=logical_id,
                            template_path=str(template_path),
                        )
                    )
        violations = [
            _unchecked_violation(rule, _DESCRIPTIONS.get(kind, _NOT_TYPED), resources)
            for (rule, kind), resources in sorted(unchecked.items())
        ]
        return PolicyValidationPluginReport(success=True, violations=violations)


_NOT_TYPED = (
    "No cdk-nag pack checked this resource: it is a plain CfnResource (such as the IAM role and "
    "Lambda function of an aws-cdk-lib custom resource provider), not a typed L1, and cdk-nag's "
    "rules inspect typed L1s only."
)
_NO_RULE = (
    "No cdk-nag rule inspects this type of resource, typed L1 or not, and it grants permissions "
    "(an inline policy of a role, user or group, or an IAM Identity Center permission set): its "
    "actions and resources go unchecked."
)
_NESTED_NOT_READ = (
    "No cdk-nag pack checked what this stack deploys: its template is not part of this App's "
    "cloud assembly (a CfnStack of an outside template), so neither the packs nor this check "
    "read its resources."
)
_NO_TREE = (
    "The App has no tree metadata (tree.json), so the resources no cdk-nag pack checked cannot "
    "be told apart: synthesize with tree metadata."
)


_DESCRIPTIONS = {
    **dict.fromkeys(NO_RULE_INSPECTS, _NO_RULE),
    "AWS::CloudFormation::Stack": _NESTED_NOT_READ,
}


def unchecked_rule(resource_type: str, logical_id: str) -> str:
    """The rule :class:`UncheckedResources` reports one resource under,
    ``KmsToolkit-NotCheckedByCdkNag[<type>::<logical ID>]``: it acknowledges that resource only."""
    return f"{UNCHECKED_RULE}[{resource_type}::{logical_id}]"


def _unchecked_violation(
    rule: str, description: str, resources: list[PolicyViolatingResource]
) -> PolicyViolation:
    return PolicyViolation(
        rule_name=rule,
        severity="warning",
        description=description,
        fix=(
            "Review it by hand (docs/compliance.md, 'What cdk-nag does not see'), then "
            f"acknowledge {rule} on it or its stack with a reason."
        ),
        violating_resources=resources,
    )


def _tree_file(template_paths: Iterable[Path]) -> Path | None:
    """The construct tree's file (``tree.json``) that the manifest of this synth's cloud
    assembly names (its ``cdk:tree`` artifact), found above the templates (a nested stage's
    assembly is a folder of the App's); None if no manifest names one. A tree file another
    synth left in the folder (``App(tree_metadata=False)`` writes none) is not trusted."""
    for template_path in template_paths:
        for folder in template_path.parents:
            artifacts = _artifacts(folder)
            if artifacts is None:
                break
            for artifact in artifacts:
                tree = artifact.get("properties", {}).get("file")
                if artifact.get("type") == "cdk:tree" and isinstance(tree, str):
                    return folder / tree
    return None


def _artifacts(folder: Path) -> list[dict[str, Any]] | None:
    """The artifacts the cloud assembly manifest in ``folder`` lists; None without one."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    artifacts = manifest.get("artifacts", {}) if isinstance(manifest, dict) else {}
    return [a for a in artifacts.values() if isinstance(a, dict)]


def _stacks_of_templates(template_paths: list[Path]) -> dict[Path, str]:
    """The construct path of each template's stack, from the manifest of its cloud assembly
    (a nested stage's templates are in an assembly of their own)."""
    stacks: dict[Path, str] = {}
    for folder in {path.parent for path in template_paths}:
        for artifact in _artifacts(folder) or []:
            template = artifact.get("properties", {}).get("templateFile")
            if artifact.get("type") == "aws:cloudformation:stack" and template:
                stacks[folder / template] = str(artifact.get("displayName", ""))
    return stacks


def _tree_roots(tree: Any) -> list[dict[str, Any]]:
    """The top nodes of one tree file: ``tree.json``'s ``tree``, or a split tree's ``forest``
    of subtrees (aws-cdk-lib splits a tree of more than 500,000 nodes)."""
    if not isinstance(tree, dict):
        return []
    roots = [tree["tree"]] if isinstance(tree.get("tree"), dict) else []
    forest = tree.get("forest")
    if isinstance(forest, dict):
        roots.extend(node for node in forest.values() if isinstance(node, dict))
    return roots


def _typed_logical_ids(
    tree_file: Path | None, stack_paths: list[str]
) -> dict[str, dict[str, str]] | None:
    """The construct path of every typed L1 resource by its logical ID, keyed by the construct
    path of its stack (a nested stack is a stack of its own); None without tree metadata.

    A tree of more than 500,000 nodes is split: a node then names the forest file (``fileName``)
    that holds its subtree, which is read in turn."""
    if tree_file is None:
        return None
    stacks = set(stack_paths)
    # The innermost stack holds a node: a nested stack's path extends its parent's. The nested
    # stacks found on the way are added (a forest file holds subtrees of the files read before).
    known_stacks = list(stack_paths)
    typed: dict[str, dict[str, str]] = {}
    files, read = [tree_file.name], set()
    while files:
        name = files.pop()
        if name in read:
            continue
        read.add(name)
        tree = json.loads((tree_file.parent / name).read_text(encoding="utf-8"))
        for root in _tree_roots(tree):
            # Only a subtree's top node needs its stack looked up by path; below it, the stack
            # is carried down (a lookup per node costs a second at 500 stacks).
            top = str(root.get("path", ""))
            holder = max(
                (s for s in known_stacks if top.startswith(f"{s}/")), key=len, default=None
            )
            pending = [(root, holder)]
            while pending:
                node, stack = pending.pop()
                path = node.get("path")
                info = node.get("constructInfo")
                if path in stacks or (
                    isinstance(info, dict) and info.get("fqn") == _NESTED_STACK_FQN
                ):
                    stack = str(path)
                    if stack not in stacks:
                        known_stacks.append(stack)
                attributes = node.get("attributes")
                logical_id = (
                    attributes.get("aws:cdk:cloudformation:logicalId")
                    if isinstance(attributes, dict)
                    else None
                )
                if stack is not None and isinstance(logical_id, str):
                    typed.setdefault(stack, {})[logical_id] = str(path)
                if isinstance(node.get("fileName"), str):
                    files.append(node["fileName"])
                children = node.get("children")
                if isinstance(children, dict):
                    pending.extend((child, stack) for child in children.values())
    return typed


def _nested_templates(
    folder: Path, resources: dict[str, Any], typed: dict[str, str]
) -> dict[str, tuple[Path, str]]:
    """The template file and construct path of each nested stack that ``resources`` (one
    template's) deploy, by the logical ID of its ``AWS::CloudFormation::Stack`` resource.

    aws-cdk-lib writes a ``NestedStack`` ``<scope>/<id>`` as the resource
    ``<scope>/<id>.NestedStack/<id>.NestedStackResource`` of the parent, and its template as
    ``<Names.uniqueId(nested stack)>.nested.template.json`` in the parent's assembly folder,
    whatever the synthesizer. Found by that name, not by the asset hash in ``TemplateURL``:
    nested stacks with identical templates share one hash, and one acknowledgment would then
    cover them all. A stack resource whose template is not found here is reported by the
    caller, as not read."""
    nested: dict[str, tuple[Path, str]] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::CloudFormation::Stack" or logical_id not in typed:
            continue
        scope, _, resource_id = typed[logical_id].rpartition("/")
        parent, _, holder = scope.rpartition("/")
        stack_id = resource_id.removesuffix(".NestedStackResource")
        if holder != f"{stack_id}.NestedStack" or not parent:
            continue
        path = f"{parent}/{stack_id}"
        template = folder / f"{_unique_id(path.split('/'))}.nested.template.json"
        if template.is_file():
            nested[logical_id] = (template, path)
    return nested


def _unique_id(components: list[str]) -> str:
    """aws-cdk-lib's ``Names.uniqueId`` of the construct at ``components`` (its path below the
    App): the human-readable path, without ``Default`` and ``Resource`` parts and repeats,
    and an 8-character MD5 of the path (core/lib/private/uniqueid.ts, ``makeUniqueId``)."""
    components = [c for c in components if c != "Default"]
    if len(components) == 1 and len(alphanumeric := _non_alphanumeric(components[0])) <= 255:
        return alphanumeric
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False)
    human: list[str] = []
    for component in components:
        if not human or not human[-1].endswith(component):
            human.append(component)
    readable = "".join(_non_alphanumeric(c) for c in human if c != "Resource")
    return readable[:240] + digest.hexdigest()[:8].upper()


def _non_alphanumeric(text: str) -> str:
    """``text`` without its characters other than ASCII letters and digits."""
    return re.sub(r"[^A-Za-z0-9]", "", text)


def add_compliance_checks(app: App) -> None:
    """Run all five cdk-nag packs when ``app`` synthesizes, and :class:`UncheckedResources`,
    which names the plain resources no pack's rule reads and the inline IAM policies no rule
    inspects. Call once per App."""
    Validations.of(app).add_plugins(*(pack() for pack in NAG_PACKS), UncheckedResources())


def acknowledge(construct: IConstruct, rule_ids: str | Iterable[str], reason: str) -> None:
    """Acknowledge cdk-nag findings on one construct.

    ``rule_ids`` is one rule as the report names it (``AwsSolutions-IAM5[Resource::*]``,
    ``NIST.800.53.R5-IAMNoInlinePolicy``), or several that share ``reason`` (recorded in one
    call). ``reason`` must say why this construct cannot comply: at least 40 characters.
    (This toolkit's own acknowledgments also appear, with the same text, next to each rule in
    its ``docs/compliance.md``, which its tests check; nothing here reads that file.)

    Rules are checked by shape only (cdk-nag publishes no list of its rule names): a misspelt
    rule name of the right shape (``NIST.800.53.R5-IAMNoInlinePolicyy``) is recorded and
    acknowledges nothing, so the finding it meant still fails synth.
    A rule of :class:`UncheckedResources` (``KmsToolkit-NotCheckedByCdkNag[AWS::IAM::Role::<id>]``,
    one per resource) is recorded after its namespace (``KmsToolkit::KmsToolkit-...``), the form
    aws-cdk-lib matches that plugin's findings against.
    """
    acknowledge_all(construct, [(rule_ids, reason)])


def _rule_id(rule: object) -> str:
    """``rule`` as recorded, refused (naming ``rule_ids`` and ``rule``) unless it has the shape
    of a rule ID of the five packs or is a rule of :class:`UncheckedResources`."""
    match = _RULE_ID.fullmatch(rule) if isinstance(rule, str) else None
    require(
        match is not None and match["namespace"] in (None, match["pack"]),
        "rule_ids",
        _RULE_ID_SHAPE,
        rule,
    )
    assert match is not None  # for mypy: require raised otherwise
    if match["pack"] != UNCHECKED_PLUGIN:
        return str(rule)
    require(
        match["rule"] in _UNCHECKED_RULES,
        "rule_ids",
        f"must name a rule of the {UNCHECKED_PLUGIN} plugin as its report does: one of "
        f"{list(_UNCHECKED_RULES)}, bare or with the resource in brackets "
        f"('{UNCHECKED_RULE}[<type>::<logical ID>]')",
        rule,
    )
    return str(rule) if match["namespace"] else f"{UNCHECKED_PLUGIN}::{rule}"


def acknowledge_all(
    construct: IConstruct, findings: Iterable[tuple[str | Iterable[str], str]]
) -> None:
    """Acknowledge several groups of findings on one construct, each ``(rule_ids, reason)`` pair
    checked as :func:`acknowledge` checks it, all recorded in one call to the CDK."""
    # Plain values only: a construct may reach Python as a jsii interface proxy (``function.role``
    # is an ``IRole``) whose class has no ``node`` attribute, and reading one is a round trip.
    require(
        construct is not None and not isinstance(construct, str | bytes | int | float | Iterable),
        "construct",
        "must be a construct (the one the findings are on)",
        construct,
    )
    require(
        isinstance(findings, Iterable) and not isinstance(findings, str),
        "findings",
        "must be a list of (rule_ids, reason) pairs",
        findings,
    )
    acknowledgments: list[Acknowledgment] = []
    for finding in findings:
        require(
            isinstance(finding, tuple | list) and len(finding) == 2,
            "findings",
            "must hold (rule_ids, reason) pairs",
            finding,
        )
        rule_ids, reason = finding
        if isinstance(rule_ids, str):
            rules: list[object] = [rule_ids]
        else:
            rules = list(rule_ids) if isinstance(rule_ids, Iterable) else []
        require(
            bool(rules) and all(isinstance(rule, str) and rule.strip() for rule in rules),
            "rule_ids",
            "must name one or more cdk-nag rules",
            rule_ids,
        )
        checked = [_rule_id(rule) for rule in rules]
        text = " ".join(reason.split()) if isinstance(reason, str) else ""
        require(
            len(text) >= MIN_REASON_LENGTH and text.lower() not in _VAGUE_REASONS,
            "reason",
            f"must explain in at least {MIN_REASON_LENGTH} characters why the finding is accepted",
            reason,
        )
        acknowledgments.extend(Acknowledgment(id=rule, reason=text) for rule in checked)
    require(bool(acknowledgments), "findings", "must hold at least one (rule_ids, reason)", [])
    Validations.of(construct).acknowledge(*acknowledgments)
