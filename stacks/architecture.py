"""Describe what a synthesized organisation deploys where: ``docs/architecture.md``.

    python -m stacks.architecture cdk.out > docs/architecture.md

Reads the cloud assembly (nested stage assemblies included) and writes, per account and Region,
the stacks and the resources that matter for KMS (keys and aliases, trails, buckets, functions,
queues, event rules, alarms, topics), plus a Mermaid diagram of the flows between accounts. A
test regenerates it from the example organisation and fails when the committed file is stale.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stacks.config import Organisation

SHOWN_TYPES = {
    "AWS::KMS::Key": "KMS key",
    "AWS::KMS::ReplicaKey": "KMS replica key",
    "AWS::CloudTrail::Trail": "CloudTrail trail",
    "AWS::S3::Bucket": "S3 bucket",
    "AWS::Lambda::Function": "Lambda function",
    "AWS::SQS::Queue": "SQS queue",
    "AWS::Events::Rule": "EventBridge rule",
    "AWS::Events::EventBus": "EventBridge bus",
    "AWS::CloudWatch::Alarm": "CloudWatch alarm",
    "AWS::SNS::Topic": "SNS topic",
    "AWS::Logs::LogGroup": "log group",
    "AWS::CodePipeline::Pipeline": "CodePipeline",
    "AWS::CodeBuild::Project": "CodeBuild project",
}


@dataclass
class StackSummary:
    name: str
    account: str
    region: str
    description: str
    counts: dict[str, int] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    trails: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    multi_region_primary: bool = False
    deployed_stages: set[str] = field(default_factory=set)
    """The account stages a pipeline stack's CloudFormation actions deploy."""


def _environment(artifact: dict[str, Any]) -> tuple[str, str]:
    # "aws://111111111111/eu-west-1"
    account, region = artifact["environment"].removeprefix("aws://").split("/")
    return account, region


