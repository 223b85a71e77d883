"""The two XGBoost C calls behind every round of a Python objective, made without the Python layer.

Each round of ``xgboost.train(obj=...)`` runs ``Booster.boost`` (XGBoost 3.2,
python-package/xgboost/core.py), which

1. calls ``Booster.predict(dtrain, output_margin=True, training=True)``: one C call,
   ``XGBoosterPredictFromDMatrix``, that reads XGBoost's prediction cache (the hist updater keeps it
   current, a few microseconds in C), wrapped in feature-name checks, a JSON config, an array
   interface built around the result and a copy of it;
2. builds the array-interface JSON of the gradient and the Hessian and calls
   ``XGBoosterTrainOneIter(handle, dtrain, iteration, grad, hess)``.

Measured on this project's 2-core machine (binary, one thread; ``benchmarks/bench_xgboost_round.py``,
results/xgboost_round_cpu.md): reading the margins after a round, alternating with a second booster,
takes 0.27 ms through ``Booster.predict`` and 0.045 ms here at 1,000 rows, 0.38 ms and 0.10 ms at
20,000 rows, against a whole ``binary:logistic`` round of 1.8 ms and 5.9 ms; inside
``loss.xgboost_train``'s own rounds the read takes 0.024 ms and 0.045 ms.

:class:`PredictionCache` and :class:`GradientHandOff` make the same two C calls with the same
arguments: the config ``Booster.predict`` would send, and the interfaces of gradient buffers that are
filled in place every round, so their JSON is built once. The trees are the same bit
for bit (tests/test_xgboost_train.py). :class:`FloatInfo` reads labels and weights the same way.
The readers make their ctypes arguments once and keep their NumPy view while XGBoost's buffer stays
where it is.

:func:`unavailable` says why these calls cannot be used (a build without them), so that callers fall
back to ``xgboost.train``.
"""

from __future__ import annotations

import ctypes
import json
from typing import Optional

import numpy as np

_UINT64 = ctypes.c_uint64  # XGBoost's bst_ulong
_FUNCTIONS = ("XGBoosterPredictFromDMatrix", "XGBoosterTrainOneIter", "XGDMatrixGetFloatInfo")


def _library():
    from xgboost import core

    return core._LIB


def library_path() -> str:
    """Path of the XGBoost shared library this process loaded."""
    return _library()._name


def unavailable() -> Optional[str]:
    """Why the direct calls cannot run with the installed XGBoost, or None."""
    try:
        library = _library()
        for name in _FUNCTIONS:
            getattr(library, name)
        from xgboost.core import _check_call  # noqa: F401
    except (ImportError, AttributeError) as error:
        return f"the installed XGBoost lacks what the direct C calls need ({error})"
    return None


def _check(status: int) -> None:
    from xgboost.core import _check_call

    # Raises XGBoostError with XGBoost's own message (XGBGetLastError), as the Python layer does.
    _check_call(status)


class _BufferView:
    """A read-only NumPy view of a float32 buffer XGBoost hands out, made again only when the
    buffer's address or shape changes: XGBoost reuses its buffers, so the readers below called
    every round would otherwise build the same view every round. The same view object comes back
    while the buffer stays where it is."""

    def __init__(self):
        self._key = None
        self._view = None

    def of(self, address: Optional[int], dims) -> np.ndarray:
        """The view of ``dims`` float32 values at ``address`` (an int, None for NULL)."""
        key = (address, dims)
        if key != self._key:
            if int(np.prod(dims)) == 0:
                self._view = np.empty(dims, dtype=np.float32)
            else:
                values = ctypes.cast(address, ctypes.POINTER(ctypes.c_float))
                self._view = np.ctypeslib.as_array(values, shape=dims)
                self._view.flags.writeable = False  # XGBoost's memory: nothing of ours may write into it
            self._key = key
        return self._view


