"""The DWP paper's claims on real images, measured by committed code (issue 14).

The source zoo is the DWP paper's MNIST net (`DigitsNet`) trained on Fashion-MNIST classes 0-4 (configs/fashion-source.json);
its kernels go into a vault (the last `--held-out` models into a second one, never used for fitting); kernel VAEs
(configs/vae7x7.json on conv0, configs/vae5x5.json on conv1) and the Markov DWP (configs/markov5x5.json on conv1) are
fitted to the first vault. Then:

1. kernel models (`kernel_loglik`): nats per slice on the held-out models: for conv0 (7x7) the VAE against full-covariance
   and diagonal Gaussians; for conv1's whole filter banks the Markov DWP against the VAE of independent slices (the
   factorised DWP), a full-covariance Gaussian of independent slices and the exact random-effects Gaussian with a shared
   mean per filter;
2. small data (`accuracy`): Bayesian DigitsNets (configs/fashion-dwp.json) on N = 50 / 100 / 200 examples of classes 5-9,
   and, cross-domain, on scikit-learn's digits (10 classes, N = 50 / 100), each over several stratified splits, with
   N(0, 1), log-uniform (variational dropout), the DWP, the DWP + initialisation from it, and the Markov DWP on conv1
   (the 7x7 DWP on conv0); the 10-sample ensemble's accuracy on every test image of those classes;
3. convergence (`epochs_to_target`): plain DigitsNets on N = 500 of classes 5-9 initialised by default, from the DWP or
   from source kernels: epochs to a fixed test accuracy.

Every run is cached under --work (one directory per setting) and checkpointed every epoch: re-running the same command
continues where it stopped (a killed Bayesian net resumes from its last epoch) until it prints `claims: complete`.
Each call rewrites bench/results/claims.json, claims.md and claims.png from the runs finished so far.

    python bench/claims.py                  # everything (hours on 2 cores: re-run until complete)
    python bench/claims.py --parts kernels  # one part: zoo, kernels, bayes, budget, init
    python bench/claims.py --quick          # a few minutes: tiny zoo, one split, N = 50, few steps (make test runs it)
    python bench/claims.py --report         # only rewrite the results from finished runs
    python bench/claims.py --parts bayes --priors 'init-scale normal'   # N(0, s^2) at the DWPs' scale, no shapes: no zoo needed
    python bench/claims.py --source-optimizer sgd --dwp7-var scaled --results runs/claims-sgd-results
                                            # the zoo trained by SGD (smooth kernels), its 7x7 DWP with scaled noise
"""
from __future__ import annotations

import argparse, copy, json, math, multiprocessing, os, platform, shlex, subprocess, sys, tempfile, time, warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
warnings.filterwarnings('ignore', category=FutureWarning)  # torch.jit's deprecation notice, once per worker process
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT/'bench')]

from markovdwp_nb.spec import load_manifest
from markovdwp_nb.source import history_rows, train_source
from markovdwp_nb.zoo import train_zoo as train_zoo_stage
from markovdwp_nb.kernels import SingleKernelDataset
from markovdwp_nb.vae_train import evaluate_vae, kernel_batches, load_vae, train_vae
from markovdwp_nb.markov import FilterBanks, evaluate_markov, load_markov
from markovdwp_nb.priors import load_priors
from markovdwp_nb.callbacks import PriorInit
from markovdwp_nb.bnn import results_of, train_dwp
from markovdwp_nb.snapshot import is_snapshot_file, load_snapshot

from dwp_claims import log, quiet
from kernel_models import split_vaults, gaussians
from markov import gaussian_log_density, kernels, markov_model, shared_mean_gaussian

CONV0, CONV1 = 'features.conv0', 'features.conv1'
VD_NETS = {'truncated': 'TruncatedVDConvDigitsNet', 'sparse': 'VDConvDigitsNet'}
PRIORS = ('standard normal', 'log-uniform', 'DWP', 'DWP + DWP init', 'Markov DWP', 'DWP on the 7x7 conv only', 'DWP, 5x5 KL x0.1',
          'init-scale normal', 'DWP, closed-form', 'DWP + DWP init, closed-form', 'Markov DWP, closed-form')
DEFAULT_PRIORS = PRIORS[:6]   # the last rows are diagnoses, run on request (--priors)
ZOO_FREE = ('standard normal', 'log-uniform', 'init-scale normal')   # the rows that use no source zoo (no kernel VAE, no vault)
CLOSED_FORM = ', closed-form'   # the suffix of the rows whose DWPs (and Markov DWP) use the closed-form estimator on every slice (nbs/12_priors)
CONV0_ONLY = ('DWP on the 7x7 conv only',)   # the rows with a DWP on conv0 and N(0, 1) on conv1: they use no 5x5 VAE
TEMPER = 0.1                  # the weight of the 5x5 DWP's KL term in the tempered row, relative to the ELBO's 1/N
INITS = ('default', 'DWP', 'source kernels')
TASKS = {'fashion5-9': {'cls': 'FashionMNIST', 'classes': [5, 6, 7, 8, 9]}, 'digits': {'cls': 'Digits', 'classes': None}}
PARTS = ('zoo', 'kernels', 'bayes', 'budget', 'init')
# the paper's names of the layers in claims.json (conv1, conv2) and this package's
LAYER_LABELS = {'conv1': 'conv1 (`features.conv0`, 7x7 slices)', 'conv2': 'conv2 (`features.conv1`, 5x5, whole filter banks)'}
QUICK_BUDGET = ('standard normal', 'DWP')   # the priors whose budget --quick checks
PAPER_STEPS = 10_000                # the DWP paper's budget: train-bnn.py --epochs 10000 with one full batch an epoch
DEFAULT_MODELS = 12                 # source models of the committed table (the last 2 held out)
DEFAULT_HELD_OUT = 2                # the source models held out of the kernel models' fit, to score them
DEFAULT_SOURCE_EPOCHS = 3           # epochs of each source model of the committed table
SOURCE_CONFIGS = {'adam': 'fashion-source.json', 'sgd': 'fashion-source-sgd.json'}   # the source recipe of --source-optimizer
DEFAULT_SOURCE_OPTIMIZER = 'adam'   # the committed table's zoo
NOISES = ('train', 'full', 'scaled')   # the kernel VAEs' decoder noise (vae.options.var): independent, one full covariance, scaled
DEFAULT_DWP5_VAR = 'full'           # the 5x5 DWP's VAE of the committed table: configs/vae5x5.json's full noise
DEFAULT_MARKOV_VAR = 'train'        # the Markov DWP's slice level in the committed table: the 5x5 VAE with independent noise
DEFAULT_DWP7_VAR = 'train'          # the 7x7 DWP's VAE of the committed table: configs/vae7x7.json as it is
NOISE_ROWS = {'train': 'VAE, independent noise', 'full': 'VAE, full-covariance noise', 'scaled': 'VAE, scaled full-covariance noise'}
RESULTS = ROOT/'bench'/'results'   # committed: claims.json / .md / .png, the priors, one record per finished net


