"""The rounds of ``lightgbm.train`` with the focal objective, through LightGBM's two C calls.

With a callable ``params["objective"]``, each round of ``lightgbm.train`` is
``Booster.update(fobj=objective)`` (LightGBM 4.5-4.7, python-package/lightgbm/basic.py), which
reads the raw scores with ``LGBM_BoosterGetPredict`` into a float64 buffer, calls the objective,
flattens and converts its gradient and Hessian (``_list_to_1d_numpy``), asks the library for the
number of rows and hands them over with ``LGBM_BoosterUpdateOneIterCustom``. The two C calls are
all the round needs; the Python around them costs about 100 µs a round, measured inside training
(docs/threads.md), which is 3-7 % of a round at 1,000-5,000 rows.

:class:`DirectRounds` is a ``lightgbm.train`` callback that makes those rounds the two C calls and
the kernel alone: before each round it gives the booster a one-shot ``update`` (an instance
attribute that removes itself when called) which reads the scores into a buffer made once, runs
the kernel into float32 buffers made once, in LightGBM's class-major order, and hands them over.
Everything else of ``lightgbm.train`` (evaluation, early stopping, other callbacks,
``init_model``) is LightGBM's own, and the trees are those of the public route, bit for bit.

The one-shot ``update`` passes the call on to LightGBM's own ``Booster.update`` whenever it
cannot stand in for it: for another objective or training set, after the training set changed,
and with a LightGBM whose booster lacks the private attributes it relies on (listed in
``_BOOSTER_ATTRIBUTES``). It takes the first round too, so the buffers of LightGBM's own route
are never made: at 2,000,000 x 7, where training takes two rounds, leaving the first round to
LightGBM and then making its own buffers made the first direct round's kernel 4x slower (0.40
instead of 0.10 s, fresh memory on top of LightGBM's: scratch, one thread).
"""

from __future__ import annotations

import ctypes
import weakref

import numpy as np

from .._validation import NO_WEIGHTS, label_array, read_only, weight_array
from ..kernels.threads import inside_booster
from .lightgbm import labels_and_weights, library_path
from .sklearn_objective import check_booster_margins

# Private attributes of lightgbm.Booster the direct round reads or resets (LightGBM 4.5-4.7).
_BOOSTER_ATTRIBUTES = (
    "_handle",
    "_Booster__num_class",
    "_Booster__num_dataset",
    "_Booster__is_predicted_cur_iter",
    "_Booster__set_objective_to_none",
    "train_set_version",
)


class _TrainingBuffers:
    """Scores, gradient and Hessian buffers of one booster and training set, with their C
    pointers, and the checked labels and weights."""

    def __init__(self, loss, booster):
        self.booster = weakref.ref(booster)
        self.loss = loss
        self.train_set = booster.train_set
        self.version = booster.train_set_version
        n_rows, n_models = booster.train_set.num_data(), booster._Booster__num_class
        # LightGBM's order is class-major (all rows of class 0, then class 1, ...): a Fortran-ordered
        # (n, K) array, whose flat memory is that order without a copy.
        self.scores = np.empty(n_rows * n_models, dtype=np.float64)
        self.gradient = np.empty(n_rows * n_models, dtype=np.float32)
        self.hessian = np.empty(n_rows * n_models, dtype=np.float32)
        if n_models > 1:
            shape = (n_rows, n_models)
            self.raw, self.gradient_view, self.hessian_view = (
                array.reshape(shape, order="F") for array in (self.scores, self.gradient, self.hessian)
            )
        else:
            self.raw, self.gradient_view, self.hessian_view = self.scores, self.gradient, self.hessian
        # The kernels only read the scores (LightGBM writes them through the pointer below).
        self.raw = read_only(self.raw)
        self.scores_pointer = self.scores.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
        self.gradient_pointer = self.gradient.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self.hessian_pointer = self.hessian.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self.alpha = None  # made after the first checks, in the objective's order
        self.checked_labels = None  # the label array last checked
        self.kernel_labels = None
        self.given_weights = None  # a copy of the weights last converted (None: none given)
        self.kernel_weights = NO_WEIGHTS

    def serves(self, booster, loss) -> bool:
        return (self.booster() is booster and self.loss is loss and booster.train_set is self.train_set
                and booster.train_set_version == self.version)

    def checked_inputs(self, loss):
        """The kernel's labels, float64 weights (empty for none) and alpha, checked as the
        objective checks them: labels when their array is a new one (the kernel checks every
        value each round), weights when their values changed."""
        labels, weights = labels_and_weights(self.train_set)
        if labels is not self.checked_labels:
            check_booster_margins(loss, labels, self.raw, source="LightGBM", training=True)
            # Kind and length (a view, or a copy for types the kernel cannot index with); the
            # kernel checks the values.
            self.kernel_labels = label_array(labels, self.raw.shape[0])
            self.checked_labels = labels
        given = self.given_weights
        # No weights, the usual case, needs no comparison; set in place, they do (as the
        # objective reads them every round).
        if (weights is None) != (given is None) or (
            weights is not None and (given.shape != weights.shape or not np.array_equal(given, weights))
        ):
            self.kernel_weights = weight_array(weights, self.raw.shape[0])
            self.given_weights = None if weights is None else np.array(weights, copy=True)
        if self.alpha is None:
            self.alpha = loss._kernel_alpha(self.raw.shape[1] if self.raw.ndim == 2 else 1)
        return self.kernel_labels, self.kernel_weights, self.alpha