def summarize(assembly: Path) -> list[StackSummary]:
    """Every stack of the cloud assembly at ``assembly``."""
    summaries: list[StackSummary] = []
    for manifest_path in sorted(assembly.rglob("manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            properties = artifact["properties"]
            template_path = manifest_path.parent / properties["templateFile"]
            template = json.loads(template_path.read_text(encoding="utf-8"))
            account, region = _environment(artifact)
            summary = StackSummary(
                name=properties.get("stackName", artifact_id),
                account=account,
                region=region,
                description=template.get("Description", ""),
            )
            counts: dict[str, int] = defaultdict(int)
            for resource in template.get("Resources", {}).values():
                kind = resource["Type"]
                props = resource.get("Properties", {})
                if kind in SHOWN_TYPES:
                    counts[SHOWN_TYPES[kind]] += 1
                if kind == "AWS::KMS::Key" and props.get("MultiRegion") is True:
                    summary.multi_region_primary = True
                if kind == "AWS::KMS::Alias":
                    summary.aliases.append(str(props.get("AliasName")))
                if kind == "AWS::CloudTrail::Trail":
                    summary.trails.append(str(props.get("TrailName")))
                if kind == "AWS::S3::Bucket" and isinstance(props.get("BucketName"), str):
                    summary.buckets.append(props["BucketName"])
                if kind == "AWS::CodePipeline::Pipeline":
                    summary.deployed_stages.update(
                        str(action["Configuration"]["StackName"]).split("-")[0]
                        for stage in props.get("Stages", [])
                        for action in stage.get("Actions", [])
                        if "StackName" in action.get("Configuration", {})
                    )
            summary.counts = dict(sorted(counts.items()))
            summaries.append(summary)
    return sorted(summaries, key=lambda s: (s.account, s.region, s.name))


def render(summaries: list[StackSummary], accounts: dict[str, str], copy_regions: set[str]) -> str:
    """Markdown for ``summaries``; ``accounts`` maps account IDs to aliases; ``copy_regions``
    are the same-account snapshot destination Regions."""
    lines = [
        "# Architecture of the example organisation",
        "",
        "Generated from the synthesized app by `python -m stacks.architecture cdk.out`; "
        "`tests/stacks/test_architecture_doc.py` fails when this file is stale.",
        "",
        "```mermaid",
        "flowchart LR",
    ]
    by_account: dict[str, list[StackSummary]] = defaultdict(list)
    for summary in summaries:
        by_account[summary.account].append(summary)
    for account, stacks in by_account.items():
        alias = accounts.get(account, account)
        lines.append(f'  subgraph {alias}["{alias} ({account})"]')
        for region in sorted({s.region for s in stacks}):
            lines.append(f'    subgraph {alias}_{region.replace("-", "_")}["{region}"]')
            for stack in (s for s in stacks if s.region == region):
                lines.append(f'      {_node(stack.name)}["{stack.name}"]')
            lines.append("    end")
        lines.append("  end")
    flows = _flows(summaries, copy_regions)
    lines.extend(f"  {a} -->|{label}| {b}" for a, b, label in flows)
    lines += ["```", ""]
    for account, stacks in by_account.items():
        lines.append(f"## {accounts.get(account, account)} ({account})")
        lines.append("")
        lines.append("| Stack | Region | What it deploys | Names |")
        lines.append("|-------|--------|-----------------|-------|")
        for stack in stacks:
            what = ", ".join(f"{n} {kind}" for kind, n in stack.counts.items()) or "-"
            names = ", ".join(
                [f"`{a}`" for a in stack.aliases]
                + [f"trail `{t}`" for t in stack.trails]
                + [f"bucket `{b}`" for b in stack.buckets]
            )
            lines.append(f"| {stack.name} | {stack.region} | {what} | {names or '-'} |")
        lines.append("")
    return "\n".join(lines)


def _flows(summaries: list[StackSummary], copy_regions: set[str]) -> list[tuple[str, str, str]]:
    """Arrows between stacks: trail logs, snapshot copies and shares, key replicas, deployment."""
    names = {s.name for s in summaries}
    flows: list[tuple[str, str, str]] = []
    central = next((s.name for s in summaries if any("-audit-" in b for b in s.buckets)), None)
    for summary in summaries:
        node = _node(summary.name)
        stage = summary.name.split("-")[0]
        if summary.trails and central and summary.name != central:
            flows.append((node, _node(central), "CloudTrail logs"))
        if "KMS replica key" in summary.counts:
            # The primary is the multi-Region key of the same account (its home Region).
            flows.extend(
                (_node(s.name), node, "multi-Region replica")
                for s in summaries
                if s.multi_region_primary and s.name.startswith(f"{stage}-Keys-")
            )
        if "-Replication-" in summary.name:
            flows.extend(
                (node, _node(other), "re-encrypted copies")
                for region in sorted(copy_regions - {summary.region})
                if (other := f"{stage}-Keys-{region}") in names
            )
            flows.extend(
                (node, _node(receiver), "shared snapshots")
                for receiver in sorted(n for n in names if "-Receiver-" in n)
            )
        # Each pipeline of a chain to the stages it deploys (one arrow per account stage).
        flows.extend(
            (node, _node(f"{deployed}-Audit"), "deploys")
            for deployed in sorted(summary.deployed_stages)
        )
    return flows


def _node(stack_name: str) -> str:
    return stack_name.replace("-", "_")


def render_args(organisation: Organisation) -> tuple[dict[str, str], set[str]]:
    """The organisation facts :func:`render` needs."""
    accounts = {a.id: a.alias for a in organisation.accounts}
    copy_regions = {d.region for d in organisation.replication.destinations if d.account is None}
    return accounts, copy_regions


def main(argv: list[str] | None = None) -> int:
    from stacks.config import cdk_json_context, organisation_from_context  # noqa: PLC0415

    args = argv if argv is not None else sys.argv[1:]
    assembly = Path(args[0] if args else "cdk.out")
    # Inline in cdk.json, or in the file it names with kmskit:organisation-file.
    organisation = organisation_from_context(cdk_json_context())
    sys.stdout.write(render(summarize(assembly), *render_args(organisation)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