class Settings:
    "Everything that decides a run; `--quick` shrinks it. The work directory's name changes with the source zoo's settings."
    def __init__(self, args):
        quick = args.quick
        self.quick = quick
        self.n_models, self.held_out = (3, 1) if quick else (args.models, args.held_out)
        self.source_epochs = 1 if quick else args.source_epochs
        self.source_optimizer = args.source_optimizer               # adam: configs/fashion-source.json; sgd: fashion-source-sgd.json
        self.source_train_size = 1500 if quick else None           # quick: a stratified subset of classes 0-4
        self.vae_epochs = {'vae7x7.json': 4, 'vae5x5.json': 1} if quick else {}  # otherwise the configs' own
        self.markov_epochs = 1 if quick else args.markov_epochs
        self.min_norm = args.min_norm                               # relative: slices below this x the median norm are pruned
        self.draws = 10 if quick else 1000
        self.sizes = {'fashion5-9': [50] if quick else args.sizes, 'digits': [50] if quick else [50, 100]}
        self.tasks = ['fashion5-9'] if quick else args.tasks
        self.priors = DEFAULT_PRIORS if quick else tuple(args.priors)
        self.n_splits = 1 if quick else args.splits
        self.steps_per_epoch = 10 if quick else args.steps_per_epoch
        self.epochs = 2 if quick else args.epochs
        # the budget part: split 0 of the first N again at twice the table's steps and at the paper's 10,000 where that is longer
        # still (and a whole number of epochs)
        paper = PAPER_STEPS // self.steps_per_epoch
        self.budget_epochs = [2 * self.epochs] + ([paper] if not quick and paper > 2 * self.epochs and paper * self.steps_per_epoch == PAPER_STEPS else [])
        self.lr, self.lr_factor, self.k, self.warmup = args.lr, args.log_sigma2_lr_factor, args.k, args.kl_warmup
        self.n_slices = args.n_slices or None
        self.dwp5_var = args.dwp5_var                               # the decoder noise of the conv1 DWP's VAE
        self.dwp7_var = args.dwp7_var                               # the decoder noise of the conv0 DWP's VAE
        self.markov_var = args.markov_var                           # the decoder noise of the Markov DWP's slice level
        self.vd = args.vd                                           # the log-uniform row's layers: truncated (the paper's) or sparse VD
        self.kernel_scale = args.kernel_scale                       # the gauge of the DWPs: 'source', 'init' or a factor
        self.plain_size, self.plain_epochs, self.target = (200, 2, 0.5) if quick else (500, 30, args.target_accuracy)
        zoo_name = (f'full__models{self.n_models}' + ('' if self.source_epochs == DEFAULT_SOURCE_EPOCHS else f'__source-epochs{self.source_epochs}')
                    + ('' if self.source_optimizer == DEFAULT_SOURCE_OPTIMIZER else f'__source-{self.source_optimizer}'))
        self.work = Path(args.work)/('quick' if quick else zoo_name)
        # another source zoo gets results of its own (its cells and priors must never be read as, or replace, the committed zoo's)
        zoo = ([f'models{self.n_models}'] * (self.n_models != DEFAULT_MODELS) + [f'heldout{self.held_out}'] * (self.held_out != DEFAULT_HELD_OUT)
               + [f'epochs{self.source_epochs}'] * (self.source_epochs != DEFAULT_SOURCE_EPOCHS)
               + [self.source_optimizer] * (self.source_optimizer != DEFAULT_SOURCE_OPTIMIZER))
        default_results = self.work/'results' if quick else RESULTS/('source-' + '-'.join(zoo)) if zoo else RESULTS
        self.results = default_results if args.results is None else Path(args.results)

    @property
    def steps(self) -> int: return self.steps_per_epoch * self.epochs

    @property
    def source_config(self) -> str: return SOURCE_CONFIGS[self.source_optimizer]


# ---------------------------------------------------------------------------------------------------------- the zoo
def source_manifest(s: Settings) -> dict:
    manifest = load_manifest(ROOT/'configs'/s.source_config)
    manifest['trainer']['max_epochs'] = s.source_epochs
    if s.source_train_size: manifest['dataset']['train'].update(train_size=s.source_train_size, random_state=0)
    return manifest


def train_zoo(s: Settings, n_workers: int) -> Path:
    "Train (or reuse) the source zoo through the zoo stage (`n_workers` processes); finished models are kept, interrupted ones resume."
    zoo = s.work/'zoo'
    start = time.time()
    report = train_zoo_stage(s.n_models, source_manifest(s), zoo, devices=['cpu'] * n_workers, tag='fashion', seed=2026,
                             log=lambda *args: None)
    if report['failed']: sys.exit(f'claims: source models {report["failed"]} failed; see their logs in {zoo/"logs"}')
    trained = [r for r in report['models'] if r['status'] != 'skipped']
    if trained:
        accuracy = [history_rows(torch.load(r['snapshot'], weights_only=True)['history'])[-1]['accuracy'] for r in report['models']]
        log(f'  {len(trained)} source models trained in {time.time() - start:.0f}s; test accuracy on classes 0-4 '
            f'{np.mean(accuracy):.3f} ± {np.std(accuracy):.3f}')
    return zoo


def zoo_picture(s: Settings, vault: Path, path: Path):
    "The conv0 kernels of the first source model and the first 16 x 16 conv1 slices, each scaled to its own range."
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from markovdwp_nb.vae_train import slice_mosaic
    figure, axes = plt.subplots(1, 2, figsize=(11, 5.5), gridspec_kw={'width_ratios': [1, 1.6]})
    for ax, layer, count, cols in ((axes[0], CONV0, 32, 8), (axes[1], CONV1, 256, 16)):
        dataset = SingleKernelDataset(vault, layer, dim='mio', min_norm=0.0)
        slices = torch.as_tensor(dataset.gather(range(count))[0]).float().reshape(count, 1, *dataset.event_shape[-2:])
        slices = slices / slices.flatten(1).abs().amax(1).clamp_min(1e-12)[:, None, None, None]
        ax.imshow(slice_mosaic(slices, n_cols=cols), cmap='RdBu_r', vmin=-1, vmax=1)
        ax.set_title(f'{layer} ({"x".join(map(str, dataset.event_shape[-2:]))}), model 0'); ax.axis('off')
    figure.suptitle(f'Kernels of a DigitsNet trained on Fashion-MNIST 0-4 (configs/{s.source_config})')
    figure.tight_layout(); figure.savefig(path, dpi=90); plt.close(figure)


# ------------------------------------------------------------------------------------------------- kernel models
def relative(path: Path) -> str:
    "`path` relative to the repository (the runs start there), so that committed files name the same place on every machine."
    return os.path.relpath(Path(path).resolve(), ROOT)


def slice_norms(vault: Path, layer: str) -> np.ndarray:
    dataset = SingleKernelDataset(vault, layer, dim='mio', min_norm=0.0)
    slices = dataset.gather(range(len(dataset)))[0]
    return np.linalg.norm(np.asarray(slices, dtype=np.float64).reshape(len(dataset), -1), axis=1)


def pruning(s: Settings, vault: Path) -> dict:
    "The absolute `min_norm` of each layer: `s.min_norm` x the median slice norm of the training vault (the dead slices go)."
    return {layer: float(s.min_norm * np.median(slice_norms(vault, layer))) for layer in (CONV0, CONV1)}


def trained_vae(s: Settings, config: str, vault: Path, layer: str, min_norm: float, overrides: dict | None = None) -> Path:
    "Train (or reuse) the kernel VAE of `config` (`vae.options` `overrides`) on the slices of `layer` with norm >= `min_norm`."
    manifest = load_manifest(ROOT/'configs'/config, kind='vae', env={'VAULT': relative(vault)})
    manifest['dataset']['single'].update(source=layer, min_norm=min_norm)
    manifest['trainer']['max_epochs'] = s.vae_epochs.get(config, manifest['trainer']['max_epochs'])
    manifest['options']['wandb'] = False
    manifest['vae']['options'].update(overrides or {})
    target = vae_target(s, config, layer, overrides)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        saved = torch.load(target, weights_only=True).get('requested_config')
        if same_vae_manifest(saved, manifest):
            if saved != manifest: log(f'  {relative(target)}: reused (its pruning threshold {saved["dataset"]["single"]["min_norm"]:.6g}, '
                                      f'this zoo\'s {min_norm:.6g}: a retrained zoo is not bit for bit the same)')
            return target
        target.unlink()
    start = time.time()
    with quiet(): last = train_vae(manifest, target=target, seed=0, device='cpu').history[-1]
    log(f'  {config} on {layer}: {manifest["trainer"]["max_epochs"]} epochs in {time.time() - start:.0f}s, active units {last.get("active_units")}')
    return target


MIN_NORM_RTOL = 0.01   # pruning thresholds this close name the same VAE (a zoo trained again differs in the last bits)


def same_vae_manifest(saved: dict | None, manifest: dict) -> bool:
    "Whether the VAE trained from the manifest `saved` is the one `manifest` asks for: equal, but for a pruning threshold within `MIN_NORM_RTOL`."
    if saved == manifest: return True
    if not isinstance(saved, dict): return False
    threshold = lambda m: m.get('dataset', {}).get('single', {}).get('min_norm')
    rest = lambda m: {**m, 'dataset': {**m['dataset'], 'single': {k: v for k, v in m['dataset']['single'].items() if k != 'min_norm'}}}
    a, b = threshold(saved), threshold(manifest)
    return (isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=MIN_NORM_RTOL)
            and rest(saved) == rest(manifest))


def vae_target(s: Settings, config: str, layer: str, overrides: dict | None = None) -> Path:
    "Where the kernel VAE of `config` with `vae.options` `overrides` on `layer` is kept: `priors/vae5x5-varfull__features.conv1.pt`."
    return s.results/'priors'/f'{Path(config).stem}{"".join(f"-{k}{v}" for k, v in (overrides or {}).items())}__{layer}.pt'


def noise_settings(layer: str, var: str) -> tuple:
    "The config and `vae.options` overrides of `layer`'s VAE with decoder noise `var` (configs/vae7x7.json's own is 'train': no override)."
    return ('vae7x7.json', None if var == 'train' else {'var': var}) if layer == CONV0 else ('vae5x5.json', {'var': var})


def noise_vae(s: Settings, vault: Path, layer: str, min_norm: float, var: str) -> Path:
    "Train (or reuse) the kernel VAE of `layer` with decoder noise `var`."
    config, overrides = noise_settings(layer, var)
    return trained_vae(s, config, vault, layer, min_norm, overrides)


