"""The binary focal loss object (one sigmoid output per row): parameters, checks, kernel calls."""

from __future__ import annotations

import numbers
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from . import _validation as check
from ._loss_base import LossBase
from .kernels.threads import run_kernel
from .loss import _balanced_from_totals

BinaryAlphaSpec = Union[None, float, str, Sequence[float], np.ndarray]

_POLICY_CODES = {"exact": 0, "psd": 1, "floor": 2}


def _check_binary_alpha(alpha):
    """None, "balanced", a float in [0, 1] (kept as float) or a read-only float64 (a_0, a_1)."""
    if alpha is None or (isinstance(alpha, str) and alpha == "balanced"):
        return alpha
    if isinstance(alpha, (bool, np.bool_)):
        raise TypeError(
            "alpha must be None, a float in [0, 1], two class weights or 'balanced', got a bool"
        )
    if isinstance(alpha, numbers.Real) or (isinstance(alpha, np.ndarray) and alpha.ndim == 0):
        value = float(alpha)
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            raise ValueError(
                f"a float alpha is the weight of class 1 (class 0 gets 1 - alpha) and must lie in "
                f"[0, 1], got {value}; pass two class weights (a_0, a_1) for other values"
            )
        return value
    values = check.check_alpha_vector(alpha)
    if values.shape[0] != 2:
        raise ValueError(
            f"alpha for BinaryFocalLoss must have 2 entries (a_0, a_1), got {values.shape[0]}"
        )
    return values


# A zero-length output argument: the kernel skips that output (the loss, for gradient_hessian).
_NO_OUTPUT = np.empty(0)


def _check_binary_raw(raw_prediction):
    """(float32/float64 view of shape (n,), shape as given); accepts (n,) and (n, 1)."""
    ndim = getattr(raw_prediction, "ndim", None)
    if ndim is None:
        raw_prediction = np.asarray(raw_prediction)
        ndim = raw_prediction.ndim
    if ndim not in (1, 2):
        raise ValueError(
            f"raw_prediction must have shape (n_samples,) or (n_samples, 1) for BinaryFocalLoss, "
            f"got {ndim} dimensions"
        )
    raw = check.check_raw_prediction(raw_prediction, ndim=ndim)
    if ndim == 2:
        if raw.shape[1] != 1:
            raise ValueError(
                f"raw_prediction must have shape (n_samples,) or (n_samples, 1) for "
                f"BinaryFocalLoss, got {raw.shape}; for one column per class use FocalLoss"
            )
        return raw[:, 0], raw.shape
    return raw, raw.shape


def _check_two_classes(n_classes) -> None:
    if n_classes is not None and n_classes != 2:
        raise ValueError(f"BinaryFocalLoss has 2 classes, got n_classes={n_classes!r}")


def _check_soft_labels(y_true, n_samples: int) -> np.ndarray:
    """Labels in [0, 1] (any real values) as a fresh float64 array of length n_samples."""
    labels = check.label_array(y_true, n_samples)
    labels = labels.astype(np.float64)
    if not np.all(np.isfinite(labels)):
        raise ValueError("y_true contains NaN or inf")
    if n_samples and (labels.min() < 0.0 or labels.max() > 1.0):
        raise ValueError(
            f"soft labels y_true must lie in [0, 1], found values from {labels.min():g} to "
            f"{labels.max():g}"
        )
    return labels


