"""Kernel-VAE benchmark: training throughput of every objective, and the cost of the tensor-ring induced prior.

    .venv/bin/python bench/vae.py            # 4,096 slices per timed epoch, best of 2 after a warm-up
    .venv/bin/python bench/vae.py --quick    # 2,048 slices, 1 repeat (a smoke test)

1. Training throughput, slices per second: one epoch of `markovdwp vae`'s fastai `Learner` (`vae_learner`: the
   runtime's loss and backward, Adam, LR decay, the loss-term columns; the held-out evaluation and pictures are left
   out, they run once per epoch whatever the data size) on random slices, for the 7x7 (z=2, h=32) and 5x5 (z=4, h=64)
   nets of the DWP paper with SGVB, IWAE (8 draws, naive and DReG), TRIP and VAMP. Best of the repeats, after a warm-up.
2. TRIP `log_prob` (+ backward) at 16, 32 and 64 latent dimensions (support 8 per dimension, rank 4, as
   `TRIPRuntime`'s defaults; and support 32, rank 16, the size the stability test uses) on a batch of latents,
   relative to the diagonal standard-normal prior of the SGVB runtime on the same batch.

Prints two tables; for information (no target), exit status 0."""
import argparse, contextlib, io, sys, time, warnings
from pathlib import Path

import torch
from torch.distributions import Independent, Normal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from markovdwp_nb.distributions import TRIP
from markovdwp_nb.vae import IWAERuntime, SGVBRuntime, TRIPRuntime, VAMPRuntime, kernel_vae
from markovdwp_nb.vae_train import HeldOutLikelihood, KernelPictures, vae_learner

OBJECTIVES = {'SGVB': (SGVBRuntime, {}), 'IWAE (8, naive)': (IWAERuntime, {'n_draws': 8}),
              'IWAE (8, DReG)': (IWAERuntime, {'n_draws': 8, 'naive_grad': False}),
              'TRIP': (TRIPRuntime, {'shape': 8, 'rank': 4}), 'VAMP': (VAMPRuntime, {'n_pseudo': 50})}
NETS = {'7x7': (7, 2, 32), '5x5': (5, 4, 64)}
BATCH_SIZE = 256


def random_dls(kernel_size: int, n_slices: int) -> DataLoaders:
    "Random slices (scaled like trained kernels) as fastai DataLoaders of (slice, label) pairs."
    generator = torch.Generator().manual_seed(0)
    slices = 0.05 * torch.randn(n_slices, 1, kernel_size, kernel_size, generator=generator)
    items = [(s, 0) for s in slices]
    train = DataLoader(items, bs=BATCH_SIZE, shuffle=True, drop_last=True)
    valid = DataLoader(items[:BATCH_SIZE], bs=BATCH_SIZE)
    for loader in (train, valid): loader.n_inp = 1
    return DataLoaders(train, valid, device='cpu')


def throughput(kernel_size: int, z_dim: int, h_dim: int, runtime_cls, options: dict, n_slices: int, repeats: int) -> float:
    "Training slices per second of one epoch (best of `repeats`, after a warm-up epoch)."
    torch.manual_seed(0)
    runtime = runtime_cls(*kernel_vae(kernel_size, z_dim=z_dim, h_dim=h_dim, scale=0.05), **options)
    manifest = {'trainer': {'max_epochs': 1}, 'options': {'lr': 1e-3}}
    learn = vae_learner(manifest, runtime, random_dls(kernel_size, n_slices))
    for cb in [cb for cb in learn.cbs if isinstance(cb, (HeldOutLikelihood, KernelPictures))]: learn.remove_cb(cb)
    times = []
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), learn.no_bar(), learn.no_logging():
        warnings.simplefilter('ignore')
        for _ in range(repeats + 1):
            start = time.perf_counter()
            learn.fit(1)
            times.append(time.perf_counter() - start)
    return (n_slices // BATCH_SIZE * BATCH_SIZE) / min(times[1:])


def seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def prior_cost(n_dims: int, support: int, rank: int, batch: int, repeats: int) -> tuple:
    "Seconds of log_prob + backward of TRIP and of the diagonal standard normal on `batch` latents of `n_dims`."
    torch.manual_seed(0)
    trip = TRIP([support] * n_dims, rank)
    z = torch.randn(batch, n_dims, requires_grad=True)
    normal = Independent(Normal(torch.zeros(n_dims), torch.ones(n_dims)), 1)
    def trip_step():
        trip.zero_grad(); z.grad = None
        trip.log_prob(z).sum().backward()
    def normal_step():
        z.grad = None
        normal.log_prob(z).sum().backward()
    return seconds(trip_step, repeats), seconds(normal_step, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='2,048 slices, one repeat: a smoke test')
    args = parser.parse_args(argv)
    n_slices, repeats = (2048, 1) if args.quick else (4096, 2)
    print(f'bench vae: CPU, {torch.get_num_threads()} threads; torch {torch.__version__}; batch {BATCH_SIZE}, {n_slices:,} slices per epoch')
    print(f'\n{"training throughput, slices/s":<34}' + ''.join(f'{name:>18}' for name in NETS))
    for objective, (runtime_cls, options) in OBJECTIVES.items():
        rates = [throughput(*NETS[net], runtime_cls, options, n_slices, repeats) for net in NETS]
        print(f'{objective:<34}' + ''.join(f'{rate:>18,.0f}' for rate in rates), flush=True)

    batch = 1024 if args.quick else 4096
    print(f'\nprior log_prob + backward on {batch} latents{"":<6}{"TRIP ms":>10}{"N(0, I) ms":>12}{"TRIP / N(0, I)":>16}')
    for support, rank in ((8, 4), (32, 16)):
        for n_dims in (16, 32, 64):
            trip_s, normal_s = prior_cost(n_dims, support, rank, batch, repeats)
            print(f'{f"  {n_dims} dims, support {support}, rank {rank}":<45}{trip_s * 1e3:>10.2f}{normal_s * 1e3:>12.3f}{trip_s / normal_s:>15.0f}x',
                  flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