def dwp_noises(s: Settings) -> tuple:
    "`(layer, decoder noise)` of the DWP rows' VAEs: `--dwp7-var` on conv0, `--dwp5-var` on conv1."
    return (CONV0, s.dwp7_var), (CONV1, s.dwp5_var)


def dwp_vae_paths(s: Settings) -> dict:
    "`{layer: path}` of the VAEs of the DWP rows of `s`, trained or not."
    paths = {}
    for layer, var in dwp_noises(s):
        config, overrides = noise_settings(layer, var)
        paths[layer] = vae_target(s, config, layer, overrides)
    return paths


def pruned_slices(vault: Path, layer: str, min_norm: float) -> torch.Tensor:
    dataset = SingleKernelDataset(vault, layer, dim='mio', min_norm=min_norm)
    slices = dataset.gather(range(len(dataset)))[0]
    return torch.as_tensor(np.asarray(slices)).float().reshape(len(dataset), 1, *dataset.event_shape[-2:])


def vae_loglik(vae_path: Path, slices: torch.Tensor, draws: int, limit: int = 2048) -> dict:
    index = torch.randperm(len(slices), generator=torch.Generator().manual_seed(0))[:limit]
    torch.manual_seed(0)
    batches = kernel_batches(torch.utils.data.TensorDataset(slices[index], torch.zeros(len(index))), batch_size=256)
    return evaluate_vae(load_vae(vae_path), batches, n_draws=draws)


def kernel_part(s: Settings, vaults: tuple, min_norms: dict, vaes: dict, markov: Path) -> dict:
    "The `kernel_loglik` section: held-out nats per slice (and what they were measured on)."
    cached = s.results/'kernel_loglik.json'
    key = {'vaes': {k: relative(v) for k, v in vaes.items()}, 'min_norms': min_norms, 'draws': s.draws, 'markov_epochs': s.markov_epochs,
           **({'markov_var': s.markov_var} if s.markov_var != DEFAULT_MARKOV_VAR else {}),
           'rows': 5}  # the version of the comparison (5: every noise model of each VAE; 'VAE' is the one the DWP uses)
    if cached.exists() and json.loads(cached.read_text())['key'] == key: return with_dwp_vae(s, json.loads(cached.read_text())['result'])
    train_vault, held_out_vault = vaults
    start = time.time()
    # conv0: the VAE and two Gaussians on the pruned slices of the held-out models
    train, test = pruned_slices(train_vault, CONV0, min_norms[CONV0]), pruned_slices(held_out_vault, CONV0, min_norms[CONV0])
    fitted = gaussians(train)
    noises = {var: vae_loglik(noise_vae(s, train_vault, CONV0, min_norms[CONV0], var), test, s.draws) for var in NOISES}
    vae = noises[s.dwp7_var]
    conv0 = {**{NOISE_ROWS[var]: noises[var]['iwae'] for var in NOISES},
             **{name.replace('full-covariance', 'full-cov').replace('diagonal', 'diag'): g.log_prob(test.flatten(1).double()).mean().item()
                for name, g in fitted.items()},
             'active_units': vae['active_units'], 'n_train_slices': len(train), 'n_held_out_slices': len(test)}
    # conv1: whole filter banks (no pruning: the Markov DWP models every slice of a bank)
    model = load_markov(markov)
    torch.manual_seed(0)
    markov = evaluate_markov(model, torch.utils.data.DataLoader(FilterBanks(held_out_vault, CONV1), batch_size=1), n_draws=min(s.draws, 100))
    banks_train, banks_test = kernels(train_vault), kernels(held_out_vault)
    flat = banks_train.reshape(-1, banks_train.shape[-1])
    all_slices = torch.as_tensor(banks_test.reshape(-1, 1, 5, 5)).float()
    limit = 256 if s.quick else len(all_slices)   # quick: the plumbing, on a random 256
    noises = {var: vae_loglik(noise_vae(s, train_vault, CONV1, min_norms[CONV1], var), all_slices, min(s.draws, 100), limit=limit)['iwae']
              for var in NOISES}
    conv1 = {**{NOISE_ROWS[var]: noises[var] for var in NOISES},
             'full-cov Gaussian': float(gaussian_log_density(banks_test, flat.mean(0), np.cov(flat.T, bias=True)).mean()),
             'Markov DWP': markov['iwae'], 'Markov DWP ELBO': markov['elbo'],
             'filter random-effects Gaussian': shared_mean_gaussian(banks_train, banks_test),
             'input-channel random-effects Gaussian': shared_mean_gaussian(banks_train.transpose(0, 2, 1, 3), banks_test.transpose(0, 2, 1, 3)),
             'n_held_out_slices': int(len(all_slices))}
    result = with_dwp_vae(s, {'conv1': conv0, 'conv2': conv1, 'seconds': time.time() - start})  # the issue's names: conv1 = features.conv0
    cached.write_text(json.dumps({'key': key, 'result': result}, indent=1))
    return result


def with_dwp_vae(s: Settings, kernel_loglik: dict) -> dict:
    """`kernel_loglik` with each layer's row 'VAE' (first) the score of the VAE that the DWP of `s` uses (`--dwp7-var`, `--dwp5-var`),
    whichever run measured it; a cache of an older comparison without that VAE's noise row keeps its 'VAE' only for the default."""
    for layer, var, default in (('conv1', s.dwp7_var, DEFAULT_DWP7_VAR), ('conv2', s.dwp5_var, DEFAULT_DWP5_VAR)):
        row = kernel_loglik.get(layer)
        if not row: continue
        rest = {name: value for name, value in row.items() if name != 'VAE'}
        if NOISE_ROWS[var] in rest: kernel_loglik[layer] = {'VAE': rest[NOISE_ROWS[var]], **rest}
        elif var != default: kernel_loglik[layer] = rest
    return kernel_loglik


# ----------------------------------------------------------------------------------------------- Bayesian nets
def dataset_specs(task: str, size: int, split: int) -> dict:
    spec = TASKS[task]
    extra = {'classes': spec['classes']} if spec['classes'] else {}
    return {'train': {'cls': f"<class 'markovdwp_nb.data.{spec['cls']}_Train'>", **extra, 'train_size': size, 'random_state': split},
            'test': {'cls': f"<class 'markovdwp_nb.data.{spec['cls']}_Test'>", **extra}}


def bnn_manifest(s: Settings, task: str, prior: str, size: int, split: int, vaes: dict, markov: Path, epochs: int) -> dict:
    "configs/fashion-dwp.json for one cell of the table."
    vaes = vaes or dict.fromkeys((CONV0, CONV1), 'none')   # a row without a DWP (ZOO_FREE) replaces options.priors below
    manifest = load_manifest(ROOT/'configs'/'fashion-dwp.json', kind='dwp', env={'VAE7': str(vaes[CONV0]), 'VAE5': str(vaes[CONV1])})
    manifest['dataset'] = dataset_specs(task, size, split)
    manifest['feeds']['train']['steps'] = s.steps_per_epoch
    manifest['trainer'] = {'max_epochs': epochs}
    manifest['model'].update(k=s.k, n_classes=len(TASKS[task]['classes'] or range(10)))
    options = manifest['options']
    options.update(lr=s.lr, wandb=False)
    if s.lr_factor != 1: options['log_sigma2_lr_factor'] = s.lr_factor
    if s.warmup: options['kl_warmup'] = {'n_steps': s.warmup}
    if s.n_slices: options['priors'][CONV1]['n_slices'] = s.n_slices
    row, prior = prior, prior.removesuffix(CLOSED_FORM)
    if row != prior:  # estimator "closed-form": codes from r(z | mean), E_q log p(w | z) exact, on every slice (no --n-slices subset)
        for spec in options['priors'].values():
            spec.pop('n_slices', None)
            spec['estimator'] = 'closed-form'
    if prior in ZOO_FREE:
        options.update(kind='classic', priors={}, init={})
        if prior == 'log-uniform': manifest['model']['cls'] = f"<class 'markovdwp_nb.bnn.{VD_NETS[s.vd]}'>"
        # N(0, s^2) with s the default-initialisation std of each conv layer: the scale of the DWPs' kernel_scale 'init' gauge
        if prior == 'init-scale normal': options['normal_std'] = 'init'
    elif prior == 'DWP + DWP init': options['init'] = {CONV0: 'prior', CONV1: 'prior'}
    elif prior == 'Markov DWP':   # on conv1; conv0 keeps the 7x7 DWP (closed-form too in the row 'Markov DWP, closed-form')
        options['priors'][CONV1] = {'path': str(markov), 'kind': 'trainable', **({'estimator': 'closed-form'} if row != prior else {})}
    elif prior in CONV0_ONLY: del options['priors'][CONV1]  # N(0, 1) on conv1: isolates the 7x7 DWP
    elif prior == 'DWP, 5x5 KL x0.1':  # the 5x5 DWP's KL term at TEMPER / N instead of 1 / N (a tempered prior on conv1)
        options['coef'] = {**options.get('coef', {'task.nll': 1.0, 'model.kl_div': 'dataset'}), f'model.kl_div.{CONV1}': TEMPER / size}
    if s.kernel_scale != 'source':
        for spec in options['priors'].values(): spec['kernel_scale'] = s.kernel_scale
    if s.quick:  # a fifth of the test images: the quick run checks the plumbing, not the numbers
        manifest['resampling'] = {'valid': {'source': 'test', 'kind': 'subset', 'size': 1000, 'random_state': 0}}
        manifest['feeds']['valid'] = manifest['feeds'].pop('test')
    return manifest


