"""Build the documentation site in `docs/` from nbdev's processed notebooks, offline, with Sphinx + myst-nb.

    python tools/site.py            # run the notebooks whose page is missing or stale, then build docs/
    python tools/site.py --cached   # build only from the pages the last test run saved; fail when one is stale

The test run (`tools/nbtest.py` -> `tools/nbcells.py --save`) writes every notebook it ran, with its outputs and
through nbdev's processors (`tools/nbdocs.py`), to `build/executed/`; this script turns those pages into MyST
notebooks (nbdev's Quarto directives become myst-nb cell tags, `{#id}` anchors become targets, backticked names
of exported symbols link to their API entries), writes the Sphinx sources to `build/site/` and renders them
into `docs/` with `tools/sphinx/conf.py` (furo, Sphinx's offline search, MathJax copied from the
`sphinx-mathjax-offline` package). A notebook committed with its outputs (a tutorial run once at full size) is
shown as committed. `nbdev_docs` still builds nbdev's own Quarto site for those who have Quarto."""
import argparse, json, re, shutil, subprocess, sys, time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import nbdocs
from nbtest import notebooks

SRC, OUT = ROOT/'build'/'site', ROOT/'docs'
_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')


def page_name(path: Path) -> str:
    "`nbs/05_kernels.ipynb` -> `kernels`, `nbs/tutorials/pipeline.ipynb` -> `tutorials/pipeline` (as nbdev names pages)."
    rel = Path(path).resolve().relative_to(ROOT/'nbs')
    return str(rel.with_name(re.sub(r'^\d+[a-zA-Z0-9]*_', '', rel.stem.lower())))


def fresh(path: Path) -> bool:
    "Whether the cached page of `path` was made from the notebook as it is now."
    cached = nbdocs.cache_path(path)
    if not cached.exists(): return False
    meta = json.loads(cached.read_text()).get('metadata', {}).get('markovdwp_docs', {})
    return meta.get('hash') == nbdocs.source_hash(path)


def committed_outputs(path: Path) -> bool:
    return any(c.get('outputs') for c in json.loads(Path(path).read_text())['cells'] if c['cell_type'] == 'code')


# ---- from nbdev's processed notebook to a MyST notebook

def _symbol_targets() -> dict:
    "Backticked name -> dotted target, for every exported symbol whose short name is unambiguous."
    from markovdwp_nb._modidx import d
    short = {}
    for mod, syms in d['syms'].items():
        for sym in syms:
            name = sym[len(mod) + 1:]
            if name.endswith('.__init__'): continue
            short.setdefault(name, set()).add(sym)
    return {name: next(iter(targets)) for name, targets in short.items() if len(targets) == 1}


_re_tick = re.compile(r'(?<![`\[\w])`([A-Za-z_][\w.]*)(\(\))?`(?![`\w])')


def link_names(markdown: str, targets: dict) -> str:
    "`` `Name` `` -> a link to the API entry of `Name` (outside code blocks and headings)."
    out, fence = [], False
    for line in markdown.split('\n'):
        if line.lstrip().startswith(('```', '~~~')): fence = not fence
        if fence or line.lstrip().startswith('#') or line.startswith('    '):
            out.append(line); continue
        out.append(_re_tick.sub(lambda m: f'{{py:obj}}`{m.group(1)}{m.group(2) or ""} <{targets[m.group(1)]}>`'
                                if m.group(1) in targets else m.group(0), line))
    return '\n'.join(out)


_re_anchor = re.compile(r'^(#{1,6}\s+.*?)\s*\{([^}]*)\}\s*$')


def heading_anchors(markdown: str) -> str:
    "Quarto's `## Title {#id}` -> a MyST target `(id)=` above `## Title`; other attributes dropped."
    out = []
    for line in markdown.split('\n'):
        match = _re_anchor.match(line)
        if match:
            ids = re.findall(r'#([\w-]+)', match.group(2))
            out += [f'({i})=' for i in ids] + [match.group(1)]
        else: out.append(line)
    return '\n'.join(out)


