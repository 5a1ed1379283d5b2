"""``python -m distgmm.cli``: the same as the ``distgmm`` console script."""

from . import main

raise SystemExit(main())
