"""Checks that Numba's CUDA simulator leaves out, so a kernel bug that only hardware would
show fails under NUMBA_ENABLE_CUDASIM=1 too.

    from minimal_unet.backends import simcheck
    simcheck.install()          # once, after numba is imported with the simulator on

The simulator runs each GPU thread as a Python thread and releases a barrier when every
thread still *alive* waits at one, so it lets through what a GPU does not:
- a divergent barrier: threads waiting at different cuda.syncthreads() calls, or a thread
  leaving the kernel while others wait (a GPU hangs or gives undefined results). Here
  each waiting thread records the kernel line of its barrier; the launch stops with
  SimulatorCheckError naming the kernel, the line(s) and the thread ids.
- an index out of range: NumPy wraps a negative index round to the end of the array
  (x[-1] is the last element), and local and shared arrays are plain NumPy arrays. Here
  every integer index into a kernel argument, a cuda.shared.array or a cuda.local.array is
  checked against 0 <= i < size on every axis; an IndexError names the kernel line.
- a data race in shared memory: two threads touching one element of a cuda.shared.array
  between the same two barriers, unless both only read, and a read of an element no thread
  of the block has written yet (shared memory is never initialised). The simulator runs
  the threads in some interleaving and may well give the right answer; here each element
  records who wrote and read it in which barrier interval, and the launch stops with
  SimulatorCheckError naming the kernel line, the array element and the threads.
What stays unchecked: warps and timing. install() patches the simulator's classes in this process
only; it never runs with a real GPU (numba.cuda.simulator is not used there).
"""

import itertools
import os
import sys
import threading

import numpy as np

_installed = False
_epochs = itertools.count(1)  # barrier intervals, numbered across blocks and launches
_shadow_lock = threading.Lock()


class SimulatorCheckError(RuntimeError):
    """A kernel broke a rule that real hardware enforces (see the module docstring)."""


def _simulator_dir():
    from numba.cuda import simulator

    return os.path.dirname(simulator.__file__)


def _kernel_site(depth=2):
    """(file, line, function) of the first frame above us outside the simulator and here."""
    skip = (_simulator_dir(), os.path.abspath(__file__))
    frame = sys._getframe(depth)
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame = frame.f_back
    if frame is None:
        return ("?", 0, "?")
    return (frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name)


def _check_index(shape, idx):
    """Raise IndexError unless every integer component of `idx` lies in [0, size)."""
    if isinstance(idx, str):  # a record field
        return
    components = idx if isinstance(idx, tuple) else (idx,)
    for axis, i in enumerate(components):
        if isinstance(i, bool) or not isinstance(i, int | np.integer):
            continue  # a slice, an array or a field: left to NumPy
        if axis < len(shape) and not 0 <= i < shape[axis]:
            file, line, function = _kernel_site(3)
            raise IndexError(
                f"kernel {function} ({os.path.basename(file)}:{line}): index {int(i)} out of "
                f"range for axis {axis} of size {shape[axis]} (a GPU would read or write "
                f"outside the array silently)"
            )


class CheckedArray(np.ndarray):
    """A NumPy array whose integer indices must lie in [0, size) (no wrap-around)."""

    def __getitem__(self, idx):
        _check_index(self.shape, idx)
        return super().__getitem__(idx)

    def __setitem__(self, idx, value):
        _check_index(self.shape, idx)
        super().__setitem__(idx, value)


class SharedArray(CheckedArray):
    """A cuda.shared.array: index-checked, and every element access race-checked.

    _shadow: flat index -> [write_epoch, writer, read_epoch, reader, many_readers].
    """

    def __getitem__(self, idx):
        _check_index(self.shape, idx)
        self._record(idx, write=False)
        return np.ndarray.__getitem__(self, idx)

    def __setitem__(self, idx, value):
        _check_index(self.shape, idx)
        self._record(idx, write=True)
        np.ndarray.__setitem__(self, idx, value)

    def _record(self, idx, write):
        thread = threading.current_thread()
        manager = getattr(thread, "_manager", None)
        shadow = getattr(self, "_shadow", None)
        components = idx if isinstance(idx, tuple) else (idx,)
        if manager is None or shadow is None or len(components) != self.ndim or not all(
                isinstance(i, int | np.integer) for i in components):
            return  # host code, or a slice: not an element access
        flat = int(np.ravel_multi_index(tuple(int(i) for i in components), self.shape))
        epoch, me = manager.epoch, thread.thread_id
        with _shadow_lock:
            entry = shadow.setdefault(flat, [0, -1, 0, -1, False])
            write_epoch, writer, read_epoch, reader, many = entry
            problem = None
            if write_epoch == epoch and writer != me:
                problem = (f"thread {me} {'writes' if write else 'reads'} it, thread {writer} "
                           f"wrote it")
            elif write and read_epoch == epoch and (reader != me or many):
                problem = f"thread {me} writes it, thread {reader} (or another) read it"
            elif not write and write_epoch < manager.block_epoch:
                file, line, function = _kernel_site(3)
                raise SimulatorCheckError(
                    f"kernel {function} ({os.path.basename(file)}:{line}): thread {me} reads "
                    f"shared element {tuple(int(i) for i in components)}, never written in this "
                    f"block so far (shared memory is not initialised: a missing write, or a "
                    f"missing cuda.syncthreads() before this read)")
            if problem:
                file, line, function = _kernel_site(3)
                raise SimulatorCheckError(
                    f"kernel {function} ({os.path.basename(file)}:{line}): data race on shared "
                    f"element {tuple(int(i) for i in components)}: {problem}, with no "
                    f"cuda.syncthreads() between")
            if write:
                entry[0], entry[1] = epoch, me
            elif read_epoch == epoch:
                entry[4] = many or reader != me
            else:
                entry[2], entry[3], entry[4] = epoch, me, False


