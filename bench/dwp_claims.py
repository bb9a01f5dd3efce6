"""The DWP paper's two claims on the offline default (scikit-learn digits), measured by committed code.

1. A deep weight prior improves Bayesian CNNs when data are scarce: Bayesian DigitsNets on 50 / 100 / 200
   training examples of the digits 5-9, several data splits each, with the standard normal prior, the
   log-uniform prior (variational dropout), the DWP, and the DWP + initialisation from the DWP; the table is
   the mean ± std over splits of the test accuracy of the 10-sample ensemble.
2. Initialising from the DWP speeds up training: plain DigitsNets initialised by default, from the DWP
   (`prior.sample`) or from the source kernels (the vault); the table is the number of epochs to reach a
   fixed validation accuracy, mean ± std over splits.

The source zoo (digits 0-4), its kernel vault and the 7x7 / 5x5 kernel VAEs are built first. Everything is
written under --work (default runs/claims) and reused on a re-run.

    python bench/dwp_claims.py --quick          # a couple of minutes: 1 split, 1 size
    python bench/dwp_claims.py                  # the full tables (~52 min on a 2-core CPU, zoo included)
    python bench/dwp_claims.py --report         # print the tables of the runs already done

The DWP rows come twice: on the Gaussian net (N(0, 1) on the classifier, like the standard normal row) and on the
VD net (log-uniform on the classifier, like the log-uniform row): the seed's own comparison, `options.kind` classic
vs implicit on the seed's BayesCIFARNet (VDConvCIFARNet), where the DWP replaces the log-uniform prior of the convs only. `--nets` picks them.

Last full run (2-core AMD EPYC; zoo 718 s and VAEs 285 s once, then 90 Bayesian nets ~25 s each: 60 in 1200 s,
the 30 VD-net DWP runs in 740 s; 15 plain nets 100 s), source zoo without L2, 5 splits, ensemble test accuracy:

    prior                N = 50          N = 100         N = 200
    standard normal      0.958 ± 0.012   0.972 ± 0.007   0.978 ± 0.004
    log-uniform          0.234 ± 0.098   0.267 ± 0.081   0.566 ± 0.071
    DWP                  0.931 ± 0.015   0.954 ± 0.013   0.972 ± 0.006
    DWP + DWP init       0.935 ± 0.021   0.964 ± 0.010   0.969 ± 0.004
    DWP, VD net          0.347 ± 0.104   0.820 ± 0.109   0.964 ± 0.002
    DWP + init, VD net   0.391 ± 0.138   0.854 ± 0.030   0.958 ± 0.008

and epochs to 90% validation accuracy (N = 100): default 2.2 ± 0.4, DWP init 2.4 ± 0.9, source kernels 2.4 ± 0.5
(accuracy after one epoch 0.705 / 0.807 / 0.642). Against the log-uniform prior of the same VD net (the seed's
comparison) the DWP wins at every N, by 0.11 / 0.55 / 0.40; against N(0, 1) on a Gaussian net it loses at every N.

Why it loses to N(0, 1): in 200 steps at lr 3e-3 Adam moves a log-variance by at most 0.6, so every posterior stays
near its start (std 0.0067-0.008) and the nets are near-MAP. With the posterior std fixed, the DWP's auxiliary bound
acts like -log p(mean) and pulls the conv1 slices to the mode of the kernel VAE's density, w = 0 (rms 0.0054 at
every N and in both nets, log p 63.6 nats, against rms 0.035 and 49.5 nats for the source slices: they are its typical
set, not its mode), where the posterior noise outweighs the weights (median |mean| / std 0.5, against 0.4 / 0.9 / 1.8
under N(0, 1)). BatchNorm is not the cause: `--no-norm` (nets without it, 5 splits, 2085 s) keeps conv1 at rms 0.0053
under the DWP, and the ranking: N = 50 / 100 / 200, N(0, 1) 0.919 / 0.939 / 0.956, DWP 0.864 / 0.904 / 0.914, DWP + init
0.903 / 0.922 / 0.936; the VD nets without BatchNorm stay at chance (0.20) in 200 steps except at N = 200, where the
DWP gives 0.679 / + init 0.708 against 0.328 for log-uniform.

With free variances (`--log-sigma2-lr-factor 30`: the log-variances at 30x the learning rate) the posteriors do move
(N(0, 1): std 0.88, the DWP's conv1: 0.028, the source-slice scale), and in 200 steps everything underfits (2 splits):
N(0, 1) 0.436 / 0.498 / 0.397, log-uniform 0.278 / 0.604 / 0.857, DWP 0.387 / 0.552 / 0.650, DWP + init 0.466 / 0.677 /
0.769 (beats N(0, 1) at every N), VD-net DWP 0.293 / 0.279 / 0.549, + init 0.343 / 0.534 / 0.697. With 1000 steps
(`--steps 1000`, N = 50, split 0) the nets with N(0, 1) on the classifier collapse to their prior: N(0, 1) 0.128,
DWP 0.155 (chance 0.2), while log-uniform 0.650 and the VD-net DWP 0.525 / + init 0.290 do not. See issue 5's notes.
"""
from __future__ import annotations

