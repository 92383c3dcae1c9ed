"""benchmarks/machine.py: what every benchmark record says about the machine it ran on."""

CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 17
model name\t: AMD EPYC
stepping\t: 1
flags\t\t: fpu avx2 avx512f

processor\t: 1
vendor_id\t: AuthenticAMD
cpu family\t: 26
model\t\t: 2
model name\t: Another Processor
stepping\t: 0
"""


def test_cpu_model_names_the_first_cpus_family_model_and_stepping(load_benchmark, tmp_path):
    machine = load_benchmark("machine")
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    # A VM may call two generations both "AMD EPYC"; the numbers tell them apart.
    assert machine.cpu_model(path) == "AMD EPYC (family 25, model 17, stepping 1)"
    path.write_text("processor\t: 0\nmodel name\t: Some CPU\n")  # no numbers: the name
    assert machine.cpu_model(path) == "Some CPU"
    path.write_text("processor\t: 0\nCPU implementer\t: 0x41\n")  # no model name at all
    assert machine.cpu_model(path) == "unknown"
    assert machine.cpu_model(tmp_path / "missing") == "unknown"


def test_cpu_vectors_reads_the_first_cpus_flags(load_benchmark, tmp_path):
    machine = load_benchmark("machine")
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)  # the first CPU lists avx512f; the second lists no flags
    assert machine.cpu_vectors(path) == "AVX-512"
    for flags, expected in [("fpu avx avx2 fma sse4_2", "AVX2 + FMA"),  # e.g. Zen 1-3
                            ("fpu avx avx2", "AVX2"), ("fpu avx sse4_2", "AVX"),
                            ("fpu sse4_2", "below AVX")]:
        path.write_text(f"processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
                        "flags\t\t: avx512f\n")
        assert machine.cpu_vectors(path) == expected, flags
    path.write_text("processor\t: 0\nCPU implementer\t: 0x41\n")  # no flags line (Arm)
    assert machine.cpu_vectors(path) == "unknown"
    assert machine.cpu_vectors(tmp_path / "missing") == "unknown"
    assert machine.machine_info()["cpu_vectors"] == machine.cpu_vectors()


def test_steal_seconds_reads_the_cpu_lines_eighth_number(load_benchmark, tmp_path):
    import os

    machine = load_benchmark("machine")
    path = tmp_path / "stat"
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq STEAL guest guest_nice
    path.write_text(f"cpu  409110 44 32790 543565 2422 0 500 {3 * tick} 0 0\n"
                    "cpu0 1 2 3 4 5 6 7 8 9 10\nintr 1 2 3\n")
    assert machine.steal_seconds(path) == 3.0  # the all-CPU line, not cpu0's
    assert machine.steal_seconds(tmp_path / "missing") is None
    path.write_text("cpu  1 2 3 4\n")  # an old kernel without the steal field
    assert machine.steal_seconds(path) is None
    assert machine.steal_between(2.5, 3.75) == 1.25
    assert machine.steal_between(None, 3.0) is None and machine.steal_between(1.0, None) is None