class FloatInfo:
    """``dmatrix.get_float_info(field)`` ("label", "weight", ...) of one DMatrix as a read-only view,
    without a copy, for reading again and again.

    ``XGDMatrixGetFloatInfo`` hands out a pointer into the DMatrix's own vector, valid until that
    field is set again: :meth:`read` it at each use. A vector set to the same size is copied in
    place, so the values behind an unchanged view may have changed: compare them. Measured at
    1,000 rows: ``DMatrix.get_label()`` about 15-30 µs, and each call defines a class whose
    reference cycles only the garbage collector frees (a burst of 200 calls once averaged 0.7 ms a
    call in a process holding Numba, XGBoost and LightGBM); a read here 2-4 µs
    (``benchmarks/bench_xgboost_round.py``).
    """

    def __init__(self, dmatrix, field: str):
        self.dmatrix = dmatrix
        self._field = field.encode()
        # The C call's output arguments, made once. The float pointer is received as a void
        # pointer, whose .value is the address as an int: a typed pointer's address takes a
        # ctypes.cast every call (two reads a round took 22-27 µs inside training with it, 8-10
        # without, scratch timers at 20,000 rows, default threads).
        self._length = _UINT64()
        self._values = ctypes.c_void_p()
        self._arguments = (ctypes.byref(self._length), ctypes.byref(self._values))
        self._view = _BufferView()

    def read(self) -> np.ndarray:
        """The field's values (float32, read-only); the same view object while the vector stays
        where it is (the values behind it may still have been set in place)."""
        _check(_library().XGDMatrixGetFloatInfo(self.dmatrix.handle, self._field, *self._arguments))
        return self._view.of(self._values.value, (self._length.value,))


class PredictionCache:
    """The raw margins XGBoost holds for one DMatrix of one booster, as a read-only NumPy view.

    ``margins()`` is ``booster.predict(dmatrix, output_margin=True, training=training)`` without
    the copy: shape (n,) for one output per row, (n, K) for K classes (``strict_shape=False``).
    The view points into a buffer the booster owns and reuses: it is valid until the next
    prediction made with this booster in this thread, so use it at once and keep nothing.
    """

    def __init__(self, booster, dmatrix, *, training: bool):
        self.booster = booster
        self.dmatrix = dmatrix
        # The config Booster.predict sends for output_margin=True (prediction type 1: margin).
        self._config = json.dumps({
            "type": 1, "training": bool(training), "iteration_begin": 0, "iteration_end": 0,
            "strict_shape": False,
        }).encode()
        # The C call's output arguments, made once: it runs every round.
        self._shape = ctypes.POINTER(_UINT64)()
        self._n_dims = _UINT64()
        self._values = ctypes.c_void_p()  # as in FloatInfo
        self._arguments = (ctypes.byref(self._shape), ctypes.byref(self._n_dims), ctypes.byref(self._values))
        self._view = _BufferView()

    def margins(self) -> np.ndarray:
        _check(_library().XGBoosterPredictFromDMatrix(
            self.booster.handle, self.dmatrix.handle, self._config, *self._arguments,
        ))
        return self._view.of(self._values.value, tuple(self._shape[axis] for axis in range(self._n_dims.value)))


class GradientHandOff:
    """Gradient and Hessian buffers of one shape, filled in place each round and handed to
    ``XGBoosterTrainOneIter`` through an array interface built once."""

    def __init__(self, shape, dtype=np.float32):
        self.gradient = np.empty(shape, dtype=dtype)
        self.hessian = np.empty(shape, dtype=dtype)
        # XGBoost reads (n_samples, n_targets); a (n,) buffer is the same memory as (n, 1).
        as_matrix = (shape[0], shape[1] if len(shape) == 2 else 1)
        self._interfaces = tuple(
            self._array_interface(array.reshape(as_matrix)) for array in (self.gradient, self.hessian)
        )

    @staticmethod
    def _array_interface(array: np.ndarray) -> bytes:
        # NumPy's __array_interface__ as JSON, as xgboost's array_interface() sends it; the
        # buffers are C-contiguous, so strides are None.
        return json.dumps({
            "data": [array.ctypes.data, False], "shape": list(array.shape), "strides": None,
            "typestr": array.dtype.str, "version": 3,
        }).encode()

    def boost(self, booster, dtrain, iteration: int) -> None:
        """One boosting round of ``booster`` on ``dtrain`` from the buffers' present contents."""
        gradient_interface, hessian_interface = self._interfaces
        _check(_library().XGBoosterTrainOneIter(
            booster.handle, dtrain.handle, ctypes.c_int(iteration), gradient_interface, hessian_interface,
        ))
