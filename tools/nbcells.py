"""Run one notebook as `nbdev_test` does (same skipped cells, same working directory, same errors) and time every cell.

    python tools/nbcells.py NOTEBOOK [--flags slow cuda] [--save]

With `--save`, a notebook that passed is also written, with its outputs and through nbdev's doc processors,
to `build/executed/` (`tools/nbdocs.py`): the documentation site is built from there, so `make docs` after
`make test` runs no notebook again.

Exit status 0 when every cell ran, 1 otherwise (the traceback on stderr). The last line of stdout is
`nbcells: <JSON>`, a list of [cell index, seconds, first source line] of the cells that ran: `tools/nbtest.py`
reads it to print the slowest cells of a test run."""
import argparse, configparser, json, os, sys, time
from pathlib import Path

from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.frontmatter import FrontmatterProc
from nbdev.process import NBProcessor


def run(path: Path, flags: set, save: bool = False) -> tuple:
    "(ok, [(index, seconds, first line), ...]) of the notebook at `path`, skipping the cells `nbdev_test` skips."
    os.environ['IN_TEST'] = '1'
    nb = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    def skipped(cell) -> bool:
        if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True
        directives = getattr(cell, 'directives_', {}) or {}
        if directives.get('eval:', [''])[0].lower() == 'false': return True
        return bool(flags & directives.keys())
    times, started = [], {}
    def before(cell):
        if skipped(cell): return True
        started['t'] = time.time()
        return False
    def after(cell):
        line = next((l for l in cell.source.splitlines() if l.strip() and not l.startswith('#|')), '')
        times.append((cell.idx_, round(time.time() - started['t'], 2), line[:80]))
    shell = CaptureShell(path)
    try:
        with working_directory(path.parent): shell.run_all(nb, exc_stop=True, preproc=before, postproc=after)
    except BaseException:
        sys.stderr.write(shell.prettytb(fname=path) + '\n')
        return False, times
    if save:
        sys.path.insert(0, str(Path(__file__).parent))
        import nbdocs
        try:
            with working_directory(path.parent): nbdocs.save(path, nb, shell)
        except Exception as exc:
            import traceback; traceback.print_exc()
            sys.stderr.write(f'nbcells: {path}: the docs page could not be made: {exc!r}\n')
            return False, times
    return True, times


def config_flags() -> list:
    "The cell flags of settings.ini's `tst_flags`: a flagged cell runs only when its flag is asked for."
    parser = configparser.ConfigParser()
    parser.read(Path(__file__).resolve().parents[1]/'settings.ini')
    return parser['DEFAULT'].get('tst_flags', '').split()

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('notebook')
    parser.add_argument('--flags', nargs='*', default=[], help='run the cells flagged with these (of settings.ini\'s tst_flags: slow, cuda, fashion)')
    parser.add_argument('--save', action='store_true', help='write the executed notebook, processed for the docs, to build/executed/')
    args = parser.parse_args()
    known = set(config_flags())
    ok, times = run(Path(args.notebook).resolve(), known - set(args.flags), save=args.save)
    print('nbcells: ' + json.dumps(times), flush=True)
    sys.exit(0 if ok else 1)


if __name__ == '__main__': main()
