"""Entry script of the frozen ``sagan-engine`` command line (see sagan-studio.spec)."""

import multiprocessing

from sagan_engine.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # worker processes of a frozen program re-enter here
    raise SystemExit(main())
