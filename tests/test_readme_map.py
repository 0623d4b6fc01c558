"""The README's map of the code names what is in the tree, and the tree holds what the map names."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("domain", "application", "infrastructure", "projections", "api", "demo")


def _sections() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Map of the code", 1)[1].split("```", 2)[1]
    sections: dict[str, str] = {}
    current = None
    for line in block.splitlines():
        head = re.match(r"^(\S+)/\s", line) or re.match(r"^(\S+\.py)\s", line)
        if head:
            current = head.group(1)
            sections[current] = line[len(head.group(0)):]
        elif current is not None:
            sections[current] += " " + line.strip()
    return sections


def _named(section: str) -> set[str]:
    """The file names and patterns a section mentions (`catalog*.py`, `*_queries.py`, `cli*.py` …)."""
    return set(re.findall(r"[\w*]+\.py", section))


def _contexts() -> set[str]:
    return {p.stem for d in ("domain", "application") for p in (ROOT / d).glob("*.py")}


def _modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).glob("*.py") if p.name != "__init__.py")


def test_every_package_of_the_tree_has_its_lines_in_the_map() -> None:
    sections = _sections()
    assert set(PACKAGES) <= set(sections), sorted(set(PACKAGES) - set(sections))


def test_every_module_is_named_in_its_package_s_lines() -> None:
    sections, contexts = _sections(), _contexts()
    missing = []
    for package in PACKAGES:
        section = sections[package]
        names = _named(section)
        per_context = "per context" in section
        for module in _modules(package):
            if any(fnmatch.fnmatch(module.name, n) for n in names):
                continue
            stem = module.stem.removesuffix("_queries")
            if per_context and stem in contexts:
                continue
            missing.append(f"{package}/{module.name}")
    assert not missing, f"modules the README's map does not name: {missing}"


def test_every_module_the_map_names_is_in_the_tree() -> None:
    sections = _sections()
    absent = []
    for package in PACKAGES:
        for name in _named(sections[package]):
            if not list((ROOT / package).glob(name)):
                absent.append(f"{package}/{name}")
    assert not absent, f"the README's map names modules that are not there: {absent}"
