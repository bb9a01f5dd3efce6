"""Kernel vault benchmark: reading speed of batched gather versus item-by-item access, and the
peak memory of collecting a small versus a large zoo.

    .venv/bin/python bench/kernels.py            # 100 synthetic CIFARNet(k=0.5) models (a few minutes)
    .venv/bin/python bench/kernels.py --quick    # 30 models, fewer batches (a smoke test)

1. Builds a zoo of synthetic snapshots (random weights, no training) and collects its vault.
2. Reads `features.conv2` of the vault as `mio` slices through `DataLoader(batch_size=256, shuffle=True)`:
   item by item (a wrapper dataset without `__getitems__`, default collate) versus the dataset's
   batched gather; prints slices/second and the ratio. Target: batched >= 10x item by item.
3. Collects the first tenth of the zoo and the whole zoo, each in a fresh child process, and prints
   the child's peak resident memory (`ru_maxrss`). Target: peak(all) <= 1.2x peak(tenth).

Prints a table and PASS/FAIL per target; exits with status 1 if a target fails."""
import argparse, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from markovdwp_nb.kernels import MultiKernelDataset, SingleKernelDataset, collect_kernels
from markovdwp_nb.models import CIFARNet
from markovdwp_nb.snapshot import iter_snapshots, save_snapshot
from markovdwp_nb.spec import qualname

BATCH_SIZE = 256
SPEED_TARGET, MEMORY_TARGET = 10.0, 1.2
MIB = 2**20


def synthetic_state(template: dict, seed: int) -> dict:
    "A state like `template` with random floating tensors drawn from `seed`."
    generator = torch.Generator().manual_seed(seed)
    return {key: torch.randn(value.shape, generator=generator) * 0.05 if value.is_floating_point() else value
            for key, value in template.items()}


def build_zoo(directory: Path, n_models: int, k: float) -> list:
    "Save `n_models` synthetic CIFARNet(k) snapshots (one config) into `directory`; return their paths."
    directory.mkdir(parents=True)
    config = {'model': {'cls': qualname(CIFARNet), 'n_classes': 10, 'k': k}}
    template = CIFARNet(n_classes=10, k=k).state_dict()
    for seed in range(n_models):
        save_snapshot(directory, config=config, state=synthetic_state(template, seed), seed=seed, tag='model')
    return iter_snapshots(directory)


def link_zoo(paths: list, directory: Path) -> Path:
    "A zoo of the snapshots `paths`, hard-linked (or copied) into `directory`."
    directory.mkdir(parents=True)
    for path in paths:
        try: os.link(path, directory/path.name)
        except OSError: shutil.copy(path, directory/path.name)
    return directory


class ItemByItem(Dataset):
    "The dataset `ds` seen item by item: no `__getitems__`, so `DataLoader` indexes it once per item."
    def __init__(self, ds): self.ds = ds
    def __len__(self): return len(self.ds)
    def __getitem__(self, index): return self.ds[index]


def slices_per_second(dataset, n_batches: int) -> float:
    "Slices per second read through a shuffling `DataLoader(batch_size=256)`, timed after the first batch."
    batches = iter(DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, generator=torch.Generator().manual_seed(0)))
    next(batches)  # the sampler's permutation and first touches are not timed
    n_slices, start = 0, time.perf_counter()
    for _, (kernels, labels) in zip(range(n_batches), batches): n_slices += len(kernels)
    return n_slices / (time.perf_counter() - start)


def check_same(ds) -> None:
    "Batched gather and item-by-item reading give the same tensors."
    indices = torch.randperm(len(ds), generator=torch.Generator().manual_seed(1))[:BATCH_SIZE].tolist()
    batched = DataLoader(ds, batch_size=BATCH_SIZE, sampler=indices)
    items = DataLoader(ItemByItem(ds), batch_size=BATCH_SIZE, sampler=indices)
    (x1, y1), (x2, y2) = next(iter(batched)), next(iter(items))
    assert torch.equal(x1, x2) and torch.equal(y1, y2), 'batched and item-by-item reads differ'


CHILD = """
import re, resource, sys, time
from markovdwp_nb.kernels import collect_kernels
def status_kib(key): return int(re.search(key + r':\\s+(\\d+)', open('/proc/self/status').read()).group(1))
try:
    with open('/proc/self/clear_refs', 'w') as file: file.write('5')  # reset the peak RSS to the current RSS
    reset = 1
except OSError: reset = 0
baseline = status_kib('VmRSS')
start = time.perf_counter()
collect_kernels(sys.argv[1], force=True)
seconds = time.perf_counter() - start
peak = status_kib('VmHWM') if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(baseline, peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, seconds, reset)
"""


