"""Every bench `make bench` runs imports: a helper renamed in one bench once broke another
(bench.drills) unnoticed until a full run, because benches run only on demand."""

from __future__ import annotations

import importlib

import pytest

from bench.run_all import BENCHES


@pytest.mark.parametrize("name", BENCHES)
def test_the_bench_imports_and_has_a_main(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert callable(getattr(module, "main", None))
