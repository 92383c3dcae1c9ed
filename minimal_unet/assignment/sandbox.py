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
    (os._exit, a crash, a MemoryError at start-up) fails the calls that follow;
  - leftover processes: the child starts in a session of its own, and on Linux the grader
    makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so that a daemon the
    student's code forks (double fork, os.setsid) is reparented to the grader instead of
    init. When the exercise ends, `close` kills the child's session and process group and
    every process reparented to the grader that is not in the grader's own session, until
    none is left (`kill_leftovers`). Elsewhere only the child's process group is killed;
  - write access: when the grader runs as root (Gradescope does), the child runs as an
    unprivileged user (`nobody`/`nogroup`, no supplementary groups) on a read-only copy of
    the student's package in a fresh temporary folder, with a private scratch folder as
    HOME and TMPDIR: it cannot write the results folder, the teacher's installed package or
    the submission. Run as another user, the child has that user's rights (see
    docs/assignments.md, "What this does not stop").
"""

import os
import pickle
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
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


SANDBOX_USER = "nobody"  # the child's user when the grader runs as root
SANDBOX_GROUP = "nogroup"
PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
_SUBREAPER = []  # [True] once this process is a child subreaper, [False] if it cannot be


def become_subreaper():
    """Make this process a child subreaper (Linux); True if it is one."""
    if not _SUBREAPER:
        ok = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None, use_errno=True)
                ok = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            except (OSError, AttributeError):
                ok = False
        _SUBREAPER.append(ok)
    return _SUBREAPER[0]


def _proc_stat(pid):
    """(ppid, process group, session) of `pid` from /proc, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[2]), int(fields[3])
    except (OSError, IndexError, ValueError):
        return None


def _children():
    """The pids of this process's children (Linux /proc; empty elsewhere)."""
    if not os.path.isdir("/proc/self"):
        return set()
    me, children = os.getpid(), set()
    for entry in os.listdir("/proc"):
        info = _proc_stat(entry) if entry.isdigit() else None
        if info is not None and info[0] == me:
            children.add(int(entry))
    return children


def _leftovers(session, known=()):
    """Processes of the child's session/group, and orphans reparented to this process
    (children of ours outside our session that were not there before: `known`)."""
    me, my_session = os.getpid(), os.getsid(0)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me or int(entry) in known:
            continue
        info = _proc_stat(entry)
        if info is None:
            continue
        ppid, group, sid = info
        if sid == session or group == session or (ppid == me and sid != my_session):
            found.append(int(entry))
    return found


def kill_leftovers(session, known=(), timeout_s=5.0):
    """SIGKILL every process the child left (see the module docstring); reap ours.

    known: this process's children from before the child started (left alone)."""
    if not hasattr(os, "killpg"):  # Windows: the child itself was killed, no more
        return
    try:
        os.killpg(session, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    if not os.path.isdir("/proc/self"):
        return
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pids = _leftovers(session, known)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in pids:  # the orphans reparented to us are our children: reap them
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        if not pids:
            return
        time.sleep(0.02)


def _drop_privileges():
    """(uid, gid) of the unprivileged child when the grader runs as root, else None."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    import grp
    import pwd

    try:
        uid = pwd.getpwnam(SANDBOX_USER).pw_uid
    except KeyError:
        uid = 65534
    try:
        gid = grp.getgrnam(SANDBOX_GROUP).gr_gid
    except KeyError:
        gid = 65534
    return uid, gid


def _readable_copy(student_dir, workspace):
    """A copy of the student's package (and kernels) that everyone may read, none write.

    Symbolic links are copied as links, never followed (this runs as root: a link to a
    file only root may read must stay unreadable to the child) and never chmod-ed.
    """
    target = Path(workspace) / "student"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("minimal_unet", "kernels"):
        source = Path(student_dir) / name
        if source.is_dir() and not source.is_symlink():
            shutil.copytree(source, target / name, ignore=ignore, symlinks=True)
    for script in (CHILD, PROBES):
        shutil.copy2(script, Path(workspace) / script.name)
    for folder, _dirs, files in os.walk(workspace):  # followlinks=False
        os.chmod(folder, 0o755)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IRUSR | stat.S_IWUSR | 0o044)
    return target


class Sandbox:
    """A child process running one exercise's student code (see the module docstring)."""

    def __init__(self, student_dir, setup, timeout_s=30.0, python=sys.executable):
        self.student_dir = str(Path(student_dir).resolve())
        self.timeout_s = float(timeout_s)
        self.setup = dict(setup)
        self.python = python
        self.process = None
        self.workspace = None
        self.known_children = set()
        self.dead = None  # the StudentError every later call raises, once the child is gone

    def __enter__(self):
        try:
            return self._start()
        except BaseException:
            self.close()  # no child, no temporary copy left behind, whatever went wrong
            raise

    def _start(self):
        self.waited = 0.0  # seconds spent waiting on the child (the grader's own time is free)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                   PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
        import json

        become_subreaper()
        self.known_children = _children()  # not the child's: left alone by close()
        drop = _drop_privileges()
        student_dir, child, probes = self.student_dir, CHILD, PROBES
        setup = dict(self.setup)
        if drop is not None:
            uid, gid = drop
            self.workspace = tempfile.mkdtemp(prefix="minimal_unet_sandbox_")
            student_dir = str(_readable_copy(self.student_dir, self.workspace))
            child = Path(self.workspace) / CHILD.name
            probes = Path(self.workspace) / PROBES.name
            scratch = Path(self.workspace) / "scratch"
            scratch.mkdir()
            os.chown(scratch, uid, gid)
            os.chmod(scratch, 0o700)
            env.update(HOME=str(scratch), TMPDIR=str(scratch), MPLCONFIGDIR=str(scratch))
            # The child drops to uid/gid itself, after loading the interpreter's and the
            # dependencies' modules as root (the interpreter may live where `nobody` cannot
            # read, e.g. under /root) and before any student code runs.
            setup.update(drop=[uid, gid], preload=str(CHILD.parents[2]), max_processes=256)
        self.process = subprocess.Popen(
            [self.python, "-I", str(child), student_dir, str(probes), json.dumps(setup)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=student_dir, env=env, start_new_session=True)
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
        """Kill the child and every process it left; remove the temporary copy."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            kill_leftovers(self.process.pid, self.known_children)  # pid = its session
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                try:
                    stream.close()
                except OSError:
                    pass
        if self.workspace is not None:
            shutil.rmtree(self.workspace, ignore_errors=True)
            self.workspace = None

    def _fail(self, error):
        self.dead = error
        self.close()
        raise error

    def _receive(self):
        left, start = self.timeout_s - self.waited, time.monotonic()
        deadline = start + max(left, 0.01)
        while True:
            try:
                payload = self.replies.get(timeout=min(0.1, max(deadline - time.monotonic(),
                                                                0.001)))
                break
            except queue.Empty:
                if time.monotonic() >= deadline:
                    self.waited += time.monotonic() - start
                    self._fail(StudentError(
                        "Timeout", f"ran past the time limit of {self.timeout_s:g} s for "
                        "this exercise and was stopped"))
                if self.process.poll() is not None:
                    # gone without a reply; processes it forked may still hold the pipe
                    # open: kill them so that the reader sees the end of it
                    kill_leftovers(self.process.pid, self.known_children)
        self.waited += time.monotonic() - start
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
