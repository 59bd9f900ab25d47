"""The mutation tier's configuration and driver (tools/mutation.py, tools/mutation.toml)."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tools" / "mutation.toml"


def _driver() -> ModuleType:
    spec = importlib.util.spec_from_file_location("wireproof_mutation_driver", ROOT / "tools" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_codec_package_is_under_the_tier() -> None:
    # A codec that lands joins with one [[codec]] table: this fails until it does.
    raw = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    listed = {Path(m).parent.name for c in raw["codec"] for m in c["modules"]}
    packages = {p.parent.name for p in (ROOT / "src" / "wireproof" / "codecs").glob("*/__init__.py")}
    assert packages <= listed, f"codec packages missing from tools/mutation.toml: {sorted(packages - listed)}"
    for codec in raw["codec"]:
        for path in (*codec["modules"], *codec["tests"], *codec.get("quick", ())):
            assert (ROOT / path).exists(), path
        assert set(codec.get("quick", ())) <= set(codec["tests"])
    assert raw["goal"] >= 0.9


def test_equivalent_mutants_say_why() -> None:
    raw = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    for entry in raw.get("equivalent", []):
        assert (ROOT / entry["module"]).is_file()
        source = (ROOT / entry["module"]).read_text(encoding="utf-8")
        assert " ".join(entry["before"].split()) in " ".join(source.split()), entry["before"]
        assert entry["before"] != entry["after"] and len(entry["reason"]) > 20


def test_sample_is_seeded_and_skips_annotations() -> None:
    pytest.importorskip("cosmic_ray")
    driver = _driver()
    config = driver.load_config(CONFIG)
    module = "src/wireproof/codecs/modbus/adu.py"
    size, first = driver.draw(module, config, 10)
    again = driver.draw(module, config, 10)[1]
    other = driver.draw(module, driver.dataclasses.replace(config, seed=config.seed + 1), 10)[1]
    assert len(first) == 10 and size > 100
    assert [(m.operator, m.occurrence) for m in first] == [(m.operator, m.occurrence) for m in again]
    assert [(m.operator, m.occurrence) for m in first] != [(m.operator, m.occurrence) for m in other]
    source = (ROOT / module).read_text(encoding="utf-8").splitlines()
    for mutant in first:
        assert source[mutant.line - 1].strip().startswith(mutant.before.split(" ")[0])
        assert mutant.before != mutant.after
    spans = driver._annotation_spans("from __future__ import annotations\ndef f(x: int | str) -> a | b:\n"
                                     "    return x | 1\n")
    assert sorted(spans) == [((2, 9), (2, 18)), ((2, 23), (2, 28))]
    assert driver._annotation_spans("def f(x: int | str): pass\n") == []  # evaluated: mutants count
