"""The README's configuration table is generated from the settings classes and cannot drift."""

from __future__ import annotations

from pathlib import Path

from riskwatch import configdoc
from riskwatch.processes import SETTINGS_MODULES

ROOT = Path(__file__).resolve().parents[2]


def test_readme_configuration_table_matches_the_settings_classes() -> None:
    readme = (ROOT / "README.md").read_text()
    assert configdoc.readme_table(readme) == configdoc.render(), (
        "README.md's configuration table is stale: run `python -m riskwatch.configdoc --write`")


def test_every_setting_is_described() -> None:
    undescribed = [env for env, _default, meaning in configdoc.rows() if not meaning.strip()]
    assert undescribed == []


def test_every_settings_module_of_a_service_is_in_the_registry() -> None:
    found = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "services").rglob("settings.py")
    }
    assert found <= set(SETTINGS_MODULES), found - set(SETTINGS_MODULES)

