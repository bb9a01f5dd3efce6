"""How noisy the DWP's penalty gradient is inside the claims' Bayesian net, and what that does to Adam (issue 14's diagnosis).

The Bayesian net of the committed table (configs/fashion-dwp.json as `bench/claims.py` sets it up, fashion5-9, N = 100, split 0)
trains `--steps` full-batch steps under each estimator of the DWP's auxiliary bound; then, on conv1's posterior means, the script
measures the data term's gradient at the posterior means (the training NLL of the net in eval mode) and its noise under the
posterior's weight draws (train mode), the penalty's gradient (its mean and its noise over `--draws` draws: KL / N as in the loss)
and Adam's normaliser sqrt(v) there (debiased as fastai's Adam does). Adam's step on a mean is about lr * m / sqrt(v): where
noise sets sqrt(v), the data's share of the step is |data gradient| / sqrt(v).

    sampled, 256 slices   the committed table's: w ~ q, z ~ r(z | w), a random 256 of conv1's 2,048 slices scaled up
    sampled, all slices   the same on every slice
    closed-form           z ~ r(z | mean of q), E_q log p(w | z) exact (`estimator: "closed-form"`), every slice
    N(0, 1)               the baseline: its penalty's gradient on a mean is mean / N, without noise
    Markov DWP            the table's row 'Markov DWP' on conv1: whole filter banks w ~ q, the hierarchical model's -ELBO
                          of each (bench/results/priors/markov5x5__features.conv1__e10.pt)
    Markov DWP, closed-form   the same model, its inference nets at the means, E_q log p(w | z) exact (the row 'Markov DWP, closed-form')

Writes bench/results/estimator.md (and .json beside it); a few minutes on 2 cores.

    python bench/estimator.py
    python bench/estimator.py --steps 100 --draws 5 --results /tmp/estimator   # a quick look
"""
from __future__ import annotations

import argparse, json, shlex, sys, time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
import claims as C                                                     # noqa: E402  (the claims run's settings and manifests)
from gauge_screen import positive                                      # noqa: E402  (a whole number > 0)
from markovdwp_nb.bnn import dwp_learner                               # noqa: E402

TASK, SIZE, SPLIT = 'fashion5-9', 100, 0
# (row, the table's row, whether conv1's penalty is on every slice rather than the table's --n-slices subset)
ROWS = (('sampled, 256 slices', 'DWP', False), ('sampled, all slices', 'DWP', True),
        ('closed-form', 'DWP' + C.CLOSED_FORM, True), ('N(0, 1)', 'standard normal', False), ('Markov DWP', 'Markov DWP', False),
        ('Markov DWP, closed-form', 'Markov DWP' + C.CLOSED_FORM, True))


def markov_path(s: C.Settings) -> Path:
    "The committed Markov DWP of the table (bench/claims.py trains it as bench/markov.py names it)."
    return s.results/'priors'/f'markov5x5__{C.CONV1}__e{s.markov_epochs}.pt'


def row_manifest(s: C.Settings, prior: str, every_slice: bool, steps: int) -> dict:
    "The claims' manifest of one row of the table, trained for `steps` steps (one epoch)."
    manifest = C.bnn_manifest(s, TASK, prior, SIZE, SPLIT, C.dwp_vae_paths(s), markov_path(s), 1)
    manifest['feeds']['train']['steps'] = steps
    if every_slice:
        for spec in manifest['options']['priors'].values(): spec.pop('n_slices', None)
    return manifest


def rms(t: torch.Tensor) -> float: return t.pow(2).mean().sqrt().item()


