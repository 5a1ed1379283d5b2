"""``python -m distgmm``: the same as the ``distgmm`` console script."""

from .cli import main

raise SystemExit(main())