def prior_label(prior: str) -> str:
    "A row's name in paths: `DWP_and_DWP_init`, `DWP_5x5_KL_x0.1`."
    return prior.replace(' + ', '_and_').replace(',', '').replace(' ', '_')


def run_dir(s: Settings, task: str, size: int, prior: str, split: int, epochs: int) -> Path:
    protocol = (f'k{s.k}-lr{s.lr}-f{s.lr_factor}-w{s.warmup}-s{s.n_slices}-steps{s.steps_per_epoch * epochs}'
                + (f'-ks{s.kernel_scale}' if s.kernel_scale != 'source' else '')
                + (f'-zoo{s.n_models}' if s.n_models != DEFAULT_MODELS and not s.quick else '')   # another zoo, other cells
                + (f'-heldout{s.held_out}' if s.held_out != DEFAULT_HELD_OUT and not s.quick else ''))   # other priors, other cells
    # which 5x5 VAE the DWP rows use; the CONV0_ONLY rows use none, so their cells keep the default's name under every --dwp5-var
    dwp = f'__dwp5-{DEFAULT_DWP5_VAR if prior in CONV0_ONLY else s.dwp5_var}' if 'DWP' in prior else ''
    if 'DWP' in prior and s.dwp7_var != DEFAULT_DWP7_VAR: dwp += f'__dwp7-{s.dwp7_var}'   # and which 7x7 VAE, if not the first one
    if prior == 'Markov DWP' and s.markov_var != DEFAULT_MARKOV_VAR: dwp += f'__markov-{s.markov_var}'   # and which slice level
    if prior == 'log-uniform' and s.vd != 'sparse': dwp = f'__vd-{s.vd}'   # the sparse VD cells keep their old names
    return s.work/'bnn'/protocol/task/f'n{size}'/(prior_label(prior) + dwp)/f'split{split}'


def record_path(s: Settings, target: Path) -> Path:
    "The committed record of the run in `target`: the same relative path under `results/cells`."
    return s.results/'cells'/Path(target).relative_to(s.work/'bnn').with_suffix('.json')


def cores() -> int:
    "The cores this run may use: `OMP_NUM_THREADS` where it is set (a test runner sharing the machine), else all of them."
    return int(os.environ.get('OMP_NUM_THREADS') or 0) or os.cpu_count() or 1


def _train_one(manifest: dict, target: str, record: str, seed: int, threads: int) -> str:
    "Worker: one Bayesian net (resumes its checkpoint), then its record; the line to log."
    torch.set_num_threads(threads)
    start = time.time()
    Path(record).parent.mkdir(parents=True, exist_ok=True)
    snapshot = Path(target)/'model.pt'   # its checkpoint, model.pt.ckpt, beside it while it trains
    try:
        if is_snapshot_file(snapshot): results = results_of(load_snapshot(snapshot))   # trained, not yet recorded
        else:
            with quiet(): results = results_of(train_dwp(manifest, target=snapshot, seed=seed, device='cpu'))
    except FloatingPointError as exc:  # a diverged net is recorded and not retried; anything else is a bug to see
        Path(record).write_text(json.dumps({'failed': str(exc).splitlines()[0]}))
        return f'{net_name(target)}: FAILED ({str(exc).splitlines()[0]}), {time.time() - start:.0f}s'
    summary = {'accuracy': results['ensemble']['accuracy'], 'nll': results['ensemble']['nll'], 'seed': results['seed'],
               'seconds': results['seconds'], 'n_train': results['n_train'], 'curve': [row.get('accuracy') for row in results['history']],
               'conv2_posterior': conv_posterior(Path(target)),
               'train_terms': train_terms(results['history']),
               'manifest': manifest}
    write_atomic(Path(record), json.dumps(summary, indent=1))
    return f'{net_name(target)}: ensemble accuracy {summary["accuracy"]:.3f}, {time.time() - start:.0f}s'


def write_atomic(path: Path, text: str):
    "Write `text` to `path` through a temporary file beside it: a reader sees the old file or the whole new one, never a part."
    tmp = path.with_suffix(path.suffix + '.tmp')
    tmp.write_text(text); os.replace(tmp, path)


def train_terms(history: list) -> dict:
    """The last epoch's training terms per example of a Bayesian net's `history`: the task's NLL beside each layer's KL / N, i.e.
    how much of the negative ELBO is data (`{'task.nll': ..., 'model.kl_div.features.conv0': ..., ...}`)."""
    return {k[len('train_'):]: v for k, v in history[-1].items() if k.startswith('train_') and k != 'train_loss'}


def net_name(target) -> str:
    "A Bayesian net's run directory from its settings on: `k0.5-.../fashion5-9/n50/DWP__dwp5-full/split0`."
    return str(Path(target).relative_to(Path(target).parents[4]))


def bayes_jobs(s: Settings, vaes: dict, markov: Path, cells, epochs: int) -> list:
    "The `run_jobs` job of every cell in `cells` that has neither results nor a recorded failure."
    jobs = []
    for task, size, prior, split in cells:
        target = run_dir(s, task, size, prior, split, epochs)
        if record_path(s, target).exists(): continue
        jobs.append((_train_one, bnn_manifest(s, task, prior, size, split, vaes, markov, epochs), str(target), str(record_path(s, target)), split))
    return jobs


