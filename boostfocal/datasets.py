"""The small real data set shipped inside the package (see ``boostfocal/data/README.md``).

Page Blocks Classification (UCI id 78, CC BY 4.0; donor Donato Malerba): 5,473 layout blocks of 54
documents, 10 numeric features, 5 classes with 4,913 / 329 / 28 / 88 / 115 rows, so the rarest class
holds 0.5% of the rows. ``boostfocal compare`` runs on it when no ``--data`` is given.
"""

from __future__ import annotations

import gzip
from importlib import resources
from typing import NamedTuple, Tuple

import numpy as np

__all__ = ["Dataset", "load_page_blocks"]


class Dataset(NamedTuple):
    """A classification data set: float64 features, int64 labels 0..K-1 and their names."""

    X: np.ndarray
    y: np.ndarray
    feature_names: Tuple[str, ...]
    class_names: Tuple[str, ...]
    name: str
    source: str


PAGE_BLOCKS_CLASSES = ("text", "horizontal line", "graphic", "vertical line", "picture")


def load_page_blocks() -> Dataset:
    """Page Blocks Classification (UCI 78): X (5473, 10) float64, y (5473,) int64 in 0..4.

    Labels are UCI's classes minus one: 0 text, 1 horizontal line, 2 graphic, 3 vertical line,
    4 picture. Rows are in the source's order (not shuffled).
    """
    resource = resources.files("boostfocal").joinpath("data", "page_blocks.csv.gz")
    with resource.open("rb") as raw, gzip.open(raw, "rt") as handle:
        header = handle.readline().strip().split(",")
        table = np.loadtxt(handle, delimiter=",", dtype=np.float64, ndmin=2)
    if header[-1] != "label" or table.shape != (5473, 11):
        raise RuntimeError("the embedded page_blocks.csv.gz is damaged; reinstall boostfocal")
    return Dataset(
        X=np.ascontiguousarray(table[:, :-1]),
        y=table[:, -1].astype(np.int64),
        feature_names=tuple(header[:-1]),
        class_names=PAGE_BLOCKS_CLASSES,
        name="page_blocks",
        source="UCI Page Blocks Classification (id 78), CC BY 4.0",
    )
