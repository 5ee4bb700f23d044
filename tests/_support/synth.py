"""Synthesize an App once and read everything the tests need from the cloud assembly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests._support.compliance_doc import generic_rule


@dataclass
class SynthResult:
    """A synthesized cloud assembly on disk."""

    name: str
    outdir: Path
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Template of every stack, keyed by stack name (nested stage assemblies included)."""
    environments: dict[str, str] = field(default_factory=dict)
    """``aws://<account>/<region>`` of every stack, keyed by stack name: a stack of the same name
    in another environment is another CloudFormation stack."""

    def template_paths(self) -> list[Path]:
        return sorted(self.outdir.rglob("*.template.json"))

    def template(self, stack_id: str) -> dict[str, Any]:
        try:
            return self.templates[stack_id]
        except KeyError:
            raise KeyError(
                f"no stack {stack_id!r} in {self.name}: {sorted(self.templates)}"
            ) from None

    def assertions(self, stack_id: str) -> Any:
        """An ``aws_cdk.assertions.Template`` for one stack (no second synth)."""
        from aws_cdk.assertions import Template  # noqa: PLC0415

        return Template.from_json(self.template(stack_id))

    def validation_findings(self) -> list[dict[str, str]]:
        """Every cdk-nag finding left after acknowledgments (errors fail synth; warnings don't)."""
        findings = []
        for report_path in self.outdir.rglob("validation-report.json"):
            report = json.loads(report_path.read_text())
            for plugin in report.get("pluginReports", []):
                for violation in plugin.get("violations", []):
                    for construct in violation.get("violatingConstructs", []):
                        findings.append(
                            {
                                "plugin": plugin.get("pluginName", ""),
                                "rule": violation.get("ruleName", ""),
                                "severity": violation.get("severity", ""),
                                "path": construct.get("constructPath", ""),
                            }
                        )
        return findings

    def acknowledgments(self) -> Iterator[tuple[str, str, str]]:
        """``(construct path, rule id, reason)`` for every acknowledged cdk-nag rule."""
        for metadata_path in sorted(self.outdir.rglob("*.metadata.json")):
            for path, entries in json.loads(metadata_path.read_text()).items():
                for entry in entries:
                    if entry.get("type") == "aws:cdk:acknowledged-rules":
                        for rule, reason in entry.get("data", {}).items():
                            yield (
                                path,
                                generic_rule(rule.split("::", 1)[-1]),
                                " ".join(reason.split()),
                            )


# The plugin names of the five cdk-nag packs (constructs_lib.compliance.NAG_PACKS).
NAG_PACK_NAMES = ["AwsSolutions", "HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321", "Serverless"]
# What add_compliance_checks registers: the packs and constructs_lib.compliance.UncheckedResources.
COMPLIANCE_PLUGIN_NAMES = sorted([*NAG_PACK_NAMES, "KmsToolkit"])


def registered_validation_plugins(app: Any) -> list[str]:
    """Names of the validation plugins registered on ``app`` (jsii prints a deprecation notice:
    aws-cdk-lib has no other reader of them)."""
    return sorted(plugin.name for plugin in app.policy_validation_beta1)


def synthesize(name: str, app: Any) -> SynthResult:
    """Synthesize ``app`` (once) and load its templates.

    Raises AssertionError when the App does not run the five cdk-nag packs (and the check of
    what they do not see): a validation report
    without findings would otherwise look the same as one that no pack wrote.
    """
    plugins = registered_validation_plugins(app)
    assert plugins == COMPLIANCE_PLUGIN_NAMES, (
        f"{name}: the App runs validation plugins {plugins}, not the five cdk-nag packs and "
        "the unchecked-resource check (build it with stacks.app_builder.new_app)"
    )
    assembly = app.synth()
    result = SynthResult(name=name, outdir=Path(assembly.directory))
    # Stacks are keyed by stack name (``Workload-Keys-eu-west-1``), nested stages included.
    for manifest_path in sorted(result.outdir.rglob("manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        for artifact_id, artifact in manifest.get("artifacts", {}).items():
            if artifact.get("type") != "aws:cloudformation:stack":
                continue
            properties = artifact.get("properties", {})
            template_path = manifest_path.parent / properties["templateFile"]
            stack_name = properties.get("stackName", artifact_id)
            result.templates[stack_name] = json.loads(template_path.read_text())
            result.environments[stack_name] = artifact["environment"]
    return result


def _reference_name(part: dict[str, Any]) -> str:
    if "Fn::GetStackOutput" in part:
        return str(part["Fn::GetStackOutput"]["StackName"])
    return f"<{next(iter(part))}>"


def replication_config(template: dict[str, Any]) -> dict[str, Any]:
    """The snapshot copier's configuration in ``template``, each cross-stack key reference shown
    as its stack name."""
    (copier,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and '"mode' in json.dumps(r["Properties"]["Environment"])
        and "Copier" in json.dumps(r)
    ]
    value = copier["Properties"]["Environment"]["Variables"]["KMSKIT_SNAPSHOT_CONFIG"]
    parts = value["Fn::Join"][1] if isinstance(value, dict) else [value]
    text = "".join(part if isinstance(part, str) else _reference_name(part) for part in parts)
    config: dict[str, Any] = json.loads(text)
    return config
