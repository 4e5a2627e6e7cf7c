"""The pins in ``pyproject.toml`` and the hash-locked files ``make`` installs cannot drift apart."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PINNED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;]+)$")
LOCKED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _name(name: str) -> str:
    """A distribution name as indexes compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        match = PINNED.match(requirement.replace(" ", ""))
        assert match, f"{requirement!r} in pyproject.toml is not pinned with =="
        pins[_name(match[1])] = match[3]
    return pins


def _lock(filename: str) -> dict[str, str]:
    """``name: version`` of a lock file, checking that every entry carries its hashes."""
    locked: dict[str, str] = {}
    entries = (ROOT / filename).read_text(encoding="utf-8").split("\n")
    for i, line in enumerate(entries):
        match = LOCKED.match(line)
        if match:
            assert line.endswith("\\") and "--hash=sha256:" in entries[i + 1], (filename, line)
            locked[_name(match[1])] = match[2]
    return locked


PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
RUNTIME = _pins(PROJECT["project"]["dependencies"])
TEST = _pins(PROJECT["project"]["optional-dependencies"]["test"])
BUILD = _pins(PROJECT["dependency-groups"]["build"])


@pytest.mark.parametrize(
    ("filename", "pins"),
    [
        ("requirements.lock", {**RUNTIME, **BUILD}),
        ("requirements-test.lock", {**RUNTIME, **TEST, **BUILD}),
    ],
)
def test_every_pin_of_pyproject_is_locked_at_the_same_version(filename, pins):
    locked = _lock(filename)
    drifted = {name: (v, locked.get(name)) for name, v in pins.items() if locked.get(name) != v}
    assert not drifted, f"{filename} disagrees with pyproject.toml (pin, lock): {drifted}"


def test_the_runtime_lock_is_the_test_lock_without_the_test_extras():
    runtime, test = _lock("requirements.lock"), _lock("requirements-test.lock")
    assert {n: test.get(n) for n in runtime} == runtime
    assert not {"pytest", "mypy", "ruff"} & set(runtime)  # make run installs no test tools


def test_our_own_package_never_comes_from_an_index():
    # The name lotse on PyPI is another project's: make installs this checkout (pip install
    # --no-deps -e .), never a release of that name.
    own = _name(PROJECT["project"]["name"])
    assert own not in _lock("requirements.lock")
    assert own not in _lock("requirements-test.lock")


def test_the_locked_setuptools_can_build_the_project():
    (requirement,) = PROJECT["build-system"]["requires"]
    name, minimum = re.fullmatch(r"([a-z]+)>=([0-9.]+)", requirement).groups()
    locked = _lock("requirements.lock")[name]

    def version(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    assert version(locked) >= version(minimum)


def test_uv_is_pinned_with_hashes():
    assert set(_lock("requirements-tools.txt")) == {"uv"}