def run_jobs(jobs: list, n_jobs: int, label: str):
    """Run `jobs`, `(worker, *arguments)` each (`_train_one`: a Bayesian net, `_train_plain`: a plain one), `n_jobs` processes at a
    time, each with its share of the cores, in the order given (put the longest first); log the line each worker returns."""
    if not jobs: return
    threads = max(1, cores() // n_jobs)
    log(f'  {label}: {len(jobs)} nets to train, {n_jobs} at a time with {threads} thread(s) each')
    with ProcessPoolExecutor(n_jobs, mp_context=multiprocessing.get_context('spawn')) as pool:
        futures = [pool.submit(*job, threads) for job in jobs]
        for done, future in enumerate(as_completed(futures), 1): log(f'  [{done}/{len(jobs)}] {future.result()}')


def table_cells(s: Settings) -> list:
    "Every cell of Table 1, split by split (an interrupted table has every size and prior of its first splits)."
    return [(task, size, prior, split) for split in range(s.n_splits) for task in s.tasks
            for size in s.sizes[task] for prior in s.priors]


def read_record(s: Settings, task: str, size: int, prior: str, split: int, epochs: int) -> dict | None:
    "The record of a finished net (None if not run or failed)."
    path = record_path(s, run_dir(s, task, size, prior, split, epochs))
    record = json.loads(path.read_text()) if path.exists() else None
    return None if record is None or 'failed' in record else record


def conv_posterior(target: Path, layer: str = CONV1) -> dict:
    "rms of the posterior means, mean posterior std and median |mean| / std of `layer` in the run's `model.pt`."
    state = torch.load(target/'model.pt', weights_only=True)['state']
    weight = state[f'{layer}.weight']
    if f'{layer}.alpha_logit' in state: sigma = torch.sigmoid(state[f'{layer}.alpha_logit']).sqrt() * weight.abs()   # alpha theta^2
    else: sigma = (state[f'{layer}.log_sigma2'] / 2).exp()
    return {'rms_mean': weight.pow(2).mean().sqrt().item(), 'mean_std': sigma.mean().item(),
            'median_snr': (weight.abs() / sigma).median().item()}


def summarise(values) -> dict:
    values = np.asarray(values, dtype=float)
    return {'mean': float(values.mean()), 'std': float(values.std(ddof=1)) if len(values) > 1 else 0.0, 'n_splits': int(len(values))}


def accuracy_table(s: Settings, epochs: int) -> tuple:
    "`{task: {N: {prior: summary}}}`, the conv1 posterior statistics and the validation curves of each cell."
    table, posteriors, curves = {}, {}, {}
    for task in s.tasks:
        for size in s.sizes[task]:
            for prior in PRIORS:
                found = [r for r in (read_record(s, task, size, prior, split, epochs) for split in range(s.n_splits)) if r is not None]
                if not found: continue
                cells = record_path(s, run_dir(s, task, size, prior, 0, epochs)).parent.relative_to(s.results/'cells')
                table.setdefault(task, {}).setdefault(str(size), {})[prior] = {**summarise([r['accuracy'] for r in found]), 'cells': str(cells)}
                stats = [r['conv2_posterior'] for r in found]
                posteriors.setdefault(task, {}).setdefault(str(size), {})[prior] = {k: float(np.mean([x[k] for x in stats])) for k in stats[0]}
                curves.setdefault(task, {}).setdefault(str(size), {})[prior] = [r['curve'] for r in found]
    return table, posteriors, curves


def budget_part(s: Settings) -> dict:
    """The budget of the table, checked on split 0 of fashion5-9: each prior's ensemble accuracy after the table's steps and after
    each longer budget it was trained for, at the first N (`accuracy`; the budget part trains these) and at the other N where such
    runs exist (`other_sizes`, `{N: {prior: {steps: accuracy}}}`), and the posterior means' test accuracy along each run at the
    first N (`curves`, one point per epoch). A prior is listed once it has the table's run and at least one longer one."""
    n = s.sizes['fashion5-9'][0]
    budget = {'task': 'fashion5-9', 'n_train': n, 'split': 0, 'steps': [s.steps_per_epoch * e for e in (s.epochs, *s.budget_epochs)],
              'steps_per_epoch': s.steps_per_epoch, 'accuracy': {}, 'curves': {}, 'other_sizes': {}}
    for size in s.sizes['fashion5-9']:
        for prior in PRIORS:
            runs = {f'{e * s.steps_per_epoch} steps': read_record(s, 'fashion5-9', size, prior, 0, e) for e in (s.epochs, *s.budget_epochs)}
            runs = {steps: record for steps, record in runs.items() if record is not None}
            if f'{s.steps} steps' not in runs or len(runs) < 2: continue
            accuracy = {steps: record['accuracy'] for steps, record in runs.items()}
            if size != n: budget['other_sizes'].setdefault(str(size), {})[prior] = accuracy; continue
            budget['accuracy'][prior] = accuracy
            budget['curves'][prior] = {steps: record['curve'] for steps, record in runs.items()}
    return budget


def steps_of(key: str) -> int:
    "The steps of a budget's key ('10000 steps' -> 10000)."
    return int(key.split()[0])


def steps_label(key: str) -> str:
    "A budget's key ('10000 steps') as the reports print it ('10,000 steps')."
    return f'{steps_of(key):,} steps'


def budget_sizes(budget: dict) -> list:
    "`(N, {prior: {steps: accuracy}})` of the budget's first N, then of each other N with longer runs."
    return [(budget['n_train'], budget['accuracy'])] + [(int(size), found) for size, found in (budget.get('other_sizes') or {}).items()]


# ----------------------------------------------------------------------------------------------- convergence
def plain_manifest(s: Settings, split: int) -> dict:
    "A plain DigitsNet (no BatchNorm, as the paper's) on `plain_size` examples of Fashion-MNIST 5-9, batches of 50, tested on all of 5-9."
    return {'dataset': dataset_specs('fashion5-9', s.plain_size, split),
            'feeds': {'train': {'batch_size': 50, 'shuffle': True}, 'test': {'batch_size': 500, 'shuffle': False}},
            'trainer': {'max_epochs': s.plain_epochs}, 'model': {'cls': "<class 'markovdwp_nb.models.DigitsNet'>", 'n_classes': 5, 'k': s.k, 'norm': False},
            'options': {'lr': s.lr, 'coef': {'task.nll': 1.0}}}


def plain_path(s: Settings, init: str, split: int) -> Path:
    return s.work/'plain'/f'n{s.plain_size}-e{s.plain_epochs}-k{s.k}'/f'{init.replace(" ", "_")}__split{split}.pt'


def _train_plain(manifest: dict, path: str, seed: int, init: dict, priors: dict, threads: int) -> str:
    "Worker: one plain net to the snapshot `path` (resumes its checkpoint), its conv layers initialised per `init` from `priors` (specs); the line to log."
    torch.set_num_threads(threads)
    start = time.time()
    with quiet(): train_source(manifest, target=path, seed=seed, device='cpu', cbs=[PriorInit(init, load_priors(priors))])
    return f'plain net {Path(path).stem}: {manifest["trainer"]["max_epochs"]} epochs in {time.time() - start:.0f}s'


def plain_jobs(s: Settings, vaes: dict, vault: Path, min_norms: dict) -> list:
    "The `run_jobs` job of every plain net of the convergence table that is not trained yet."
    priors = {name: {'path': str(vaes[name]), 'kind': 'collapsed', 'kernel_scale': s.kernel_scale} for name in (CONV0, CONV1)}
    specs = {'default': {}, 'DWP': {name: 'prior' for name in (CONV0, CONV1)},
             'source kernels': {name: {'root': str(vault), 'min_norm': min_norms[name]} for name in (CONV0, CONV1)}}
    jobs = []
    for split in range(s.n_splits):
        for init in INITS:
            path = plain_path(s, init, split)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists(): jobs.append((_train_plain, plain_manifest(s, split), str(path), split, specs[init], priors))
    return jobs


def init_part(s: Settings) -> tuple:
    "Epochs to `s.target` test accuracy of the plain nets trained so far per init, and their accuracy curves."
    curves = {}
    for split in range(s.n_splits):
        for init in INITS:
            path = plain_path(s, init, split)
            if path.exists(): curves.setdefault(init, []).append([row['accuracy'] for row in history_rows(torch.load(path, weights_only=True)['history'])])
    reached = {init: [next((i + 1 for i, a in enumerate(curve) if a >= s.target), None) for curve in runs] for init, runs in curves.items()}
    section = {'target': s.target, 'n_train': s.plain_size, 'max_epochs': s.plain_epochs}
    for init in INITS:
        if init not in reached: continue
        hits = [r for r in reached[init] if r is not None]
        section[init] = {**(summarise(hits) if hits else {'mean': None, 'std': None, 'n_splits': 0}),
                         'reached': f'{len(hits)}/{len(reached[init])}', 'accuracy_after_1_epoch': summarise([c[0] for c in curves[init]])['mean']}
    return section, curves


# ----------------------------------------------------------------------------------------------------- report
def git_commit() -> str:
    """HEAD's hash, with `-dirty` when tracked files outside bench/results differ from it (the results then come from code no
    commit holds; the results themselves are what a run rewrites)."""
    git = lambda *args: subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    try: return git('rev-parse', 'HEAD') + ('-dirty' if git('status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench/results') else '')
    except (OSError, subprocess.CalledProcessError): return 'unknown'


def hardware() -> str:
    cpu = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines() if line.startswith('model name')), platform.processor()) \
        if Path('/proc/cpuinfo').exists() else platform.processor()
    return f'{cpu}, {os.cpu_count()} cores, CPU only; torch {torch.__version__}'