import argparse, contextlib, hashlib, io, json, math, os, sys, time, warnings
from copy import deepcopy
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from markovdwp_nb.spec import load_manifest
from markovdwp_nb.source import history_rows, train_source
from markovdwp_nb.kernels import collect_kernels
from markovdwp_nb.vae_train import train_vae
from markovdwp_nb.priors import load_priors
from markovdwp_nb.callbacks import PriorInit
from markovdwp_nb.bnn import results_of, train_dwp
from markovdwp_nb.snapshot import is_snapshot_file, load_snapshot

# the rows of Table 1: (label, prior, net of the DWP rows); the Gaussian net puts N(0, 1) on the classifier, the VD net
# the log-uniform prior (the seed's BayesCIFARNet set-up: the DWP replaces the log-uniform prior on the convs only)
ROWS = (('standard normal', 'standard normal', 'gaussian'), ('log-uniform', 'log-uniform', 'vd'),
        ('DWP', 'DWP', 'gaussian'), ('DWP + DWP init', 'DWP + DWP init', 'gaussian'),
        ('DWP, VD net', 'DWP', 'vd'), ('DWP + init, VD net', 'DWP + DWP init', 'vd'))
INITS = ('default', 'DWP', 'source kernels')
CONVS = ('features.conv0', 'features.conv1')


def log(*args): print(*args, flush=True)


@contextlib.contextmanager
def quiet():
    "Silence fastai's progress bars and epoch tables (and warnings) of one training run."
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter('ignore')
        yield


def source_zoo(work: Path, n_models: int, epochs: int, l2: float = 0.0, lr: float = 3e-3) -> Path:
    """Train (or reuse) the source DigitsNets on digits 0-4 of configs/digits-source.json, for `epochs` epochs with
    an L2 coefficient `l2` on the conv kernels. The config's 10 epochs leave the kernels close to their i.i.d.
    initialisation (no structure for a kernel VAE to learn); 100 epochs give structured slices. The source L2 sets
    the scale of the slices, so of the deep weight prior: with 3e-3 the 5x5 entries have std 0.0055, below the
    posterior standard deviation the Bayesian layers start from (0.0067), and the DWP nets lose their signal
    (DWP at N = 100: 0.83 ± 0.08 with 3e-3 in an earlier session's tables, 0.95 ± 0.01 with no L2; 5 splits each)."""
    manifest = load_manifest(ROOT/'configs'/'digits-source.json')
    manifest['trainer'] = {'max_epochs': epochs}
    manifest['options'].update(lr=lr)
    manifest['options']['coef']['model.l2_norm.features'] = l2
    zoo = work/'zoo'
    zoo.mkdir(parents=True, exist_ok=True)
    for i in range(n_models):
        path = zoo/f'digits__{i:03d}.pt'
        if path.exists() and torch.load(path, weights_only=True)['config'] == manifest: continue
        if path.exists(): path.unlink()
        start = time.time()
        with quiet(): train_source(manifest, target=path, seed=1000 + i, device='cpu')
        history = torch.load(path, weights_only=True)['history']
        log(f'  source model {i}: {time.time() - start:.0f}s, accuracy on digits 0-4 {history_rows(history)[-1]["accuracy"]:.3f}')
    return zoo


