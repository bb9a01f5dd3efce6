"""The recommended kernel VAEs (configs/vae7x7.json, configs/vae5x5.json) against a full-covariance Gaussian, on held-out
source models: the log-likelihood a reviewer would compare a kernel model with.

    .venv/bin/python bench/kernel_models.py                 # the offline-default zoo of bench/dwp_claims.py
    .venv/bin/python bench/kernel_models.py --zoo DIR       # any directory of source snapshots

1. The zoo: 10 DigitsNets trained 100 epochs on digits 0-4 (bench/dwp_claims.py's, reused from its work directory
   when it is there, trained otherwise: ~10 min on a 2-core CPU).
2. Two held-out sets: the kernels of the first N - `--held-out` models form the training vault, those of the last
   `--held-out` models a second vault (`markovdwp kernels` on two directories of links to the snapshots), and the
   VAE trains on a random 80% of the training vault's slices (`resampling.train`, a subset), so the other 20% are
   unseen slices of the same models. The second set is what a deep weight prior meets: kernels of a new network.
3. For each conv layer and its config (features.conv0: 7x7, configs/vae7x7.json; features.conv1: 5x5,
   configs/vae5x5.json): train the VAE as `markovdwp vae` would, fit a full-covariance and a diagonal Gaussian to the
   same training slices (maximum likelihood, float64), and score all three on (up to `--eval-slices` random) slices of
   each held-out set: the VAE by its IWAE estimate with `--draws` importance samples (a lower bound of log p(w),
   tightening with more draws) and its ELBO, the Gaussians exactly. Nats per slice.

Also trains configs/vae5x5.json with the DWP paper's decoder (`var=train`: independent pixel noise) for comparison.
Prints one row per model and held-out set, and PASS when the recommended VAEs' IWAE beats the full-covariance Gaussian
in every row; exits with status 1 otherwise."""
import argparse, json, sys, time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT/'bench'))

from markovdwp_nb.spec import load_manifest
from markovdwp_nb.data import check_random_state, subset_indices
from markovdwp_nb.kernels import SingleKernelDataset, collect_kernels, vault_path
from markovdwp_nb.vae_train import evaluate_vae, kernel_batches, load_vae, train_vae
from dwp_claims import log, quiet, source_zoo

# (layer, config, vae.options overrides, label): the recommended models, and the 5x5 one with the DWP paper's decoder
# (independent pixel noise) for comparison; only the recommended ones decide PASS
MODELS = (('features.conv0', 'vae7x7.json', {}, 'vae7x7.json'), ('features.conv1', 'vae5x5.json', {}, 'vae5x5.json'),
          ('features.conv1', 'vae5x5.json', {'var': 'train'}, 'vae5x5, var=train'))
CLAIMS_ZOO = ROOT/'runs'/'claims'/'full__src-e100-l20.0'/'zoo'
TRAIN_SHARE, TRAIN_STATE = 0.8, 'kernel_models train'


def the_zoo(zoo) -> Path:
    "`zoo`, or bench/dwp_claims.py's offline-default zoo (trained when it is not there yet)."
    if zoo is not None: return Path(zoo)
    if len(list(CLAIMS_ZOO.glob('*.pt'))) >= 10: return CLAIMS_ZOO
    log('training the offline-default zoo (10 DigitsNets, 100 epochs each)')
    return source_zoo(CLAIMS_ZOO.parent, n_models=10, epochs=100, l2=0.0)


def finished_vault(folder: Path, group: list) -> bool:
    """Whether the vault of `folder` holds exactly the snapshots of `group`, each older than the vault: links to them, and a
    published vault whose `sources` are those files (a run killed before publishing, or a snapshot retrained under the same
    name, makes it unfinished)."""
    meta = vault_path(folder)/'meta.json'
    if not meta.is_file(): return False
    targets = {snapshot.resolve() for snapshot in group}
    links = {link.resolve() for link in folder.glob('*.pt')}
    try: sources = {Path(source).resolve() for source in json.loads(meta.read_text()).get('sources', [])}
    except (OSError, ValueError): return False
    return links == targets == sources and all(target.stat().st_mtime < meta.stat().st_mtime for target in targets)


def split_vaults(zoo: Path, work: Path, n_held_out: int) -> tuple:
    """The vaults of the first N - n_held_out and of the last n_held_out snapshots of `zoo`: rebuilt unless a finished vault of
    exactly those snapshots is there (so that a second run on the same work directory, e.g. the kernels while the nets train,
    reads the vaults instead of rewriting them under the first)."""
    snapshots = sorted(zoo.glob('*.pt'))
    if len(snapshots) <= n_held_out: sys.exit(f'{zoo}: {len(snapshots)} snapshots; need more than --held-out {n_held_out}')
    vaults = []
    for name, group in (('train-models', snapshots[:-n_held_out]), ('held-out-models', snapshots[-n_held_out:])):
        folder = work/name
        folder.mkdir(parents=True, exist_ok=True)
        if finished_vault(folder, group): vaults.append(vault_path(folder)); continue
        for link in folder.glob('*.pt'): link.unlink(missing_ok=True)
        for snapshot in group: (folder/snapshot.name).symlink_to(snapshot.resolve())
        vaults.append(collect_kernels(folder, force=True))
    return tuple(vaults), len(snapshots) - n_held_out


