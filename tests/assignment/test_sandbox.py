"""The sandbox's clean-up: what the child left is killed, the grader's other children not."""

import os
import subprocess
import sys
import time

import pytest

from minimal_unet.assignment import sandbox

linux = pytest.mark.skipif(not sys.platform.startswith("linux"),
                           reason="the leftover scan reads /proc (Linux)")


@linux
def test_a_child_of_the_grader_from_before_the_sandbox_is_left_alone():
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 start_new_session=True)
    try:
        assert sandbox.become_subreaper()
        known = sandbox._children()
        assert bystander.pid in known
        sandbox.kill_leftovers(bystander.pid + 10**7, known)  # a session that is not its
        time.sleep(0.2)
        assert bystander.poll() is None
        # the same process, not known before: an orphan outside our session, killed
        sandbox.kill_leftovers(bystander.pid + 10**7, ())
        bystander.wait(timeout=5)  # reaped by kill_leftovers already
        assert not os.path.exists(f"/proc/{bystander.pid}")
    finally:
        if bystander.poll() is None:
            bystander.kill()
            bystander.wait()
