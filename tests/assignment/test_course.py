"""assignment/course.py: what a naive exercise may not call."""

from minimal_unet.assignment.course import forbidden_for


def test_a_naive_layer_may_not_call_the_fast_paths_helpers():
    rules = forbidden_for("conv2d_forward_naive")
    assert rules["minimal_unet.ops.conv2d:conv2d_forward"] == "the fast twin of this exercise"
    # the gathers and the Winograd tiles compute a convolution as well as the fast layer
    for helper in ("_im2col:im2col", "_im2col:im2col_rows", "_winograd:correlate_rows",
                   "_winograd:filter_gradient_rows", "_winograd:tile_correlation"):
        assert rules[f"minimal_unet.ops.{helper}"] == "a fast layer of the library"
    # the input checks stay allowed
    assert not any(key.split(":")[1].startswith("_check") for key in rules)