def focal_loss_of(fobj):
    """The boostfocal loss whose ``lightgbm_objective`` ``fobj`` is, else None. (``lightgbm.train``
    deep-copies ``params``, so its objective is that of a copy of the caller's loss.)"""
    from .._booster_methods import BoosterMethods

    loss = getattr(fobj, "__self__", None)
    if isinstance(loss, BoosterMethods) and getattr(fobj, "__func__", None) is BoosterMethods.lightgbm_objective:
        return loss
    return None


class DirectRounds:
    """``lightgbm.train`` callback: the rounds of ``params["objective"] = loss.lightgbm_objective``
    (any boostfocal loss) through LightGBM's two C calls (see the module docstring). Add it to
    ``callbacks=``; the booster is the one the public route grows. ``rounds`` counts the rounds it
    ran by the C calls.

    It runs last among the callbacks before each round (``order``), so that ``update`` follows it
    directly.
    """

    before_iteration = True
    order = 1 << 30

    def __init__(self):
        self.rounds = 0
        self._buffers = None

    def __call__(self, env) -> None:
        booster = env.model
        if not all(hasattr(booster, name) for name in _BOOSTER_ATTRIBUTES):
            return  # another LightGBM: its own update
        booster.update = _OneRound(self, booster)

    def _direct_round(self, booster, loss) -> bool:
        """One round by the C calls: (tree(s) without splits)."""
        from lightgbm.basic import _LIB, _safe_call

        buffers = self._buffers
        if buffers is None or not buffers.serves(booster, loss):
            buffers = self._buffers = _TrainingBuffers(loss, booster)
        if not booster._Booster__set_objective_to_none:
            # What Booster.update(fobj=...) does on its first call: no objective inside LightGBM.
            booster.reset_parameter({"objective": "none"})
            booster._Booster__set_objective_to_none = True
        handle = booster._handle
        n_scores = ctypes.c_int64(0)
        _safe_call(_LIB.LGBM_BoosterGetPredict(handle, ctypes.c_int(0), ctypes.byref(n_scores),
                                               buffers.scores_pointer))
        if n_scores.value != buffers.scores.size:
            raise ValueError(f"LightGBM returned {n_scores.value} scores for {buffers.scores.size}")
        labels, weights, alpha = buffers.checked_inputs(loss)
        with inside_booster(library_path()):
            try:
                loss._gradient_hessian_into(labels, buffers.raw, alpha, weights,
                                            buffers.gradient_view, buffers.hessian_view)
            except ValueError:
                # Labels set in place reach only the kernel: give the objective's message where it
                # has one (it names the booster parameter to fix), else the kernel's.
                check_booster_margins(loss, labels, buffers.raw, source="LightGBM", training=True)
                raise
        produced_empty_tree = ctypes.c_int(0)
        _safe_call(_LIB.LGBM_BoosterUpdateOneIterCustom(
            handle, buffers.gradient_pointer, buffers.hessian_pointer, ctypes.byref(produced_empty_tree)))
        # What Booster.update does after a round: the scores it caches for evaluation are stale.
        booster._Booster__is_predicted_cur_iter = [False] * booster._Booster__num_dataset
        self.rounds += 1
        return produced_empty_tree.value == 1


class _OneRound:
    """A booster's ``update`` for one call (it removes itself first): the direct round where it
    stands in for ``Booster.update(fobj=objective)``, else LightGBM's own update."""

    def __init__(self, rounds: DirectRounds, booster):
        self.rounds = rounds
        self.booster = weakref.ref(booster)

    def __call__(self, train_set=None, fobj=None):
        booster = self.booster()
        booster.__dict__.pop("update", None)
        loss = focal_loss_of(fobj)
        direct = (
            loss is not None
            and train_set is None
            and booster.train_set_version == booster.train_set.version
        )
        if not direct:
            return booster.update(train_set=train_set, fobj=fobj)
        return self.rounds._direct_round(booster, loss)
