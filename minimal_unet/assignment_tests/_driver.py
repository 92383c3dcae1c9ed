"""Run the graded tests against a student's package and write the results as JSON.

    python _driver.py STUDENT_DIR RESULTS_JSON SECONDS_PER_TEST

Run by minimal_unet.assignment.run_graded_tests from a temporary copy of this folder. The
student's folder goes first on sys.path, and we check that `minimal_unet` really is
imported from it before any test runs. Each test gets SECONDS_PER_TEST seconds (SIGALRM);
a student's endless loop fails that one test with a TimeoutError instead of the whole run.
"""

import json
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


class GradedTestTimeout(Exception):
    pass


class Recorder:
    """A pytest plugin that keeps one record per test: exercise, outcome, error type."""

    def __init__(self, seconds_per_test):
        self.seconds = seconds_per_test
        self.tests = {}
        self.collection_errors = []

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append({"test": report.nodeid,
                                           "message": str(report.longrepr)[-2000:]})

    def pytest_collection_modifyitems(self, items):
        for item in items:
            marker = item.get_closest_marker("exercise")
            exercise = marker.args[0] if marker else "(no exercise)"
            self.tests[item.nodeid] = {"test": item.nodeid, "exercise": exercise,
                                       "outcome": "passed", "error_type": "", "message": ""}

    def pytest_runtest_setup(self, item):
        def on_alarm(signum, frame):
            raise GradedTestTimeout(f"the test ran longer than {self.seconds} s")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(self.seconds)

    def pytest_runtest_teardown(self, item):
        signal.alarm(0)

    def pytest_runtest_makereport(self, item, call):
        record = self.tests[item.nodeid]
        if call.excinfo is None or record["outcome"] != "passed":
            return
        if call.excinfo.typename == "Skipped":
            record["outcome"] = "skipped"
            record["message"] = str(call.excinfo.value)[:300]
        else:
            record["outcome"] = "failed"
            record["error_type"] = call.excinfo.typename
            record["message"] = str(call.excinfo.value).strip()[:500]


def main():
    student, results_path, seconds = Path(sys.argv[1]).resolve(), Path(sys.argv[2]), sys.argv[3]
    sys.path.insert(0, str(student))
    import minimal_unet

    package = Path(minimal_unet.__file__).resolve()
    if not package.is_relative_to(student):
        sys.exit(f"grading driver: imported minimal_unet from {package}, expected it from the "
                 f"student folder {student}")
    import pytest

    (HERE / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    exercise(name): the exercise a graded test scores\n")
    recorder = Recorder(int(seconds))
    code = pytest.main([str(HERE), "-q", "-rN", "-p", "no:cacheprovider", "--rootdir", str(HERE),
                        "-c", str(HERE / "pytest.ini"), "--import-mode=importlib",
                        "--strict-markers"], plugins=[recorder])
    results_path.write_text(json.dumps({
        "student_dir": str(student), "package": str(package.parent), "exit_code": int(code),
        "tests": list(recorder.tests.values()),
        "collection_errors": recorder.collection_errors}, indent=1))


if __name__ == "__main__":
    main()
