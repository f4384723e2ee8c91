"""Before the window opens on X11: are the system libraries Qt's xcb platform plugin links
present? Without them Qt aborts with "Could not load the Qt platform plugin xcb" and a hint
few users can act on; this says which package to install, with the distribution's command.

Runs before Qt is imported; no Qt here.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

# What libqxcb.so and libQt6XcbQpa.so.6 link from the system (readelf -d), and the package
# that holds each: Debian/Ubuntu, Fedora, Arch.
XCB_LIBRARIES: dict[str, tuple[str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": (
        "libxcb-render-util0",
        "xcb-util-renderutil",
        "xcb-util-renderutil",
    ),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2"),
}
# Distribution families (os-release ID / ID_LIKE), their column above and install command.
FAMILIES = {
    "debian": (0, "sudo apt-get install -y"),
    "ubuntu": (0, "sudo apt-get install -y"),
    "fedora": (1, "sudo dnf install -y"),
    "rhel": (1, "sudo dnf install -y"),
    "centos": (1, "sudo dnf install -y"),
    "arch": (2, "sudo pacman -S --needed"),
}


def platform_is_xcb(environ: Mapping[str, str], qt_arguments: Sequence[str] = ()) -> bool:
    """Whether Qt would use its xcb (X11) plugin: on Linux, with no other platform asked for
    (``-platform`` or QT_QPA_PLATFORM), not in a Wayland session, and with an X display."""
    if not sys.platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "")
    args = list(qt_arguments)
    for index, arg in enumerate(args[:-1]):
        if arg in ("-platform", "--platform"):
            chosen = args[index + 1]
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    if environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland":
        return False
    return bool(environ.get("DISPLAY"))


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(loads: Callable[[str], bool] = _loads) -> list[str]:
    """The sonames of :data:`XCB_LIBRARIES` the dynamic loader cannot find."""
    return [soname for soname in XCB_LIBRARIES if not loads(soname)]


def distribution_family(os_release: str) -> str | None:
    """ "debian", "fedora", "arch"... from the text of /etc/os-release, None when unknown."""
    fields = {}
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip().strip("\"'").lower()
    for name in [fields.get("ID", ""), *fields.get("ID_LIKE", "").split()]:
        if name in FAMILIES:
            return name
    return None


def install_command(missing: Sequence[str], family: str | None) -> str | None:
    """The command that installs the packages holding ``missing``, None for an unknown system."""
    if family not in FAMILIES:
        return None
    column, command = FAMILIES[family]
    if os.geteuid() == 0:  # root: no sudo needed (and minimal systems have none)
        command = command.removeprefix("sudo ")
    packages = dict.fromkeys(XCB_LIBRARIES[soname][column] for soname in missing)
    return f"{command} {' '.join(packages)}"


def xcb_problem(
    environ: Mapping[str, str],
    qt_arguments: Sequence[str] = (),
    loads: Callable[[str], bool] | None = None,
    os_release: Path = Path("/etc/os-release"),
) -> str | None:
    """The message to print instead of opening the window, or None when all is there."""
    if not platform_is_xcb(environ, qt_arguments):
        return None
    missing = missing_libraries(loads or _loads)
    if not missing:
        return None
    try:
        family = distribution_family(os_release.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        family = None
    command = install_command(missing, family)
    how = (
        f"install them with:\n    {command}"
        if command
        else "install the packages that hold them with your system's package manager"
    )
    return (
        "error: the window cannot open: Qt's X11 (xcb) platform plugin needs system libraries "
        f"that are missing: {', '.join(missing)}\n{how}\n"
        "(or run without a window: QT_QPA_PLATFORM=offscreen, or use the sagan-engine "
        "command line)"
    )
