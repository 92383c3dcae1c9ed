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


def test_conv_rows_run_with_the_networks_product_threading(load_benchmark):
    # The base-32 net on a 572 tile has layers for our threads, so UNet sends every
    # product of its step there; the --quick net has none. Each row's ours must see the
    # same setting, and leave it as it was.
    from minimal_unet.model import UNetConfig
    from minimal_unet.ops import _threads
    from minimal_unet.ops.conv2d import runs_on_our_threads
    from minimal_unet.sizes import largest_im2col_bytes

    ops_script = load_benchmark("ops")
    seen = []
    for layers, (tile, base) in ((ops_script.NET_LAYERS, (572, 32)),
                                 (ops_script.QUICK_LAYERS, (188, 8))):
        run = ops_script.as_in_network(lambda: seen.append(_threads._EVERY_PRODUCT), layers, 4)
        config = UNetConfig(in_channels=1, n_classes=2, depth=4, base_channels=base)
        as_unet = runs_on_our_threads(largest_im2col_bytes(config, (1, 1, tile, tile), 4))
        before = _threads._EVERY_PRODUCT
        run()
        assert seen[-1] is as_unet and _threads._EVERY_PRODUCT is before
    assert seen == [True, False]
