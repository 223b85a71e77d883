"""The ``boostfocal`` command line (also ``python -m boostfocal``).

``boostfocal compare`` compares the built-in softmax objective with focal-loss settings by repeated
stratified cross-validation with XGBoost and LightGBM (see :mod:`boostfocal.compare`), prints the
differences with intervals and verdicts, and writes ``compare.json``, ``compare.png`` and
``compare.txt`` into ``--out``. Without ``--data`` it runs on the
embedded Page Blocks data set (UCI, CC BY 4.0).

Exit codes: 0 success; 2 a problem with the arguments or the data, explained in one line on stderr;
130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

PROG = "boostfocal"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _gamma(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def _alpha(text: str):
    """'none', 'balanced', or per-class weights separated by ':' (commas separate the list's items;
    a vector given alone may also use commas)."""
    text = text.strip()
    if text.lower() == "none":
        return None
    if text.lower() == "balanced":
        return "balanced"
    separator = ":" if ":" in text else ","
    try:
        values = [float(part) for part in text.split(separator)]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'balanced', 'none' or one number per class, got {text!r}"
        ) from None
    if len(values) < 2 or any(not 0 <= value < float("inf") for value in values):
        hint = " (inside a list, separate one alpha's weights with ':', e.g. none,1:5:20)" if len(values) == 1 else ""
        raise argparse.ArgumentTypeError(
            f"expected one finite weight >= 0 per class (at least 2), got {text!r}{hint}"
        )
    return values


def _list_of(parse, what: str):
    """An argparse type for a comma-separated list of ``parse`` items (no empty items, no repeats)."""

    def parse_list(text: str):
        parts = [part.strip() for part in text.split(",")]
        if any(not part for part in parts):
            raise argparse.ArgumentTypeError(f"empty item in the list {text!r} (write e.g. {what})")
        values = [parse(part) for part in parts]
        if len({repr(value) for value in values}) != len(values):
            raise argparse.ArgumentTypeError(f"repeated value in the list {text!r}")
        return values

    return parse_list


def _alpha_list(text: str):
    """A list of alphas: 'none,balanced', or one vector (numbers with commas), or vectors with ':'
    inside and commas between ('1:2:3,balanced')."""
    words = [part.strip().lower() for part in text.split(",")]
    if ":" not in text and all(_is_number(word) for word in words if word):
        return [_alpha(text)]  # one vector written with commas, as in earlier versions
    return _list_of(_alpha, "none,balanced")(text)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_list(text: str) -> List[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _validation_share(text: str) -> float:
    value = _fraction(text)
    if value > 0.5:
        raise argparse.ArgumentTypeError(
            f"expected a share in (0, 0.5], got {text!r}: early stopping needs most of a training fold to fit"
        )
    return value


def _at_least_two(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 2, got {text!r}") from None
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected at least 2 folds, got {text!r}")
    return value


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends "(default: X)" where a default says something, and only where the help does not
    already mention one (argparse's ArgumentDefaultsHelpFormatter also prints None, [] and False)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if "default" in text or default is None or default is False or default == argparse.SUPPRESS or default == []:
            return text
        if action.option_strings and action.nargs != 0:
            shown = ",".join(f"{item:g}" if isinstance(item, float) else str(item) for item in default) \
                if isinstance(default, list) else "%(default)s"
            return f"{text} (default: {shown})"
        return text


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .compare.data import DATA_FORMATS

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Focal loss as a training objective for XGBoost and LightGBM.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    compare = commands.add_parser(
        "compare",
        help="does focal loss beat softmax on this data? repeated cross-validation with intervals",
        description=(
            "Compare the built-in softmax objective with focal-loss settings (and with softmax\n"
            "re-weighted by the same alpha) by repeated stratified k-fold cross-validation: the same\n"
            "folds for every model, early stopping on an inner validation split of each training fold.\n"
            "Prints per booster the mean scores and each setting's difference to softmax with a 95%\n"
            "interval (corrected resampled t-test, Nadeau and Bengio 2003) and a verdict, and saves\n"
            "compare.txt, compare.json (every fold's numbers) and compare.png into --out. Each focal\n"
            "model is scored twice: its softmax probabilities and their posterior correction\n"
            "('(posterior)'), on macro-F1, balanced accuracy, minority recall, log loss, Brier, ECE.\n"
            "Without --data it uses the embedded Page Blocks data set (UCI id 78, CC BY 4.0)."
        ),
        formatter_class=_HelpFormatter,
    )
    compare.add_argument("--data", metavar="PATH", help=f"{DATA_FORMATS}; default: the embedded page_blocks data")
    compare.add_argument("--label", default="label", help="name of the label column in --data (integers or strings)")
    compare.add_argument("--drop", type=_column_list, default=[], metavar="COLS", help="comma-separated columns of --data to leave out (e.g. ids)")
    compare.add_argument("--booster", choices=("xgboost", "lightgbm", "both"), default="both", help="which booster(s) to train")
    compare.add_argument("--gamma", type=_list_of(_gamma, "0.5,1,2"), default=[2.0], metavar="G[,G...]",
                         help="focusing parameter(s) of the focal loss, comma-separated: one focal model per gamma and alpha")
    compare.add_argument("--alpha", type=_alpha_list, default=[None], metavar="A[,A...]",
                         help="class weights: 'none', 'balanced', or one weight per class in sorted label order "
                              "(e.g. 1,5,20; in a list separate them with ':', e.g. none,1:5:20); several, "
                              "comma-separated, e.g. none,balanced. Each alpha also trains softmax with the "
                              "same class weights (default: none)")
    compare.add_argument("--hessian", choices=("psd", "exact", "floor"), default=None, help="Hessian policy of the focal loss (default: psd, FocalLoss's default)")
    compare.add_argument("--cv", type=_at_least_two, default=5, metavar="K", help="folds of the stratified cross-validation")
    compare.add_argument("--repeats", type=_positive_int, default=2, metavar="R", help="repeats of the K folds, each with a fresh shuffle")
    compare.add_argument("--rounds", type=_positive_int, default=100, help="most boosting rounds of any model")
    compare.add_argument("--early-stopping", type=_positive_int, default=10, metavar="N", help="stop after N rounds without improvement of the model's own loss on the inner validation rows")
    compare.add_argument("--validation-size", type=_validation_share, default=0.2, metavar="F", help="share of each training fold held out for early stopping")
    compare.add_argument("--learning-rate", type=_positive_float, default=0.1, help="learning rate for every model")
    compare.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the boosters train; cuda is refused where a booster cannot use a GPU (rather than silently using the CPU); "
                              "on cuda the XGBoost focal models train in boostfocal's device-resident loop (FocalLoss.xgboost_train)")
    compare.add_argument("--threads", type=_positive_int, default=None, help="threads for the boosters and the focal kernels (default: 1 below 20,000 training rows, else all cores)")
    compare.add_argument("--seed", type=int, default=0, help="seed of the folds and of the boosters")
    compare.add_argument("--out", default="boostfocal-compare", metavar="DIR", help="directory for compare.png, compare.json, compare.txt")
    compare.add_argument("--no-plot", action="store_true", help="skip the PNG (no matplotlib needed)")
    compare.add_argument("--quiet", action="store_true", help="no progress lines on stderr (they are shown only on a terminal anyway)")
    compare.set_defaults(handler=run_compare)
    return parser


def _progress(quiet: bool, stream=None):
    """One line per finished fit on stderr, only when it is a terminal and not --quiet."""
    stream = sys.stderr if stream is None else stream
    if quiet or not stream.isatty():
        return None
    start = time.perf_counter()

    def emit(line: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {line}", file=stream, flush=True)

    return emit


def run_compare(args: argparse.Namespace) -> int:
    from . import compare as cmp
    from .datasets import load_page_blocks
    from .loss import FocalLoss

    progress = _progress(args.quiet)
    if args.data is None:
        if args.drop or args.label != "label":
            raise cmp.CompareError("--label and --drop apply to --data only")
        dataset = load_page_blocks()
    else:
        dataset = cmp.read_table(args.data, label=args.label, drop=args.drop)
    losses = []
    for alpha in args.alpha:
        for gamma in args.gamma:
            loss_params = {"gamma": gamma, "alpha": alpha}
            if args.hessian is not None:
                loss_params["hessian"] = args.hessian
            try:
                losses.append(FocalLoss(**loss_params))
            except (TypeError, ValueError) as error:  # e.g. an all-zero --alpha
                raise cmp.CompareError(f"invalid focal-loss option: {error}") from error
    boosters = cmp.BOOSTERS if args.booster == "both" else (args.booster,)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise cmp.CompareError(f"cannot create --out {out}: {error.strerror or error}") from error
    if progress is not None:
        progress(f"{dataset.name}: {dataset.X.shape[0]} rows, {dataset.X.shape[1]} features, {len(dataset.class_names)} classes")
    result = cmp.compare(
        dataset.X,
        dataset.y,
        loss=losses,
        boosters=boosters,
        cv=args.cv,
        repeats=args.repeats,
        rounds=args.rounds,
        early_stopping=args.early_stopping,
        validation_size=args.validation_size,
        learning_rate=args.learning_rate,
        seed=args.seed,
        device=args.device,
        n_threads=args.threads,
        class_names=dataset.class_names,
        data_name=dataset.name,
        progress=progress,
    )
    report = cmp.format_report(result)
    print(report)
    (out / "compare.txt").write_text(report + "\n")
    written = [out / "compare.txt", cmp.save_json(result, out / "compare.json")]
    if not args.no_plot:
        try:
            written.append(cmp.save_figure(result, out / "compare.png"))
        except ImportError:
            print(f"{PROG} compare: note: matplotlib is not installed, so no PNG was written "
                  "(pip install matplotlib)", file=sys.stderr)
    print("\nwrote " + ", ".join(str(path) for path in written))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``boostfocal`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from .compare import CompareError

    try:
        return args.handler(args)
    except CompareError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
