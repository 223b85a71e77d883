"""Which rows train, validate and test: repeated stratified k-fold, an inner validation split, and
the size checks that run before any training.

Every contender is scored on the same folds: :func:`repeated_stratified_folds` draws the fold of
every row once per repeat, and :func:`fold_rows` derives the (fit, validation, test) rows of one fold
deterministically from it and the seed.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence, Tuple

import numpy as np

from .errors import DataError

__all__ = ["FoldRows", "check_fold_sizes", "fold_rows", "repeated_stratified_folds", "stratified_split"]


class FoldRows(NamedTuple):
    """Sorted row indices of one fold: ``fit`` trains, ``valid`` early-stops, ``test`` scores.
    ``fit`` and ``valid`` together are the fold's training rows."""

    repeat: int
    fold: int
    fit: np.ndarray
    valid: np.ndarray
    test: np.ndarray

    @property
    def n_train(self) -> int:
        return int(self.fit.size + self.valid.size)


def stratified_split(y, test_size: float = 0.25, seed=0) -> Tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) row indices with round(test_size * n_k) test rows of each class k,
    at least one in each part. Raises :class:`DataError` for a class with fewer than two rows."""
    y = np.asarray(y)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size!r}")
    counts = np.bincount(y)
    small = np.flatnonzero((counts > 0) & (counts < 2))
    if small.size:
        raise DataError(
            f"{small.size} class(es) have a single row (e.g. label code {small[0]}); each class "
            "needs at least 2 rows for a stratified train/test split"
        )
    rng = np.random.default_rng(seed)
    test_parts = []
    for k in np.flatnonzero(counts):
        rows = rng.permutation(np.flatnonzero(y == k))
        n_test = int(min(max(round(test_size * rows.size), 1), rows.size - 1))
        test_parts.append(rows[:n_test])
    test = np.sort(np.concatenate(test_parts))
    train = np.setdiff1d(np.arange(y.size), test, assume_unique=True)
    return train, test


def repeated_stratified_folds(y, n_folds: int, n_repeats: int, seed: int = 0) -> np.ndarray:
    """Fold of every row, per repeat: an int64 array (n_repeats, n_samples) with values 0..n_folds-1.

    In each repeat the rows of each class are shuffled and dealt to the folds in turn, starting at
    a random fold, so every fold holds floor or ceil of n_k / n_folds rows of class k.
    """
    y = np.asarray(y)
    assignment = np.empty((n_repeats, y.size), dtype=np.int64)
    for repeat in range(n_repeats):
        rng = np.random.default_rng([seed, repeat])
        for k in np.unique(y):
            rows = rng.permutation(np.flatnonzero(y == k))
            # A random starting fold, so that the folds that get one row more differ by class.
            assignment[repeat, rows] = (np.arange(rows.size) + rng.integers(n_folds)) % n_folds
    return assignment


def fold_rows(y, assignment: np.ndarray, repeat: int, fold: int, validation_size: float, seed: int) -> FoldRows:
    """The (fit, validation, test) rows of one fold: the test rows are the fold; the validation
    rows, a stratified ``validation_size`` share of the remaining (training) rows, are used for early
    stopping only."""
    test = np.flatnonzero(assignment[repeat] == fold)
    train = np.flatnonzero(assignment[repeat] != fold)
    fit, valid = stratified_split(np.asarray(y)[train], validation_size, seed=[seed, repeat, fold])
    return FoldRows(repeat, fold, train[fit], train[valid], test)


def check_fold_sizes(counts, class_names: Sequence[str], n_folds: int, validation_size: float) -> None:
    """Refuse, before any training, folds that cannot hold every class in every part.

    Each test fold needs one row of each class (n_k >= n_folds), and each training fold at least
    two, one for fitting and one for the inner validation split that early stopping watches.
    """
    if n_folds < 2:
        raise DataError(f"--cv must be at least 2 folds, got {n_folds}")
    if not 0.0 < validation_size < 1.0:
        raise DataError(f"the validation share must be in (0, 1), got {validation_size!r}")
    counts = np.asarray(counts)
    rarest = int(np.argmin(counts))
    n_rarest = int(counts[rarest])
    if n_rarest < n_folds:
        raise DataError(
            f"class {class_names[rarest]!r} has {n_rarest} row(s), fewer than the {n_folds} folds of "
            f"--cv {n_folds}: every test fold needs a row of every class (use --cv {max(2, n_rarest)} "
            "or fewer, or merge rare classes)"
        )
    in_training = n_rarest - math.ceil(n_rarest / n_folds)
    if in_training < 2:
        raise DataError(
            f"class {class_names[rarest]!r} has {n_rarest} rows: a training fold of --cv {n_folds} keeps "
            f"{in_training} of them, too few to split off the inner validation rows for early stopping "
            "(need 2; use more rows of that class or merge rare classes)"
        )
