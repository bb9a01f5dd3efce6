"""Render the notebooks: `README.md` from `nbs/index.ipynb`, and the documentation
site (`docs/`, one HTML page per notebook) from every notebook.

Notebooks are committed without outputs, so each is executed first (cells flagged
`#| slow` or `#| cuda` are skipped, `#| hide` cells run but are not shown), the same
way `nbdev_test` runs them; a notebook committed with its outputs (a tutorial, run once
at full size) is shown as committed. Quarto, which nbdev_docs uses, is not installable
from the package registries, so the site is rendered with nbconvert instead.

    python tools/render_docs.py --readme     # README.md only
    python tools/render_docs.py --check      # exit 1 when README.md is out of date
    python tools/render_docs.py              # README.md and docs/
"""
import argparse, copy, html, json, os, re, sys
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

def has_outputs(path: Path) -> bool:
    "Whether the notebook at `path` was committed with outputs (then it is shown as it is, not run again)."
    return any(cell.get('outputs') for cell in json.loads(Path(path).read_text())['cells'] if cell['cell_type'] == 'code')

def execute_all(paths, jobs: int = 2) -> list:
    "Execute every notebook in a process of its own (as nbdev_test does), `jobs` at a time; a failing notebook stops the render."
    import subprocess, tempfile
    from concurrent.futures import ThreadPoolExecutor
    def run(path):
        if has_outputs(path): return path, read_nb(path)
        with tempfile.NamedTemporaryFile(suffix='.json') as out:
            res = subprocess.run([sys.executable, __file__, '--execute', str(path), '--out', out.name], capture_output=True, text=True)
            if res.returncode: sys.exit(f'render_docs: {path} failed to run:\n{res.stderr[-3000:]}')
            return path, dict2nb(json.loads(Path(out.name).read_text()))
    with ThreadPoolExecutor(jobs) as pool: return list(pool.map(run, paths))

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
        parts.append(f'```python\n{strip_directives(cell.source)}\n```')
        if text: parts.append(f'```\n{text}\n```')
    note = '<!-- generated from nbs/index.ipynb by tools/render_docs.py: edit the notebook, not this file -->'
    return note + '\n\n' + '\n\n'.join(parts) + '\n'

def page_name(path: Path) -> str:
    "`nbs/00_spec.ipynb` -> `spec.html`; `nbs/tutorials/zoo.ipynb` -> `tutorials/zoo.html`."
    rel = path.relative_to(NBS).with_suffix('.html')
    return str(rel.with_name(re.sub(r'^\d+[a-z]?_', '', rel.name)))

def notebooks():
    "Every notebook the site shows, the index first, then in pipeline order."
    found = [p for p in sorted(NBS.rglob('*.ipynb')) if not any(part.startswith(('_', '.')) for part in p.relative_to(NBS).parts)]
    return sorted(found, key=lambda p: p != NBS/'index.ipynb')

def joined(nb):
    "execnb keeps multi-line texts as lists of lines; nbconvert wants strings."
    def join(value): return ''.join(value) if isinstance(value, list) else value
    for cell in nb.cells:
        cell.source = join(cell.source)
        for output in cell.get('outputs', []):
            if 'text' in output: output['text'] = join(output['text'])
            for mime, value in output.get('data', {}).items(): output['data'][mime] = join(value)
    return nb

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title} - markovdwp_nb</title>
<link rel="stylesheet" href="{root}style.css">
<script>window.MathJax = {{tex: {{inlineMath: [['$', '$']], displayMath: [['$$', '$$']]}}}};</script>
<script async src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"></script>
</head><body><nav>{nav}</nav><main>{body}</main></body></html>
"""

STYLE = """body {{ font-family: system-ui, sans-serif; margin: 0; color: #222; }}
nav {{ background: #f4f4f6; padding: 10px 24px; border-bottom: 1px solid #ddd; }}
nav a {{ margin-right: 14px; text-decoration: none; }}
main {{ max-width: 980px; margin: 0 auto; padding: 8px 24px 48px; line-height: 1.5; }}
pre {{ background: #f8f8f8; padding: 8px 12px; overflow-x: auto; border-radius: 4px; }}
.jp-OutputArea pre, .output_area pre {{ background: #fff; border-left: 3px solid #ccc; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ddd; padding: 4px 8px; }}
img {{ max-width: 100%; }}
.jp-InputPrompt, .jp-OutputPrompt, .prompt {{ display: none; }}
{pygments}"""

def render_site(pages):
    "One HTML page per notebook (nbconvert's `basic` template) with a shared stylesheet and a navigation bar."
    from nbconvert import HTMLExporter
    from pygments.formatters import HtmlFormatter
    import nbformat
    exporter = HTMLExporter(template_name='basic')
    DOCS.mkdir(exist_ok=True)
    (DOCS/'style.css').write_text(STYLE.format(pygments=HtmlFormatter().get_style_defs('.highlight')))
    for path, nb in pages:
        shown = copy.deepcopy(nb)
        shown.cells = [c for c in shown.cells if visible(c)]
        for cell in shown.cells:
            if cell.cell_type == 'code': cell.source = strip_directives(cell.source)
        body, _ = exporter.from_notebook_node(nbformat.from_dict(joined(shown)))
        name = page_name(path)
        root = '../' * (len(Path(name).parts) - 1)
        nav = ''.join(f'<a href="{root}{page_name(p)}">{html.escape(page_name(p)[:-5])}</a>' for p, _ in pages)
        target = DOCS/name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(PAGE.format(title=html.escape(name[:-5]), root=root, nav=nav, body=body))
        print(f'docs: {target}')

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--readme', action='store_true', help='only README.md')
    parser.add_argument('--check', action='store_true', help='fail when README.md is not the render of nbs/index.ipynb')
    parser.add_argument('--execute', help=argparse.SUPPRESS)  # internal: run one notebook, write it as JSON to --out
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.execute: return Path(args.out).write_text(json.dumps(executed(Path(args.execute))))
    index = executed(NBS/'index.ipynb')
    text = readme_text(index)
    if args.check:
        if not README.exists() or README.read_text() != text:
            sys.exit('README.md is not the render of nbs/index.ipynb: run `make readme` and commit it')
        return print('README.md is the render of nbs/index.ipynb')
    README.write_text(text)
    print('README.md written')
    if args.readme: return
    render_site(execute_all(notebooks()))

if __name__ == '__main__': main()