def markdown(claims: dict, level: int = 1) -> str:
    "The results of `claims` (a claims.json) as Markdown, its title a heading of `level`."
    lines = [f'{"#" * level} The DWP paper\'s claims on Fashion-MNIST', '', f'`{claims["command"]}` at {claims["commit"][:10]}{"-dirty" * claims["commit"].endswith("-dirty")}, {claims["hardware"]}.', '',
             claims['protocol'], '']
    for task, by_size in claims['accuracy'].items():
        sizes = sorted(by_size, key=int)
        lines += [f'**{task}**: ensemble test accuracy, mean ± std over splits (splits)', '',
                  '| prior | ' + ' | '.join(f'N = {n}' for n in sizes) + ' |', '|---|' + '---|' * len(sizes)]
        for prior in PRIORS:
            cells = [by_size[n].get(prior) for n in sizes]
            if not any(cells): continue
            lines.append(f'| {prior} | ' + ' | '.join(f'{c["mean"]:.3f} ± {c["std"]:.3f} ({c["n_splits"]})' if c else '—' for c in cells) + ' |')
        lines.append('')
        lines += claim_lines(task, by_size, sizes)
    if claims.get('kernel_loglik'):
        lines += ['**Kernel models** on held-out source models, nats per slice (higher is better)', '', '| layer | model | log-likelihood |', '|---|---|---|']
        for layer, models in claims['kernel_loglik'].items():
            for name, value in (models.items() if isinstance(models, dict) else ()):
                if isinstance(value, float): lines.append(f'| {LAYER_LABELS.get(layer, layer)} | {name} | {value:.3f} |')
        lines.append('')
    budget = claims.get('budget') or {}
    if budget.get('accuracy'):
        steps = [f'{n} steps' for n in budget['steps']]
        paper = f'; {PAPER_STEPS:,} steps are the paper\'s' if PAPER_STEPS in budget['steps'] else ''
        lines += [f'**Budget**: ensemble accuracy of each prior\'s net on {budget["task"]}, split {budget["split"]}, '
                  f'after {steps_label(steps[0])} (the table\'s) and after longer runs, each with its own linear decay, with the change from the table\'s '
                  f'in points (the table\'s budget is enough where the change is under 0.5 points{paper}; one run per cell)', '',
                  '| N | prior | ' + ' | '.join(map(steps_label, steps)) + ' |', '|---|---|' + '---|' * len(steps)]
        for size, priors in budget_sizes(budget):
            for prior, by_steps in priors.items():
                first = by_steps[steps[0]]
                cells = [f'{by_steps[k]:.3f}' + (f' ({100 * (by_steps[k] - first):+.1f})' if k != steps[0] else '') if k in by_steps else '—' for k in steps]
                lines.append(f'| {size} | {prior} | ' + ' | '.join(cells) + ' |')
        lines.append('')
    ett = claims.get('epochs_to_target')
    if ett and any(init in ett for init in INITS):
        lines += [f'**Convergence**: epochs of a plain net (N = {ett["n_train"]}) to {ett["target"]:.0%} test accuracy', '',
                  '| init | epochs | reached | accuracy after 1 epoch |', '|---|---|---|---|']
        for init in INITS:
            if init in ett:
                e = ett[init]
                lines.append(f'| {init} | ' + (f'{e["mean"]:.1f} ± {e["std"]:.1f}' if e['mean'] is not None else 'never') +
                             f' | {e["reached"]} | {e["accuracy_after_1_epoch"]:.3f} |')
    return '\n'.join(lines) + '\n'


def budget_summary(claims: dict) -> str:
    """One generated paragraph on the budget part: each prior's change in ensemble accuracy from the table's steps to its longest
    budget run at the first N, and the DWP's gain over N(0, 1) after every budget both rows ran, at each N; '' until a prior has a
    longer run."""
    budget = claims.get('budget') or {}
    if not budget.get('accuracy'): return ''
    first = f'{budget["steps"][0]} steps'
    longest = lambda by_steps: max(by_steps, key=steps_of)
    changes = {prior: (longest(by_steps), 100 * (by_steps[longest(by_steps)] - by_steps[first])) for prior, by_steps in budget['accuracy'].items()}
    points = lambda x: f'{x:+.1f}'.replace('-', '−')
    text = (f'On {budget["task"]}, N = {budget["n_train"]}, split {budget["split"]}, from the table\'s {steps_label(first)} to the longest run: '
            + '; '.join(f'{prior} {points(change)} points ({steps_label(steps)})' for prior, (steps, change) in changes.items()) + '.')
    for size, acc in budget_sizes(budget):
        for row in GAIN_ROWS:
            if row in acc and 'standard normal' in acc:
                shared = sorted(set(acc[row]) & set(acc['standard normal']), key=steps_of)
                text += (f' {row} − N(0, 1) at N = {size}, split {budget["split"]}: '
                         + ', '.join(f'{points(100 * (acc[row][k] - acc["standard normal"][k]))} after {steps_label(k)}' for k in shared) + '.')
    return text


GAIN_ROWS = ('DWP', 'DWP' + CLOSED_FORM)   # the rows whose gains are printed: the paper's estimator, and the closed-form one where it was run
BASELINES = {'standard normal': 'N(0, 1)', 'log-uniform': 'log-uniform', 'init-scale normal': 'N(0, s²) at the DWP\'s scale (no shapes)'}


def claim_lines(task: str, by_size: dict, sizes: list) -> list:
    "The DWP's gain over each baseline in points (the difference of the two rows' means), as Markdown lines; none without a DWP row."
    rows = []
    for row in GAIN_ROWS:
        for baseline, name in BASELINES.items():
            gains = []
            for n in sizes:
                dwp, base = by_size[n].get(row), by_size[n].get(baseline)
                gains.append(f'{100 * (dwp["mean"] - base["mean"]):+.1f}'.replace('-', '−') if dwp and base else '—')
            if any(g != '—' for g in gains): rows.append(f'| {row} − {name} | ' + ' | '.join(gains) + ' |')
    if not rows: return []
    claim = ' (the paper\'s claim: at least +2 over N(0, 1) at N = 50 and 100, and above log-uniform at every N)' if task == 'fashion5-9' else ''
    return [f'The DWP\'s gain in ensemble accuracy over each baseline on {task}, in points{claim}', '', '| | ' + ' | '.join(f'N = {n}' for n in sizes) + ' |',
            '|---|' + '---|' * len(sizes), *rows, '']


