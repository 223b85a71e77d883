"""The ``boostfocal`` command line (also ``python -m boostfocal``).

``boostfocal compare`` trains the built-in softmax objective and the focal objective side by side
with XGBoost and LightGBM (see :mod:`boostfocal.compare`), prints a table per booster, and writes
``compare.json``, ``compare.png`` and ``compare.txt`` into ``--out``. Without ``--data`` it runs on the
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
    """'none', 'balanced', or a comma-separated list of per-class weights (in sorted label order)."""
    if text.strip().lower() in ("none", ""):
        return None
    if text.strip().lower() == "balanced":
        return "balanced"
    try:
        values = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'balanced', 'none' or comma-separated numbers, got {text!r}"
        ) from None
    if len(values) < 2 or any(not 0 <= value < float("inf") for value in values):
        raise argparse.ArgumentTypeError(
            f"expected one finite weight >= 0 per class (at least 2), got {text!r}"
        )
    return values


def _column_list(text: str) -> List[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Focal loss as a training objective for XGBoost and LightGBM.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    compare = commands.add_parser(
        "compare",
        help="train softmax and focal side by side and compare them on a held-out split",
        description=(
            "Train the built-in softmax objective and the focal objective side by side (same data, "
            "rounds, learning rate, trees, seed), score both on a stratified held-out split, print a "
            "table per booster, and save compare.png, compare.json and compare.txt into --out. "
            "Without --data it uses the embedded Page Blocks data set (UCI id 78, CC BY 4.0)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    compare.add_argument("--data", metavar="PATH", help="CSV (optionally .gz) or Parquet file; default: embedded page_blocks")
    compare.add_argument("--label", default="label", help="name of the label column in --data (integers or strings)")
    compare.add_argument("--drop", type=_column_list, default=[], metavar="COLS", help="comma-separated columns of --data to leave out (e.g. ids)")
    compare.add_argument("--booster", choices=("xgboost", "lightgbm", "both"), default="both")
    compare.add_argument("--gamma", type=_gamma, default=2.0, help="focusing parameter of the focal loss")
    compare.add_argument("--alpha", type=_alpha, default=None, help="'balanced', 'none', or one weight per class, comma-separated, in sorted label order; with an alpha, softmax with the same class weights (softmax+w) is trained too")
    compare.add_argument("--hessian", choices=("psd", "exact", "floor"), default=None, help="Hessian policy of the focal loss (default: FocalLoss's default)")
    compare.add_argument("--rounds", type=_positive_int, default=100, help="boosting rounds for every model")
    compare.add_argument("--learning-rate", type=_positive_float, default=0.1, help="learning rate for every model")
    compare.add_argument("--test-size", type=_fraction, default=0.25, help="held-out fraction (stratified)")
    compare.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    compare.add_argument("--threads", type=_positive_int, default=None, help="threads for the boosters and the focal kernels (default: 1 below 20,000 training rows, else all cores)")
    compare.add_argument("--seed", type=int, default=0, help="seed of the split and of the boosters")
    compare.add_argument("--out", default="boostfocal-compare", metavar="DIR", help="directory for compare.png, compare.json, compare.txt")
    compare.add_argument("--no-plot", action="store_true", help="skip the PNG (no matplotlib needed)")
    compare.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    compare.set_defaults(handler=run_compare)
    return parser


def _progress(quiet: bool):
    if quiet:
        return None
    start = time.perf_counter()

    def emit(line: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {line}", file=sys.stderr, flush=True)

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
    loss_params = {"gamma": args.gamma, "alpha": args.alpha}
    if args.hessian is not None:
        loss_params["hessian"] = args.hessian
    try:
        loss = FocalLoss(**loss_params)
    except (TypeError, ValueError) as error:  # e.g. an all-zero or negative --alpha
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
        loss=loss,
        boosters=boosters,
        rounds=args.rounds,
        learning_rate=args.learning_rate,
        test_size=args.test_size,
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
