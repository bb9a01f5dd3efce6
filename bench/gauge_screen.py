"""Per-layer gauges of the DWP (issue 14's diagnosis): is there a scale of the 7x7 and 5x5 priors at which the DWP beats N(0, 1)
on fashion5-9 at N = 100, where the committed 'init' gauge loses by 2 points?

Each variant puts the committed DWP's VAEs on conv0 and conv1 at a multiple of the 'init' gauge (`kernel_scale` c = the layer's
default-initialisation std / the prior's rms), or N(0, 1) on a layer (`-`), and trains the Bayesian nets of the committed
protocol (configs/fashion-dwp.json as `bench/claims.py` sets it up: 2,000 full-batch steps, Adam at 1e-3, log sigma^2 from -10)
on the committed splits. The table sets them beside the committed cells of N(0, 1), the DWP ('init' on both) and the DWP on
the 7x7 conv only, split by split. Runs are cached under runs/gauge-screen (re-run the same command to continue); the records go
to bench/results/gauge-screen/cells, what was run to screen.json beside them, and the table to README.md there and to the README.

A variant ending in `:cf` uses the DWP's closed-form estimator on every slice (`estimator: "closed-form"`, nbs/12_priors) instead
of the paper's sampled one on 256 of conv1's slices; its 1:1 is the table's row 'DWP, closed-form' (`bench/claims.py --priors`).

    python bench/gauge_screen.py                                   # the committed variants, N = 100, splits 0-1
    python bench/gauge_screen.py --variants 1:2 2:2 --sizes 50 100 --splits 0 1 2
    python bench/gauge_screen.py --variants 1:2 1:4 4:- 1:2:cf 1:4:cf   # the same gauges under the closed-form estimator
"""
from __future__ import annotations

import argparse, json, math, shlex, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import claims as C                                                     # noqa: E402  (the claims run's paths, manifests and workers)
from markovdwp_nb.priors import check_priors, load_priors              # noqa: E402
from markovdwp_nb.spec import get_instance                             # noqa: E402
from markovdwp_nb.cli import _order_arg as split_number                # noqa: E402  (a whole number >= 0)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = C.RESULTS/'gauge-screen'
WORK = ROOT/'runs'/'gauge-screen'
TASK = 'fashion5-9'
VARIANTS = ('1:2', '1:4', '4:-')   # conv0:conv1, multiples of the 'init' gauge; '-' is N(0, 1) on that layer; ':cf' closed-form
COMMITTED = {'N(0, 1)': 'standard normal', 'DWP at 1:1': 'DWP', 'DWP at 1:-': 'DWP on the 7x7 conv only',
             'DWP at 1:1:cf': 'DWP' + C.CLOSED_FORM}   # the table's rows these variants are


def variant(text: str) -> tuple:
    "'1:4' -> (1.0, 4.0, 'sampled'); '4:-' -> (4.0, None, 'sampled'); '1:2:cf' -> (1.0, 2.0, 'closed-form')."
    try:
        fields = text.split(':')
        estimator = 'sampled'
        if len(fields) == 3:
            if fields.pop() != 'cf': raise ValueError
            estimator = 'closed-form'
        parts = [None if p == '-' else float(p) for p in fields]
        if len(parts) != 2 or any(p is not None and not 0 < p < math.inf for p in parts) or parts == [None, None]: raise ValueError
    except ValueError: raise argparse.ArgumentTypeError(f'expected conv0:conv1 multiples of the init gauge (a positive number or -), '
                                                        f'then :cf for the closed-form estimator, got {text!r}') from None
    return (*parts, estimator)


def stored_variant(value: list) -> tuple:
    "A variant as screen.json keeps it (two multiples before the estimator was a field: 'sampled')."
    return tuple(value) if len(value) == 3 else (*value, 'sampled')


def positive(text: str) -> int:
    "An argument that must be a whole number > 0."
    if not text.isdigit() or int(text) < 1: raise argparse.ArgumentTypeError(f'expected a positive whole number, got {text!r}')
    return int(text)