def vault_of(zoo: Path, n_models: int) -> Path:
    "The kernel vault of the zoo (rebuilt when the zoo's files changed)."
    vault = zoo.parent/f'kernels__{zoo.name}'
    stamp = vault/'.models'
    models = '\n'.join(f'{p.name} {p.stat().st_size} {p.stat().st_mtime_ns}' for p in sorted(zoo.glob('*.pt')))
    if not (stamp.exists() and stamp.read_text() == models):
        vault = collect_kernels(zoo, force=True)
        stamp.write_text(models)
    return vault


def kernel_vae(work: Path, vault: Path, layer: str, size: str, z_dim: int, h_dim: int, epochs: int, n_slices: int = 8192,
               min_norm: float = 0.1, batch_size: int = 256, warmup: int = 0, scaled: bool = True) -> Path:
    """Train (or reuse) the SGVB kernel VAE of (a random subset of `n_slices` of) the `size` slices of `layer` in the
    vault with norm >= `min_norm`; `warmup` steps of KL warm-up (beta from 0 to 1) against posterior collapse;
    `scaled`: the networks' `scale` is the standard deviation of the slice entries (unit-scale inputs for the encoder)."""
    path = work/f'vae{size}__z{z_dim}-h{h_dim}-e{epochs}-n{n_slices}-m{min_norm}-b{batch_size}-w{warmup}e{"-s" if scaled else ""}.pt'  # e: beta by epoch
    if path.exists(): return path
    from markovdwp_nb.kernels import SingleKernelDataset
    n_total = len(SingleKernelDataset(vault, layer, dim='mio', min_norm=min_norm))
    train = 'single' if n_total <= n_slices else {'source': 'single', 'kind': 'subset', 'size': n_slices, 'random_state': f'train {layer}'}
    manifest = {'dataset': {'single': {'cls': "<class 'markovdwp_nb.kernels.SingleKernelDataset'>", 'root': str(vault),
                                       'source': layer, 'dim': 'mio', 'min_norm': min_norm}},
                'resampling': {'train': train, 'reference': {'source': 'single', 'kind': 'subset', 'size': min(512, n_total),
                                                             'random_state': f'reference {layer}'}},
                'feeds': {'train': {'batch_size': batch_size, 'shuffle': True}},
                'trainer': {'max_epochs': epochs}, 'runtime': "<class 'markovdwp_nb.vae.SGVBRuntime'>",
                'vae': {'encoder': {'cls': f"<class 'markovdwp_nb.vae.Encoder{size}'>", 'h_dim': h_dim},
                        'decoder': {'cls': f"<class 'markovdwp_nb.vae.Decoder{size}'>", 'h_dim': h_dim},
                        'options': {'x_dim': 1, 'z_dim': z_dim, 'scale': 'auto' if scaled else 1.0}},
                # beta follows the epoch (the original's schedule): `warmup` steps are warmup / batches-per-epoch epochs
                'options': {'lr': 1e-3, 'beta': {'mode': 'anneal', 'p0': [0, 0.0],
                                                 'p1': [warmup / math.ceil(min(n_total, n_slices) / batch_size), 1.0]} if warmup else 1.0,
                            'eval_draws': 16, 'wandb': False}}
    start = time.time()
    with quiet(): run = train_vae(manifest, target=path, seed=0, device='cpu')
    last, scale = run.history[-1], run.model.encoder.scale  # "auto": the std of the training slices
    log(f'  VAE {size} (z={z_dim}, h={h_dim}, scale {scale:.2g}) on {min(n_total, n_slices)} of {n_total} slices of {layer}: {epochs} epochs in '
        f'{time.time() - start:.0f}s, held-out IWAE {last.get("held_out_iwae", float("nan")):.2f} nats, active units {last.get("active_units")}')
    return path


