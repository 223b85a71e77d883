"""The ```python blocks of README.md and of the pages in docs/, extracted at test time so that the
tests run what users read.

Convention (for documentation authors): every fenced block opened with ```python is executed, page by
page (README.md first, then docs/*.md by name), top to bottom, each in a fresh namespace that the
tests fill with small data under the names the documentation uses: ``X, y`` (= ``X_train,
y_train``), ``X_valid, y_valid`` (alias ``X_val, y_val``; ``X_host, X_valid_host`` for the host
copies a GPU example moves to the device) and ``X_test, y_test``, a 3-class problem with integer
labels 0..2. A block that uses the Dask helpers (it mentions ``boostfocal.dask``) gets the same names
as Dask Arrays plus ``client`` and ``K``, and runs in tests/test_dask.py on its LocalCluster. A block
that imports CuPy runs only where a CUDA GPU is found. A block that defines its own data simply
overwrites these names. Blocks meant only for reading use another fence (```text, ```bash or
indentation).
"""

import re
from pathlib import Path
from typing import List, NamedTuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def pages() -> List[Path]:
    """README.md, then every Markdown page of docs/ by name."""
    return [README] + sorted((ROOT / "docs").glob("*.md"))


_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


class Block(NamedTuple):
    page: Path
    line: int  # the line of the opening fence
    code: str


def python_blocks() -> List[Block]:
    """Every ```python block of the pages, in order."""
    blocks = []
    for page in pages():
        text = page.read_text(encoding="utf-8")
        blocks += [Block(page, text.count("\n", 0, match.start()) + 1, match.group(1))
                   for match in _BLOCK.finditer(text)]
    return blocks


def uses_dask(code: str) -> bool:
    return "boostfocal import dask" in code or "boostfocal.dask" in code or "bfd." in code


def needs_gpu(code: str) -> bool:
    return "import cupy" in code


def block_id(block: Block) -> str:
    first = next((row for row in block.code.splitlines() if row.strip()), "")
    return f"{block.page.relative_to(ROOT)}:{block.line} {first[:40]}"


def small_data(seed: int = 0) -> dict:
    """The names the examples use, as NumPy arrays: 3 classes, 300/100/100 rows, 5 features."""
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
    names.update(X_train=names["X"], y_train=names["y"], X_val=names["X_valid"], y_val=names["y_valid"],
                 X_host=names["X"], X_valid_host=names["X_valid"])
    return names


def run_block(block: Block, namespace: dict) -> dict:
    """exec the block with its page's name and line numbers in tracebacks."""
    compiled = compile("\n" * block.line + block.code, str(block.page), "exec")
    exec(compiled, namespace)  # noqa: S102 - the documentation's own examples
    return namespace
