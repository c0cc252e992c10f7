""".env.example is what the settings classes say: every variable, described, with a default
the settings read back as their own default, and the secrets production needs left empty."""

from __future__ import annotations

import subprocess
import sys

import pytest

from riskwatch import envexample
from riskwatch.configdoc import settings_classes
from tests.stack import ROOT


def example_lines() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def test_env_example_is_what_the_generator_prints() -> None:
    assert (ROOT / ".env.example").read_text() == envexample.render(), (
        ".env.example is stale: run `riskwatch config env-example --write`")


def test_the_cli_prints_the_same_file() -> None:
    printed = subprocess.run([sys.executable, "-m", "riskwatch", "config", "env-example"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert printed == (ROOT / ".env.example").read_text()


def test_every_setting_is_listed_and_only_required_secrets_are_set() -> None:
    written = {line.lstrip("# ").split("=", 1)[0] for line in example_lines()
               if "=" in line and line.lstrip("# ")[:1].isupper()}
    assert envexample.env_names() <= written
    uncommented = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in example_lines()
                   if line and not line.startswith("#")}
    assert uncommented == {name: "" for name in (*envexample.REQUIRED,
                                                 *envexample.COMPOSE_VARIABLES)}


def test_every_default_written_reads_back_as_the_settings_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in envexample.env_names():
        monkeypatch.delenv(name, raising=False)
    defaults = {cls: cls().model_dump() for cls in settings_classes()}
    unset = {name for name, field in envexample.fields() if field.default is None}
    for line in example_lines():
        if line.startswith("# RISKWATCH_") and "=" in line and "…" not in line:
            name, value = line[2:].split("=", 1)
            if not value:  # written empty: no default, the variable is left unset
                assert name in unset, name
                continue
            # compose reads a single-quoted value literally, without the quotes
            monkeypatch.setenv(name, value[1:-1] if value.startswith("'") else value)
    for cls, default in defaults.items():
        assert cls().model_dump() == default, cls
