"""Command line of SAGAN Studio: parse the arguments, then open the main window.

The arguments are parsed before Qt is imported, so ``--help`` and ``--version`` work on a
machine without a display (and fast).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from app.xcb_libraries import xcb_problem
from sagan_engine import __version__
from sagan_engine.runs import RunFolder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sagan-studio",
        description=(
            "SAGAN Studio: train a Self-Attention GAN on a folder of images, watch samples and "
            "losses live, and click any pixel of a sample to see where each attention layer "
            "of the generator looks."
        ),
    )
    parser.add_argument("--version", action="version", version=f"SAGAN Studio {__version__}")
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--demo", action="store_true", help="use the bundled demo data set (emoji, 8 classes)"
    )
    source.add_argument("--data", metavar="DIR", help="use the images in DIR as training data")
    parser.add_argument(
        "--run",
        metavar="PATH",
        help="open a run folder or a .safetensors checkpoint to explore (no data set needed)",
    )
    parser.add_argument(
        "--runs-dir", metavar="DIR", help="where new runs are saved (default: remembered setting)"
    )
    parser.add_argument(
        "--train", action="store_true", help="start training as soon as the window opens"
    )
    parser.add_argument(
        "path",
        nargs="?",
        help="a folder of images to train on, or a run folder / .safetensors checkpoint to "
        "explore (what a file manager passes when a folder is opened with SAGAN Studio)",
    )
    return parser


def parse_arguments(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Our options, and the rest for QApplication (Qt's own single-dash options)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args, rest = parser.parse_known_args(argv)
    # Qt's own options (single dash: -platform offscreen, -geometry 1600x1000, -style ...)
    # go to QApplication; an unknown "--option" is a mistake worth reporting.
    unknown = [arg for arg in rest if arg.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.path is not None and not Path(args.path).expanduser().exists():
        if not _follows_qt_option(argv, args.path):
            parser.error(f"{args.path}: no such file or folder")
        # Not a path from the launcher's %f but the value of a Qt option (-geometry WxH).
        rest.append(args.path)
        args.path = None
    if args.path is not None:
        path = Path(args.path).expanduser()
        if path.suffix == ".safetensors" or RunFolder(path).is_run():
            args.run = args.run or str(path)
        elif path.is_dir():
            if not args.demo:
                args.data = args.data or str(path)
        else:
            parser.error(
                f"{path}: neither a folder of images nor a run folder or .safetensors checkpoint"
            )
    return args, rest


def _follows_qt_option(argv: list[str], value: str) -> bool:
    """Whether ``value`` comes right after a single-dash option (Qt's: -geometry 1600x1000)."""
    index = argv.index(value)
    return index > 0 and argv[index - 1].startswith("-") and not argv[index - 1].startswith("--")


def main(argv: Sequence[str] | None = None) -> int:
    args, rest = parse_arguments(argv)
    problem = xcb_problem(os.environ, rest)
    if problem is not None:  # Qt would abort with a message few can act on
        print(problem, file=sys.stderr)
        return 2
    if args.runs_dir:
        from sagan_engine.errors import OutputError
        from sagan_engine.output_paths import check_output_folder

        try:
            check_output_folder(args.runs_dir)
        except OutputError as err:
            print(f"error: --runs-dir {err}", file=sys.stderr)
            return 2

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.refcount_guard import guard_singletons
    from app.settings import APP_NAME, DISPLAY_NAME, ORGANISATION
    from app.style import apply_style

    guard_singletons()
    app = QApplication.instance() or QApplication([sys.argv[0], *rest])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(DISPLAY_NAME)
    app.setApplicationVersion(__version__)
    apply_style(app)

    window = MainWindow()
    if args.runs_dir:
        window.set_runs_dir(args.runs_dir)
    if args.demo:
        window.data_panel.use_demo()
    elif args.data:
        window.data_panel.set_folder(args.data)
    window.show()
    if args.run:
        window.open_run(args.run)
    elif args.train:
        QTimer.singleShot(0, window.start_training)
    else:
        window.greet_first_start()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
