"""The command line: `minimal-unet COMMAND ...` or `python -m minimal_unet COMMAND ...`.

    demo       train a small U-Net on the embedded synthetic cells, predict, report
    train      train on a data set on disk (folder / ISBI 2012 / TIFF stack)
    predict    overlap-tile prediction of image files with a saved model
    evaluate   a folder of predicted masks against a folder of label masks -> metrics JSON
    sizes      legal tile sizes and the layer table of a configuration
    gradcheck  the whole network's backward pass against finite differences
    assignment course assignments: make | grade | check | submit | autograder | classroom

One module per command (cli/demo.py, cli/train.py, ...), each with an
`add_<command>_parser(subparsers)` helper that registers its handler with
`set_defaults(func=...)`; `build_parser()` calls them all. To add a command group, write
one more module and call its helper in `build_parser`. cli/_common.py holds what they
share: argument types and the guards for the user's files.

A user's files are safe: no command overwrites an existing file or run folder unless asked
(`--resume` / `--overwrite`), no output may resolve into an input folder or onto an input
file, and two inputs that would give the same output name are refused, naming both.
Default output folders are fresh: runs/demo, else runs/demo-2, runs/demo-3, ...

Errors: wrong arguments and bad input files print ONE line on stderr and exit with 2
(`--traceback` shows the Python traceback instead); a diverged training exits with 1.
"""

import sys

from minimal_unet.assignment import add_assignment_parser
from minimal_unet.backends import BackendUnavailableError
from minimal_unet.cli._common import PROG, CLIError, Parser, one_line
from minimal_unet.cli.demo import DEMO, add_demo_parser, run_demo
from minimal_unet.cli.evaluate import add_evaluate_parser, run_evaluate
from minimal_unet.cli.gradcheck import add_gradcheck_parser, run_gradcheck
from minimal_unet.cli.predict import add_predict_parser, run_predict
from minimal_unet.cli.sizes import add_sizes_parser, run_sizes
from minimal_unet.cli.train import PRESETS, add_train_parser, run_train

__all__ = ["DEMO", "PRESETS", "PROG", "CLIError", "build_parser", "main",
           "add_demo_parser", "add_train_parser", "add_predict_parser",
           "add_evaluate_parser", "add_sizes_parser", "add_gradcheck_parser",
           "add_assignment_parser", "run_demo", "run_train", "run_predict", "run_evaluate",
           "run_sizes", "run_gradcheck"]


# Errors that are the user's input, not a bug: one line and exit code 2.
USER_ERRORS = (CLIError, ValueError, TypeError, OSError, KeyError, BackendUnavailableError,
               MemoryError)


def build_parser():
    """The whole command line: one subparser per command, added by its helper."""
    parser = Parser(prog=PROG, description="A from-scratch U-Net (Ronneberger et al. 2015).")
    parser.add_argument("--traceback", action="store_true",
                        help="show Python tracebacks instead of one-line errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    add_demo_parser(subparsers)
    add_train_parser(subparsers)
    add_predict_parser(subparsers)
    add_evaluate_parser(subparsers)
    add_sizes_parser(subparsers)
    add_gradcheck_parser(subparsers)
    add_assignment_parser(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (0 ok, 1 failed run, 2 bad input)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
        return exit_.code if isinstance(exit_.code, int) else 0
    where = f"{PROG} {args.command}"
    try:
        return int(args.func(args) or 0)
    except Exception as error:
        if args.traceback:
            raise
        train_module = sys.modules.get("minimal_unet.train")  # imported by train and demo
        if train_module is not None and isinstance(error, train_module.TrainingDiverged):
            print(f"{where}: error: {one_line(error)}", file=sys.stderr)
            return 1
        if not isinstance(error, USER_ERRORS):
            raise
        if isinstance(error, MemoryError):
            error = f"out of memory ({one_line(error)}); try a smaller --tile-size"
        print(f"{where}: error: {one_line(error)}", file=sys.stderr)
        return 2