def init_gauges(manifest: dict) -> dict:
    "`{layer: c}` of the 'init' gauge of the DWP priors of `manifest` on its own net."
    model = get_instance(**manifest['model'])
    return {name: prior.kernel_scale for name, prior in check_priors(model, load_priors(manifest['options']['priors'])).items()}


def cell_manifest(s: C.Settings, vaes: dict, gauges: dict, multiples: tuple, size: int, split: int) -> dict:
    "The committed DWP row's manifest (its closed-form row's for a ':cf' variant) with each layer's gauge at its multiple of 'init', or N(0, 1) on it."
    row = 'DWP' + (C.CLOSED_FORM if multiples[2] == 'closed-form' else '')
    manifest = C.bnn_manifest(s, TASK, row, size, split, vaes, None, s.epochs)
    priors = manifest['options']['priors']
    for layer, multiple in zip((C.CONV0, C.CONV1), multiples[:2]):
        if multiple is None: del priors[layer]
        else: priors[layer]['kernel_scale'] = gauges[layer] * multiple
    return manifest


def accuracy(path: Path):
    "A record's ensemble accuracy; None where the net has not run or diverged (a record `{'failed': ...}`)."
    return json.loads(path.read_text()).get('accuracy') if path.is_file() else None


def name(multiples) -> str:
    "(4.0, None, 'sampled') -> '4:-'; (1.0, 2.0, 'closed-form') -> '1:2:cf'."
    return ':'.join('-' if m is None else f'{m:g}' for m in multiples[:2]) + (':cf' if multiples[2] == 'closed-form' else '')


def cell_record(multiples, size: int, split: int) -> Path:
    "Where the record of one net goes: `cells/conv0-4_conv1-N01/n100/split0.json` (`cells/conv0-1_conv1-2__closed-form/...` for ':cf')."
    folder = '_'.join(f'{layer}-{"N01" if m is None else f"{m:g}"}' for layer, m in zip(('conv0', 'conv1'), multiples))
    folder += '__closed-form' if multiples[2] == 'closed-form' else ''
    return RESULTS/'cells'/folder/f'n{size}'/f'split{split}.json'


def rows(screen: dict) -> dict:
    """`{(prior, N): [accuracy per split, None where not run or diverged]}` of the screen from the records on disk: the committed
    table's N(0, 1), DWP (the variant 1:1) and 7x7-only DWP (1:-) cells, and the closed-form DWP's (1:1:cf) where that row was run,
    then each variant (`screen`: the `screen.json` of `main`)."""
    s, table = C.Settings(C.parse([])), {}
    for size in screen['sizes']:
        for label, prior in COMMITTED.items():
            values = [accuracy(C.record_path(s, C.run_dir(s, TASK, size, prior, k, s.epochs))) for k in screen['splits']]
            if any(v is not None for v in values) or not prior.endswith(C.CLOSED_FORM): table[label, size] = values   # that row only once run
        for multiples in map(stored_variant, screen['variants']):
            table[f'DWP at {name(multiples)}', size] = [accuracy(cell_record(multiples, size, k)) for k in screen['splits']]
    return table


def mean(values: list):
    done = [v for v in values if v is not None]
    return sum(done) / len(done) if done else None


def markdown(screen: dict) -> str:
    "The screen's table, split by split, with the command and the gauges."
    gauges, splits = screen['gauges'], screen['splits']
    lines = [f"`{screen['command']}`. The 'init' gauge is c = {gauges['conv0']:.3g} on conv0 (7x7) and {gauges['conv1']:.3g} on conv1 "
             '(5x5); the variant a:b puts conv0 at a and conv1 at b times it, - is N(0, 1) on that layer, :cf the closed-form estimator '
             "(1:1, 1:- and 1:1:cf are the table's rows DWP, DWP on the 7x7 conv only and DWP, closed-form; the factor 10 of `bench/results/kernel-scale10/` is "
             f"{10 / gauges['conv0']:.1f}:{10 / gauges['conv1']:.1f}). Ensemble test accuracy on fashion5-9 in the committed protocol, "
             'on the committed splits (—: not run, or diverged):', '',
             '| prior | N | ' + ' | '.join(f'split {k}' for k in splits) + ' | mean |', '|---|---|' + '---|' * (len(splits) + 1)]
    cell = lambda v: '—' if v is None else f'{v:.3f}'
    for (label, size), values in rows(screen).items():
        lines.append(f'| {label} | {size} | ' + ' | '.join(map(cell, values)) + f' | {cell(mean(values))} |')
    return '\n'.join(lines)