def figure(claims: dict, curves: dict, path: Path):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    # matplotlib's ten colours, then the same colours dashed with square markers: no two rows look alike
    row_style = lambda i: {'color': f'C{i % 10}', 'marker': 'os'[i // 10 % 2], 'linestyle': '-' if i < 10 else '--'}
    tasks = list(claims['accuracy'])
    budget = (claims.get('budget') or {}).get('curves') or {}
    panels = len(tasks) + 1 + bool(budget)
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        by_size = claims['accuracy'][task]
        for i, prior in enumerate(PRIORS):
            points = [(int(n), by_size[n][prior]) for n in sorted(by_size, key=int) if prior in by_size[n]]
            if not points: continue
            ax.errorbar([n * (1 + 0.02 * (i - 2)) for n, _ in points], [p['mean'] for _, p in points], [p['std'] for _, p in points],
                        capsize=3, label=prior, **row_style(i))   # one style per row in every panel
        sizes = sorted(int(n) for n in by_size)
        ax.set_xscale('log'); ax.minorticks_off(); ax.set_xticks(sizes); ax.set_xticklabels([str(n) for n in sizes])
        ax.set_xlim(sizes[0] / 1.3, sizes[-1] * 1.3)
        ax.set_xlabel('training examples N'); ax.set_ylabel('ensemble test accuracy'); ax.set_title(task); ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    ax = axes[0][len(tasks)]
    task = tasks[0]
    size = sorted(curves.get(task, {}), key=int)[0] if curves.get(task) else None
    if size:
        for prior, runs in curves[task][size].items():
            runs = np.array([[np.nan if a is None else a for a in run] for run in runs], dtype=float)
            steps = (np.arange(runs.shape[1]) + 1) * claims['steps_per_epoch']
            ax.plot(steps, np.nanmean(runs, 0), label=prior, **{**row_style(PRIORS.index(prior)), 'marker': None})
        ax.set_xlabel('full-batch steps'); ax.set_ylabel('test accuracy (posterior means)'); ax.set_title(f'{task}, N = {size}: training curves')
        ax.grid(alpha=0.3)
    if budget:   # each prior's longest run along the way (its posterior means), and its ensemble at the end of every budget
        ax, b = axes[0][-1], claims['budget']
        per_epoch = b.get('steps_per_epoch', claims['steps_per_epoch'])
        for prior, runs in budget.items():
            style = row_style(PRIORS.index(prior))
            longest = max(runs, key=steps_of)
            curve = np.array([np.nan if a is None else a for a in runs[longest]], dtype=float)
            ax.plot((np.arange(len(curve)) + 1) * per_epoch, curve, color=style['color'], linestyle=style['linestyle'], alpha=0.6, label=prior)
            ends = sorted((steps_of(k), acc) for k, acc in b['accuracy'][prior].items())
            ax.plot(*zip(*ends), color=style['color'], marker=style['marker'], linestyle='none', markersize=7)
        ax.set_xscale('log'); ax.set_xticks(b['steps']); ax.set_xticklabels([f'{n:,}' for n in b['steps']]); ax.minorticks_off()
        ax.set_xlabel('full-batch steps'); ax.set_ylabel('test accuracy')
        ax.set_title(f'{b["task"]}, N = {b["n_train"]}, split {b["split"]}: budgets\n(lines: posterior means of the longest run; markers: ensembles)', fontsize=9)
        ax.grid(alpha=0.3); ax.legend(fontsize=7)
    fig.tight_layout(); fig.savefig(path, dpi=90); plt.close(fig)


# ------------------------------------------------------------------------------------------------------- main
def kernel_scale_arg(value: str):
    if value in ('init', 'source'): return value
    try: factor = float(value)
    except ValueError: raise argparse.ArgumentTypeError(f'expected init, source or a positive number, got {value!r}') from None
    if not 0 < factor < math.inf: raise argparse.ArgumentTypeError(f'expected a positive number, got {value!r}')
    return factor


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='minutes: 3 source models, 1 split, N = 50, 20 steps per net')
    parser.add_argument('--parts', nargs='+', choices=PARTS, default=list(PARTS), help='what to run (default: all)')
    parser.add_argument('--report', action='store_true', help='train nothing; rewrite the results from the finished runs')
    parser.add_argument('--work', default=str(ROOT/'runs'/'claims-fashion'), help='where every run is cached')
    parser.add_argument('--results', help='where claims.json / claims.md / claims.png, the priors and the cell records go (default: '
                        'bench/results; for another source zoo bench/results/source-<its options>, e.g. source-sgd)')
    parser.add_argument('--models', type=int, default=DEFAULT_MODELS, help='source models (the last --held-out of them are held out)')
    parser.add_argument('--held-out', type=int, default=DEFAULT_HELD_OUT,
                        help=f'source models held out of the kernel models\' fit (default {DEFAULT_HELD_OUT}; another number: results of their own)')
    parser.add_argument('--source-epochs', type=int, default=DEFAULT_SOURCE_EPOCHS,
                        help=f'epochs of each source model (default {DEFAULT_SOURCE_EPOCHS}; another number is another zoo, in a work directory of its own)')
    parser.add_argument('--source-optimizer', choices=list(SOURCE_CONFIGS), default=DEFAULT_SOURCE_OPTIMIZER,
                        help=f'the source models\' optimiser (default {DEFAULT_SOURCE_OPTIMIZER}: configs/fashion-source.json; sgd: '
                             'configs/fashion-source-sgd.json, smooth kernels; another zoo, in a work directory of its own)')
    parser.add_argument('--markov-epochs', type=int, default=10)
    parser.add_argument('--min-norm', type=float, default=0.1, help='prune slices below this multiple of the median slice norm')
    parser.add_argument('--sizes', type=int, nargs='+', default=[50, 100, 200], help='training set sizes on fashion5-9')
    parser.add_argument('--tasks', nargs='+', choices=list(TASKS), default=list(TASKS), help='the target tasks of Table 1')
    parser.add_argument('--priors', nargs='+', choices=PRIORS, default=list(DEFAULT_PRIORS),
                        help=f'the rows of Table 1 to run (default: the first {len(DEFAULT_PRIORS)}; the others are diagnoses)')
    parser.add_argument('--splits', type=int, default=5)
    parser.add_argument('--steps-per-epoch', type=int, default=500, help='full-batch steps per epoch (one validation each)')
    parser.add_argument('--epochs', type=int, default=4, help='epochs of each Bayesian net (steps = epochs x steps per epoch; '
                                                             'default 2,000: the `budget` part checks it against twice as many and the paper\'s 10,000; '
                                                             '20 gives the paper\'s 10,000 epochs of one full batch)')
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--log-sigma2-lr-factor', type=float, default=1.0,
                        help='learning rate of the posterior log-variances / --lr (default 1, the paper\'s: with a linear decay over '
                             '10,000 steps a log-variance moves by at most 5 from -10; 10 lets them reach the prior\'s equilibrium)')
    parser.add_argument('--kl-warmup', type=int, default=0, help='steps of KL warm-up (default 0, the paper\'s)')
    parser.add_argument('--k', type=float, default=0.5, help='width multiplier of the Bayesian nets')
    parser.add_argument('--dwp7-var', choices=NOISES, default=DEFAULT_DWP7_VAR,
                        help='the decoder noise of the 7x7 VAE of the DWPs (vae.options.var): train (default: independent pixels), '
                             'full (one full covariance) or scaled (that covariance times a factor per slice)')
    parser.add_argument('--markov-var', choices=NOISES, default=DEFAULT_MARKOV_VAR,
                        help='the decoder noise of the 5x5 VAE that starts the Markov DWP\'s slice level (default train)')
    parser.add_argument('--dwp5-var', choices=NOISES, default=DEFAULT_DWP5_VAR,
                        help='decoder noise of the 5x5 VAE of the DWP: full (one covariance, configs/vae5x5.json\'s) or train '
                             '(independent, the paper\'s; 1.8 nats per slice worse on held-out models)')
    parser.add_argument('--vd', choices=tuple(VD_NETS), default='truncated',
                        help='the layers of the log-uniform row: truncated (variational dropout with alpha <= 1, Kingma et al. 2015: '
                             'the DWP paper\'s baseline) or sparse (sparse VD, Molchanov et al. 2017: on 50-200 examples it prunes every '
                             'conv weight and predicts one class)')
    parser.add_argument('--kernel-scale', type=kernel_scale_arg, default='init',
                        help='the gauge of the DWPs (options.priors.*.kernel_scale): init (default: each prior re-gauged to the rms '
                             'of its layer\'s default initialisation), source (the source kernels\' own size) or a factor')
    parser.add_argument('--n-slices', type=int, default=256, help='slices per step of the unbiased conv1 DWP penalty (0: all)')
    parser.add_argument('--target-accuracy', type=float, default=0.85, help='test accuracy of the convergence table')
    parser.add_argument('--jobs', type=int, default=2, help='Bayesian nets trained at once')
    parser.add_argument('--rerun', metavar='RECORD', help='train the net of one committed cell record (bench/results/cells/...json) '
                        'again from scratch and compare it with the record and with its cell of claims.json')
    parser.add_argument('--save-rerun', action='store_true', help='with --rerun: keep what it found in <results>/reruns/ (for the README)')
    args = parser.parse_args(argv)
    if args.save_rerun and not args.rerun: parser.error('--save-rerun goes with --rerun RECORD')
    return args


def rerun(record_path: Path, save: bool = False) -> int:
    """Train the Bayesian net of a committed cell record (`<results>/cells/...json`) again, independently (a fresh directory, the
    record's manifest and seed, its priors taken from `<results>/priors`), and compare its ensemble accuracy with the record's and
    with the mean and std of its cell in `<results>/claims.json`. Exit status 0 when it lies within the cell's std of the mean (at
    least 0.005), else 1. With `save`, what it found goes to `<results>/reruns/` under the record's relative path (`rerun_table`)."""
    record_path = Path(record_path).resolve()
    results = next((folder.parent for folder in record_path.parents if folder.name == 'cells'), None)
    if results is None: sys.exit(f'claims: {record_path}: not a cell record (expected a file under <results>/cells/)')
    record = json.loads(record_path.read_text())
    manifest = copy.deepcopy(record['manifest'])
    for spec in manifest['options'].get('priors', {}).values():   # the committed priors, wherever this checkout is
        if isinstance(spec, dict) and 'path' in spec: spec['path'] = str(results/'priors'/Path(spec['path']).name)
    task = 'digits' if 'Digits' in manifest['dataset']['train']['cls'] else 'fashion5-9'
    size, prior_dir = str(record['n_train']), Path(record_path).parent.name
    claims = json.loads((results/'claims.json').read_text())
    cells = claims['accuracy'].get(task, {}).get(size, {})
    # the row whose records are in this record's directory (older claims.json without `cells`: the row of the same name)
    folder = str(record_path.parent.relative_to(results/'cells'))
    prior = next((p for p in cells if cells[p].get('cells', folder) == folder and prior_dir.split('__')[0] == prior_label(p)), None)
    if prior is None: sys.exit(f'claims: {record_path}: its cell ({task}, N = {size}, {prior_dir}) is not in {results/"claims.json"}')
    cell = cells[prior]
    start = time.time()
    with tempfile.TemporaryDirectory() as target:
        with quiet(): run = train_dwp(manifest, target=Path(target)/'net.pt', seed=record['seed'], device='cpu')
    accuracy, tolerance = run.scores['ensemble']['accuracy'], max(cell['std'], 0.005)
    ok = abs(accuracy - cell['mean']) <= tolerance
    print(f'claims: re-ran {task}, N = {size}, {prior}, seed {record["seed"]} in {time.time() - start:.0f}s: ensemble accuracy '
          f'{accuracy:.4f}; the record {record["accuracy"]:.4f}; the table {cell["mean"]:.4f} ± {cell["std"]:.4f} ({cell["n_splits"]} splits): '
          + ('within' if ok else 'NOT within') + f' {tolerance:.4f} of the mean')
    terms = train_terms(run.history)
    print('claims: its last epoch\'s training terms per example: ' + ', '.join(f'{k} {v:.4g}' for k, v in terms.items()))
    if save:
        found = {'command': shlex.join(['python', 'bench/claims.py', '--rerun', relative(record_path), '--save-rerun']), 'commit': git_commit(),
                 'hardware': hardware(), 'task': task, 'n_train': int(size), 'prior': prior, 'seed': record['seed'], 'accuracy': accuracy,
                 'record_accuracy': record['accuracy'], 'cell': cell, 'tolerance': tolerance, 'within': ok, 'seconds': time.time() - start,
                 'train_terms': terms}
        target = results/'reruns'/record_path.relative_to(results/'cells')
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(found, indent=1))
    return 0 if ok else 1