NETS = {'gaussian': "<class 'markovdwp_nb.bnn.GaussianDigitsNet'>", 'vd': "<class 'markovdwp_nb.bnn.VDDigitsNet'>"}


def dwp_manifest(prior: str, size: int, split: int, epochs: int, lr: float, k: float, n_slices: int | None = None,
                 warmup: int = 0, extra: dict | None = None, net: str = 'gaussian', norm: bool = True) -> dict:
    """configs/digits-dwp.json for one cell of the table; `extra` options (e.g. `reset_logsigma2`) go into `options`.
    `net`: the Bayesian DigitsNet of the DWP rows, `gaussian` (mean-field Gaussian layers, so the classifier is under
    N(0, 1)) or `vd` (variational dropout layers, so the classifier is under the log-uniform prior; the DWP replaces the
    log-uniform prior of the conv layers only, as in the seed's BayesCIFARNet runs, whose classifier has no prior). `norm=False`: nets
    without BatchNorm (`DigitsNet(norm=False)`), whose likelihood depends on the scale of the conv kernels."""
    manifest = load_manifest(ROOT/'configs'/'digits-dwp.json', kind='dwp')
    manifest['dataset']['train'].update(train_size=size, random_state=split)
    manifest['feeds']['train']['batch_size'] = min(50, size)
    manifest['trainer'] = {'max_epochs': epochs}
    manifest['model']['k'] = k
    if not norm: manifest['model']['norm'] = False
    options = manifest['options']
    options['lr'] = lr
    options['wandb'] = False                                # the snapshot holds what the tables need
    if warmup: options['kl_warmup'] = {'n_steps': warmup}  # the KL weight from 0 to 1 over the first `warmup` steps
    options.update(extra or {})
    if prior in ('standard normal', 'log-uniform'):
        options.update(kind='classic', priors={}, init={})
        if prior == 'log-uniform': manifest['model']['cls'] = "<class 'markovdwp_nb.bnn.VDDigitsNet'>"
    else:
        manifest['model']['cls'] = NETS[net]
        if n_slices: options['priors']['features.conv1']['n_slices'] = n_slices  # the unbiased subset estimator of the penalty
        if prior == 'DWP + DWP init': options['init'] = {name: 'prior' for name in CONVS}
    return manifest


def conv1_posterior(target: Path, layer: str = 'features.conv1') -> tuple:
    """(rms of the means, mean posterior std, median |mean| / std) of `layer`'s weights in the snapshot `target/model.pt`:
    whether the posterior moved off its start (std 0.0067 at the layers' log-variance -10) and how much signal it kept."""
    state = torch.load(target/'model.pt', weights_only=True)['state']
    weight, sigma = state[f'{layer}.weight'], (state[f'{layer}.log_sigma2'] / 2).exp()
    return weight.pow(2).mean().sqrt().item(), sigma.mean().item(), (weight.abs() / sigma).median().item()


