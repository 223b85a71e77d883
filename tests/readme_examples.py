"""The ```python blocks of README.md, extracted at test time so that the tests run what users read.

Convention (for README authors): every fenced block opened with ```python is executed, top to
bottom, each in a fresh namespace that the tests fill with small data under the names the README
uses: ``X, y`` (= ``X_train, y_train``), ``X_valid, y_valid`` (alias ``X_val, y_val``) and
``X_test, y_test``, a 3-class problem with integer labels 0..2. A block that uses the Dask helpers
(it mentions ``boostfocal.dask``) gets the same names as Dask Arrays plus ``client`` and ``K``, and
runs in tests/test_dask.py on its LocalCluster. A block that defines its own data simply overwrites
these names. Blocks meant only for reading use another fence (```text, ```bash or indentation).
"""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"

_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def python_blocks():
    """[(line number, code)] of every ```python block in README.md, in order."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, match.start()) + 1, match.group(1)) for match in _BLOCK.finditer(text)]


def uses_dask(code: str) -> bool:
    return "boostfocal import dask" in code or "boostfocal.dask" in code or "bfd." in code


def block_id(block) -> str:
    line, code = block
    first = next((row for row in code.splitlines() if row.strip()), "")
    return f"README.md:{line} {first[:40]}"


def small_data(seed: int = 0) -> dict:
    """The names the README uses, as NumPy arrays: 3 classes, 300/100/100 rows, 5 features."""
    rng = np.random.default_rng(seed)
    n = 500
    X = rng.normal(size=(n, 5))
    scores = X[:, :3] * np.array([1.0, 1.5, 2.0]) + rng.normal(size=(n, 3))
    scores[:, 0] += 1.0  # class 0 dominates
    y = np.argmax(scores, axis=1)
    names = {
        "X": X[:300], "y": y[:300], "X_valid": X[300:400], "y_valid": y[300:400],
        "X_test": X[400:], "y_test": y[400:],
    }
    names.update(X_train=names["X"], y_train=names["y"], X_val=names["X_valid"], y_val=names["y_valid"])
    return names


def run_block(code: str, namespace: dict, line: int) -> dict:
    """exec the block with its README line numbers in tracebacks."""
    compiled = compile("\n" * (line) + code, str(README), "exec")
    exec(compiled, namespace)  # noqa: S102 - the README's own examples
    return namespace