def collect_in_child(root: Path) -> dict:
    "Collect the vault of `root` in a fresh process; its RSS after imports, peak RSS while collecting, lifetime peak (MiB), time."
    env = dict(os.environ, OMP_NUM_THREADS='1')
    res = subprocess.run([sys.executable, '-c', CHILD, str(root)], capture_output=True, text=True, env=env)
    if res.returncode: sys.exit(f'bench: collecting {root} failed:\n{res.stderr}')
    baseline, peak, lifetime, seconds, reset = res.stdout.split()
    return {'baseline': int(baseline) / 1024, 'peak': int(peak) / 1024, 'lifetime': int(lifetime) / 1024,  # KiB on Linux
            'seconds': float(seconds), 'reset': reset == '1'}


def verdict(ok: bool) -> str: return 'PASS' if ok else 'FAIL'


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='30 models and fewer batches: a smoke test')
    parser.add_argument('--workdir', default=None, help='where to build the zoos (default: a temporary directory)')
    parser.add_argument('--keep', action='store_true', help='keep the zoos and vaults')
    args = parser.parse_args()
    n_models, k = (30, 0.5) if args.quick else (100, 0.5)
    item_batches, gather_batches = (10, 200) if args.quick else (40, 2000)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix='markovdwp-bench-'))
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        paths = build_zoo(workdir/'zoo', n_models, k)
        zoo_bytes = sum(path.stat().st_size for path in paths)
        print(f'bench kernels: {n_models} synthetic CIFARNet(k={k}) snapshots, {zoo_bytes / MIB:.0f} MiB, '
              f'built in {time.perf_counter() - start:.0f}s')
        small = link_zoo(paths[:n_models // 10], workdir/'zoo-small')

        vault = collect_kernels(workdir/'zoo')
        ds = SingleKernelDataset(vault, 'features.conv2', dim='mio', min_norm=0.)
        vault_bytes = sum(path.stat().st_size for path in vault.iterdir())
        print(f'vault {vault.name}: {vault_bytes / MIB:.0f} MiB; reading features.conv2 {list(ds.layer.shape)} '
              f"as 'mio' slices ({len(ds):,}), DataLoader(batch_size={BATCH_SIZE}, shuffle=True), 1 thread\n")
        check_same(ds)
        multi = MultiKernelDataset(vault, ['features.conv0', 'features.conv2'], min_norm=0.)
        check_same(multi)

        item_speed = slices_per_second(ItemByItem(ds), item_batches)
        gather_speed = slices_per_second(ds, gather_batches)
        multi_item_speed = slices_per_second(ItemByItem(multi), item_batches)
        multi_gather_speed = slices_per_second(multi, gather_batches)
        speed_ratio, multi_ratio = gather_speed / item_speed, multi_gather_speed / multi_item_speed

        print(f'{"reading":<44}{"item by item":>16}{"batched":>16}{"ratio":>10}')
        print(f'{"SingleKernelDataset conv2 (5x5), slices/s":<44}{item_speed:>16,.0f}{gather_speed:>16,.0f}{speed_ratio:>9.1f}x'
              f'   target >= {SPEED_TARGET:.0f}x  {verdict(speed_ratio >= SPEED_TARGET)}')
        print(f'{"MultiKernelDataset conv0+conv2 (7x7), slices/s":<44}{multi_item_speed:>16,.0f}{multi_gather_speed:>16,.0f}'
              f'{multi_ratio:>9.1f}x   (for information)\n')

        runs = {len(paths[:n_models // 10]): collect_in_child(small), n_models: collect_in_child(workdir/'zoo')}
        (n_small, small), (n_large, large) = runs.items()
        memory_ratio = large['peak'] / small['peak']
        where = 'VmHWM reset after imports' if large['reset'] else 'ru_maxrss, including imports'
        print(f'collecting, each in a fresh child process (peak RSS while collecting: {where})')
        print(f'{"models":>8}{"kernels":>12}{"RSS at start":>16}{"peak RSS":>12}{"growth":>10}{"lifetime peak":>16}{"time":>8}')
        for n, run in runs.items():
            print(f'{n:>8}{vault_bytes * n / n_models / MIB:>8.0f} MiB{run["baseline"]:>12.0f} MiB{run["peak"]:>8.0f} MiB'
                  f'{run["peak"] - run["baseline"]:>6.0f} MiB{run["lifetime"]:>12.0f} MiB{run["seconds"]:>7.1f}s')
        print(f'{"ratio of peak RSS while collecting, " + f"{n_large} / {n_small} models":<60}{memory_ratio:>5.2f}x   '
              f'target <= {MEMORY_TARGET}x  {verdict(memory_ratio <= MEMORY_TARGET)}')
        ok = speed_ratio >= SPEED_TARGET and memory_ratio <= MEMORY_TARGET
        print(f'\nbench kernels: {verdict(ok)}')
        return 0 if ok else 1
    finally:
        if not args.keep and not args.workdir: shutil.rmtree(workdir, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
