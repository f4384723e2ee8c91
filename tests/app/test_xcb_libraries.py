"""Missing X11 libraries are named, with the distribution's install command, before Qt
would abort (issue 15, item 3)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app import xcb_libraries
from app.xcb_libraries import (
    distribution_family,
    install_command,
    missing_libraries,
    platform_is_xcb,
    xcb_problem,
)

ROOT = Path(__file__).resolve().parents[2]
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
MINT = 'NAME="Linux Mint"\nID=linuxmint\nID_LIKE="ubuntu debian"\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=41\n'
ARCH = 'NAME="Arch Linux"\nID=arch\n'
ROCKY = 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\n'
ALPINE = 'NAME="Alpine Linux"\nID=alpine\n'


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux's")
@pytest.mark.parametrize(
    "environ, arguments, expected",
    [
        ({"DISPLAY": ":0"}, [], True),
        ({}, [], False),  # no display at all: not a library problem
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, [], False),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, [], True),
        ({"DISPLAY": ":0"}, ["-platform", "offscreen"], False),
        ({"QT_QPA_PLATFORM": "offscreen"}, ["-platform", "xcb"], True),
        (
            {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"},
            [],
            False,
        ),
        ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, [], False),
    ],
)
def test_only_an_x11_start_is_checked(environ, arguments, expected):
    assert platform_is_xcb(environ, arguments) is expected


@pytest.mark.parametrize(
    "os_release, command",
    [
        (UBUNTU, "apt-get install -y libxcb-cursor0 libxcb-icccm4"),
        (MINT, "apt-get install -y libxcb-cursor0 libxcb-icccm4"),
        (FEDORA, "dnf install -y xcb-util-cursor xcb-util-wm"),
        (ROCKY, "dnf install -y xcb-util-cursor xcb-util-wm"),
        (ARCH, "pacman -S --needed xcb-util-cursor xcb-util-wm"),
    ],
)
def test_the_install_command_of_each_distribution(os_release, command):
    found = install_command(
        ["libxcb-cursor.so.0", "libxcb-icccm.so.4"], distribution_family(os_release)
    )
    assert found is not None and found.endswith(command)


def test_unknown_distribution_and_shared_packages():
    assert distribution_family(ALPINE) is None
    assert install_command(["libxcb-cursor.so.0"], None) is None
    # two libraries from one package name it once
    debian = install_command(["libxcb-shm.so.0", "libxcb-sync.so.1"], "fedora")
    assert debian is not None and debian.endswith("dnf install -y libxcb")


def test_the_message_names_the_missing_library_and_the_command(tmp_path):
    release = tmp_path / "os-release"
    release.write_text(UBUNTU)
    present = lambda soname: soname != "libxcb-cursor.so.0"  # noqa: E731
    assert missing_libraries(present) == ["libxcb-cursor.so.0"]
    text = xcb_problem({"DISPLAY": ":0"}, (), present, release)
    assert text is not None and text.startswith("error:") and "libxcb-cursor.so.0" in text
    assert "apt-get install -y libxcb-cursor0\n" in text
    assert xcb_problem({"DISPLAY": ":0"}, (), lambda soname: True, release) is None
    assert xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, (), present, release) is None
    # a system without os-release still gets the list of libraries
    text = xcb_problem({"DISPLAY": ":0"}, (), present, tmp_path / "none")
    assert text is not None and "package manager" in text


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux's")
def test_the_app_exits_2_before_qt_aborts():
    code = (
        "import sys\n"
        "from app import xcb_libraries\n"
        "xcb_libraries._loads = lambda soname: soname != 'libxcb-cursor.so.0'\n"
        "from app.main import main\n"
        "code = main(['--demo'])\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules)\n"
        "sys.exit(code)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["DISPLAY"] = ":99"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "missing: libxcb-cursor.so.0" in result.stderr


def test_the_real_loader_finds_the_c_library():
    assert xcb_libraries._loads("libc.so.6") is sys.platform.startswith("linux")
    assert xcb_libraries._loads("libsurely-not-here.so.9") is False
