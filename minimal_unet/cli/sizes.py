"""`minimal-unet sizes`: legal tile sizes and the layer table of a configuration."""

import argparse

from minimal_unet.cli._common import positive_int

MAX_DEPTH = 12  # depth 12 already needs inputs of 49,148 px; deeper is refused, not hung


def depth_type(text):
    """A depth in 1..MAX_DEPTH (deeper nets need inputs of 2^depth * 8 pixels and more)."""
    value = positive_int(text)
    if value > MAX_DEPTH:
        raise argparse.ArgumentTypeError(
            f"expected a depth in 1..{MAX_DEPTH}, got {value} (a depth-{value} net needs "
            f"inputs of at least 2^{value} * 8 pixels)")
    return value


def add_sizes_parser(subparsers):
    p = subparsers.add_parser(
        "sizes", help="legal tile sizes and the layer table",
        description="Lists the legal input sizes in [--lo, --hi] with their output sizes, "
                    "and the layer-by-layer shapes for --input (default: the nearest legal "
                    "size to 572).")
    p.add_argument("--depth", type=depth_type, default=4, help=f"1..{MAX_DEPTH}")
    p.add_argument("--base", type=positive_int, default=64, help="base channels")
    p.add_argument("--padding", choices=("valid", "same"), default="valid")
    p.add_argument("--in-channels", type=positive_int, default=1)
    p.add_argument("--classes", type=int, default=2)
    p.add_argument("--lo", type=positive_int, default=1)
    p.add_argument("--hi", type=positive_int, default=700)
    p.add_argument("--input", type=positive_int, help="tile size for the layer table")
    p.set_defaults(func=run_sizes)


def run_sizes(args):
    from minimal_unet import sizes
    from minimal_unet.model import UNetConfig

    config = UNetConfig(in_channels=args.in_channels, n_classes=args.classes,
                        depth=args.depth, base_channels=args.base, padding=args.padding)
    legal = sizes.legal_input_sizes(config, args.lo, args.hi)
    print(f"{config}: {sizes.n_parameters(config):,} parameters, receptive field "
          f"{sizes.receptive_field(config)} px")
    print(f"legal input sizes in [{args.lo}, {args.hi}] (input -> output):")
    print("  " + (", ".join(f"{n}->{sizes.output_size(config, n)}" for n in legal)
                  or f"none (the smallest is {sizes.nearest_legal_input_sizes(config, 1)[1]})"))
    tile = args.input if args.input is not None else sizes.nearest_legal_input_size(config, 572)
    print(f"\nlayer table for a {tile}x{tile} input:")
    print(sizes.format_layer_table(config, (tile, tile)))  # ValueError names legal sizes
    return 0