def _thread_name(t):
    return "(" + ",".join(str(v) for v in t.threadIdx) + ")"


def _abort(threads):
    for t in threads:  # as the simulator does on an exception
        t.abort = True
        t.syncthreads_blocked = False
        t.syncthreads_event.set()


def _checked_run(self, grid_point, *args):
    """numba's BlockManager.run, with the barrier checks of the module docstring."""
    from numba.cuda.simulator.kernel import BlockThread

    threads, live, blocked = [], set(), set()
    self.block_epoch = self.epoch = next(_epochs)  # before any thread starts
    for block_point in np.ndindex(*self._block_dim):

        def target():
            self._f(*args)

        t = BlockThread(target, self, grid_point, block_point, self._debug)
        t.barrier_site = None
        t.start()
        threads.append(t)
        live.add(t)
    block = "(" + ",".join(str(v) for v in grid_point) + ")"
    kernel = getattr(self._f, "__name__", "?")
    while live:
        for t in live:
            if t.syncthreads_blocked:
                blocked.add(t)
            elif t.exception:
                _abort(threads)
                raise t.exception[0].with_traceback(t.exception[1])
        if blocked and live == blocked:
            for t in threads:
                if t.exception:
                    _abort(threads)
                    raise t.exception[0].with_traceback(t.exception[1])
            waiting = sorted(blocked, key=lambda t: t.thread_id)
            sites = {t.barrier_site for t in waiting}
            first = waiting[0]
            if len(sites) > 1:
                other = next(t for t in waiting if t.barrier_site != first.barrier_site)
                _abort(threads)
                raise SimulatorCheckError(
                    f"kernel {kernel}: block {block}: threads wait at different barriers: "
                    f"thread {_thread_name(first)} at cuda.syncthreads() on line "
                    f"{first.barrier_site[1]}, thread {_thread_name(other)} on line "
                    f"{other.barrier_site[1]}"
                )
            gone = sorted((t for t in threads if t not in live), key=lambda t: t.thread_id)
            if gone:
                _abort(threads)
                raise SimulatorCheckError(
                    f"kernel {kernel}: block {block}: thread {_thread_name(gone[0])} left the "
                    f"kernel while thread {_thread_name(first)} waits at cuda.syncthreads() "
                    f"on line {first.barrier_site[1]} (a divergent barrier)"
                )
            self.epoch = next(_epochs)  # a new barrier interval, before anyone goes on
            for t in blocked:
                t.syncthreads_blocked = False
                t.syncthreads_event.set()
            blocked = set()
        live = {t for t in live if t.is_alive()}
    for t in threads:
        if t.exception:
            raise t.exception[0].with_traceback(t.exception[1])


def install():
    """Patch the simulator (this process) with the checks; a no-op when already done."""
    global _installed
    if _installed:
        return
    from numba.cuda.simulator import kernel as sim_kernel
    from numba.cuda.simulator import kernelapi
    from numba.cuda.simulator.cudadrv import devicearray

    original_sync = sim_kernel.BlockThread.syncthreads

    def syncthreads(self):
        self.barrier_site = _kernel_site()
        original_sync(self)

    sim_kernel.BlockThread.syncthreads = syncthreads
    sim_kernel.BlockManager.run = _checked_run

    within = devicearray.FakeWithinKernelCUDAArray
    original_get, original_set = within.__getitem__, within.__setitem__

    def getitem(self, idx):
        _check_index(self._item.shape, idx)
        return original_get(self, idx)

    def setitem(self, idx, value):
        _check_index(self._item.shape, idx)
        original_set(self, idx, value)

    within.__getitem__, within.__setitem__ = getitem, setitem

    original_shared = kernelapi.FakeCUDAShared.array

    def shared_array(self, shape, dtype, alignment=None):
        if shape == 0:  # dynamic shared memory: the simulator's own buffer
            return original_shared(self, shape, dtype, alignment)
        if alignment is not None:
            raise RuntimeError("Array alignment is not supported in cudasim")
        dtype = _as_dtype(dtype)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)  # one array per source line
        if key not in self._allocations:
            array = np.empty(shape, dtype).view(SharedArray)
            array._shadow = {}
            self._allocations[key] = array
        return self._allocations[key]

    def local_array(self, shape, dtype, alignment=None):
        return np.empty(shape, _as_dtype(dtype)).view(CheckedArray)

    def _as_dtype(dtype):  # a Numba type (float64, ...) as the NumPy dtype, as numba does
        if isinstance(dtype, kernelapi.types.Type):
            return kernelapi.numpy_support.as_dtype(dtype)
        return dtype

    kernelapi.FakeCUDAShared.array = shared_array
    kernelapi.FakeCUDALocal.array = local_array
    _installed = True
