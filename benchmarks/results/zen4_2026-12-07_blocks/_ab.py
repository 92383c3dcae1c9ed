"""The one-process A/B loop shared by this folder's *_ab.py scripts (2026-12-07).

benchmarks/step.py's step (ours, float32, 2 threads) under each setting in turn, one step
each per round, the order rotated every round, 0.3 s apart, after two warm-up rounds;
then, per setting, the median and the median over rounds of its step / the first
setting's step in the same round ("paired"), and the rounds it was faster than the first.
"""

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import step  # noqa: E402

PAUSE_S = 0.3
WARM_UP_ROUNDS = 2


def alternate(size, settings, apply, rounds):
    """{name: [seconds of each timed round]}: the step of `size` run with apply(value)
    for each (name, value) of `settings` in turn; apply(first value) again at the end."""
    run = step.build_step("ours", size, "float32", 2)
    names = list(settings)
    seconds = {name: [] for name in names}
    for r in range(rounds + WARM_UP_ROUNDS):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            apply(settings[name])
            time.sleep(PAUSE_S)
            t0 = time.perf_counter()
            run()
            if r >= WARM_UP_ROUNDS:
                seconds[name].append(time.perf_counter() - t0)
    apply(settings[names[0]])
    return seconds


def report(title, seconds, digits=3):
    """Print the title and one line per setting (see the module docstring)."""
    print(title)
    names = list(seconds)
    first = seconds[names[0]]
    width = max(len(name) for name in names)
    for name in names:
        values = seconds[name]
        paired = statistics.median(v / f for v, f in zip(values, first))
        faster = sum(v < f for v, f in zip(values, first))
        print(f"  {name:{width}s}  median {statistics.median(values):.{digits}f} s  paired "
              f"{paired:.3f}  faster in {faster} of {len(values)}  "
              f"({', '.join(f'{s:.{digits}f}' for s in values)})", flush=True)


def main(settings, apply, rounds=9):
    """The command line of an A/B script: `script.py SIZE [ROUNDS]` -> alternate + report
    (added 2026-12-07 night for the scripts of ../zen4_2026-12-07_night/)."""
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else rounds
    report(f"{size} float32, {rounds} rounds", alternate(size, settings, apply, rounds),
           digits=4)
