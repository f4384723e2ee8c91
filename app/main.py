"""Command line of SAGAN Studio: parse the arguments, then open the main window.

The arguments are parsed before Qt is imported, so ``--help`` and ``--version`` work on a
machine without a display (and fast).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sagan_engine import __version__


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    # Qt's own options (single dash: -platform offscreen, -geometry 1600x1000, -style ...)
    # go to QApplication; an unknown "--option" is a mistake worth reporting.
    unknown = [arg for arg in rest if arg.startswith("--")]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.refcount_guard import guard_singletons
    from app.settings import APP_NAME, ORGANISATION
    from app.style import apply_style

    guard_singletons()
    app = QApplication.instance() or QApplication([sys.argv[0], *rest])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("SAGAN Studio")
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
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
