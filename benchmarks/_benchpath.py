"""Keep this folder off the import path once a benchmark has started.

``python benchmarks/NAME.py`` puts ``benchmarks/`` first on ``sys.path``, where
``select.py`` (the model selection benchmark) has the name of the standard library's
``select`` module, which ``subprocess``, ``asyncio`` and so dask and distributed import.
Each script imports this module first; from then on ``import select`` finds the standard
library's.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
