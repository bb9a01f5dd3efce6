"""The Markov DWP (configs/markov5x5.json) against the deep weight prior's VAE of independent slices and Gaussian models,
on the whole 5x5 kernels (features.conv1, 128 x 32 slices) of held-out source models: does modelling the filter bank as
a whole buy likelihood?

    .venv/bin/python bench/markov.py                  # the offline-default zoo of bench/dwp_claims.py
    .venv/bin/python bench/markov.py --zoo DIR        # any directory of source snapshots (DigitsNet-like layer names)

1. The zoo and the two vaults of bench/kernel_models.py (the last `--held-out` source models held out), and its
   recommended 5x5 kernel VAE (configs/vae5x5.json, trained there or reused).
2. `markovdwp markov` with configs/markov5x5.json, started at that VAE (`markov.init`), trained on blocks of the training
   vault (reused when the same manifest trained it before).
3. Scores, in nats per slice on every slice of the held-out models' whole kernels:
   - the Markov DWP: ELBO and IWAE (`--draws` joint draws of all codes of a kernel; for thousands of slices per
     bank the importance weights barely tighten the ELBO);
   - the VAE of independent slices (the DWP): IWAE with `--draws` draws per slice (and its ELBO);
   - a full-covariance Gaussian of independent slices, fitted to every training slice (maximum likelihood);
   - the same Gaussian with a shared mean per filter (a random-effects model: slice = filter mean + within-filter
     noise, both Gaussian, fitted by moments), scored exactly: how much a filter's slices tell about each other when
     the dependence is a shared offset; and the same per input channel.
Prints the table; no pass/fail (there is no target yet: this measures the offline zoo)."""
import argparse, hashlib, json, math, sys, time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT/'bench'))

from markovdwp_nb.spec import load_manifest
from markovdwp_nb.kernels import open_layer, read_meta
from markovdwp_nb.markov import FilterBanks, evaluate_markov, load_markov, train_markov
from markovdwp_nb.vae_train import evaluate_vae, kernel_batches
from dwp_claims import log, quiet
from kernel_models import split_vaults, the_zoo, trained_vae

LAYER = 'features.conv1'


def markov_model(vault: Path, held_out: Path, init: Path, work: Path, epochs: int, n_banks: int | None = None):
    """Train configs/markov5x5.json from `init` on `vault` (held-out feed: `held_out`; `n_banks` banks an epoch instead of the
    config's), or reuse the model trained from the same manifest."""
    manifest = load_manifest(ROOT/'configs'/'markov5x5.json', kind='markov',
                             env={'VAULT': str(vault), 'HELD_OUT': str(held_out), 'INIT': str(init)})
    manifest['trainer']['max_epochs'] = epochs
    if n_banks is not None: manifest['dataset']['train']['n_banks'] = n_banks
    manifest['options']['wandb'] = False  # no W&B run for a benchmark
    target = work/f'markov5x5__{LAYER}__e{epochs}.pt'
    inputs, stamp = markov_inputs(vault, held_out, init), target.with_suffix('.inputs.json')
    if target.exists():
        # the same manifest names the same files; the stamp (where there is one) says they still hold what the model was trained on
        recorded = json.loads(stamp.read_text()) if stamp.is_file() else None
        if torch.load(target, weights_only=True).get('config') == manifest and recorded in (None, inputs): return load_markov(target), target, None
        target.unlink()
    start = time.time()
    with quiet(): train_markov(manifest, target=target, seed=0, device='cpu')
    stamp.write_text(json.dumps(inputs, indent=1))
    return load_markov(target), target, time.time() - start


def markov_inputs(vault: Path, held_out: Path, init: Path) -> dict:
    "What a Markov DWP was trained from: the sha256 of its initial VAE's file and of the two vaults' meta.json (their sources and layers)."
    digest = lambda path: hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return {'init': digest(init), 'vault': digest(Path(vault)/'meta.json'), 'held_out': digest(Path(held_out)/'meta.json')}


def kernels(vault: Path) -> np.ndarray:
    "The layer's kernels `n_models x c_out x c_in x k*k`, float64."
    array = np.asarray(open_layer(vault, read_meta(vault), LAYER).array, dtype=np.float64)
    return array.reshape(*array.shape[:3], -1)


def gaussian_log_density(x: np.ndarray, mean, covariance) -> np.ndarray:
    "log N(x; mean, covariance) over the last dim."
    factor = np.linalg.cholesky(covariance)
    white = np.linalg.solve(factor, (x - mean).reshape(-1, x.shape[-1]).T).T
    log_det = 2 * np.log(np.diag(factor)).sum()
    return (-0.5 * (white ** 2).sum(-1) - 0.5 * (log_det + x.shape[-1] * math.log(2 * math.pi))).reshape(x.shape[:-1])


