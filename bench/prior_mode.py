"""Where the kernel priors put their mass: log p(w) of each DWP's VAE (IWAE, nats per slice) at held-out source kernels, at
the same kernels shrunk by 4 and at w = 0 (issue 14's diagnosis of why the DWP shrinks conv2's posterior means).

A zero-mean density, Gaussian or a scale mixture of Gaussians, is highest at 0. A Gaussian over d entries puts log p(0) on
average d / 2 nats above log p at its own draws (24.5 for a 7x7 slice, 12.5 for a 5x5 one), and a scale mixture more. In the KL term of the ELBO, E_q[-log p(w)] then pulls every
posterior mean towards 0 wherever the data do not hold it.

    python bench/prior_mode.py              # the committed zoo's and the SGD zoo's VAEs; writes bench/results/prior_mode.md
"""
from __future__ import annotations

import argparse, shlex, sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import claims as C                                                     # noqa: E402  (the claims run's paths and helpers)

ROOT = Path(__file__).resolve().parents[1]
ZOOS = {  # the bench/claims.py options of each zoo: its results (the DWP rows' VAEs) and work directory (its held-out vault)
    'committed zoo (Adam)': [],
    'SGD zoo': ['--source-optimizer', 'sgd', '--dwp7-var', 'scaled', '--dwp5-var', 'scaled'],
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--draws', type=int, default=200, help='importance samples per slice')
    parser.add_argument('--slices', type=int, default=512, help='held-out slices per layer')
    args = parser.parse_args(argv)
    missing = []
    lines = ['| zoo | layer (VAE) | at held-out kernels | at the kernels / 4 | at 0 | kernels\' rms |', '|---|---|---|---|---|---|']
    for zoo, options in ZOOS.items():
        s = C.Settings(C.parse(options))
        for layer, path in C.dwp_vae_paths(s).items():
            name, vault = path.name, s.work/'kernels__held-out-models'
            if not (path.is_file() and vault.is_dir()):
                missing.append(f'prior_mode: {zoo}: {path if not path.is_file() else vault} is missing (run bench/claims.py {shlex.join(options)} first)')
                continue
            slices = C.pruned_slices(vault, layer, 0.0)[:args.slices]
            at = [C.vae_loglik(path, x, args.draws)['iwae'] for x in (slices, slices / 4, torch.zeros_like(slices[:16]))]
            lines.append(f'| {zoo} | {layer} ({name}) | {at[0]:.1f} | {at[1]:.1f} | {at[2]:.1f} | {slices.pow(2).mean().sqrt().item():.4f} |')
    text = '# Where the kernel priors put their mass\n\n`python bench/prior_mode.py`: log p(w), nats per slice (IWAE, ' \
           f'{args.draws} draws), on {args.slices} held-out slices per layer\n\n' + '\n'.join(lines) + '\n'
    print(text)
    if missing:   # a partial table never replaces the committed one
        print('\n'.join(dict.fromkeys(missing)) + '\nprior_mode: bench/results/prior_mode.md left as it was')
        return 1
    (ROOT/'bench'/'results'/'prior_mode.md').write_text(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
