"""The multiclass focal loss object: parameters, validation, and calls into the Numba kernels."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from . import _validation as check
from ._loss_base import LossBase
from .kernels.threads import run_kernel

AlphaSpec = Union[None, str, Sequence[float], np.ndarray]

_POLICY_CODES = {"exact": 0, "psd": 1, "floor": 2}


def balanced_alpha(y_true, n_classes: int, sample_weight=None) -> np.ndarray:
    """Per-class weights inversely proportional to the (sample-weighted) class totals.

    alpha_k = W / (K_present * W_k), with W_k the total sample weight of class k, W = sum_k W_k and
    K_present the number of classes with W_k > 0 (scikit-learn's ``class_weight="balanced"`` when
    all weights are 1). A class absent from ``y_true`` gets the largest alpha of the present ones.
    """
    labels = np.asarray(y_true)
    labels = check.check_labels(labels, labels.shape[0] if labels.ndim else -1, n_classes)
    weights = check.check_sample_weight(sample_weight, labels.shape[0])
    totals = np.bincount(labels, weights=weights if weights.size else None, minlength=n_classes)
    return _balanced_from_totals(totals.astype(np.float64))


def _balanced_from_totals(totals: np.ndarray) -> np.ndarray:
    present = totals > 0.0
    if not np.any(present):
        raise ValueError("alpha='balanced' needs training labels with positive total weight")
    alpha = np.empty_like(totals)
    alpha[present] = totals.sum() / (present.sum() * totals[present])
    alpha[~present] = alpha[present].max()
    return alpha


def _posterior_log_alpha(alpha: np.ndarray) -> np.ndarray:
    """log alpha for the posterior correction, which divides by alpha_k: all must be > 0."""
    if np.any(alpha <= 0.0):
        zero = np.flatnonzero(alpha <= 0.0).tolist()
        raise ValueError(
            f"alpha is 0 for class(es) {zero}: the loss ignores them, so their posterior cannot be "
            "recovered from its predictions; use predict_proba, or give every class alpha > 0"
        )
    return np.log(alpha)


def _check_multiclass_raw(raw_prediction) -> np.ndarray:
    """Raw predictions (n_samples, n_classes) with n_classes >= 2 (the kernels index column 0)."""
    raw = check.check_raw_prediction(raw_prediction)
    if raw.shape[1] < 2:
        raise ValueError(
            f"raw_prediction has {raw.shape[1]} column(s); the multiclass FocalLoss needs one "
            "column per class (>= 2). For one output per row use BinaryFocalLoss."
        )
    return raw


class FocalLoss(LossBase):
    r"""Multiclass alpha-balanced focal loss on softmax probabilities (Lin et al., 2017).

    For raw predictions (margins) z of shape (n_samples, n_classes), p = softmax(z), integer
    labels t and sample weights w::

        L_i = -w_i * alpha[t_i] * (1 - p_{i,t_i})**gamma * log p_{i,t_i}

    Inputs are raw margins, never probabilities. gamma = 0 with alpha = None is softmax
    cross-entropy.

    Parameters
    ----------
    gamma : float >= 0
        Focusing parameter; non-integers are fine.
    alpha : None, sequence of n_classes non-negative floats, or "balanced"
        Per-class weights alpha_k. ``"balanced"`` is a request, not a value: it is turned into
        alpha_k = W / (K_present * W_k) from the TRAINING labels (W_k: total sample weight of class k)
        by :meth:`resolve_alpha`, which the scikit-learn estimators, the command line and the Dask
        helpers call on their training data before the first round. Until then every computation
        raises, so that no evaluation set can ever set it.
    hessian : {"psd", "exact", "floor"}
        Which diagonal of the Hessian (over classes, w.r.t. the raw predictions) to return.
        Write L = alpha_t psi(s) with s = log p_t, psi(s) = -(1-e^s)^gamma s. Then::

            H = alpha_t [psi''(s) (e_t - p)(e_t - p)^T + (-psi'(s)) (diag(p) - p p^T)]

        and -psi' > 0, so the second term is positive semidefinite.

        * ``"exact"``: the true diagonal; it is negative for the true class once p_t is small
          (below about 0.06 at gamma = 2), which boosters cannot use.
        * ``"psd"`` (default): psi'' replaced by max(psi'', 0); the diagonal of a positive
          semidefinite matrix, equal to the exact one wherever psi'' >= 0 and at gamma = 0.
        * ``"floor"``: max(exact, hessian_floor).

        Both positive policies are raised to at least ``hessian_floor`` before the weights are
        applied.
    hessian_floor : float > 0
        Lower bound of the positive Hessian policies (XGBoost's own softmax uses 1e-16).
    """

    is_binary = False

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: AlphaSpec = None,
        *,
        hessian: str = "psd",
        hessian_floor: float = 1e-16,
    ) -> None:
        self.gamma = check.check_gamma(gamma)
        if alpha is None or (isinstance(alpha, str) and alpha == "balanced"):
            self.alpha = alpha
        else:
            self.alpha = check.check_alpha_vector(alpha)
        self.hessian = check.check_hessian_policy(hessian)
        self.hessian_floor = check.check_hessian_floor(hessian_floor)

    # ------------------------------------------------------------------ parameters
    def resolve_alpha(self, y_true, sample_weight=None, n_classes: Optional[int] = None) -> "FocalLoss":
        """A copy with ``alpha="balanced"`` replaced by weights from these TRAINING labels.

        Any other alpha is kept, so calling this is always safe. ``n_classes`` defaults to the
        length of a vector alpha, else to max(y_true) + 1.
        """
        if self.alpha_is_resolved:
            return self.copy()
        if n_classes is None:
            n_classes = check.n_classes_from_labels(y_true)
        return self.copy(alpha=balanced_alpha(y_true, int(n_classes), sample_weight))

    # ------------------------------------------------------------------ computations
    def _alpha_vector(
        self, n_classes: int, what: str = "raw_prediction has {} columns (classes)"
    ) -> np.ndarray:
        if self.alpha is None:
            ones = np.ones(n_classes)
            # Read-only like a validated alpha vector, so that Numba compiles one specialisation.
            ones.setflags(write=False)
            return ones
        if isinstance(self.alpha, str):
            raise self._unresolved_alpha_error()
        if self.alpha.shape[0] != n_classes:
            raise ValueError(
                f"alpha has {self.alpha.shape[0]} entries but {what.format(n_classes)}"
            )
        return self.alpha

    def _prepare(self, y_true, raw_prediction, sample_weight):
        raw = _check_multiclass_raw(raw_prediction)
        n_samples, n_classes = raw.shape
        labels = check.label_array(y_true, n_samples)
        weights = check.weight_array(sample_weight, n_samples)
        return labels, raw, self._alpha_vector(n_classes), weights

    def loss(self, y_true, raw_prediction, sample_weight=None) -> np.ndarray:
        """Per-sample weighted focal loss, float64 of shape (n_samples,)."""
        return self._loss(y_true, raw_prediction, sample_weight)

    def _loss(self, y_true, raw_prediction, sample_weight=None, team=None) -> np.ndarray:
        """:meth:`loss`, on a booster's OpenMP ``team`` where it takes the inputs."""
        from .kernels.multiclass import ROWS_PER_CHUNK, focal_loss_per_sample

        labels, raw, alpha, weights = self._prepare(y_true, raw_prediction, sample_weight)
        loss_out = np.empty(raw.shape[0], dtype=np.float64)
        found = None if team is None else team.multiclass_loss(labels, raw, alpha, weights, self.gamma, loss_out)
        bad_row, bad_input = found if found is not None else run_kernel(
            focal_loss_per_sample, raw.shape, ROWS_PER_CHUNK,
            labels, raw, alpha, weights, self.gamma, loss_out,
        )
        check.raise_for_bad_input(y_true, sample_weight, *raw.shape, bad_input)
        check.raise_for_bad_row(bad_row)
        return loss_out

    def gradient_hessian(
        self, y_true, raw_prediction, sample_weight=None, *, order: str = "C", dtype=None, out=None
    ) -> Tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian diagonal w.r.t. the raw predictions, each (n_samples, n_classes).

        Both carry the factor w_i * alpha[t_i]. Their dtype is ``dtype`` (float32 or float64),
        by default that of ``raw_prediction`` (other numeric inputs give float64); ``order``
        ("C" or "F") picks their layout. The arithmetic is float64 either way. ``out`` may be a
        pair of writable float32/float64 arrays of shape (n_samples, n_classes) to fill and return
        instead (for loops that call this repeatedly; ``order`` and ``dtype`` are then ignored).
        """
        labels, raw, alpha, weights = self._prepare(y_true, raw_prediction, sample_weight)
        if out is None:
            out_dtype = check.check_output_dtype(raw.dtype if dtype is None else dtype)
            gradient = np.empty(raw.shape, dtype=out_dtype, order=order)
            hessian = np.empty(raw.shape, dtype=out_dtype, order=order)
        else:
            gradient, hessian = check.check_out_pair(out, raw.shape)
        self._gradient_hessian_into(labels, raw, alpha, weights, gradient, hessian)
        return gradient, hessian

    def _kernel_alpha(self, n_columns: int) -> np.ndarray:
        """The alpha argument of the kernels for raw predictions with ``n_columns`` columns."""
        return self._alpha_vector(n_columns)

    def _gradient_hessian_into(self, labels, raw, alpha, weights, gradient, hessian, team=None) -> None:
        """The kernel call of :meth:`gradient_hessian` on inputs checked as it checks them: labels
        from ``label_array``, raw predictions float32/float64 (n, K), alpha from
        :meth:`_kernel_alpha`, weights float64 (n,) or empty, and two distinct writable float
        arrays of shape (n, K). For loops that have checked their inputs once (the XGBoost loop).
        Invalid label, weight and raw values are still found by the kernel, and raise.
        ``team``: a booster's OpenMP team (:mod:`.kernels.openmp_team`) to run the kernel on."""
        from .kernels.multiclass import ROWS_PER_CHUNK, focal_loss_gradient_hessian

        found = None if team is None else team.multiclass(
            labels, raw, alpha, weights, self.gamma, _POLICY_CODES[self.hessian], self.hessian_floor,
            gradient, hessian)
        bad_row, bad_input = found if found is not None else run_kernel(
            focal_loss_gradient_hessian, raw.shape, ROWS_PER_CHUNK,
            labels, raw, alpha, weights, self.gamma, _POLICY_CODES[self.hessian],
            self.hessian_floor, gradient, hessian,
        )
        check.raise_for_bad_input(labels, weights if weights.size else None, *raw.shape, bad_input)
        check.raise_for_bad_row(bad_row)

    def predict_proba(self, raw_prediction) -> np.ndarray:
        """Softmax probabilities of the raw predictions, same shape and float dtype."""
        from .kernels.multiclass import ROWS_PER_CHUNK, softmax

        raw = _check_multiclass_raw(raw_prediction)
        if not np.all(np.isfinite(raw)):
            raise ValueError("raw_prediction contains NaN or inf")
        out = np.empty(raw.shape, dtype=raw.dtype)
        run_kernel(softmax, raw.shape, ROWS_PER_CHUNK, raw, out)
        return out

    def posterior_proba(self, raw_prediction) -> np.ndarray:
        r"""Class posteriors recovered from focal-trained raw predictions (n_samples, n_classes).

        Focal loss is not strictly proper: the softmax q of its minimiser is not the class
        posterior eta (Charoenphakdee et al., CVPR 2021, "On Focal Loss for Class-Posterior
        Probability Estimation: A Theoretical Perspective"). The minimiser of the conditional risk
        sum_k eta_k alpha_k phi(q_k), phi(q) = -(1-q)^gamma log q, satisfies
        eta_k alpha_k phi'(q_k) = const, so::

            eta_k = h_k / sum_j h_j,   h_k = 1 / (alpha_k * ((1-q_k)^gamma / q_k
                                                        - gamma (1-q_k)^(gamma-1) log q_k))

        with q = softmax(raw_prediction). This undoes both the focusing and alpha. It equals
        :meth:`predict_proba` at gamma = 0 without alpha. Computed in log space from the margins
        (finite for logits +-1e4, every gamma >= 0); same float dtype as the input.

        Raises ValueError for non-finite margins, fewer than 2 columns or an alpha_k = 0 (a
        class the loss ignores carries no information about its posterior).
        """
        from .kernels.posterior import ROWS_PER_CHUNK, focal_posterior

        raw = check.check_raw_prediction(raw_prediction)
        if raw.shape[1] < 2:
            raise ValueError(
                f"raw_prediction has {raw.shape[1]} column(s); the multiclass FocalLoss needs one "
                "column per class (>= 2). For one output per row use BinaryFocalLoss."
            )
        if not np.all(np.isfinite(raw)):
            raise ValueError("raw_prediction contains NaN or inf")
        log_alpha = _posterior_log_alpha(self._alpha_vector(raw.shape[1]))
        out = np.empty(raw.shape, dtype=raw.dtype)
        run_kernel(focal_posterior, raw.shape, ROWS_PER_CHUNK, raw, log_alpha, self.gamma, out)
        return out

    def init_raw_prediction(self, y_true, sample_weight=None, n_classes: Optional[int] = None) -> np.ndarray:
        """The constant raw prediction b (n_classes,) minimising the weighted mean focal loss.

        With c_k = alpha_k * (total sample weight of class k), b minimises sum_k c_k psi(log
        softmax(b)_k); the problem is convex in p = softmax(b), and b = log p is returned, so at
        gamma = 0 b is exactly the log of the (alpha-weighted) class priors. A class with c_k = 0
        gets the smallest other entry minus log(1e12), i.e. a prior 1e12 times smaller.
        """
        from .kernels.multiclass import optimal_constant_probabilities

        if n_classes is None:
            if isinstance(self.alpha, np.ndarray):
                n_classes = self.alpha.shape[0]
            else:
                n_classes = check.n_classes_from_labels(y_true)
        if n_classes < 2:
            raise ValueError(f"init_raw_prediction needs n_classes >= 2, got {n_classes}")
        labels = np.asarray(y_true)
        labels = check.check_labels(labels, labels.shape[0] if labels.ndim else -1, n_classes)
        weights = check.check_sample_weight(sample_weight, labels.shape[0])
        alpha = self._alpha_vector(n_classes, what="n_classes={}")
        totals = np.bincount(labels, weights=weights if weights.size else None, minlength=n_classes)
        class_totals = alpha * totals
        if not np.any(class_totals > 0):
            raise ValueError("init_raw_prediction needs labels with positive total weight")
        probabilities = optimal_constant_probabilities(class_totals.astype(np.float64), self.gamma)
        present = probabilities > 0.0
        raw = np.empty(n_classes)
        raw[present] = np.log(probabilities[present])
        raw[~present] = raw[present].min() - np.log(1e12)
        return raw
