"""What FocalLoss and BinaryFocalLoss share: parameter handling, equality, the weighted mean, and
(through :class:`BoosterMethods`) the booster-facing methods."""

from __future__ import annotations

import numpy as np

from . import _validation as check
from ._booster_methods import BoosterMethods


class LossBase(BoosterMethods):
    """Base of the loss objects; subclasses set ``_param_names`` and store those attributes."""

    _param_names = ("gamma", "alpha", "hessian", "hessian_floor")

    @property
    def alpha_is_resolved(self) -> bool:
        """False only for an alpha="balanced" that has not been resolved from training labels."""
        return not isinstance(self.alpha, str)

    def _unresolved_alpha_error(self) -> ValueError:
        return ValueError(
            "alpha='balanced' has not been resolved from training labels yet: call "
            "loss = loss.resolve_alpha(y_train) first (the scikit-learn estimators do this)"
        )

    def copy(self, **changes):
        """A new loss with the same parameters, except those given as keyword arguments."""
        params = self.get_params()
        params.update(changes)
        return type(self)(**params)

    def get_params(self) -> dict:
        params = {name: getattr(self, name) for name in self._param_names}
        if isinstance(params["alpha"], np.ndarray):
            params["alpha"] = params["alpha"].tolist()
        return params

    def __repr__(self) -> str:
        params = ", ".join(f"{key}={value!r}" for key, value in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other) -> bool:
        return type(other) is type(self) and self.get_params() == other.get_params()

    __hash__ = None  # mutable-looking parameters: equality by value, no hashing

    def __setstate__(self, state):
        self.__dict__.update(state)
        # NumPy unpickles arrays writable; keep alpha read-only as validated (and one Numba type).
        if isinstance(getattr(self, "alpha", None), np.ndarray):
            self.alpha.setflags(write=False)

    def mean_loss(self, y_true, raw_prediction, sample_weight=None) -> float:
        """Weighted mean focal loss: sum_i L_i / sum_i w_i (the metric the adapters report)."""
        return self._mean_loss(y_true, raw_prediction, sample_weight)

    def _mean_loss(self, y_true, raw_prediction, sample_weight=None, team=None) -> float:
        """:meth:`mean_loss`, with the per-sample losses computed on a booster's OpenMP ``team``
        (:mod:`.kernels.openmp_team`) where it takes the inputs: the same values to the bit."""
        if sample_weight is None:
            per_sample = self._loss(y_true, raw_prediction, None, team)
            total_weight = float(per_sample.shape[0])
        else:
            weights = np.asarray(sample_weight)
            weights = check.check_sample_weight(weights, weights.shape[0] if weights.ndim else -1)
            # The mean does not change when all weights are scaled: divided (exactly) by a power of
            # two with max(w) / scale in [1, 2), sum(w) and sum(w L) stay finite even for weights
            # near the float64 limit, where sum([1e308, 1e308]) = inf would turn the mean into 0.
            scale = np.ldexp(1.0, int(np.frexp(weights.max())[1]) - 1) if weights.size else 1.0
            weights = weights / scale
            per_sample = self._loss(y_true, raw_prediction, weights, team)
            total_weight = float(np.sum(weights))
        if not total_weight > 0.0:
            raise ValueError("the mean focal loss needs a positive total sample weight")
        return float(np.sum(per_sample) / total_weight)
