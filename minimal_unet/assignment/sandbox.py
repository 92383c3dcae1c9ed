"""The grader's side of the sandbox: one child process per exercise, judged from outside.

    with Sandbox(student_dir, setup, timeout_s=30) as box:
        result, args_after = box.call("call", "minimal_unet.ops.relu:relu_forward_naive", x)

The child (`_child.py`, started with `python -I`) is the only process that imports the
student's package. The grader sends it inputs and receives arrays back, decoded with
np.load(allow_pickle=False); the tests' assertions, oracles and the results file stay in
this process. Limits:
  - wall clock: `timeout_s` for the whole exercise (start-up and every call: the time the
    grader waits on the child; its own checks between calls are not counted), enforced by
    waiting on the reply with a timeout in a reader thread (no SIGALRM, works on Windows);
    past it the child is killed;
  - memory: RLIMIT_AS set by the child on itself before any student code runs (POSIX);
  - the child writes nothing the grader reads except its replies; a child that exits
    (os._exit, a crash, a MemoryError at start-up) fails the calls that follow.
"""

import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from minimal_unet.assignment._child import HEADER, decode_reply

CHILD = Path(__file__).resolve().parent / "_child.py"
PROBES = Path(__file__).resolve().parents[1] / "assignment_tests" / "_probes.py"


class StudentError(Exception):
    """The student's code failed a call: raised, was forbidden, timed out, or died."""

    def __init__(self, error_type, message, frames=(), forbidden=()):
        self.error_type, self.message = error_type, message
        self.frames, self.forbidden = [tuple(f) for f in frames], list(forbidden)
        where = f" (at {self.frames[-1][0]}:{self.frames[-1][1]})" if self.frames else ""
        super().__init__(f"{error_type}: {message}{where}")


MAX_REPLY_BYTES = 256 * 1024 * 1024  # no graded test needs more; a bigger reply is refused


def _reader(stream, replies):
    """Read length-prefixed replies from the child's stdout into `replies` until EOF."""
    while True:
        head = stream.read(HEADER.size)
        if len(head) < HEADER.size:
            replies.put(None)
            return
        (n,) = HEADER.unpack(head)
        body = stream.read(min(n, MAX_REPLY_BYTES))
        # the rest of the reply is the .npz, length-prefixed too
        size = stream.read(HEADER.size)
        if len(size) < HEADER.size or n > MAX_REPLY_BYTES or \
                HEADER.unpack(size)[0] > MAX_REPLY_BYTES:
            replies.put(None)
            return
        blob = stream.read(HEADER.unpack(size)[0])
        replies.put(head + body + size + blob)


class Sandbox:
    """A child process running one exercise's student code (see the module docstring)."""

    def __init__(self, student_dir, setup, timeout_s=30.0, python=sys.executable):
        self.student_dir = str(Path(student_dir).resolve())
        self.timeout_s = float(timeout_s)
        self.setup = dict(setup)
        self.python = python
        self.process = None
        self.dead = None  # the StudentError every later call raises, once the child is gone

    def __enter__(self):
        self.waited = 0.0  # seconds spent waiting on the child (the grader's own time is free)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        import json

        self.process = subprocess.Popen(
            [self.python, "-I", str(CHILD), self.student_dir, str(PROBES),
             json.dumps(self.setup)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=self.student_dir, env=env)
        self.replies = queue.Queue()
        threading.Thread(target=_reader, args=(self.process.stdout, self.replies),
                         daemon=True).start()
        self.stderr_tail = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        hello = self._receive()
        if not hello.get("ok"):
            self._fail(StudentError(hello.get("error_type", "ImportError"), hello["message"],
                                    hello.get("frames", ()), hello.get("forbidden", ())))
        return self

    def __exit__(self, *exc):
        self.close()

    def _drain_stderr(self):
        for line in self.process.stderr:
            self.stderr_tail = (self.stderr_tail + [line.decode(errors="replace")])[-40:]

    def close(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        if self.process is not None:
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                try:
                    stream.close()
                except OSError:
                    pass

    def _fail(self, error):
        self.dead = error
        self.close()
        raise error

    def _receive(self):
        left, start = self.timeout_s - self.waited, time.monotonic()
        try:
            payload = self.replies.get(timeout=max(left, 0.01))
            self.waited += time.monotonic() - start
        except queue.Empty:
            self._fail(StudentError("Timeout", f"ran past the time limit of "
                                    f"{self.timeout_s:g} s for this exercise and was stopped"))
        if payload is None:
            code = self.process.wait()
            why = ("ran out of memory" if any("MemoryError" in line for line in self.stderr_tail)
                   else "exited")
            self._fail(StudentError("ChildExited", f"the student's code {why} (exit code "
                                    f"{code}) before answering"))
        try:
            return decode_reply(payload)
        except (ValueError, KeyError, OSError) as error:
            self._fail(StudentError("BadReply", f"the reply could not be read: {error}"))

    def call(self, probe, *args, **kwargs):
        """Run probe(*args, **kwargs) in the child; its value, or StudentError."""
        if self.dead is not None:
            raise self.dead
        request = pickle.dumps((probe, args, kwargs))
        try:
            self.process.stdin.write(HEADER.pack(len(request)) + request)
            self.process.stdin.flush()
        except OSError:
            self._receive()  # the child is gone: report why
        reply = self._receive()
        if not reply.get("ok"):
            raise StudentError(reply.get("error_type", "Error"), reply.get("message", ""),
                               reply.get("frames", ()), reply.get("forbidden", ()))
        return reply["value"]
