"""memory.keep_freed_memory: a step-like loop of big arrays stops page-faulting.

The setting is process-wide, so every case runs in a child process of its own.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from minimal_unet import memory

# Allocate, touch and free arrays of a step's sizes five times, on this thread and on a
# second one (conv2d's blocks and the elementwise parts allocate on our worker threads);
# count the page faults of the last four rounds. 3-30 MiB: the base-32 net's arrays; 48
# and 82 MiB: the paper net's (64 channels x 568 x 568 float32 is 82 MiB), above the
# largest mmap threshold glibc accepts (32 MiB).
PROBE = textwrap.dedent("""
    import json, resource, sys, threading
    import numpy as np
    from minimal_unet.memory import keep_freed_memory
    applied = keep_freed_memory()
    again = keep_freed_memory()
    sizes = [int(s) for s in sys.argv[1].split(",")]
    def one_round():
        arrays = [np.ones(s * 2**18, dtype=np.float32) for s in sizes]  # every page touched
        del arrays
    def both_threads():
        one_round()
        worker = threading.Thread(target=one_round)
        worker.start()
        worker.join()
    both_threads()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        both_threads()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps({"applied": applied, "again": again, "faults": faults}))
""")

glibc_only = pytest.mark.skipif(memory._glibc() is None, reason="mallopt is glibc's")


def probe(monkeypatch, setting, sizes):
    monkeypatch.setenv("MINIMAL_UNET_KEEP_MEMORY", setting)
    done = subprocess.run([sys.executable, "-c", PROBE, ",".join(map(str, sizes))],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@glibc_only
@pytest.mark.parametrize("sizes", [[3, 5, 8, 13, 21, 30], [3, 48, 82]],
                         ids=["base-32 sizes", "above 32 MiB"])
def test_kept_memory_is_reused_without_page_faults(monkeypatch, sizes):
    kept, default = probe(monkeypatch, "1", sizes), probe(monkeypatch, "0", sizes)
    assert kept["applied"] and kept["again"]  # the second call reports the first's result
    assert not default["applied"] and not default["again"]
    # glibc's defaults give the big blocks back to the kernel every round (thousands of
    # faults: 4 KiB pages, or 2 MiB ones under transparent huge pages); kept, none come
    # back, whichever thread allocated them.
    assert default["faults"] >= 40
    assert kept["faults"] <= default["faults"] // 10


def test_bad_setting_is_refused(monkeypatch):
    monkeypatch.setattr(memory, "_APPLIED", None)
    monkeypatch.setenv("MINIMAL_UNET_KEEP_MEMORY", "yes")
    with pytest.raises(ValueError, match=r"MINIMAL_UNET_KEEP_MEMORY: expected 0 or 1, got 'yes'"):
        memory.keep_freed_memory()


def test_without_glibc_nothing_changes(monkeypatch):
    monkeypatch.setattr(memory, "_APPLIED", None)
    monkeypatch.delenv("MINIMAL_UNET_KEEP_MEMORY", raising=False)
    monkeypatch.setattr(memory, "_glibc", lambda: None)  # macOS, Windows, musl
    assert memory.keep_freed_memory() is False
