"""ISBI 2012: where the aligned models' errors lie. `../isbi_offset_2026-12-06/ensemble.py`
(the paper's way, and the wrong pixels split by their distance to the other label class)
on models of `isbi-adam-aligned`, each alone: seed 0 after 3214 steps (`--tag 3214`) and,
when given, seed 0 after two hours by the clock (`--tag 120min_aligned`). The
half-balance 2-hour models, trained without the alignment, had 0.041 of their 0.074 on
pixels touching a label boundary. Prints only.

    python benchmarks/results/isbi_aligned_2026-12-07/boundary_errors.py \
        DATA/isbi2012-em RUNS TAG [TAG ...]
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))
sys.path.insert(0, str(HERE.parent / "isbi_offset_2026-12-06"))

from ensemble import main  # noqa: E402

if __name__ == "__main__":
    tags = sys.argv[3:]
    models = {tag: ("isbi-adam-aligned", 0, tag) for tag in tags}
    main(sys.argv[1], sys.argv[2], models=models, sets=[(tag,) for tag in tags])
