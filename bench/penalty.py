"""Deep weight prior penalty benchmark: the batched penalty of `markovdwp_nb.priors` versus the seed's
strategy (one output row at a time, a backward pass per row), on the same layer and the same VAE.

    .venv/bin/python bench/penalty.py            # a 256x128x5x5 Conv2dGaussian, 3 timed repeats
    .venv/bin/python bench/penalty.py --quick    # a 64x32x5x5 layer, 1 timed repeat (a smoke test)

1. Builds a `Conv2dGaussian(128, 256, 5)` with random means and log-variances and the 5x5 kernel VAE
   of the published size (z = 4, h = 64, random weights), as an `ImplicitSlicePrior(kind='trainable')`.
2. Checks that both strategies give the same penalty and the same gradients (layer `weight`,
   `log_sigma2` and every encoder parameter) on the same draws.
3. Times the penalty + backward of both strategies, interleaved, best of the repeats:
   - package: `prior.penalty(layer).backward()`: all c_out x c_in slices in chunks of `chunk_size` (2048)
     slices, each chunk's gradients computed in the forward pass (`ChunkedSliceSum`), so the memory
     is one chunk's activations; `--chunk-size 0` times the single batch of every slice instead, and
     several sizes are timed side by side (on a GPU by default 2048, 8192 and one batch; the verdict
     takes the fastest, named in the output). Float32 throughout (TF32 only with `--tf32`);
   - reference: the seed's loop, one output row (c_in slices) at a time with a backward per row,
     written here with `torch.distributions`, the same math.
   Target: package >= 3x faster on CPU, >= 20x on a GPU (used when `torch.cuda.is_available()`).
   Both strategies run the same VAE networks on the same number of slices, so on a CPU, where the
   row loop's 128-slice batches already keep the cores busy, the ratio is bounded by the loop's
   per-row overheads: 1.0-1.2x measured on 2-core development machines (bench/results/penalty.md). The script
   counts the convolutions' floating-point operations and prints the rate each strategy reaches against a large
   float32 matrix product on the same device: the ceiling of any exact method with the same arithmetic.
4. Times a whole training step of a small Bayesian net holding that layer (forward, cross-entropy,
   every layer's penalty, backward) with the deep weight prior on the big layer versus the standard
   normal prior everywhere (for information).

Prints a table and PASS/FAIL; exits with status 1 if the target fails."""
import argparse, math, sys, time

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence

from markovdwp_nb.nn import Conv2dGaussian, LinearGaussian, named_penalties
from markovdwp_nb.priors import ImplicitSlicePrior, StandardNormalPrior
from markovdwp_nb.vae import kernel_vae

CPU_TARGET, GPU_TARGET = 3.0, 20.0
KERNEL_SIZE, Z_DIM, H_DIM = 5, 4, 64