_re_page_link = re.compile(r'\]\(((?:\.\./)*[\w/-]+)\.html(#[^)\s]*)?\)')


def page_links(markdown: str, names: set, here: str) -> str:
    "`[text](spec.html#x)` (a link to another page as nbdev names it) -> `[text](spec.ipynb#x)`, which Sphinx checks."
    def swap(match):
        target = str(Path(here).parent/match.group(1)) if '/' in here else match.group(1)
        target = str(Path(target)).replace('tutorials/../', '')
        return f'](/{target}.ipynb{match.group(2) or ""})' if target in names else match.group(0)
    return _re_page_link.sub(swap, markdown)


def to_myst(nb: dict, targets: dict, names: set = frozenset(), here: str = '') -> dict:
    "nbdev's processed notebook (JSON) as myst-nb reads it: Quarto directives -> cell tags, title, links."
    cells = []
    for cell in nb['cells']:
        source = ''.join(cell['source']) if isinstance(cell['source'], list) else cell['source']
        if cell['cell_type'] == 'raw' and source.startswith('---'):   # nbdev's frontmatter: title and description
            import yaml
            front = yaml.safe_load(source.strip().strip('-')) or {}
            text = f"# {front.get('title', '')}\n"
            if front.get('description'): text += f"\n{front['description']}\n"
            cells.append({'cell_type': 'markdown', 'id': 'title', 'metadata': {}, 'source': text})
            continue
        if cell['cell_type'] == 'markdown':
            cell['source'] = page_links(link_names(heading_anchors(source), targets), names, here)
        elif cell['cell_type'] == 'code':
            lines, tags = source.split('\n'), set(cell.get('metadata', {}).get('tags', []))
            directives = {}
            while lines and _re_directive.match(lines[0]):
                key, value = _re_directive.match(lines.pop(0)).groups()
                directives[key] = value.strip('"\'').lower()
            if directives.get('echo') == 'false': tags.add('remove-input')
            if directives.get('code-fold') == 'true': tags.add('hide-input')   # Quarto's folded code: a toggle in myst-nb
            if directives.get('output') == 'false': tags.add('remove-output')
            if directives.get('include') == 'false': continue
            body = '\n'.join(lines).strip('\n')
            if not body.strip(): tags.add('remove-input')
            if not body.strip() and not cell.get('outputs'): continue
            cell['source'] = body
            cell.setdefault('metadata', {})['tags'] = sorted(tags)
            api_entries(cell)
            for out in cell.get('outputs', []):
                if out.get('output_type') == 'stream':
                    out['text'] = recorder_tables(''.join(out['text']) if isinstance(out['text'], list) else out['text'])
        for key in [k for k in cell if k not in ('cell_type', 'metadata', 'source', 'outputs', 'execution_count', 'attachments')]:
            del cell[key]   # nbdev's own marks (has_sd, idx_): not nbformat
        cell['id'] = f'c{len(cells)}'
        cells.append(cell)
    nb['cells'] = cells
    nb['metadata'].setdefault('kernelspec', {'name': 'python3', 'display_name': 'Python 3', 'language': 'python'})
    nb['metadata'].setdefault('language_info', {'name': 'python'})
    return nb


# ---- API entries: the pages carry `autodoc` directives (nbdocs.api_entry); they are written out here as plain
# Sphinx `py` domain directives with MyST content, from the library itself. Same signature, docstring and
# source link (viewcode), but no reStructuredText parse inside a notebook output, which myst-nb makes very slow.
_re_autodoc = re.compile(r'^```\{eval-rst\}\n\.\. (auto\w+):: (\S+)\n```\n(.*)$', re.S)
_KINDS = {'autoclass': 'py:class', 'autofunction': 'py:function', 'automethod': 'py:method',
          'autoproperty': 'py:property', 'autodata': 'py:data'}


class _Shown:
    "A default value as the signature shows it."
    def __init__(self, text): self.text = text
    def __repr__(self): return self.text


