"""Entry script of the frozen ``sagan-studio`` program (see sagan-studio.spec).

With ``SAGAN_STUDIO_BUNDLE_CHECK=1`` in the environment it opens no window: it loads what the
window needs (Qt, pyqtgraph, PyTorch, the main window's modules, the icon, the demo data),
prints what it found and exits, so build_bundle.sh can prove the bundle is complete.
"""

import multiprocessing
import os
import sys


def bundle_check() -> int:
    import torch
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication
    from sagan_studio_resources import resource_path

    import app.main_window  # noqa: F401  (imports every view, hence pyqtgraph)

    qapp = QApplication(sys.argv[:1])
    icon = QIcon(str(resource_path("icons", "sagan-studio.png")))
    demo = list(resource_path("demo").glob("*/*.png"))
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    out = conv(torch.zeros(1, 3, 16, 16))
    problems = []
    if icon.isNull():
        problems.append("the icon does not load")
    if len(demo) < 100:
        problems.append(f"only {len(demo)} demo images")
    if tuple(out.shape) != (1, 8, 16, 16):
        problems.append(f"a convolution gave shape {tuple(out.shape)}")
    print(f"Qt platform {qapp.platformName()}, torch {torch.__version__}, {len(demo)} demo images")
    for problem in problems:
        print(f"bundle check: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    multiprocessing.freeze_support()  # worker processes of a frozen program re-enter here
    if os.environ.get("SAGAN_STUDIO_BUNDLE_CHECK") == "1":
        raise SystemExit(bundle_check())

    from app.main import main

    raise SystemExit(main())