def synchronize(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def make_layer(c_out: int, c_in: int, device, seed: int = 0) -> Conv2dGaussian:
    "A Conv2dGaussian with random means (std 0.1) and log-variances in [-8, -4]."
    torch.manual_seed(seed)
    layer = Conv2dGaussian(c_in, c_out, KERNEL_SIZE, padding=2)
    with torch.no_grad():
        layer.weight.normal_(0.0, 0.1)
        layer.log_sigma2.uniform_(-8.0, -4.0)
    return layer.to(device)


def make_prior(device, seed: int = 1) -> ImplicitSlicePrior:
    "The deep weight prior of a random 5x5 kernel VAE of the published size, with a trainable encoder."
    torch.manual_seed(seed)
    encoder, decoder = kernel_vae(KERNEL_SIZE, z_dim=Z_DIM, h_dim=H_DIM)
    return ImplicitSlicePrior(decoder, encoder, kind='trainable').to(device)


def reference_penalty(prior: ImplicitSlicePrior, layer: Conv2dGaussian, noise_w=None, noise_z=None) -> torch.Tensor:
    """The seed's strategy: for each output row of the kernel, the auxiliary-bound terms of its c_in slices,
    -H(q) + mean_s KL(r(z|w_s) || N(0, I)) - mean_{s,t} log p(w_s | z_st), then a backward pass of their sum.
    Returns the total penalty (detached); the gradients are accumulated in the parameters."""
    encoder, decoder = prior.encoder, prior.decoder
    n_draws_q, n_draws_r, c_in = prior.n_draws_q, prior.n_draws_r, layer.weight.shape[1]
    zeros = torch.zeros(decoder.input_shape, device=layer.weight.device)
    latent_prior = Independent(Normal(zeros, torch.ones_like(zeros)), zeros.dim())
    total = torch.zeros((), device=layer.weight.device)
    for row, (mean, log_var) in enumerate(zip(layer.weight, layer.log_sigma2)):
        q = Independent(Normal(mean.unsqueeze(-3), torch.exp(log_var / 2).unsqueeze(-3)), 3)   # c_in slices, 1 x k x k
        rows = slice(row * c_in, (row + 1) * c_in)
        eps = torch.randn(n_draws_q, *q.batch_shape, *q.event_shape, device=mean.device) if noise_w is None else noise_w[:, rows]
        w = q.mean + q.stddev * eps                                                              # S x c_in x 1 x k x k
        r = encoder(w)
        eta = torch.randn(n_draws_r, *r.batch_shape, *r.event_shape, device=mean.device) if noise_z is None else noise_z[:, :, rows]
        z = r.mean + r.stddev * eta                                                              # T x S x c_in x z x 1 x 1
        value = -q.entropy() + kl_divergence(r, latent_prior).mean(0) - decoder(z).log_prob(w).mean((0, 1))
        value.sum().backward()
        total += value.detach().sum()
    return total


def package_penalty(prior: ImplicitSlicePrior, layer: Conv2dGaussian, noise_w=None, noise_z=None) -> torch.Tensor:
    "This package: the penalty of all slices in one batch, one backward pass."
    if noise_w is None: value = prior.penalty(layer)
    else: value = prior.slice_sum(*prior.variational_slices(layer), noise_w, noise_z)
    value.backward()
    return value.detach()


def gradient_parameters(prior, layer) -> dict:
    return {'weight': layer.weight, 'log_sigma2': layer.log_sigma2,
            **{f'encoder.{name}': p for name, p in prior.encoder.named_parameters()}}


def zero_grad(prior, layer):
    for p in gradient_parameters(prior, layer).values(): p.grad = None


def check_agreement(prior, layer, device) -> tuple:
    "Both strategies on the same draws: the penalties and the largest gradient difference relative to the gradient's size."
    n_slices = layer.weight.shape[0] * layer.weight.shape[1]
    torch.manual_seed(2)
    noise_w = torch.randn(prior.n_draws_q, n_slices, 1, KERNEL_SIZE, KERNEL_SIZE, device=device)
    noise_z = torch.randn(prior.n_draws_r, prior.n_draws_q, n_slices, *prior.latent_shape, device=device)
    results = {}
    for name, fn in (('reference', reference_penalty), ('package', package_penalty)):
        zero_grad(prior, layer)
        value = fn(prior, layer, noise_w, noise_z)
        results[name] = value.item(), {k: p.grad.clone() for k, p in gradient_parameters(prior, layer).items()}
    (ref_value, ref_grads), (pkg_value, pkg_grads) = results['reference'], results['package']
    worst = max(((pkg_grads[k] - ref_grads[k]).abs().max() / ref_grads[k].abs().max().clamp_min(1e-30)).item() for k in ref_grads)
    return ref_value, pkg_value, worst


def seconds(fn, device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def package_label(chunk_size) -> str:
    return f'package: chunks of {chunk_size} slices' if chunk_size else 'package: all slices in one batch'


def time_penalties(prior, layer, device, repeats: int, chunk_sizes) -> dict:
    """Interleaved timings of the penalty + backward of the reference and of the package with each of `chunk_sizes`
    (None: one batch), fresh draws each time; `{label: [seconds, ...]}` with the reference first."""
    default = prior.chunk_size
    runs = [('reference', reference_penalty, default)] + [(package_label(size), package_penalty, size) for size in chunk_sizes]
    times = {label: [] for label, _, _ in runs}
    try:
        for _ in range(repeats):
            for label, fn, size in runs:
                prior.chunk_size = size
                zero_grad(prior, layer)
                times[label].append(seconds(lambda: fn(prior, layer), device))
    finally: prior.chunk_size = default
    return times


class BenchNet(nn.Sequential):
    "A small Bayesian CNN holding the benchmark layer: conv 3->c_in, pool, conv c_in->c_out (the layer), pool, linear."
    def __init__(self, layer: Conv2dGaussian):
        c_out, c_in = layer.weight.shape[:2]
        super().__init__(Conv2dGaussian(3, c_in, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), layer, nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), LinearGaussian(c_out, 10))


def training_step(net, images, labels, penalties: dict, n_train: int = 1000):
    "Forward, cross-entropy + 1/n_train x the sum of the layers' penalties, backward."
    net.zero_grad(set_to_none=True)
    kl = sum(value for _, value in named_penalties(net, penalties))
    loss = F.cross_entropy(net(images), labels) + kl / n_train
    loss.backward()


def time_training_steps(prior, layer, device, repeats: int, batch_size: int = 32, image_size: int = 16) -> dict:
    "Interleaved timings of a training step with the deep weight prior on the layer and with the standard normal prior."
    net = BenchNet(layer).to(device).train()
    torch.manual_seed(3)
    images = torch.randn(batch_size, 3, image_size, image_size, device=device)
    labels = torch.randint(0, 10, (batch_size,), device=device)
    setups = {'standard normal': {}, 'deep weight prior': {'3': prior}}
    for penalties in setups.values(): training_step(net, images, labels, penalties)  # warm-up
    times = {name: [] for name in setups}
    for _ in range(repeats):
        for name, penalties in setups.items():
            times[name].append(seconds(lambda: training_step(net, images, labels, penalties), device))
    return times


def multiply_adds(prior: ImplicitSlicePrior, device) -> dict:
    """Multiply-adds per slice of the encoder's and the decoder's convolutions in one forward pass, counted on one
    slice by forward hooks (as the hardware computes them: padded taps included)."""
    counts = {'encoder': 0, 'decoder': 0}
    def counter(side):
        def hook(module, inputs, output):
            kernel = module.weight.shape[2] * module.weight.shape[3]
            if isinstance(module, nn.ConvTranspose2d): counts[side] += inputs[0].numel() * module.out_channels * kernel
            else: counts[side] += output.numel() * (module.in_channels // module.groups) * kernel
        return hook
    handles = [m.register_forward_hook(counter(side)) for side, net in (('encoder', prior.encoder), ('decoder', prior.decoder))
               for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        codes = prior.encoder(torch.zeros(1, *prior.slice_shape, device=device)).mean
        prior.decoder(codes)
    for handle in handles: handle.remove()
    return counts


def penalty_flops(prior: ImplicitSlicePrior, n_slices: int, device) -> float:
    """Floating-point operations of the convolutions of penalty + backward for `n_slices` slices (one draw each):
    the encoder's forward, input and weight gradients (trainable), the decoder's forward and input gradients."""
    counts = multiply_adds(prior, device)
    encoder_passes = 3 if prior.kind == 'trainable' else 2
    return 2.0 * n_slices * prior.n_draws_q * (encoder_passes * counts['encoder'] + 2 * prior.n_draws_r * counts['decoder'])


def matmul_rate(device, size: int = 2048, repeats: int = 5) -> float:
    "The float32 matrix-product rate of this device in FLOP/s (best of `repeats` products of two size x size matrices)."
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    return 2.0 * size ** 3 / min(seconds(lambda: a @ b, device) for _ in range(repeats))


def verdict(ok: bool) -> str: return 'PASS' if ok else 'FAIL'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='a 64x32x5x5 layer and one timed repeat: a smoke test')
    parser.add_argument('--chunk-size', type=int, nargs='+', default=None,
                        help='slices per chunk of the package, one or more (0: one batch); default the prior\'s '
                             '(2048) on a CPU, 2048 8192 0 on a GPU; the verdict takes the fastest')
    parser.add_argument('--tf32', action='store_true', help='let cuDNN and matrix products use TF32 on a GPU (default: float32)')
    args = parser.parse_args()
    device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = args.tf32  # same values for both strategies
    (c_out, c_in), repeats = ((64, 32), 1) if args.quick else ((256, 128), 3)
    target = GPU_TARGET if device.type == 'cuda' else CPU_TARGET
    where = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} threads'

    layer, prior = make_layer(c_out, c_in, device), make_prior(device)
    chunk_sizes = args.chunk_size or ([prior.chunk_size, 8192, 0] if device.type == 'cuda' else [prior.chunk_size])
    chunk_sizes = [size or None for size in chunk_sizes]
    print(f'bench penalty: Conv2dGaussian {c_out}x{c_in}x{KERNEL_SIZE}x{KERNEL_SIZE} ({c_out * c_in:,} slices), '
          f'{KERNEL_SIZE}x{KERNEL_SIZE} kernel VAE (z={Z_DIM}, h={H_DIM}), kind={prior.kind!r}, '
          f'n_draws_q={prior.n_draws_q}, n_draws_r={prior.n_draws_r}, chunk sizes {chunk_sizes}; {where}; torch {torch.__version__}')

    ref_value, pkg_value, worst = check_agreement(prior, layer, device)  # also the warm-up of both
    agree = math.isclose(ref_value, pkg_value, rel_tol=1e-4) and worst < 1e-3
    print(f'same draws: penalty {ref_value:,.2f} (reference) vs {pkg_value:,.2f} (package); largest gradient difference '
          f'{worst:.1e} of the gradient\'s size  {"agree" if agree else "DISAGREE"}\n')

    times = time_penalties(prior, layer, device, repeats, chunk_sizes)
    best = {name: min(values) for name, values in times.items()}
    fastest = min((label for label in best if label != 'reference'), key=best.get)
    ratio = best['reference'] / best[fastest]
    print(f'{"penalty + backward":<48}{"seconds (best of " + str(repeats) + ")":>22}{"all runs":>28}')
    for label, values in times.items():
        name = f'reference: one output row at a time ({c_in} slices)' if label == 'reference' else label
        print(f'{name:<48}{best[label]:>22.3f}{"  " + " ".join(f"{t:.3f}" for t in values):>28}')
    print(f'{"speed-up (" + fastest.removeprefix("package: ") + ")":<48}{ratio:>21.2f}x   target >= {target:.0f}x ({device.type})  {verdict(ratio >= target)}')
    flops, peak = penalty_flops(prior, c_out * c_in, device), matmul_rate(device)
    rates = {name: flops / value for name, value in best.items()}
    precision = 'TF32' if args.tf32 and device.type == 'cuda' else 'float32'
    print(f'the VAE convolutions of penalty + backward: {flops / 1e9:,.0f} GFLOP; reference at {rates["reference"] / 1e9:,.0f} GFLOP/s, '
          f'package at {rates[fastest] / 1e9:,.0f} GFLOP/s; a {2048}x{2048} {precision} matrix product at {peak / 1e9:,.0f} GFLOP/s\n'
          f'  so no exact computation with the same arithmetic can beat the reference by more than about '
          f'{peak / rates["reference"]:.1f}x on this device\n')

    steps = time_training_steps(prior, layer, device, repeats)
    best_steps = {name: min(values) for name, values in steps.items()}
    step_ratio = best_steps['deep weight prior'] / best_steps['standard normal']
    print(f'training step of a small Bayesian net with this layer (batch 32 of 3x16x16: forward, loss, penalties, backward)')
    for name, value in best_steps.items(): print(f'  {name + " prior" if name == "standard normal" else name:<46}{value:>22.3f}')
    print(f'  {"deep weight prior / standard normal":<46}{step_ratio:>21.2f}x   (for information)')

    ok = agree and ratio >= target
    print(f'\nbench penalty: {verdict(ok)}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
