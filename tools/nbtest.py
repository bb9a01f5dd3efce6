"""Run every notebook under `nbs/` as a test, as `nbdev_test` does (`tools/nbcells.py`, which also times each
cell), a few at a time; print the slowest cells, and end with one line `N passed, M failed` (notebooks).
Each notebook that passes is also saved, with its outputs, as a page of the documentation site
(`build/executed/`, see `tools/nbdocs.py`), so `make docs` does not run it again.
Exit status 1 on any failure.

Cells flagged `#| slow` run only with SLOW=1 (or `--slow`); cells flagged `#| cuda`
run only when torch sees a GPU. Extra arguments select notebooks by name (substring)."""
import argparse, json, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nbcells import config_flags   # this folder's: the flags of settings.ini

DEBIAN_FASHION_MNIST = Path('/usr/share/datasets/fashion-mnist')   # markovdwp_nb.data's, read without importing torch

BIN = Path(sys.executable).parent

def has_gpu():
    probe = 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'
    return subprocess.run([sys.executable, '-c', probe], capture_output=True).returncode == 0

def notebooks(root='nbs', select=()):
    "Notebooks nbdev would test: skip `_`-prefixed files and folders and checkpoints."
    found = []
    for path in sorted(Path(root).rglob('*.ipynb')):
        rel = path.relative_to(root).parts
        if any(part.startswith(('_', '.')) for part in rel): continue
        if (path.parent/'.notest').exists(): continue
        if select and not any(s in str(path) for s in select): continue
        found.append(path)
    return found

TIMES = Path('build')/'nbtest-times.json'   # each notebook's seconds in the last run here
# where there is no earlier run (a fresh clone): the notebooks known to take longest, so they start first
SLOW_FIRST = ('96_claims', '80_demo', '06_zoo', '09_vae_train', 'pipeline', '90_cli', '14_bnn', '11_markov', '04_source')

def longest_first(paths):
    """`paths` ordered by their time in the last run, longest first (else `SLOW_FIRST`, then the rest in order): with a few
    running at once, the slow ones then overlap the many short ones instead of ending the run alone."""
    try: last = json.loads(TIMES.read_text())
    except (OSError, ValueError): last = {}
    def hint(path):
        name = str(path)
        if name in last: return -float(last[name])
        return next((-1e6 + i for i, stem in enumerate(SLOW_FIRST) if stem in path.stem), 0.0)
    return sorted(paths, key=hint)

def run_one(path, flags, env):
    "(path, passed, seconds, output, [(cell, seconds, first line), ...]) of one notebook run in a fresh process."
    start = time.time()
    res = subprocess.run([sys.executable, str(Path(__file__).with_name('nbcells.py')), str(path), '--save', '--flags', *flags],
                         capture_output=True, text=True, env=env)
    cells = next((json.loads(line[len('nbcells: '):]) for line in reversed(res.stdout.splitlines()) if line.startswith('nbcells: ')), [])
    return path, res.returncode == 0, time.time() - start, res.stdout + res.stderr, cells

def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('select', nargs='*', help='only notebooks whose path contains one of these')
    parser.add_argument('--jobs', type=int, default=2, help='notebooks run at once')
    parser.add_argument('--slow', action='store_true', help='also run `#| slow` cells (same as SLOW=1)')
    parser.add_argument('--slowest', type=int, default=10, help='how many of the slowest cells to list')
    args = parser.parse_args()

    flags = []
    if args.slow or os.environ.get('SLOW', '0') not in ('', '0'): flags.append('slow')
    if has_gpu(): flags.append('cuda')
    if DEBIAN_FASHION_MNIST.is_dir(): flags.append('fashion')   # the real data set's cells (01_data, 01b_data_torchvision)
    paths = notebooks(select=args.select)
    if not paths: sys.exit('nbtest: no notebooks matched')
    paths = longest_first(paths)

    env = dict(os.environ, WANDB_MODE=os.environ.get('WANDB_MODE', 'offline'),
               OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1)//args.jobs))))
    print(f'nbtest: {len(paths)} notebooks, flags run: {" ".join(flags) or "none"} '
          f'(skipped: {" ".join(f for f in config_flags() if f not in flags) or "none"}), {args.jobs} at a time', flush=True)
    start, failed, timed, seconds_of = time.time(), [], [], {}
    with ThreadPoolExecutor(args.jobs) as pool:
        for path, ok, secs, output, cells in pool.map(lambda p: run_one(p, flags, env), paths):
            print(f'{"PASS" if ok else "FAIL"}  {path}  ({secs:.0f}s)', flush=True)
            if ok and 'slow' not in flags: seconds_of[str(path)] = round(secs, 1)   # the hint: passing runs of the default flags
            timed += [(seconds, path, index, line) for index, seconds, line in cells]
            if not ok:
                failed.append(path)
                print(output[-6000:], flush=True)
    print(f'nbtest: the {min(args.slowest, len(timed))} slowest cells:')
    for seconds, path, index, line in sorted(timed, key=lambda t: -t[0])[:args.slowest]:
        print(f'  {seconds:6.1f}s  {path.name} cell {index}: {line}')
    print(f'nbtest: finished in {time.time()-start:.0f}s' + (''.join(f'\n  failed: {p}' for p in failed)))
    try:
        TIMES.parent.mkdir(exist_ok=True)
        earlier = json.loads(TIMES.read_text()) if TIMES.exists() else {}
        TIMES.write_text(json.dumps({**earlier, **seconds_of}, indent=1))
    except (OSError, ValueError): pass   # only an ordering hint
    print(f'{len(paths)-len(failed)} passed, {len(failed)} failed')
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
