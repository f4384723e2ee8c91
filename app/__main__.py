"""``python -m app``: the same as the ``sagan-studio`` command."""

from app.main import main

raise SystemExit(main())