def trained_vae(config: Path, vault: Path, layer: str, work: Path, overrides: dict):
    "Train the VAE of `config` (with `vae.options` `overrides`) on `layer` of `vault`, or reuse the checkpoint trained from the same manifest."
    manifest = load_manifest(config, kind='vae', env={'VAULT': str(vault)})
    manifest['dataset']['single']['source'] = layer
    manifest['vae']['options'].update(overrides)
    manifest['resampling']['train'] = {'source': 'single', 'kind': 'subset', 'size': TRAIN_SHARE, 'random_state': TRAIN_STATE}
    manifest['options']['wandb'] = False  # no W&B run for a benchmark
    target = work/f'{config.stem}__{layer}{"".join(f"__{k}-{v}" for k, v in overrides.items())}.pt'
    if target.exists():
        if torch.load(target, weights_only=True).get('requested_config') == manifest: return load_vae(target), target, None
        target.unlink()
    start = time.time()
    with quiet(): train_vae(manifest, target=target, seed=0, device='cpu')
    return load_vae(target), target, time.time() - start


def layer_slices(vault: Path, layer: str) -> torch.Tensor:
    dataset = SingleKernelDataset(vault, layer, dim='mio', min_norm=0.0)
    slices, _ = dataset.gather(range(len(dataset)))
    return torch.as_tensor(slices).float().reshape(len(dataset), 1, *dataset.event_shape[-2:])


def gaussians(train: torch.Tensor) -> dict:
    "Maximum-likelihood full-covariance and diagonal Gaussians of the flattened training slices (float64)."
    flat = train.flatten(1).double()
    mean, centred = flat.mean(0), flat - flat.mean(0)
    covariance = centred.T @ centred / len(flat)
    return {'full-covariance Gaussian': torch.distributions.MultivariateNormal(mean, covariance_matrix=covariance),
            'diagonal Gaussian': torch.distributions.Independent(torch.distributions.Normal(mean, covariance.diagonal().sqrt()), 1)}


def mahalanobis(fitted: dict, scored: torch.Tensor) -> tuple:
    "The mean squared Mahalanobis distance of `scored` under the fitted full-covariance Gaussian, and the dimension."
    gaussian = fitted['full-covariance Gaussian']
    whitened = torch.linalg.solve_triangular(gaussian.scale_tril, (scored.flatten(1).double() - gaussian.loc).T, upper=False)
    return whitened.square().sum(0).mean().item(), whitened.shape[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--zoo', help='a directory of source snapshots (default: the offline-default zoo of bench/dwp_claims.py)')
    parser.add_argument('--held-out', type=int, default=2, help='how many source models to hold out (the last ones)')
    parser.add_argument('--draws', type=int, default=1000, help='importance samples of the held-out IWAE')
    parser.add_argument('--eval-slices', type=int, default=2048, help='held-out slices scored per layer (a random subset)')
    parser.add_argument('--work', default=str(ROOT/'runs'/'kernel_models'), help='where vaults and checkpoints go')
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    zoo = the_zoo(args.zoo)
    (train_vault, held_out_vault), n_train_models = split_vaults(zoo, work, args.held_out)
    log(f'bench kernel_models: zoo {zoo} ({n_train_models} models to train on, {args.held_out} held out); IWAE with {args.draws} '
        f'draws on up to {args.eval_slices} held-out slices; CPU, {torch.get_num_threads()} threads; torch {torch.__version__}')
    rows, ok = [], True
    for layer, config, overrides, label in MODELS:
        vae, checkpoint, seconds = trained_vae(ROOT/'configs'/config, train_vault, layer, work, overrides)
        pool = layer_slices(train_vault, layer)
        chosen = subset_indices(len(pool), TRAIN_SHARE, check_random_state(TRAIN_STATE))  # the VAE's training slices
        unseen = torch.ones(len(pool), dtype=torch.bool)
        unseen[torch.as_tensor(chosen)] = False
        train = pool[torch.as_tensor(chosen)]
        fitted = gaussians(train)
        for held_out_name, held_out in (('slices of the same models', pool[unseen]), ('other models', layer_slices(held_out_vault, layer))):
            index = torch.randperm(len(held_out), generator=torch.Generator().manual_seed(0))[:args.eval_slices]
            scored = held_out[index]
            torch.manual_seed(0)
            result = evaluate_vae(vae, kernel_batches(torch.utils.data.TensorDataset(scored, torch.zeros(len(scored))), batch_size=256),
                                  n_draws=args.draws)
            baselines = {name: g.log_prob(scored.flatten(1).double()).mean().item() for name, g in fitted.items()}
            margin = result['iwae'] - baselines['full-covariance Gaussian']
            if not overrides: ok &= margin > 0
            rows.append((layer, label, held_out_name, len(train), len(scored), result, baselines, margin, mahalanobis(fitted, scored)))
        log(f'  {layer} ({label}): trained {"in %.0fs" % seconds if seconds else "before (reused)"}, {checkpoint}')
    log(f'\n{"layer":<16}{"model":<19}{"held out":<27}{"train / scored":>16}{"VAE IWAE":>10}{"ELBO":>8}{"AU":>4}'
        f'{"full-cov G.":>13}{"diag. G.":>10}{"VAE - full":>12}{"Mahal.^2 (d)":>15}')
    for layer, label, held_out_name, n_train, n_scored, result, baselines, margin, (distance, dims) in rows:
        log(f'{layer:<16}{label:<19}{held_out_name:<27}{f"{n_train} / {n_scored}":>16}{result["iwae"]:>10.2f}{result["elbo"]:>8.2f}'
            f'{result["active_units"]:>4}{baselines["full-covariance Gaussian"]:>13.2f}{baselines["diagonal Gaussian"]:>10.2f}{margin:>+12.2f}'
            f'{f"{distance:.1f} ({dims})":>15}')
    log('Mahal.^2: the mean squared Mahalanobis distance of the scored slices under the full-covariance Gaussian; for slices that '
        'are Gaussian with that covariance it is d, the number of entries (more: heavier tails or a shifted distribution)')
    log(f'\nbench kernel_models: {"PASS" if ok else "FAIL"} (the held-out IWAE of every recommended VAE above the full-covariance Gaussian, on both held-out sets)')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
