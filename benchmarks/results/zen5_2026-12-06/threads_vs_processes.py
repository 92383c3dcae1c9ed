"""Two threads of one process against two processes, each running its own single-threaded
OpenBLAS product (32 x 288) @ (288 x 6208) float32 ten times, rounds interleaved so that
both see the same moments of the host; aggregate GFLOP/s per round.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python \
        benchmarks/results/zen5_2026-12-06/threads_vs_processes.py [ROUNDS]
"""
import multiprocessing
import statistics
import sys
import threading
import time

import numpy as np
from threadpoolctl import threadpool_limits

F, K, N, CALLS = 32, 288, 388 * 16, 10
GFLOP = 2 * F * K * N * CALLS / 1e9


def operands(seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((F, K), dtype=np.float32),
            rng.standard_normal((K, N), dtype=np.float32), np.empty((F, N), np.float32))


def products(a, b, out):
    for _ in range(CALLS):
        np.matmul(a, b, out=out)


def process_worker(seed, go, done):
    """A child process: its own operands, one BLAS thread; a round per `go`."""
    a, b, out = operands(seed)
    with threadpool_limits(1, user_api="blas"):
        products(a, b, out)  # warm: pages, BLAS buffers
        while True:
            go.wait()
            go.clear()
            products(a, b, out)
            done.put(seed)


def main(rounds):
    context = multiprocessing.get_context("fork")
    gos, done = [context.Event() for _ in range(2)], context.Queue()
    children = [context.Process(target=process_worker, args=(k, gos[k], done), daemon=True)
                for k in range(2)]
    for child in children:
        child.start()
    time.sleep(1.0)  # both warm and waiting
    mine = [operands(k) for k in range(2)]
    rates = {"threads": [], "processes": []}
    with threadpool_limits(1, user_api="blas"):
        for a, b, out in mine:
            products(a, b, out)
        for r in range(rounds):
            order = ("threads", "processes") if r % 2 == 0 else ("processes", "threads")
            for kind in order:
                time.sleep(0.3)
                start = time.perf_counter()
                if kind == "threads":
                    workers = [threading.Thread(target=products, args=ops) for ops in mine]
                    for w in workers:
                        w.start()
                    for w in workers:
                        w.join()
                else:
                    for go in gos:
                        go.set()
                    done.get()
                    done.get()
                rates[kind].append(2 * GFLOP / (time.perf_counter() - start))
    for kind, values in rates.items():
        print(f"{kind:9s} median {statistics.median(values):4.0f} GFLOP/s together; rounds: "
              + " ".join(f"{v:.0f}" for v in values), flush=True)
    with threadpool_limits(1, user_api="blas"):
        a, b, out = mine[0]
        start = time.perf_counter()
        products(a, b, out)
        print(f"one thread alone {GFLOP / (time.perf_counter() - start):.0f} GFLOP/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
