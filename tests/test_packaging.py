"""The wheel carries what the installed program needs: every module of ``app`` and
``sagan_engine``, the demo data set, the icon, and the two entry points.

The wheel is built offline from a copy of the checkout (``pip wheel --no-build-isolation``), so
the test needs setuptools in the test environment but no network.
"""

from __future__ import annotations

import configparser
import io
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

import sagan_engine

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"
# What the wheel may hold at its top level; tests, docs, scripts and benchmarks stay behind.
PACKAGES = {"app", "sagan_engine", "sagan_studio_resources"}
# Top-level entries of the checkout that are not sources (see .gitignore).
NOT_SOURCES = {".git", ".venv", "build", "dist", "runs", "tmp", ".pytest_cache", ".ruff_cache"}


def _skip_non_sources(directory: str, names: list[str]) -> set[str]:
    skipped = {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".egg-info"))}
    if Path(directory) == ROOT:
        skipped |= NOT_SOURCES.intersection(names)
    return skipped


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    tmp = tmp_path_factory.mktemp("wheel")
    # A copy, because setuptools stages files in build/ next to the sources and reuses them:
    # building in place could ship a module deleted since, and would litter the checkout.
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_skip_non_sources, symlinks=True)
    # Running from a checkout leaves bytecode beside the resources; it must not ship.
    stale = source / "resources" / "__pycache__" / "__init__.cpython-311.pyc"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"")
    out = tmp / "out"
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--wheel-dir",
        str(out),
        str(source),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    wheels = sorted(out.glob("*.whl"))
    assert [w.name for w in wheels] == [f"sagan_studio-{sagan_engine.__version__}-py3-none-any.whl"]
    with zipfile.ZipFile(wheels[0]) as archive:
        yield archive


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    return wheel.read(f"sagan_studio-{sagan_engine.__version__}.dist-info/{name}").decode()


def _names(wheel: zipfile.ZipFile) -> set[str]:
    return set(wheel.namelist())


def test_no_bytecode_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    assert [n for n in _names(wheel) if "__pycache__" in n or n.endswith(".pyc")] == []


def test_wheel_holds_only_the_three_packages(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/")[0] for name in _names(wheel) if ".dist-info/" not in name}
    assert top == PACKAGES


@pytest.mark.parametrize("package", ["app", "sagan_engine"])
def test_every_module_is_in_the_wheel(wheel: zipfile.ZipFile, package: str) -> None:
    modules = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert f"{package}/__init__.py" in modules
    assert modules - _names(wheel) == set(), "subpackages missing from [tool.setuptools] packages?"


def test_demo_data_set_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    images = sorted((RESOURCES / "demo").glob("*/*.png"))
    classes = {image.parent.name for image in images}
    assert len(classes) >= 2 and len(images) >= 100, "the demo data set in resources/ is gone"
    expected = {f"sagan_studio_resources/{p.relative_to(RESOURCES).as_posix()}" for p in images}
    expected.add("sagan_studio_resources/demo/LICENSE-OFL.txt")  # the emoji's licence travels too
    assert expected - _names(wheel) == set()


def test_icon_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = _names(wheel)
    assert "sagan_studio_resources/__init__.py" in names  # resource_path() lives there
    assert "sagan_studio_resources/icons/sagan-studio.svg" in names
    png = Image.open(io.BytesIO(wheel.read("sagan_studio_resources/icons/sagan-studio.png")))
    assert (png.format, png.size) == ("PNG", (256, 256))


def test_entry_points_name_modules_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(wheel, "entry_points.txt"))
    assert dict(entry_points["gui_scripts"]) == {"sagan-studio": "app.main:main"}
    assert dict(entry_points["console_scripts"]) == {"sagan-engine": "sagan_engine.cli:main"}
    for target in ("app.main", "sagan_engine.cli"):
        assert target.replace(".", "/") + ".py" in _names(wheel)


def test_wheel_metadata_version_is_the_engines(wheel: zipfile.ZipFile) -> None:
    # pyproject.toml and sagan_engine.__version__ both state the version; they must agree.
    metadata = _dist_info(wheel, "METADATA").splitlines()
    assert f"Version: {sagan_engine.__version__}" in metadata
