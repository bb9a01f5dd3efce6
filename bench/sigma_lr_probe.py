"""Probe: the Bayesian DigitsNets of `bench/dwp_claims.py` (Table 1 settings), but with the posterior log-variances
trained at `factor` times the learning rate of everything else (`options.log_sigma2_lr_factor`).

In 200 Adam steps at lr 3e-3 a log-variance moves by at most 0.6, so in the tables of dwp_claims every posterior
stays near its start (sigma ~ 0.008) and the nets are close to MAP estimates. This probe lets the variances reach
their optimum, to see what the priors do when the posteriors are Bayesian. Needs the zoo and VAEs of a full
dwp_claims run (its --work directory); prints one line per run.

    python bench/sigma_lr_probe.py --factor 30 --sizes 50 100 200 --splits 0 1

Measured (2-core CPU, ~30 s a run), factor 30, ensemble test accuracy standard normal / DWP:
N = 50 split 0: 0.441 / 0.293; N = 50 split 1: 0.431 / 0.481; N = 100 split 0: 0.545 / 0.593; N = 200 split 0:
0.552 / 0.710; N = 200 split 1: 0.242 / 0.589. Both priors underfit in 200 steps once the variances are free (N(0,1)
posteriors widen to sigma ~ 0.87, the DWP's conv1 ones to ~ 0.028, the source-slice scale), and there the DWP wins
4 of these 5 runs.
The factor is the dwp manifest's `options.log_sigma2_lr_factor`."""
import argparse, math, os, sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dwp_claims as claims
from markovdwp_nb.bnn import train_dwp


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--factor', type=float, default=30.0)
    parser.add_argument('--sizes', type=int, nargs='+', default=[50, 100, 200])
    parser.add_argument('--splits', type=int, nargs='+', default=[0])
    parser.add_argument('--work', default='runs/claims/full__src-e100-l20.0', help='a full dwp_claims run (zoo and VAEs)')
    args = parser.parse_args(argv)
    work = Path(args.work)
    vaes = {size: sorted(work.glob(f'vae{size}__*.pt')) for size in ('7x7', '5x5')}
    if not all(vaes.values()): sys.exit(f'{work}: no kernel VAEs; run bench/dwp_claims.py first')
    os.environ.update(VAE7=str(vaes['7x7'][0]), VAE5=str(vaes['5x5'][0]))
    for split in args.splits:
        for size in args.sizes:
            epochs = math.ceil(200 / math.ceil(size / min(50, size)))
            for prior in ('standard normal', 'DWP'):
                manifest = claims.dwp_manifest(prior, size, split, epochs, 3e-3, 0.5, 256, 50)
                manifest['trainer']['gradient_clip_val'] = 5.0
                manifest['options']['log_sigma2_lr_factor'] = args.factor
                with claims.quiet(): model, results = train_dwp(manifest, seed=split, device='cpu')
                state = model.state_dict()
                weight, log_sigma2 = state['features.conv1.weight'], state['features.conv1.log_sigma2']
                claims.log(f'factor {args.factor:g} N={size} split {split} {prior:>16}: ensemble accuracy {results["ensemble"]["accuracy"]:.3f}, '
                           f'NLL {results["ensemble"]["nll"]:.3f} | conv1 rms |w| {weight.pow(2).mean().sqrt():.4f}, '
                           f'mean sigma {(log_sigma2 / 2).exp().mean():.4f}')


if __name__ == '__main__':
    main()
