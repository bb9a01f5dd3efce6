"""Render the notebooks: `README.md` from `nbs/index.ipynb`, and the documentation
site (`docs/`, one HTML page per notebook) from every notebook.

Notebooks are committed without outputs, so each is executed first (cells flagged
`#| slow` or `#| cuda` are skipped, `#| hide` cells run but are not shown), the same
way `nbdev_test` runs them. Quarto, which nbdev_docs uses, is not installable from the
package registries, so the site is rendered with nbconvert instead.

    python tools/render_docs.py --readme     # README.md only
    python tools/render_docs.py --check      # exit 1 when README.md is out of date
    python tools/render_docs.py              # README.md and docs/
"""
import argparse, copy, html, os, re, sys
from pathlib import Path

from execnb.nbio import read_nb, dict2nb
from execnb.shell import CaptureShell

NBS, DOCS, README = Path('nbs'), Path('docs'), Path('README.md')
SKIP_FLAGS = {'slow', 'cuda'}
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
    "Cells nbdev_test does not run: flagged slow or cuda, or `#| eval: false`."
    flags = directives(cell)
    return bool(SKIP_FLAGS & flags.keys()) or flags.get('eval', '').lower() == 'false'

def strip_directives(source: str) -> str:
    lines = source.splitlines()
    while lines and _re_directive.match(lines[0]): lines.pop(0)
    return '\n'.join(lines).strip()

def executed(path: Path):
    "The notebook at `path`, run top to bottom in its folder, skipping slow and cuda cells."
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
        parts.append(f'```python\n{strip_directives(cell.source)}\n```')
        text = ''.join(output_text(o) for o in cell.get('outputs', [])).strip()
        if text: parts.append(f'```\n{text}\n```')
    note = '<!-- generated from nbs/index.ipynb by tools/render_docs.py: edit the notebook, not this file -->'
    return note + '\n\n' + '\n\n'.join(parts) + '\n'

def page_name(path: Path) -> str:
    "`nbs/00_spec.ipynb` -> `spec.html`; `nbs/tutorials/zoo.ipynb` -> `tutorials/zoo.html`."
    rel = path.relative_to(NBS).with_suffix('.html')
    return str(rel.with_name(re.sub(r'^\d+[a-z]?_', '', rel.name)))

def notebooks():
    return [p for p in sorted(NBS.rglob('*.ipynb'))
            if not any(part.startswith(('_', '.')) for part in p.relative_to(NBS).parts)]

def joined(nb):
    "execnb keeps multi-line texts as lists of lines; nbconvert wants strings."
    def join(value): return ''.join(value) if isinstance(value, list) else value
    for cell in nb.cells:
        cell.source = join(cell.source)
        for output in cell.get('outputs', []):
            if 'text' in output: output['text'] = join(output['text'])
            for mime, value in output.get('data', {}).items(): output['data'][mime] = join(value)
    return nb

def render_site(pages):
    from nbconvert import HTMLExporter
    import nbformat
    exporter = HTMLExporter(template_name='lab')
    nav = ' | '.join(f'<a href="{{root}}{page_name(p)}">{html.escape(page_name(p)[:-5])}</a>' for p, _ in pages)
    for path, nb in pages:
        shown = copy.deepcopy(nb)
        shown.cells = [c for c in shown.cells if visible(c)]
        for cell in shown.cells:
            if cell.cell_type == 'code': cell.source = strip_directives(cell.source)
        body, _ = exporter.from_notebook_node(nbformat.from_dict(joined(shown)))
        target = DOCS/page_name(path)
        root = '../' * (len(Path(page_name(path)).parts) - 1)
        body = re.sub(r'(<body[^>]*>)', r'\1' + f'<nav style="padding:8px;font-family:sans-serif">{nav.replace("{root}", root)}</nav>', body, count=1)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body)
        print(f'docs: {target}')

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--readme', action='store_true', help='only README.md')
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
    if args.readme: return
    pages = [(p, index if p.name == 'index.ipynb' and p.parent == NBS else executed(p)) for p in notebooks()]
    render_site(pages)

if __name__ == '__main__': main()
