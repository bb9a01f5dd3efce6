"""Held-out evaluation of `markovdwp vae`: evaluating every epoch on the whole held-out split (the old behaviour) against
the default plan (`options.eval_every` and `options.eval_items` "auto", see `markovdwp_nb.vae_train.eval_plan`), side
by side in one run.

    .venv/bin/python bench/vae_eval_cadence.py                       # configs/vae7x7.json: its 100 epochs, its 32 draws
    .venv/bin/python bench/vae_eval_cadence.py --epochs 30 --eval-draws 128   # the draws of the original project's manifest
    .venv/bin/python bench/vae_eval_cadence.py --vault DIR --layer features.conv0

The vault: `--vault`, else runs/claims-fashion/full__models12/kernels__train-models (bench/claims.py's) when it is
there, else a small one made here (6 DigitsNets, 2 epochs each, under runs/bench-eval-cadence/). Both runs train
configs/vae7x7.json (its split: all slices train, a fixed half is held out) with the same seed, no target and W&B off;
a callback times, per epoch, the training pass (fastai's `before_train` to `after_train`) and the held-out evaluation
(`HeldOutLikelihood.evaluate`). Prints, for each cadence, the plan, the epochs evaluated, the mean seconds per epoch
of training and of evaluation and their ratio (all evaluations, and those before the last, which the plan budgets),
then the final held-out numbers of both, which are equal: the last evaluation is the same whatever the cadence.
For information (no target); exit status 1 only if the final numbers differ."""
import argparse, sys, time
from pathlib import Path

import torch
from fastai.callback.core import Callback

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT/'bench'))

from markovdwp_nb.spec import load_manifest
from markovdwp_nb.kernels import SingleKernelDataset
from markovdwp_nb.vae_train import train_vae
from dwp_claims import log, quiet, source_zoo, vault_of

CLAIMS_VAULT = ROOT/'runs'/'claims-fashion'/'full__models12'/'kernels__train-models'
WORK = ROOT/'runs'/'bench-eval-cadence'
CADENCES = {'every epoch, whole split (old)': {'eval_every': 1, 'eval_items': 'all'}, 'default ("auto")': {}}
FINAL = ('held_out_iwae', 'held_out_elbo', 'active_units', 'held_out_slices')


class EpochTimes(Callback):
    "Seconds of each epoch's training pass and of its held-out evaluations (by wrapping `HeldOutLikelihood.evaluate`)."
    order = 0
    def before_fit(self):
        self.train, self.evaluation = [], []
        held_out = self.learn.held_out_likelihood
        evaluate = held_out.evaluate
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try: return evaluate(*args, **kwargs)
            finally: self.evaluation[-1] += time.perf_counter() - start
        held_out.evaluate = timed
    def before_epoch(self): self.evaluation.append(0.0)
    def before_train(self): self.start = time.perf_counter()
    def after_train(self): self.train.append(time.perf_counter() - self.start)


def the_vault(vault) -> Path:
    "`vault`, or the claims vault when it is there, or a small vault of 6 briefly trained DigitsNets made here."
    if vault is not None: return Path(vault)
    if (CLAIMS_VAULT/'meta.json').exists(): return CLAIMS_VAULT
    log(f'no vault at {CLAIMS_VAULT}: training 6 DigitsNets for 2 epochs under {WORK}')
    return vault_of(source_zoo(WORK, n_models=6, epochs=2), 6)


def run(manifest: dict, cadence: dict, seed: int) -> tuple:
    "(history, EpochTimes, HeldOutLikelihood plan) of one training run of `manifest` with the evaluation `cadence`."
    manifest = {**manifest, 'options': {**manifest['options'], **cadence}}
    times = EpochTimes()
    with quiet(): run = train_vae(manifest, seed=seed, cbs=[times])
    return run.history, times, times.learn.held_out_likelihood.plan


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--vault', help='a kernel vault (default: the claims vault, else one made here)')
    parser.add_argument('--layer', default='features.conv0', help='its layer of 7x7 slices')
    parser.add_argument('--config', default=str(ROOT/'configs'/'vae7x7.json'))
    parser.add_argument('--epochs', type=int, help="epochs of each run (default: the config's trainer.max_epochs)")
    parser.add_argument('--eval-draws', type=int, help="importance samples of the held-out IWAE (default: the config's)")
    parser.add_argument('--threads', type=int, default=1, help='torch threads (1: a loaded 2-core machine slows down with more)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    vault = the_vault(args.vault)
    manifest = load_manifest(args.config, kind='vae', env={'VAULT': str(vault)})
    manifest['dataset']['single']['source'] = args.layer
    manifest['trainer'] = {**manifest['trainer'], 'max_epochs': args.epochs or manifest['trainer']['max_epochs']}
    manifest['options'] = {**manifest['options'], 'wandb': False}
    if args.eval_draws: manifest['options']['eval_draws'] = args.eval_draws
    n_slices = len(SingleKernelDataset(vault, args.layer, dim='mio', min_norm=manifest['dataset']['single'].get('min_norm', 0.0)))
    log(f'bench vae_eval_cadence: {Path(args.config).name} on {n_slices} slices of {args.layer} in {vault}, '
        f'{manifest["trainer"]["max_epochs"]} epochs, {manifest["options"].get("eval_draws", 128)} draws; '
        f'CPU, {torch.get_num_threads()} thread(s), torch {torch.__version__}')

    results = {}
    for label, cadence in CADENCES.items():
        start = time.perf_counter()
        results[label] = (*run(manifest, cadence, args.seed), time.perf_counter() - start)

    log(f'\n{"cadence":<32}{"every":>6}{"items":>7}{"evaluated":>11}{"train s/ep":>12}{"eval s/ep":>11}'
        f'{"eval/train":>12}{"before last":>13}{"run s":>8}')
    for label, (history, times, (every, items), seconds) in results.items():
        epochs, train = len(times.train), sum(times.train) / len(times.train)
        evaluated = sum(1 for row in history if row['held_out_slices'])
        evaluation, before_last = sum(times.evaluation) / epochs, sum(times.evaluation[:-1]) / epochs
        log(f'{label:<32}{every:>6}{items:>7}{f"{evaluated}/{epochs}":>11}{train:>12.3f}{evaluation:>11.3f}'
            f'{evaluation / train:>12.2f}{before_last / train:>13.2f}{seconds:>8.1f}')
    log('(eval/train: mean evaluation seconds per epoch over mean training seconds per epoch; before last: without the final '
        'evaluation on the whole split, which every cadence does)')

    finals = {label: {name: history[-1][name] for name in FINAL} for label, (history, *_) in results.items()}
    log('\nfinal held-out numbers (last epoch, whole held-out split):')
    for label, final in finals.items():
        log(f'  {label:<32} IWAE {final["held_out_iwae"]:.6f} nats/slice, ELBO {final["held_out_elbo"]:.6f}, '
            f'active units {final["active_units"]:.0f}, on {final["held_out_slices"]:.0f} slices')
    equal = len({tuple(final.values()) for final in finals.values()}) == 1
    log('final numbers equal: ' + ('yes' if equal else 'NO'))
    return 0 if equal else 1


if __name__ == '__main__':
    sys.exit(main())
