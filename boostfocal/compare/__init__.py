"""Does focal loss help on this data, and with which gamma? Softmax against focal settings, by
repeated stratified cross-validation, with intervals and verdicts that claim no more than they show.

:func:`compare` runs the comparison and returns plain data; the modules, by concern:

* :mod:`.data`: reading a user's CSV or Parquet file into a numeric data set (:func:`read_table`);
* :mod:`.folds`: repeated stratified k-fold, the inner validation split, the up-front size checks;
* :mod:`.fit`: the contenders and their training with XGBoost and LightGBM, early-stopped;
* :mod:`.evaluate`: the scores of a fold, the corrected resampled t interval, the verdicts;
* :mod:`.report`: the text report, strict JSON and the figure.

The command line (``boostfocal compare``, :mod:`boostfocal.cli`) is a thin layer over these.
"""

from .data import DATA_FORMATS, dataset_from_frame, encode_labels, read_table
from .errors import CompareError, DataError
from .evaluate import METRICS, PROBABILITIES, classification_metrics, corrected_interval, verdict
from .fit import BOOSTERS, Contender, standard_contenders
from .folds import repeated_stratified_folds, stratified_split
from .report import _json_ready, build_figure, format_report, save_figure, save_json
from .run import compare

__all__ = [
    "BOOSTERS",
    "DATA_FORMATS",
    "METRICS",
    "PROBABILITIES",
    "CompareError",
    "Contender",
    "DataError",
    "build_figure",
    "classification_metrics",
    "compare",
    "corrected_interval",
    "dataset_from_frame",
    "encode_labels",
    "format_report",
    "read_table",
    "repeated_stratified_folds",
    "save_figure",
    "save_json",
    "standard_contenders",
    "stratified_split",
    "verdict",
]
