"""One-off A/B (2026-12-07 evening, Zen 4 VM): conv2d_backward's dw pass as two free-running
lanes (blocks of even and odd index, each lane summed in block order on its own thread, the
two sums added at the end; the same bits on any thread count) against the shipped
`results_in_order` stripe, whose caller sums every block's (K, F) product in block order.
conv2d's source is patched in memory behind a flag; nothing in the package changes. Needs
the code of 7e182d3 or later. The loop and the printout: `../zen4_2026-12-07_blocks/_ab.py`.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen4_2026-12-07_evening/dw_lanes_ab.py 572-b32 [rounds]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "zen4_2026-12-07_blocks"))

import _ab  # noqa: E402

from minimal_unet.backends import numpy_backend  # noqa: E402
from minimal_unet.ops import conv2d  # noqa: E402

STRIPE = (
    "    block_results = _threads.results_in_order(one_block, blocks, "
    "_block_threads(cols_bytes))\n"
    """    dw2_t, db = next(block_results)  # (K, F), dw transposed, and (F,): the first block's
    for dw_t_block, db_block in block_results:  # ... plus the others', in block order
        dw2_t += dw_t_block
        db += db_block
""")
LANES = """    if _LANES and len(blocks) > 1:
        def lane(k):
            total = None
            for block in blocks[k::2]:
                result = one_block(block)
                if total is None:
                    total = result
                else:
                    total[0].__iadd__(result[0])
                    total[1].__iadd__(result[1])
            return total
        (dw2_t, db), (dw_odd, db_odd) = _threads.run(lane, [0, 1], _block_threads(cols_bytes))
        dw2_t += dw_odd
        db += db_odd
    else:
""" + "".join("    " + line + "\n" for line in STRIPE.splitlines())


def patch():
    src = Path(conv2d.__file__).read_text()
    assert src.count(STRIPE) == 1
    exec(compile(src.replace(STRIPE, LANES), conv2d.__file__, "exec"),  # noqa: S102
         conv2d.__dict__)
    conv2d._LANES = False
    numpy_backend.conv2d_forward = conv2d.conv2d_forward
    numpy_backend.conv2d_backward = conv2d.conv2d_backward


def apply(lanes):
    conv2d._LANES = lanes


def main():
    size = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    patch()
    seconds = _ab.alternate(size, {"striped dw (shipped)": False, "two lanes": True}, apply,
                            rounds)
    _ab.report(f"{size} float32, {rounds} rounds", seconds, digits=4)


if __name__ == "__main__":
    main()