def bayes_table(work: Path, sizes, n_splits: int, steps: int, lr: float, k: float, n_slices: int | None = None,
                warmup: int = 0, clip: float = 0.0, extra: dict | None = None, train: bool = True, rows=ROWS,
                norm: bool = True) -> tuple:
    """Test accuracy of the 10-sample ensemble per (size, row label), split by split (so an interrupted run has every
    size for its first splits), the number of failed runs per (size, row label), and the conv1 posterior statistics of
    each run (`conv1_posterior`). `rows`: those of `ROWS` to run; `train=False` only reads results; `norm` as in
    `dwp_manifest`."""
    scores, failed, posteriors = {}, {}, {}
    tag = ''.join(f'-{key}{value}' for key, value in sorted((extra or {}).items())) + ('' if norm else '-nonorm')  # other options elsewhere
    for split in range(n_splits):
        for size in sizes:
            epochs = max(1, math.ceil(steps / math.ceil(size / min(50, size))))
            for row, prior, net in rows:
                label = prior.replace(' ', '_').replace('+', 'and') + ('__vd' if net == 'vd' and prior.startswith('DWP') else '')
                target = work/'bnn'/f'n{size}-e{epochs}-k{k}-s{n_slices}-w{warmup}-c{clip}{tag}'/label/f'split{split}'
                if (target/'results.json').exists(): results = json.loads((target/'results.json').read_text())   # cached by earlier versions
                elif is_snapshot_file(target/'model.pt'): results = results_of(load_snapshot(target/'model.pt'))
                elif not train: continue
                else:
                    start = time.time()
                    manifest = dwp_manifest(prior, size, split, epochs, lr, k, n_slices, warmup, extra, net, norm)
                    manifest['trainer']['gradient_clip_val'] = clip
                    try:
                        with quiet(): results = results_of(train_dwp(manifest, target=target/'model.pt', seed=split, device='cpu'))
                    except Exception as exc:  # a diverged run is counted, not fatal to the table
                        log(f'  n={size} split {split} {row:>18}: FAILED after {time.time() - start:.0f}s: {str(exc).splitlines()[0][:200]}')
                        failed[(size, row)] = failed.get((size, row), 0) + 1
                        continue
                    log(f'  n={size} split {split} {row:>18}: {epochs} epochs in {time.time() - start:.0f}s, '
                        f'ensemble accuracy {results["ensemble"]["accuracy"]:.3f}, NLL {results["ensemble"]["nll"]:.3f}')
                scores.setdefault((size, row), []).append(results['ensemble']['accuracy'])
                posteriors.setdefault((size, row), []).append(conv1_posterior(target))
    return scores, failed, posteriors


def plain_manifest(size: int, split: int, epochs: int, lr: float, k: float) -> dict:
    "A plain (non-Bayesian) DigitsNet on `size` examples of the digits 5-9, validated on the test digits 5-9."
    manifest = load_manifest(ROOT/'configs'/'digits-dwp.json', kind='dwp')
    manifest['dataset']['train'].update(train_size=size, random_state=split)
    manifest['feeds']['train']['batch_size'] = 10
    return {'dataset': manifest['dataset'], 'feeds': manifest['feeds'], 'trainer': {'max_epochs': epochs},
            'model': {'cls': "<class 'markovdwp_nb.models.DigitsNet'>", 'n_classes': 5, 'k': k},
            'options': {'lr': lr, 'coef': {'task.nll': 1.0}}}


def init_table(work: Path, vault: Path, vaes: dict, size: int, n_splits: int, epochs: int, lr: float, k: float,
               threshold: float, train: bool = True) -> tuple:
    "Epochs to reach `threshold` validation accuracy per (init, split); None when not reached."
    priors = load_priors({name: {'path': str(vaes[name]), 'kind': 'collapsed'} for name in CONVS})
    specs = {'default': {}, 'DWP': {name: 'prior' for name in CONVS}, 'source kernels': {name: {'root': str(vault)} for name in CONVS}}
    reached, curves = {}, {}
    for split in range(n_splits):
        for init in INITS:
            tag = hashlib.sha1(' '.join(sorted(Path(p).name for p in vaes.values())).encode()).hexdigest()[:8]  # which VAEs
            path = work/'plain'/f'n{size}-e{epochs}-k{k}-v{tag}'/f'{init.replace(" ", "_")}__split{split}.pt'
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() and not train: continue
            if not path.exists():
                start = time.time()
                with quiet():
                    train_source(plain_manifest(size, split, epochs, lr, k), target=path, seed=split, device='cpu',
                                 cbs=[PriorInit(specs[init], priors)])
                log(f'  plain n={size} split {split} init {init:>14}: {epochs} epochs in {time.time() - start:.0f}s')
            accuracy = [row['accuracy'] for row in history_rows(torch.load(path, weights_only=True)['history'])]
            first = next((i + 1 for i, a in enumerate(accuracy) if a >= threshold), None)
            reached.setdefault(init, []).append(first)
            curves.setdefault(init, []).append(accuracy)
    return reached, curves


def mean_std(values) -> str:
    if len(values) == 0: return 'n/a'
    values = np.asarray(values, dtype=float)
    return f'{values.mean():.3f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.3f}'