def signature(obj, drop_self: bool) -> str:
    "`(a: int = 3, *, b=...) -> Path` of `obj`, with defaults and annotations Python cannot read back left out."
    import inspect
    try: sig = inspect.signature(obj)
    except (TypeError, ValueError): return ''
    params = list(sig.parameters.values())
    if drop_self and params and params[0].name in ('self', 'cls'): params = params[1:]
    shown = []
    for p in params:
        if isinstance(p.annotation, str): p = p.replace(annotation=_Shown(p.annotation))   # `from __future__ import annotations`
        if p.annotation is not p.empty and '<' in inspect.formatannotation(p.annotation): p = p.replace(annotation=p.empty)
        if p.default is not p.empty:
            text = repr(p.default)
            p = p.replace(default=_Shown(text if '<' not in text and '\n' not in text and len(text) <= 60 else '...'))
        shown.append(p)
    ret = sig.return_annotation
    if isinstance(ret, str): ret = _Shown(ret)
    if ret is not sig.empty and '<' in inspect.formatannotation(ret): ret = sig.empty
    try: return str(sig.replace(parameters=shown, return_annotation=ret))
    except ValueError: return '(' + ', '.join(p.name for p in shown) + ')'


def entry(kind: str, target: str, table: str) -> str:
    "The MyST of one API entry: a `py` domain directive with the signature, the docstring and nbdev's parameter table."
    import functools, importlib, inspect
    from markovdwp_nb._modidx import d
    module = max((m for m in d['syms'] if target.startswith(m + '.')), key=len)
    qualname = target[len(module) + 1:]
    obj = functools.reduce(getattr, qualname.split('.'), importlib.import_module(module))
    if isinstance(obj, property): kind = 'autoproperty'
    if inspect.isclass(obj): doc = obj.__dict__.get('__doc__') or ''
    else: doc = getattr(obj, '__doc__', None) or getattr(getattr(obj, 'fget', None), '__doc__', None) or ''
    sig = '' if kind in ('autoproperty', 'autodata') else signature(obj, drop_self=kind == 'automethod')
    body = inspect.cleandoc(doc)
    return f'::::{{{_KINDS[kind]}}} {qualname}{sig}\n:module: {module}\n\n{body}\n\n{table.strip()}\n::::\n'


def api_entries(cell: dict):
    for out in cell.get('outputs', []):
        data = out.get('data', {})
        text = data.get('text/markdown')
        text = ''.join(text) if isinstance(text, list) else text
        match = _re_autodoc.match(text or '')
        if match: data['text/markdown'] = entry(*match.groups())


def _row(line: str):
    "The list a line of fastai's console recorder prints (`['epoch', 'train_loss', ...]`, `[0, 1.23, ...]`), or None."
    import ast
    if not (line.startswith('[') and line.endswith(']')): return None
    try: value = ast.literal_eval(line)
    except (ValueError, SyntaxError): return None
    return value if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) for v in value) else None


def recorder_tables(text: str) -> str:
    "fastai's recorder rows, printed as Python lists when no notebook display is there, as an aligned table."
    lines, out, i = text.split('\n'), [], 0
    while i < len(lines):
        header = _row(lines[i])
        if header and all(isinstance(v, str) for v in header) and 'epoch' in header:
            rows, j = [], i + 1
            while j < len(lines) and (row := _row(lines[j])) and len(row) == len(header): rows.append(row); j += 1
            if rows:
                cells = [header] + [[f'{v:.4g}' if isinstance(v, float) else str(v) for v in row] for row in rows]
                widths = [max(len(str(r[k])) for r in cells) for k in range(len(header))]
                out += ['  '.join(str(v).rjust(w) for v, w in zip(r, widths)) for r in cells]
                i = j
                continue
        out.append(lines[i]); i += 1
    return '\n'.join(out)


def toctree(caption: str, pages: list) -> dict:
    body = '\n'.join(pages)
    return {'cell_type': 'markdown', 'id': 'toc-' + caption.lower(), 'metadata': {}, 'source': f'```{{toctree}}\n:caption: {caption}\n:hidden:\n\n{body}\n```'}