def measure(manifest: dict, draws: int, seed: int = 0) -> dict:
    "Train the net of `manifest`, then the gradients on conv1's means (see the module's text)."
    torch.manual_seed(seed)
    learn = dwp_learner(manifest, device='cpu')
    start = time.time()
    with learn.no_logging(), learn.no_bar(): learn.fit(1)
    seconds = time.time() - start
    model, prior = learn.model, learn.priors.get(C.CONV1)
    layer = model.get_submodule(C.CONV1)
    x, y = learn.dls.train.one_batch()
    weight = layer.weight
    def gradients(term, n: int) -> torch.Tensor:
        "`n` draws of the gradient of `term()` on conv1's means."
        found = []
        for _ in range(n):
            weight.grad = None
            term().backward()
            found.append(weight.grad.detach().clone())
        return torch.stack(found)
    data = gradients(lambda: F.cross_entropy(model.eval()(x), y), 1)[0]        # eval mode: every layer at its posterior means
    data_draws = gradients(lambda: F.cross_entropy(model.train()(x), y), draws)  # train mode: the weights drawn from q
    grads = gradients(lambda: prior.penalty(layer) / len(y), draws)
    state = learn.opt.state[weight]
    sqr_mom = next(h['sqr_mom'] for group, h in zip(learn.opt.param_lists, learn.opt.hypers) if any(p is weight for p in group))
    adam = (state['sqr_avg'] / (1 - sqr_mom ** state['step'])).sqrt()        # fastai's Adam's second moment, debiased
    return {'train_seconds': seconds, 'data_rms': rms(data), 'data_noise_rms': rms(data_draws.std(0)),
            'penalty_mean_rms': rms(grads.mean(0)), 'penalty_noise_rms': rms(grads.std(0)), 'adam_sqrt_v_rms': rms(adam),
            'data_share_median': (data.abs() / (adam + 1e-8)).median().item(), 'means_rms': rms(weight.detach()),
            'accuracy_after': dict(zip(learn.recorder.metric_names[1:], learn.recorder.values[-1]))['accuracy']}


def markdown(found: dict, level: int = 1) -> str:
    "The table of `found` (estimator.json) as Markdown, its title a heading of `level`."
    lines = [f'{"#" * level} The DWP penalty\'s gradient noise and Adam ({TASK}, N = {SIZE}, split {SPLIT}, after {found["steps"]} steps)', '',
             f'`{found["command"]}` at {found["commit"]} on {found["hardware"]}. conv1\'s posterior means; gradients of the loss\'s terms '
             f'(the penalty as KL / N), its noise over {found["draws"]} draws.', '',
             '| estimator | data gradient (rms) | its noise under q (rms) | penalty gradient: mean (rms) | penalty gradient: noise (rms) | '
             'Adam sqrt(v) (rms) | data / sqrt(v) (median) | means (rms) | test accuracy of the means |', '|---|---|---|---|---|---|---|---|---|']
    for row, r in found['rows'].items():
        lines.append(f'| {row} | {r["data_rms"]:.3g} | {r["data_noise_rms"]:.3g} | {r["penalty_mean_rms"]:.3g} | {r["penalty_noise_rms"]:.3g} | '
                     f'{r["adam_sqrt_v_rms"]:.3g} | '
                     f'{r["data_share_median"]:.3g} | {r["means_rms"]:.3g} | {r["accuracy_after"]:.3f} |')
    lines += ['', 'The mean of the penalty\'s gradient over a few draws still holds some of its noise (it shrinks as 1 / sqrt(draws)); '
              'N(0, 1)\'s is exact.', '']
    rows = found['rows']
    if {'sampled, 256 slices', 'sampled, all slices', 'closed-form', 'N(0, 1)'} <= set(rows):
        paper, every, closed, normal = (rows[k] for k in ('sampled, 256 slices', 'sampled, all slices', 'closed-form', 'N(0, 1)'))
        ratio = lambda r: r['penalty_noise_rms'] / r['data_rms']
        lines += [f'Under the paper\'s estimator the penalty\'s gradient noise is {ratio(paper):.0f} times the data\'s gradient on 256 slices a '
                  f'step and {ratio(every):.0f} times on all of them; the data\'s share of an Adam step is {paper["data_share_median"]:.1%}, '
                  f'against {normal["data_share_median"]:.0%} under N(0, 1). The closed-form estimator has '
                  f'{every["penalty_noise_rms"] / closed["penalty_noise_rms"]:.0f} times less noise than the sampled one on the same slices, '
                  f'and a data share of {closed["data_share_median"]:.0%}.', '']
    if {'Markov DWP', 'sampled, all slices'} <= set(rows):
        markov, every = rows['Markov DWP'], rows['sampled, all slices']
        lines += [f'The Markov DWP\'s penalty (whole filter banks, sampled) has gradient noise {markov["penalty_noise_rms"] / markov["data_rms"]:.0f} times '
                  f'the data\'s gradient ({markov["penalty_noise_rms"] / every["penalty_noise_rms"]:.2g} times the DWP\'s on all slices), and a data share '
                  f'of {markov["data_share_median"]:.1%} of an Adam step; its means\' rms is {markov["means_rms"]:.3g} against the DWP\'s {every["means_rms"]:.3g}.', '']
    if {'Markov DWP', 'Markov DWP, closed-form'} <= set(rows):
        markov, closed = rows['Markov DWP'], rows['Markov DWP, closed-form']
        lines += [f'Its closed-form estimator has {markov["penalty_noise_rms"] / closed["penalty_noise_rms"]:.0f} times less noise, a data share of '
                  f'{closed["data_share_median"]:.1%}, and a test accuracy of {closed["accuracy_after"]:.3f} against {markov["accuracy_after"]:.3f} after these steps.', '']
    return '\n'.join(lines)