def summary(screen: dict) -> str:
    """The table, then a line on the largest N: the best and the worst DWP row against N(0, 1), each on the splits both have (the
    README's)."""
    by_row, size = rows(screen), max(screen['sizes'])
    normal, gaps = by_row['N(0, 1)', size], {}
    for (label, n), values in by_row.items():
        pairs = [(v, z) for v, z in zip(values, normal) if v is not None and z is not None]
        if n == size and label.startswith('DWP at') and pairs:
            gaps[label.removeprefix('DWP at ')] = (mean([v for v, _ in pairs]), mean([z for _, z in pairs]), len(pairs))
    if not gaps: return markdown(screen)
    best, worst = (f(gaps, key=lambda g: gaps[g][0] - gaps[g][1]) for f in (max, min))
    points = lambda g: f'{100 * (gaps[g][0] - gaps[g][1]):+.1f}'.replace('-', '\u2212')
    return (markdown(screen) + f'\n\nAt N = {size} the best DWP row, {best}, scores {gaps[best][0]:.3f} against N(0, 1)\'s {gaps[best][1]:.3f} '
            f'on the same {gaps[best][2]} split(s) ({points(best)} points); the worst, {worst}, {points(worst)} points.')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--variants', nargs='+', type=variant, default=[variant(v) for v in VARIANTS],
                        help=f'conv0:conv1 multiples of the init gauge, - for N(0, 1) on that layer (default: {" ".join(VARIANTS)})')
    parser.add_argument('--sizes', nargs='+', type=positive, default=[100], help='training-set sizes N (default: 100)')
    parser.add_argument('--splits', nargs='+', type=split_number, default=[0, 1], help='the committed splits to train (default: 0 1)')
    parser.add_argument('--jobs', type=positive, default=2, help='nets trained at once (default: 2)')
    args = parser.parse_args(argv)
    variants, sizes, splits = (list(dict.fromkeys(values)) for values in (args.variants, args.sizes, args.splits))   # each once
    if {(1.0, 1.0, 'sampled'), (1.0, None, 'sampled'), (1.0, 1.0, 'closed-form')} & set(variants):
        parser.error('--variants: 1:1, 1:- and 1:1:cf are rows of the table (DWP, DWP on the 7x7 conv only, DWP, closed-form), read from it')
    s = C.Settings(C.parse([]))
    vaes = C.dwp_vae_paths(s)
    missing = [path for path in vaes.values() if not path.is_file()]
    if missing: sys.exit(f'gauge_screen: {missing[0]}: no such VAE (the committed priors in bench/results/priors)')
    gauges = init_gauges(C.bnn_manifest(s, TASK, 'DWP', 50, 0, vaes, None, s.epochs))
    jobs = []
    for multiples in variants:
        for size in sizes:
            for split in splits:
                record = cell_record(multiples, size, split)
                if not record.is_file():
                    label = record.relative_to(RESULTS/'cells').with_suffix('')
                    jobs.append((C._train_one, cell_manifest(s, vaes, gauges, multiples, size, split), str(WORK/label), str(record), split))
    C.run_jobs(jobs, args.jobs, 'gauge screen')
    screen = {'command': shlex.join(['python', 'bench/gauge_screen.py', *(argv if argv is not None else sys.argv[1:])]),
              'gauges': {'conv0': gauges[C.CONV0], 'conv1': gauges[C.CONV1]}, 'variants': [list(v) for v in variants],
              'sizes': sizes, 'splits': splits}
    RESULTS.mkdir(parents=True, exist_ok=True)
    C.write_atomic(RESULTS/'screen.json', json.dumps(screen, indent=1))
    C.write_atomic(RESULTS/'README.md', '# The DWP at per-layer gauges (diagnostic)\n\n' + summary(screen) + '\n')
    print(summary(screen))
    return 0


if __name__ == '__main__': sys.exit(main())
