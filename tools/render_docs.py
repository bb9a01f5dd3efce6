"""Render `README.md` from `nbs/index.ipynb`.

The notebook is committed without outputs, so it is executed first (cells flagged `#| slow`,
`#| cuda` or `#| fashion` are skipped, `#| hide` cells run but are not shown), the same way `nbdev_test`
runs it. The documentation site is built by `tools/site.py` (`make docs`).

    python tools/render_docs.py --readme     # README.md (also what no option does)
    python tools/render_docs.py --check      # exit 1 when README.md is out of date
"""
import argparse, os, re, sys
from pathlib import Path

from execnb.nbio import read_nb
from execnb.shell import CaptureShell

from nbcells import config_flags   # this folder's

NBS, README = Path('nbs'), Path('README.md')
SKIP_FLAGS = set(config_flags())   # settings.ini's tst_flags: slow, cuda, fashion
_re_directive = re.compile(r'^\s*#\|\s*(\S+)(.*)$')

def directives(cell) -> dict:
    "The `#| name args` lines at the top of a code cell."
    found = {}
    for line in cell.source.splitlines():
        match = _re_directive.match(line)
        if not match: break
        found[match.group(1).rstrip(':')] = match.group(2).strip()
    return found

def skipped(cell) -> bool:
    "Cells nbdev_test does not run by default: flagged slow, cuda or fashion, or `#| eval: false`."
    flags = directives(cell)
    return bool(SKIP_FLAGS & flags.keys()) or flags.get('eval', '').lower() == 'false'

def strip_directives(source: str) -> str:
    lines = source.splitlines()
    while lines and _re_directive.match(lines[0]): lines.pop(0)
    return '\n'.join(lines).strip()

def executed(path: Path):
    "The notebook at `path`, run top to bottom in its folder, skipping the cells `skipped` names."
    nb = read_nb(path)
    shell, cwd = CaptureShell(path), os.getcwd()
    os.environ.setdefault('WANDB_MODE', 'offline')
    try:
        os.chdir(path.parent)
        shell.run_all(nb, exc_stop=True,
                      preproc=lambda c: c.cell_type != 'code' or 'nbdev_export(' in c.source or skipped(c))
    finally: os.chdir(cwd)
    return nb

def output_text(output) -> str:
    if output.get('output_type') == 'stream': return ''.join(output.get('text', ''))
    data = output.get('data', {})
    return ''.join(data.get('text/markdown') or data.get('text/plain') or '')

def visible(cell) -> bool:
    flags = directives(cell) if cell.cell_type == 'code' else {}
    return not ({'hide', 'export', 'exporti', 'default_exp'} & flags.keys()) and cell.source.strip() != ''

def readme_text(nb) -> str:
    "Markdown of an executed notebook: markdown cells as they are, code and its text output fenced."
    parts = []
    for cell in nb.cells:
        if not visible(cell): continue
        if cell.cell_type == 'markdown': parts.append(cell.source.strip()); continue
        text = ''.join(output_text(o) for o in cell.get('outputs', [])).strip()
        if directives(cell).get('output') == 'asis':  # generated Markdown: its output only, as Markdown
            if text: parts.append(text)
            continue
        code = strip_directives(cell.source)
        if parts and parts[-1].startswith('```python\n'):   # an imports cell and the code after it: one block
            parts[-1] = parts[-1][:-len('\n```')] + f'\n{code}\n```'
        else: parts.append(f'```python\n{code}\n```')
        if text: parts.append(f'```\n{text}\n```')
    note = '<!-- generated from nbs/index.ipynb by tools/render_docs.py: edit the notebook, not this file -->'
    return note + '\n\n' + '\n\n'.join(parts) + '\n'

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--readme', action='store_true', help='write README.md (the default)')
    parser.add_argument('--check', action='store_true', help='fail when README.md is not the render of nbs/index.ipynb')
    args = parser.parse_args()
    index = executed(NBS/'index.ipynb')
    text = readme_text(index)
    if args.check:
        if not README.exists() or README.read_text() != text:
            sys.exit('README.md is not the render of nbs/index.ipynb: run `make readme` and commit it')
        return print('README.md is the render of nbs/index.ipynb')
    README.write_text(text)
    print('README.md written')

if __name__ == '__main__': main()
