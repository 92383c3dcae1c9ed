"""benchmarks/ops.py's command line: settings that cannot be measured are refused before
any timing starts (and before the result folder is made)."""

import pytest


@pytest.mark.parametrize("argv, message", [
    (["--conv-thread-mib", "-1"], "--conv-thread-mib: expected a number >= 0, got -1.0"),
    (["--conv-block-mib", "0"], "--conv-block-mib: expected a number > 0, got 0.0"),
    (["--repeat", "0"], "--repeat: expected an int >= 1, got 0"),
])
def test_refuses_bad_settings_before_timing(load_benchmark, tmp_path, capsys, argv, message):
    ops_script = load_benchmark("ops")
    out = tmp_path / "results"
    with pytest.raises(SystemExit) as exit_info:
        ops_script.main([*argv, "--out", str(out)])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_total_line_sums_the_conv_layers_work_and_times(load_benchmark):
    ops_script = load_benchmark("ops")
    rows = [dict(op="conv2d a", dtype="float32", gflops=2.0, ours_median=0.3,
                 torch_median=0.1, ratio=3.0),
            dict(op="conv2d b", dtype="float32", gflops=5.5, ours_median=0.1,
                 torch_median=0.2, ratio=0.5),
            dict(op="relu", dtype="float32", ours_median=9.0, torch_median=1.0, ratio=9.0)]
    (line,) = ops_script.total_lines(rows)
    assert line == ("- float32: all 2 conv layers (7.5 GFLOP) 0.400 s vs PyTorch 0.300 s "
                    "(**1.33x**); worst layer conv2d a 3.00x")


def test_conv_rows_run_with_the_networks_product_threading(load_benchmark, monkeypatch):
    # Each row's ours must run under the setting UNet itself picks for that network at the
    # start of its forward pass (every product on our threads for the base-32 net on a 572
    # tile, not for the --quick net), and leave the setting as it was.
    import numpy as np

    from minimal_unet.model import UNet, UNetConfig
    from minimal_unet.ops import _threads

    ops_script = load_benchmark("ops")

    class Picked(Exception):
        pass

    def what_unet_picks(tile, base):
        picked = []

        def record(on):
            picked.append(bool(on))
            raise Picked  # the decision is all this test needs: stop the forward pass

        net = UNet(UNetConfig(in_channels=1, n_classes=2, depth=4, base_channels=base),
                   dtype=np.float32)
        with monkeypatch.context() as patch:
            patch.setattr(_threads, "set_every_product", record)
            with pytest.raises(Picked):
                net.forward(np.zeros((1, 1, tile, tile), np.float32))
        return picked[0]

    seen = []
    for net in (ops_script.NET, ops_script.QUICK):
        before = _threads._EVERY_PRODUCT
        ops_script.as_in_network(lambda: seen.append(_threads._EVERY_PRODUCT), net, 4)()
        assert _threads._EVERY_PRODUCT is before
        assert seen[-1] is what_unet_picks(*net)
    assert seen == [True, False]  # the two cases the table has