class BinaryFocalLoss(LossBase):
    r"""Binary alpha-balanced focal loss on one sigmoid output per row (Lin et al., 2017).

    For raw predictions (logits) z of shape (n_samples,), p = sigmoid(z), labels y in {0, 1} and
    sample weights w, with p_t = p and alpha_t = a_1 for y = 1, p_t = 1 - p and alpha_t = a_0 for
    y = 0::

        L_i = -w_i * alpha_t * (1 - p_t)**gamma * log p_t

    Inputs are raw margins, never probabilities. gamma = 0 with alpha = None is the logistic loss
    (XGBoost ``binary:logistic``, LightGBM ``binary``). It equals :class:`FocalLoss` with two
    columns (z_0, z_1) and z = z_1 - z_0, for alpha (a_0, a_1) on both sides.

    Parameters
    ----------
    gamma : float >= 0
        Focusing parameter; non-integers are fine.
    alpha : None, float in [0, 1], two non-negative floats (a_0, a_1), or "balanced"
        Class weights. A float a weights class 1 by a and class 0 by 1 - a (RetinaNet's
        alpha = 0.25); a pair gives (a_0, a_1) directly (``alpha=[a_0, a_1]`` of the two-class
        :class:`FocalLoss`). ``"balanced"`` is resolved from the TRAINING labels by
        :meth:`resolve_alpha`, to a_k = W / (K_present * W_k); until then every computation raises.
    hessian : {"psd", "exact", "floor"}
        Which second derivative (w.r.t. the logit) to return. Write L = alpha_t psi(s) with
        s = log p_t, psi(s) = -(1-e^s)^gamma s, q = 1 - p_t. Then::

            d2L/dz2 = alpha_t [psi''(s) q^2 + (-psi'(s)) p_t q]

        and -psi' > 0, so the second term is positive.

        * ``"exact"``: the true value; negative once p_t is small (below about 0.06 at
          gamma = 2), which boosters cannot use.
        * ``"psd"`` (default): psi'' replaced by max(psi'', 0); always >= 0, equal to the exact
          value wherever psi'' >= 0 and at gamma = 0.
        * ``"floor"``: max(exact, hessian_floor).

        Both positive policies are raised to at least ``hessian_floor`` before alpha and the
        weights are applied (so they are strictly positive where alpha_t * w_i > 0).
    hessian_floor : float > 0
        Lower bound of the positive Hessian policies (XGBoost's own objectives use 1e-16).
    soft_labels : bool
        False (default): y_true must hold exactly 0 and 1. True: any y in [0, 1] (for example
        label smoothing), with loss y * L(label 1) + (1 - y) * L(label 0), derivatives likewise.
    """

    is_binary = True
    _param_names = LossBase._param_names + ("soft_labels",)

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: BinaryAlphaSpec = None,
        *,
        hessian: str = "psd",
        hessian_floor: float = 1e-16,
        soft_labels: bool = False,
    ) -> None:
        self.gamma = check.check_gamma(gamma)
        self.alpha = _check_binary_alpha(alpha)
        self.hessian = check.check_hessian_policy(hessian)
        self.hessian_floor = check.check_hessian_floor(hessian_floor)
        if not isinstance(soft_labels, (bool, np.bool_)):
            raise TypeError(f"soft_labels must be True or False, got {soft_labels!r}")
        self.soft_labels = bool(soft_labels)

    # ------------------------------------------------------------------ parameters
    def resolve_alpha(
        self, y_true, sample_weight=None, n_classes: Optional[int] = None
    ) -> "BinaryFocalLoss":
        """A copy with ``alpha="balanced"`` replaced by (a_0, a_1) from these TRAINING labels.

        a_k = W / (K_present * W_k) with W_k the total sample weight of class k (for soft labels
        W_1 = sum w_i y_i, W_0 = sum w_i (1 - y_i)), as :func:`boostfocal.balanced_alpha` for
        two classes. Any other alpha is kept, so calling this is always safe. ``n_classes`` is
        accepted for the call signature of :class:`FocalLoss` and must be None or 2.
        """
        _check_two_classes(n_classes)
        if self.alpha_is_resolved:
            return self.copy()
        labels, weights = self._labels_and_weights(y_true, sample_weight)
        return self.copy(alpha=_balanced_from_totals(self._class_totals(labels, weights)))

    # ------------------------------------------------------------------ computations
    def _alpha_pair(self) -> np.ndarray:
        """(a_0, a_1) as float64."""
        if isinstance(self.alpha, str):
            raise self._unresolved_alpha_error()
        if isinstance(self.alpha, np.ndarray):
            return self.alpha
        pair = np.ones(2) if self.alpha is None else np.array([1.0 - self.alpha, self.alpha])
        # Read-only like a validated alpha vector, so that Numba compiles one specialisation.
        pair.setflags(write=False)
        return pair

    def _labels(self, y_true, n_samples: int) -> np.ndarray:
        if self.soft_labels:
            return _check_soft_labels(y_true, n_samples)
        # Hard labels: the multiclass checks (integer-valued, finite, in {0, 1}), as float64.
        return check.check_labels(y_true, n_samples, 2).astype(np.float64)

    def _labels_and_weights(self, y_true, sample_weight):
        labels = np.asarray(y_true)
        labels = self._labels(labels, labels.shape[0] if labels.ndim else -1)
        return labels, check.check_sample_weight(sample_weight, labels.shape[0])

    @staticmethod
    def _class_totals(labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """(W_0, W_1): total sample weight of class 0 and of class 1 (soft labels split rows)."""
        if weights.size == 0:
            return np.array([np.sum(1.0 - labels), np.sum(labels)])
        # Each total as a sum of non-negative terms: no cancellation for a tiny class.
        return np.array([np.dot(weights, 1.0 - labels), np.dot(weights, labels)])

    def _prepare(self, y_true, raw_prediction, sample_weight):
        raw, shape = _check_binary_raw(raw_prediction)
        # Kind and shape only: the kernel checks the label and weight values in its own pass.
        labels = check.label_array(y_true, raw.shape[0])
        weights = check.weight_array(sample_weight, raw.shape[0])
        return labels, raw, shape, self._alpha_pair(), weights

    def _run(self, labels, raw, alpha, weights, loss_out, gradient_out, hessian_out, team=None) -> None:
        from .kernels.binary import ROWS_PER_CHUNK, focal_loss_gradient_hessian

        found = None
        if team is not None and loss_out.shape[0] == 0:
            found = team.binary(labels, raw, alpha, weights, self.gamma, _POLICY_CODES[self.hessian],
                                self.hessian_floor, self.soft_labels, gradient_out, hessian_out)
        elif team is not None and gradient_out.shape[0] == 0 and hessian_out.shape[0] == 0:
            found = team.binary_loss(labels, raw, alpha, weights, self.gamma, _POLICY_CODES[self.hessian],
                                     self.hessian_floor, self.soft_labels, loss_out)
        bad_row, bad_input = found if found is not None else run_kernel(
            focal_loss_gradient_hessian, raw.shape, ROWS_PER_CHUNK,
            labels, raw, alpha, weights, self.gamma, _POLICY_CODES[self.hessian],
            self.hessian_floor, self.soft_labels, loss_out, gradient_out, hessian_out,
        )
        if bad_input >= 0:
            # Rebuild the full message from the complete checks; they raise.
            self._labels(labels, raw.shape[0])
            check.check_sample_weight(weights if weights.size else None, raw.shape[0])
            raise ValueError(f"invalid label or sample weight in row {bad_input}")
        check.raise_for_bad_row(bad_row)

    def loss(self, y_true, raw_prediction, sample_weight=None) -> np.ndarray:
        """Per-sample weighted focal loss, float64 of shape (n_samples,)."""
        return self._loss(y_true, raw_prediction, sample_weight)

    def _loss(self, y_true, raw_prediction, sample_weight=None, team=None) -> np.ndarray:
        """:meth:`loss`, on a booster's OpenMP ``team`` where it takes the inputs."""
        labels, raw, _, alpha, weights = self._prepare(y_true, raw_prediction, sample_weight)
        loss_out = np.empty(raw.shape[0], dtype=np.float64)
        skip = np.empty(0, dtype=raw.dtype)
        self._run(labels, raw, alpha, weights, loss_out, skip, skip, team)
        return loss_out

    def gradient_hessian(
        self, y_true, raw_prediction, sample_weight=None, *, order: str = "C", dtype=None, out=None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Gradient and second derivative w.r.t. the logits, each shaped like ``raw_prediction``.

        Both carry the factor w_i * alpha_t. Their dtype is ``dtype`` (float32 or float64), by
        default that of ``raw_prediction`` (other numeric inputs give float64); ``order`` is
        accepted for the same call as :class:`FocalLoss` (one column is both C and F ordered).
        The arithmetic is float64 either way. ``out`` may be a pair of writable, C-contiguous
        float32/float64 arrays shaped like ``raw_prediction`` to fill and return instead (for loops
        that call this repeatedly; ``order`` and ``dtype`` are then ignored).
        """
        labels, raw, shape, alpha, weights = self._prepare(y_true, raw_prediction, sample_weight)
        if out is None:
            out_dtype = check.check_output_dtype(raw.dtype if dtype is None else dtype)
            gradient = np.empty(shape, dtype=out_dtype, order=order)
            hessian = np.empty(shape, dtype=out_dtype, order=order)
        else:
            gradient, hessian = check.check_out_pair(out, shape)
            for name, array in (("gradient", gradient), ("hessian", hessian)):
                if not array.flags.c_contiguous:
                    # The kernel writes through an (n,) view; reshape would copy a strided array.
                    raise ValueError(f"out {name} must be C-contiguous")
        self._gradient_hessian_into(labels, raw, alpha, weights, gradient, hessian)
        return gradient, hessian

    def _kernel_alpha(self, n_columns: int = 1) -> np.ndarray:
        """The alpha argument of the kernel, (a_0, a_1); ``n_columns`` as for :class:`FocalLoss`."""
        return self._alpha_pair()

    def _gradient_hessian_into(self, labels, raw, alpha, weights, gradient, hessian, team=None) -> None:
        """The kernel call of :meth:`gradient_hessian` on inputs checked as it checks them: labels
        from ``label_array``, raw predictions float32/float64 of shape (n,) or (n, 1), alpha from
        :meth:`_kernel_alpha`, weights float64 (n,) or empty, and two distinct writable
        C-contiguous float arrays of raw's shape. For loops that have checked their inputs once
        (the XGBoost loop). Invalid label, weight and raw values are still found, and raise.
        ``team``: a booster's OpenMP team (:mod:`.kernels.openmp_team`) to run the kernel on."""
        self._run(
            labels, raw.reshape(-1), alpha, weights, _NO_OUTPUT,
            gradient.reshape(-1), hessian.reshape(-1),  # (n,) views of (n,) or (n, 1)
            team,
        )

    def predict_proba(self, raw_prediction) -> np.ndarray:
        """Probability of class 1, sigmoid(raw_prediction), in the shape and float dtype given."""
        from .kernels.binary import ROWS_PER_CHUNK, sigmoid

        raw, shape = _check_binary_raw(raw_prediction)
        if not np.all(np.isfinite(raw)):
            raise ValueError("raw_prediction contains NaN or inf")
        out = np.empty(shape, dtype=raw.dtype)
        run_kernel(sigmoid, raw.shape, ROWS_PER_CHUNK, raw, out.reshape(-1))
        return out

    def posterior_proba(self, raw_prediction) -> np.ndarray:
        """Posterior probability of class 1 recovered from focal-trained logits, shaped as given.

        The two-class case of :meth:`FocalLoss.posterior_proba` on the margins (0, z), with
        q_1 = sigmoid(z), q_0 = sigmoid(-z) and (a_0, a_1)::

            P(y=1) = h_1 / (h_0 + h_1),   h_k = 1 / (a_k ((1-q_k)^gamma / q_k
                                                       - gamma (1-q_k)^(gamma-1) log q_k))

        It equals :meth:`predict_proba` at gamma = 0 without alpha. Raises ValueError for
        non-finite logits or an alpha with a zero entry.
        """
        from .kernels.posterior import ROWS_PER_CHUNK, focal_posterior
        from .loss import _posterior_log_alpha

        raw, shape = _check_binary_raw(raw_prediction)
        if not np.all(np.isfinite(raw)):
            raise ValueError("raw_prediction contains NaN or inf")
        log_alpha = _posterior_log_alpha(self._alpha_pair())
        # Two columns (0, z): the multiclass kernel's exact two-class case (z_1 - z_0 = z exactly).
        margins = np.zeros((raw.shape[0], 2), dtype=raw.dtype)
        margins[:, 1] = raw
        both = np.empty_like(margins)
        run_kernel(focal_posterior, margins.shape, ROWS_PER_CHUNK, margins, log_alpha, self.gamma, both)
        return both[:, 1].reshape(shape)

    def init_raw_prediction(
        self, y_true, sample_weight=None, n_classes: Optional[int] = None
    ) -> float:
        """The constant logit b minimising the weighted mean focal loss.

        With c_k = a_k * (total sample weight of class k), b minimises
        c_1 psi(log sigmoid(b)) + c_0 psi(log sigmoid(-b)) (found by bisection; the problem is
        convex in p = sigmoid(b)). At gamma = 0 this is b = log(c_1 / c_0), the log-odds of the
        (alpha-weighted) prior. If one c_k is 0 the infimum is at +-inf and b = +-log(1e12) is
        returned, as :meth:`FocalLoss.init_raw_prediction` does for an absent class.
        ``n_classes`` is accepted for the call signature of :class:`FocalLoss`; None or 2.
        """
        from .kernels.binary import optimal_constant_margin

        _check_two_classes(n_classes)
        labels, weights = self._labels_and_weights(y_true, sample_weight)
        negative_total, positive_total = self._alpha_pair() * self._class_totals(labels, weights)
        if not (negative_total > 0.0 or positive_total > 0.0):
            raise ValueError("init_raw_prediction needs labels with positive total weight")
        if negative_total <= 0.0:
            return float(np.log(1e12))
        if positive_total <= 0.0:
            return -float(np.log(1e12))
        return float(optimal_constant_margin(negative_total, positive_total, self.gamma))
