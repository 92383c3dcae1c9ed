"""`minimal-unet gradcheck`: the whole network's backward pass against finite differences."""

import numpy as np

from minimal_unet.cli._common import positive_float, positive_int
from minimal_unet.cli.sizes import depth_type


def add_gradcheck_parser(subparsers):
    p = subparsers.add_parser(
        "gradcheck", help="check the network's backward pass by finite differences",
        description="Builds a tiny float64 U-Net, a random input, target and weight map, "
                    "and compares every parameter's gradient (and the input's) with "
                    "centred finite differences. Exit code 1 if any check fails.")
    p.add_argument("--depth", type=depth_type, default=1)
    p.add_argument("--base", type=positive_int, default=2, help="base channels")
    p.add_argument("--padding", choices=("valid", "same"), default="valid")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--method", choices=("full", "directional"), default="full",
                   help="full: every element; directional: one random direction per array")
    p.add_argument("--tol", type=positive_float, default=1e-7)
    p.set_defaults(func=run_gradcheck)
def run_gradcheck(args):
    from minimal_unet import gradcheck, sizes
    from minimal_unet.model import UNet, UNetConfig

    config = UNetConfig(depth=args.depth, base_channels=args.base, padding=args.padding)
    net = UNet(config, seed=args.seed, dtype=np.float64)
    rng = np.random.default_rng(args.seed)
    n = sizes.nearest_legal_input_size(config, 1)
    o = sizes.output_size(config, n)
    x = rng.standard_normal((1, 1, n, n))
    target = rng.integers(0, config.n_classes, (1, o, o))
    weight = rng.uniform(0.5, 2.0, (1, o, o))
    loss, dlogits = net.ops.softmax_cross_entropy(net.forward(x), target, weight)
    grads, dx = net.backward(dlogits, return_dx=True)

    def loss_fn(**inputs):  # the parameters are perturbed in place inside net.params
        logits = net.forward(inputs["input"], train=False)
        return float(net.ops.softmax_cross_entropy(logits, target, weight)[0])

    inputs = {**net.params, "input": x}
    analytic = {**grads, "input": dx}
    if args.method == "full":
        errors = gradcheck.check_gradients(loss_fn, inputs, analytic)
    else:
        errors = gradcheck.directional_check(loss_fn, inputs, analytic, rng)
    print(f"{config}, input {n}x{n} -> {o}x{o}, float64, {args.method} finite differences")
    print(gradcheck.format_report(errors, tol=args.tol))
    worst = max(errors.values())
    print(f"worst relative error {worst:.2e}: {'ok' if worst < args.tol else 'FAIL'}")
    return 0 if worst < args.tol else 1