def shared_mean_gaussian(train: np.ndarray, test: np.ndarray) -> float:
    """Nats per slice of `test` (`models x groups x members x d`) under slice = group mean + noise: group means
    ~ N(m, B), noise ~ N(0, W), fitted to `train` by moments; exact via the group mean and the deviations from it."""
    members, dims = train.shape[2], train.shape[3]
    mean = train.reshape(-1, dims).mean(0)
    deviations = train - train.mean(2, keepdims=True)
    within = np.einsum('mgid,mgie->de', deviations, deviations) / (train.shape[0] * train.shape[1] * (members - 1))
    between = np.cov(train.mean(2).reshape(-1, dims).T) - within / members
    values, vectors = np.linalg.eigh(between)
    between = (vectors * np.clip(values, 1e-12, None)) @ vectors.T            # the moment estimate, made positive
    group_means = test.mean(2)
    test_deviations = test - group_means[:, :, None]
    log_det = 2 * np.log(np.diag(np.linalg.cholesky(within))).sum()
    quadratic = np.einsum('mgid,de,mgie->mg', test_deviations, np.linalg.inv(within), test_deviations)
    # the orthonormal contrasts of the members: members - 1 of them ~ N(0, W); sqrt(members) x group mean ~ N(sqrt(members) m, W + members B)
    log_p = (-0.5 * quadratic - 0.5 * (members - 1) * (log_det + dims * math.log(2 * math.pi))
             + gaussian_log_density(math.sqrt(members) * group_means, math.sqrt(members) * mean, within + members * between))
    return float(log_p.sum() / (test.shape[0] * test.shape[1] * members))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--zoo', help='a directory of source snapshots (default: the offline-default zoo of bench/dwp_claims.py)')
    parser.add_argument('--held-out', type=int, default=2, help='how many source models to hold out (the last ones)')
    parser.add_argument('--epochs', type=int, default=10, help='epochs of the Markov DWP (256 blocks of 32 x 16 slices each)')
    parser.add_argument('--draws', type=int, default=100, help='importance samples of the held-out IWAE (both models)')
    parser.add_argument('--work', default=str(ROOT/'runs'/'kernel_models'), help='where vaults and checkpoints go')
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    started = time.time()
    zoo = the_zoo(args.zoo)
    (train_vault, held_out_vault), n_train_models = split_vaults(zoo, work, args.held_out)
    log(f'bench markov: zoo {zoo} ({n_train_models} models to train on, {args.held_out} held out), layer {LAYER}; CPU, '
        f'{torch.get_num_threads()} threads; torch {torch.__version__}')
    vae, vae_path, vae_seconds = trained_vae(ROOT/'configs'/'vae5x5.json', train_vault, LAYER, work, {})
    log(f'  kernel VAE: {"trained in %.0fs" % vae_seconds if vae_seconds else "reused"}, {vae_path}')
    model, model_path, seconds = markov_model(train_vault, held_out_vault, vae_path, work, args.epochs)
    log(f'  Markov DWP: {"trained in %.0fs" % seconds if seconds else "reused"}, {model_path}')

    held_out = FilterBanks(held_out_vault, LAYER)
    torch.manual_seed(0)
    markov = evaluate_markov(model, torch.utils.data.DataLoader(held_out, batch_size=1), n_draws=args.draws)
    slices = torch.cat([bank.reshape(-1, *bank.shape[2:]) for bank, _ in held_out])
    torch.manual_seed(0)
    independent = evaluate_vae(vae, kernel_batches(torch.utils.data.TensorDataset(slices, torch.zeros(len(slices))), batch_size=256),
                               n_draws=args.draws)
    train, test = kernels(train_vault), kernels(held_out_vault)
    flat = train.reshape(-1, train.shape[-1])
    gaussian = float(gaussian_log_density(test, flat.mean(0), np.cov(flat.T, bias=True)).mean())
    rows = [('Markov DWP (configs/markov5x5.json)', markov['iwae'], markov['elbo']),
            ('VAE of independent slices (configs/vae5x5.json)', independent['iwae'], independent['elbo']),
            ('full-covariance Gaussian, independent slices', gaussian, None),
            ('Gaussian with a shared mean per filter', shared_mean_gaussian(train, test), None),
            ('Gaussian with a shared mean per input channel', shared_mean_gaussian(train.transpose(0, 2, 1, 3), test.transpose(0, 2, 1, 3)), None)]
    log(f'\nheld out: the whole {LAYER} kernels of {test.shape[0]} source models, {markov["n_slices"]} slices; IWAE with {args.draws} draws')
    log(f'{"model":<50}{"log-likelihood":>16}{"ELBO":>9}{"vs Gaussian":>13}')
    for name, value, elbo in rows:
        log(f'{name:<50}{value:>16.3f}{"" if elbo is None else f"{elbo:.3f}":>9}{value - gaussian:>+13.3f}')
    log('log-likelihood: the IWAE bound for the two VAEs (a lower bound), exact for the Gaussians; nats per slice')
    log(f'bench markov: done in {time.time() - started:.0f}s')
    print(json.dumps({'markov': markov, 'independent_vae': {k: v for k, v in independent.items()}, 'gaussian': gaussian,
                      'rows': [(name, value, elbo) for name, value, elbo in rows]}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