def print_tables(scores: dict, failed: dict, posteriors: dict, sizes, reached: dict, curves: dict, threshold: float,
                 epochs: int, size: int, n_splits: int, rows=ROWS):
    log(f'\nTable 1: test accuracy of the 10-sample ensemble, Bayesian DigitsNet on digits 5-9, mean ± std over '
        f'the splits run [splits done / failed]; the DWP on both convs, N(0, 1) on the classifier (log-uniform in a VD net)')
    log(f'{"prior":>18} | ' + ' | '.join(f'{f"N = {n}":^23}' for n in sizes))
    for row, *_ in rows:
        cells = [f'{mean_std(scores.get((n, row), []))} [{len(scores.get((n, row), []))}/{failed.get((n, row), 0)}]' for n in sizes]
        log(f'{row:>18} | ' + ' | '.join(f'{cell:^23}' for cell in cells))
    log(f'\nThe conv1 posteriors (5x5, under the DWP in the DWP rows), mean over splits: rms of the means / mean std / '
        f'median |mean| / std (the layers start at std 0.0067)')
    log(f'{"prior":>18} | ' + ' | '.join(f'{f"N = {n}":^26}' for n in sizes))
    for row, *_ in rows:
        cells = [' / '.join(f'{v:.2g}' for v in np.mean(posteriors[(n, row)], axis=0)) if posteriors.get((n, row)) else 'n/a'
                 for n in sizes]
        log(f'{row:>18} | ' + ' | '.join(f'{cell:^26}' for cell in cells))
    log(f'\nTable 2: epochs to reach {threshold:.0%} validation accuracy, plain DigitsNet on N = {size}, at most {epochs} epochs, '
        f'over {n_splits} splits')
    log(f'{"init":>16} | {"epochs (reached)":^22} | {"reached":^9} | {"acc. after 1 epoch":^18} | {"final acc.":^15}')
    for init in INITS:
        if not reached.get(init): log(f'{init:>16} | not run'); continue
        hits = [r for r in reached[init] if r is not None]
        epochs_text = mean_std(hits) if hits else 'never'
        first = [c[0] for c in curves[init]]
        final = [c[-1] for c in curves[init]]
        log(f'{init:>16} | {epochs_text:^22} | {len(hits)}/{len(reached[init]):^7} | {mean_std(first):^18} | {mean_std(final):^15}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='a tiny version: 1 split, N = 50, few epochs')
    parser.add_argument('--work', default='runs/claims', help='directory for the zoo, vault, VAEs and runs (reused)')
    parser.add_argument('--splits', type=int, default=None, help='data splits per size (default 5; quick 1)')
    parser.add_argument('--sizes', type=int, nargs='+', default=None, help='training set sizes (default 50 100 200; quick 50)')
    parser.add_argument('--steps', type=int, default=None, help='optimiser steps of each Bayesian net (default 200; quick 40)')
    parser.add_argument('--k', type=float, default=0.5, help='width multiplier of the target DigitsNets (default 0.5)')
    parser.add_argument('--n-slices', type=int, default=256,
                        help='slices per step of the unbiased subset estimate of the 5x5 DWP penalty (0: all slices)')
    parser.add_argument('--lr', type=float, default=3e-3)
    parser.add_argument('--threshold', type=float, default=0.9, help='validation accuracy of the speed-up table')
    parser.add_argument('--clip', type=float, default=5.0, help='gradient norm clipping of the Bayesian nets (0: none)')
    parser.add_argument('--source-l2', type=float, default=0.0, help='L2 coefficient on the kernels of the source zoo (default 0)')
    parser.add_argument('--reset-logsigma2', type=float, default=None,
                        help='start every posterior log-variance of the Bayesian nets here (default: the layers\' -10)')
    parser.add_argument('--log-sigma2-lr-factor', type=float, default=None,
                        help='train the posterior log-variances at this multiple of --lr (options.log_sigma2_lr_factor; default 1)')
    parser.add_argument('--nets', choices=sorted(NETS), nargs='+', default=sorted(NETS),
                        help='the Bayesian nets of the DWP rows: gaussian (N(0, 1) on the classifier) and/or vd (log-uniform on '
                             'the classifier; the seed\'s BayesCIFARNet has a plain classifier); default both')
    parser.add_argument('--no-norm', action='store_true',
                        help='Bayesian nets without BatchNorm (DigitsNet(norm=False)): the likelihood sees the conv scale')
    parser.add_argument('--report', action='store_true', help='print the tables of the runs already done; train nothing more')
    args = parser.parse_args(argv)
    quick = args.quick
    sizes = args.sizes or ([50] if quick else [50, 100, 200])
    n_splits = args.splits or (1 if quick else 5)
    steps = args.steps or (40 if quick else 200)
    k, n_slices = args.k, args.n_slices or None
    n_models, source_epochs, vae_epochs, vae_slices, plain_epochs = (3, 2, 2, 2048, 10) if quick else (10, 100, 30, 8192, 30)
    source_l2, warmup = args.source_l2, (10 if quick else steps // 4)
    # everything under `work` derives from one source zoo: its settings name the directory
    work = Path(args.work)/f'{"quick" if quick else "full"}__src-e{source_epochs}-l2{source_l2}'
    work.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    start = time.time()
    log(f'dwp_claims: {"quick" if quick else "full"} run in {work}: sizes {sizes}, {n_splits} splits, {steps} steps per Bayesian net, '
        f'k={k}, 5x5 DWP penalty on {n_slices or "all"} slices per step{", nets without BatchNorm" if args.no_norm else ""}')
    log(f'[1] source zoo: {n_models} DigitsNets (k=1) on digits 0-4, {source_epochs} epochs, L2 {source_l2} on the kernels')
    zoo = source_zoo(work, n_models, source_epochs, source_l2)
    vault = vault_of(zoo, n_models)
    log(f'[2] kernel VAEs on {vault} ({time.time() - start:.0f}s so far)')
    # slices below these norms are dead ones (the seed's min_norm filter, rescaled for small kernels; without L2 it drops none)
    vae_warmup = 20 if quick else 300
    vaes = {'features.conv0': kernel_vae(work, vault, 'features.conv0', '7x7', 2, 32, vae_epochs * 10, vae_slices,  # few slices: more epochs
                                         min_norm=0.05, batch_size=64, warmup=vae_warmup),
            'features.conv1': kernel_vae(work, vault, 'features.conv1', '5x5', 4, 32, vae_epochs, vae_slices,
                                         min_norm=0.01, batch_size=256, warmup=vae_warmup)}
    os.environ.update(VAE7=str(vaes['features.conv0']), VAE5=str(vaes['features.conv1']))
    if k != 1.0: log(f'    note: the target nets have k={k}; the DWP models the slices, which do not depend on the width')
    log(f'[3] Bayesian DigitsNets, KL warm-up over {warmup} steps ({time.time() - start:.0f}s so far)')
    extra = {key: value for key, value in (('reset_logsigma2', args.reset_logsigma2),
                                           ('log_sigma2_lr_factor', args.log_sigma2_lr_factor)) if value is not None}
    rows = [row for row in ROWS if not row[1].startswith('DWP') or row[2] in args.nets]
    scores, failed, posteriors = bayes_table(work, sizes, n_splits, steps, args.lr, k, n_slices, warmup, args.clip, extra,
                                             train=not args.report, rows=rows, norm=not args.no_norm)
    log(f'[4] plain DigitsNets, default / DWP / source-kernel init ({time.time() - start:.0f}s so far)')
    size = 100 if 100 in sizes else sizes[0]
    reached, curves = init_table(work, vault, vaes, size, n_splits, plain_epochs, args.lr, k, args.threshold, train=not args.report)
    print_tables(scores, failed, posteriors, sizes, reached, curves, args.threshold, plain_epochs, size, n_splits, rows)
    log(f'\ndwp_claims: done in {time.time() - start:.0f}s ({"quick" if quick else "full"}; artefacts under {work})')


if __name__ == '__main__':
    main()