def copy_mathjax(static: Path):
    "The parts of MathJax 3 the pages use (TeX input, CHTML output and its fonts), from `sphinx-mathjax-offline`."
    from importlib.metadata import distribution
    dist = distribution('sphinx-mathjax-offline')
    origin = Path(dist.locate_file('sphinx-mathjax-offline'))/'static'/'mathjax'
    if not origin.exists(): sys.exit(f'site: MathJax not found in {origin}: pip install sphinx-mathjax-offline')
    target = static/'mathjax'
    for part in ('tex-chtml.js', 'input/tex/extensions', 'output/chtml/fonts/woff-v2'):
        src, dst = origin/part, target/part
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir(): shutil.copytree(src, dst, dirs_exist_ok=True)
        else: shutil.copy2(src, dst)


def write_sources(paths: list) -> list:
    "The Sphinx sources of the site in `build/site/`: one MyST notebook per page, the index with the tables of contents."
    if SRC.exists(): shutil.rmtree(SRC)
    (SRC/'_static').mkdir(parents=True)
    shutil.copy2(TOOLS/'sphinx'/'site.css', SRC/'_static'/'site.css')
    copy_mathjax(SRC/'_static')
    targets = _symbol_targets()
    names = [page_name(p) for p in paths]
    for path, name in zip(paths, names):
        nb = to_myst(json.loads(nbdocs.cache_path(path).read_text()), targets, set(names), name)
        if name == 'index':
            nb['cells'].append(toctree('Modules', [n for n in names if n != 'index' and '/' not in n]))
            nb['cells'].append(toctree('Tutorials', [n for n in names if n.startswith('tutorials/')]))
        target = SRC/f'{name}.ipynb'
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(nb, indent=1))
        for asset in Path(path).parent.glob('*.png'):   # pictures a notebook links to
            shutil.copy2(asset, target.parent/asset.name)
    return names


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--cached', action='store_true', help='fail instead of running notebooks whose page is stale')
    parser.add_argument('--jobs', type=int, default=2)
    parser.add_argument('select', nargs='*', help='only the pages of notebooks whose path contains one of these (and the index)')
    args = parser.parse_args()
    start = time.time()
    paths = [p for p in notebooks(root=str(ROOT/'nbs'))
             if not args.select or p.name == 'index.ipynb' or any(s in str(p) for s in args.select)]
    for path in paths:   # a notebook committed with its outputs is shown as committed, never run for the docs
        if committed_outputs(path) and not fresh(path): nbdocs.save(path, None, None)
    stale = [p for p in paths if not fresh(p)]
    if stale and args.cached:
        sys.exit('site: no page, or a stale one, for ' + ', '.join(str(p) for p in stale) + ': run make test (or make docs)')
    if stale:
        print(f'site: running {len(stale)} notebooks whose page is missing or stale', flush=True)
        res = subprocess.run([sys.executable, str(TOOLS/'nbtest.py'), '--jobs', str(args.jobs), *(str(p.relative_to(ROOT)) for p in stale)], cwd=ROOT)
        if res.returncode: sys.exit('site: a notebook failed; no site built')
    names = write_sources(paths)
    html = ROOT/'build'/'html'   # myst-nb writes the notebooks' pictures next to the output folder: build/, not the root
    for old in (OUT, html, ROOT/'build'/'doctrees'):
        if old.exists(): shutil.rmtree(old)
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-q', '-c', str(TOOLS/'sphinx'), '-d', str(ROOT/'build'/'doctrees'),
           str(SRC), str(html)]
    res = subprocess.run(cmd, cwd=ROOT)
    if res.returncode: sys.exit('site: sphinx-build failed')
    shutil.copytree(html, OUT)
    (OUT/'.nojekyll').touch()
    print(f'site: {len(names)} pages in {OUT.relative_to(ROOT)}/ ({time.time() - start:.0f}s)')


if __name__ == '__main__': main()
