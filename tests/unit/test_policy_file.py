"""Policy files: validation errors name the line and the reason; check-config prints a summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import PolicyFileError, parse_policy_text
from gateway.demo_policy import demo_policy_yaml

GOOD = demo_policy_yaml("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3")


def test_demo_policy_is_valid() -> None:
    policy = parse_policy_text(GOOD)
    assert set(policy.models) == {"auto", "auto-fast", "auto-deep"}
    assert policy.backends["qwen3-thinking"].mode == "thinking"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        pytest.param(
            "version: 1\nbackends: {}\n",
            "<policy>:2: backends: Dictionary should have at least 1 item",
            id="no-backends",
        ),
        pytest.param(
            "version: 2\nbackends: {}\n", "<policy>:1: version: Input should be 1", id="bad-version"
        ),
        pytest.param(
            "version: 1\nbackends:\n  a:\n    family: qwen3\n    mode: hybird\n    model: m\n    endpoints: [http://x:1]\n",
            "<policy>:5: backends.a.mode: Input should be 'hybrid', 'thinking' or 'instruct'",
            id="bad-mode-line-5",
        ),
        pytest.param(
            "version: 1\nbackends:\n  a:\n    family: qwen3\n    mode: hybrid\n    model: m\n    endpoints: [ftp://x]\n",
            "<policy>:7: backends.a.endpoints: Value error, endpoint 'ftp://x' must start with http://",
            id="bad-url",
        ),
        pytest.param(
            GOOD.replace(
                "thinking: [qwen3-thinking, qwen3-hybrid]\n    instruct", "thinking: [nope]\n    instruct"
            ),
            "unknown backend 'nope'",
            id="unknown-pool",
        ),
        pytest.param(
            GOOD.replace(
                "instruct: [qwen3-instruct, qwen3-hybrid]\n    description: the",
                "instruct: [qwen3-thinking]\n    description: the",
            ),
            "backend 'qwen3-thinking' is mode thinking",
            id="thinking-pool-as-instruct",
        ),
        pytest.param("version: 1\nbackends: [\n", "invalid YAML", id="yaml-syntax"),
        pytest.param("- just a list\n", "must be a YAML mapping", id="not-a-mapping"),
        pytest.param(GOOD + "surprise: 1\n", "surprise: Extra inputs are not permitted", id="unknown-key"),
        pytest.param(
            GOOD + "auth:\n  keys: [{name: k, tenant: t, sha256: abc}]\n  tenants: {t: {}}\n",
            "sha256 must be 64 lowercase hex",
            id="auth-bad-digest",
        ),
        pytest.param(
            GOOD + "auth:\n  keys: [{name: k, tenant: nobody, env: X}]\n",
            "unknown tenant 'nobody'",
            id="auth-unknown-tenant",
        ),
        pytest.param(
            GOOD
            + "auth:\n  keys: [{name: k, tenant: t, env: X, sha256: "
            + "a" * 64
            + "}]\n  tenants: {t: {}}\n",
            "exactly one of 'sha256' or 'env'",
            id="auth-two-sources",
        ),
        pytest.param(GOOD + "auth: {enabled: true}\n", "auth.keys is empty", id="auth-on-without-keys"),
        pytest.param(
            GOOD + "auth:\n  tenants: {t: {models: [auto, gpt-9]}}\n",
            "unknown virtual model 'gpt-9'",
            id="auth-tenant-unknown-model",
        ),
    ],
)
def test_invalid_policies(text: str, needle: str) -> None:
    with pytest.raises(PolicyFileError) as info:
        parse_policy_text(text)
    assert needle in str(info.value)


def test_check_config_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD)
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK (policy version 1)" in out and "qwen3-hybrid: family=qwen3 mode=hybrid" in out


@pytest.mark.parametrize(
    ("patch", "needle"),
    [
        pytest.param(("family: qwen3\n", "family: qwen4\n"), "unknown", id="unknown-family"),
        pytest.param(
            (
                "family: qwen3-instruct-2507\n    mode: instruct",
                "family: qwen3-instruct-2507\n    mode: hybrid",
            ),
            "mode",
            id="family-mode-mismatch",
        ),
    ],
)
def test_check_config_rejects_family_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], patch: tuple[str, str], needle: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD.replace(*patch, 1))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "qwen3" in err


def test_unknown_family_lists_known_ones(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD.replace("family: qwen3\n", "family: llama\n", 1))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    for name in ("qwen3", "qwen3-thinking-2507", "deepseek-r1", "gpt-oss"):
        assert name in err


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", "/nonexistent/policy.yaml"]) == 2
    assert "cannot read policy file" in capsys.readouterr().err