def rerun_table(results: Path) -> str:
    """Markdown of the cells re-run with `--rerun ... --save-rerun`: the re-run's accuracy beside the record's and the table's, and its last
    epoch's training terms per example (the task's NLL beside the sum of the layers' KL / N: how much of the negative ELBO is data)."""
    found = [json.loads(path.read_text()) for path in sorted((results/'reruns').rglob('*.json'))]
    if not found: return ''
    lines = ['| cell | re-run | its record | the table\'s mean ± std | within the std | train NLL / example | KL terms / example |',
             '|---|---|---|---|---|---|---|']
    kl = lambda f: sum(v for k, v in f['train_terms'].items() if k.startswith('model.kl_div'))
    for f in found:
        lines.append(f"| {f['task']}, N = {f['n_train']}, {f['prior']}, seed {f['seed']} | {f['accuracy']:.4f} | {f['record_accuracy']:.4f} | "
                     f"{f['cell']['mean']:.4f} ± {f['cell']['std']:.4f} ({f['cell']['n_splits']}) | {'yes' if f['within'] else 'no'} | "
                     f"{f['train_terms']['task.nll']:.3g} | {kl(f):,.0f} |")
    ratios = sorted(kl(f) / f['train_terms']['task.nll'] for f in found if f['train_terms']['task.nll'] > 0)
    two_digits = lambda x: f'{round(x, 1 - math.floor(math.log10(x))):,.0f}' if x >= 10 else f'{x:.2g}'
    span = two_digits(ratios[0]) + (f' to {two_digits(ratios[-1])}' if len(ratios) > 1 else '')
    return '\n'.join(lines) + (f'\n\nAt the end of training the KL terms are {span} times the data term in these runs.' if ratios else '')


def main(argv=None):
    args = parse(argv)
    if args.rerun: return rerun(Path(args.rerun), args.save_rerun)
    s = Settings(args)
    s.work.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    results = s.results
    results.mkdir(parents=True, exist_ok=True)
    train = not args.report
    command = shlex.join(['python', 'bench/claims.py', *(argv if argv is not None else sys.argv[1:])])
    started, seconds = time.time(), {}
    torch.set_num_threads(cores())
    log(f'claims: {"quick" if s.quick else "full"} run in {s.work}; parts {", ".join(args.parts)}{" (report only)" if args.report else ""}')

    # the zoo, its vaults and priors, unless every part and row asked for does without them (N(0, 1) and the other ZOO_FREE rows)
    needs_zoo = args.report or bool({'zoo', 'kernels', 'init'} & set(args.parts)) or any(prior not in ZOO_FREE for prior in s.priors)
    previous = json.loads((results/'claims.json').read_text()) if (results/'claims.json').exists() else {}
    if needs_zoo:
        log(f'[zoo] {s.n_models} DigitsNets on Fashion-MNIST 0-4 ({s.held_out} held out), their vaults, VAEs and Markov DWP')
        start = time.time()
        zoo = train_zoo(s, args.jobs) if train else s.work/'zoo'
        with quiet(): vaults, _ = split_vaults(zoo, s.work, s.held_out)
        min_norms = pruning(s, vaults[0])
        zoo_picture(s, vaults[0], results/'zoo_kernels.png')
        vaes = {layer: noise_vae(s, vaults[0], layer, min_norms[layer], var) for layer, var in dwp_noises(s)}
        # the Markov DWP's slice level starts at the 5x5 VAE with independent noise, as the committed model in results/priors did
        markov_init = noise_vae(s, vaults[0], CONV1, min_norms[CONV1], s.markov_var)
        markov_dir = s.results/'priors'/('' if s.markov_var == DEFAULT_MARKOV_VAR else f'markov-{s.markov_var}')   # one model per slice level
        markov_dir.mkdir(parents=True, exist_ok=True)
        with quiet(): _, markov, _ = markov_model(Path(relative(vaults[0])), Path(relative(vaults[1])), Path(relative(markov_init)), markov_dir,
                                                 s.markov_epochs, n_banks=32 if s.quick else None)
        seconds['zoo, vaults, VAEs, Markov DWP'] = time.time() - start
    else:
        log(f'[zoo] not needed: the rows {", ".join(s.priors)} use no source zoo')
        vaults, vaes, markov, min_norms = None, None, None, previous.get('min_norm', {})

    claims = {'commit': git_commit(), 'command': command, 'hardware': hardware(), 'steps_per_epoch': s.steps_per_epoch,
              'protocol': (f'The paper\'s Bayesian MNIST net (GaussianConvDigitsNet, k = {s.k}, no BatchNorm, a point-estimated classifier) on N examples, Adam at lr {s.lr} (posterior log-variances at {s.lr_factor}x, '
                           f'started at -10; the truncated VD layers\' alpha at 0.12), linear decay to 0, {s.steps} full-batch steps, KL warm-up over {s.warmup} steps, '
                           f'the log-uniform row with {s.vd} variational dropout, the 7x7 and 5x5 DWPs\' VAEs with {s.dwp7_var} and {s.dwp5_var} decoder noise, the 5x5 DWP\'s penalty on {s.n_slices or "all"} slices per step (all, and the closed-form estimator, in the rows \'... closed-form\'), the Markov DWP\'s slice level from the 5x5 VAE with {s.markov_var} noise, '
                           f'the DWPs at kernel_scale {s.kernel_scale!r}, 10-sample ensemble; '
                           f'source zoo of {s.n_models - s.held_out} models (+{s.held_out} held out) of {s.source_epochs} epochs each (configs/{s.source_config}), slices below '
                           f'{s.min_norm} x the median norm pruned ({", ".join(f"{k}: {v:.3g}" for k, v in min_norms.items()) or "not measured by this run"})'),
              'min_norm': min_norms}
    if 'kernels' in args.parts and train:
        start = time.time()
        log('[kernels] held-out log-likelihoods')
        claims['kernel_loglik'] = kernel_part(s, vaults, min_norms, vaes, markov)
        seconds['kernels'] = time.time() - start
    elif (s.results/'kernel_loglik.json').exists():
        claims['kernel_loglik'] = with_dwp_vae(s, json.loads((s.results/'kernel_loglik.json').read_text())['result'])
    # the nets of the bayes, budget and init parts go to one process pool, the longest first (no pool waits for another's last net)
    jobs, parts = [], [part for part in ('budget', 'bayes', 'init') if part in args.parts and train]
    if 'budget' in parts:
        log(f'[budget] fashion5-9, N = {s.sizes["fashion5-9"][0]}, split 0 at ' + ' and '.join(f'{e * s.steps_per_epoch} steps' for e in s.budget_epochs))
        cells = [('fashion5-9', s.sizes['fashion5-9'][0], prior, 0) for prior in (QUICK_BUDGET if s.quick else s.priors)]
        for epochs in sorted(s.budget_epochs, reverse=True): jobs += bayes_jobs(s, vaes, markov, cells, epochs)   # the longest first
    if 'bayes' in parts:
        log(f'[bayes] Table 1: {len(table_cells(s))} Bayesian nets, {s.steps} steps each')
        jobs += bayes_jobs(s, vaes, markov, table_cells(s), s.epochs)
    if 'init' in parts:
        log(f'[init] plain nets on N = {s.plain_size}: epochs to {s.target:.0%} test accuracy')
        jobs += plain_jobs(s, vaes, vaults[0], min_norms)
    if parts:
        start = time.time()
        run_jobs(jobs, args.jobs, ', '.join(parts))
        seconds[', '.join(parts)] = time.time() - start
    claims['accuracy'], claims['conv2_posterior'], curves = accuracy_table(s, s.epochs)
    claims['budget'] = budget_part(s)
    previous = previous.get('epochs_to_target')
    if 'init' in args.parts or (s.work/'plain').exists():
        claims['epochs_to_target'], _ = init_part(s)
        if 'default' not in claims['epochs_to_target'] and previous: claims['epochs_to_target'] = previous  # none of its runs here
    elif previous: claims['epochs_to_target'] = previous  # the plain nets are not cached here (a fresh clone): keep the last measured table
    claims['seconds'] = seconds
    (results/'claims.json').write_text(json.dumps(claims, indent=1))
    (results/'claims.md').write_text(markdown(claims))
    if claims['accuracy']: figure(claims, curves, results/'claims.png')
    # the parts asked for are done when they return; the table's nets only when all are cached (a killed run leaves some)
    cells = table_cells(s)
    missing = [cell for cell in cells if not record_path(s, run_dir(s, *cell, s.epochs)).exists()] if 'bayes' in args.parts else []
    log(markdown(claims))
    status = f'incomplete: {len(missing)} of the table\'s {len(cells)} nets missing; run the same command again' if missing else 'complete'
    log(f'claims: {status} in {time.time() - started:.0f}s; results in {results}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