def table_rows(claims: dict, task: str = TASK) -> str:
    "A sentence comparing the table's rows 'DWP, closed-form' and 'DWP' (a claims.json) at each N where both were run; '' where none."
    by_size = claims['accuracy'].get(task, {})
    pairs = [(n, by_size[n]['DWP' + C.CLOSED_FORM], by_size[n]['DWP']) for n in sorted(by_size, key=int)
             if {'DWP', 'DWP' + C.CLOSED_FORM} <= set(by_size[n])]
    cell = lambda c: f'{c["mean"]:.3f} ± {c["std"]:.3f} ({c["n_splits"]} splits)'
    return (f'In the table\'s protocol on {task}, the row DWP, closed-form scores ' +
            '; '.join(f'{cell(closed)} against the DWP\'s {cell(sampled)} at N = {n}' for n, closed, sampled in pairs) + '.') if pairs else ''


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--steps', type=positive, default=300, help='training steps before the measurement')
    parser.add_argument('--draws', type=positive, default=20, help='draws of the gradients (at least 2: their noise is their std)')
    parser.add_argument('--results', default=str(C.RESULTS), help='where estimator.md / .json go')
    args = parser.parse_args(argv)
    if args.draws < 2: parser.error('--draws: at least 2 (the noise is the std over the draws)')
    torch.set_num_threads(C.cores())
    s = C.Settings(C.parse([]))
    missing = [str(p) for p in [*C.dwp_vae_paths(s).values(), markov_path(s)] if not p.is_file()]
    if missing: parser.exit(2, f'estimator: {missing[0]}: no such kernel model (python bench/claims.py --parts kernels makes it)\n')
    found = {'command': shlex.join(['python', 'bench/estimator.py', *(argv if argv is not None else sys.argv[1:])]),
             'commit': C.git_commit(), 'hardware': C.hardware(), 'steps': args.steps, 'draws': args.draws, 'rows': {}}
    for row, prior, every_slice in ROWS:
        found['rows'][row] = measure(row_manifest(s, prior, every_slice, args.steps), args.draws)
        C.log(f'estimator: {row}: ' + ', '.join(f'{k} {v:.4g}' for k, v in found['rows'][row].items() if v is not None))
    results = Path(args.results); results.mkdir(parents=True, exist_ok=True)
    C.write_atomic(results/'estimator.json', json.dumps(found, indent=1))
    C.write_atomic(results/'estimator.md', markdown(found))
    print(markdown(found))
    return 0


if __name__ == '__main__': sys.exit(main())
