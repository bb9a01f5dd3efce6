"""Turn a notebook that `tools/nbcells.py` has just run into the page the documentation site shows.

nbdev's own doc processors (`nbdev.processors.FilterDefaults`: `show_doc` after every exported symbol, export
and hidden cells removed, directives read) run on the executed notebook, with one change: `show_doc` runs in the
shell that ran the notebook, so nothing is executed twice, and it writes a Sphinx autodoc directive (signature,
docstring, a link to the highlighted source) instead of Quarto markdown. nbdev's `add_links` (absolute links to
the Quarto site) is left to the Sphinx build, which links backticked names to their entries itself.

Outputs are cleaned for a reader: progress bars, Python warnings and the paths of this machine go.
`tools/site.py` renders the result with Sphinx + myst-nb; Quarto users get nbdev's site from `nbdev_docs`."""
import ast, copy, hashlib, inspect, json, re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT/'build'/'executed'   # one processed notebook per notebook of nbs/, same relative path


def source_hash(path: Path) -> str:
    "What a cached page depends on: the notebook, this file and the library's symbol index."
    digest = hashlib.sha256(Path(path).read_bytes())
    for extra in (Path(__file__), ROOT/'markovdwp_nb'/'_modidx.py'):
        if extra.exists(): digest.update(extra.read_bytes())
    return digest.hexdigest()


def cache_path(path: Path) -> Path:
    return CACHE/Path(path).resolve().relative_to(ROOT/'nbs')


def _symbols() -> dict:
    "`{qualified name: module}` of every exported symbol (nbdev's `_modidx`)."
    from markovdwp_nb._modidx import d
    return {sym: mod for mod, syms in d['syms'].items() for sym in syms}


def exported_name(obj, name: str, default_module: str | None) -> str | None:
    "The importable dotted name of `obj` shown as `name`, when the library exports it."
    symbols = _symbols()
    qualname = getattr(obj, '__qualname__', None) or name
    candidates = [f'{default_module}.{qualname}'] if default_module else []
    candidates += [s for s in symbols if s.endswith('.' + qualname)]
    return next((c for c in candidates if c in symbols), None)


def api_entry(obj, name: str, default_module: str | None) -> str:
    "MyST markdown for one API entry: an autodoc directive for an exported symbol, nbdev's markdown otherwise."
    from nbdev.showdoc import BasicMarkdownRenderer
    rendered = BasicMarkdownRenderer(obj, name=name)
    target = exported_name(obj, name, default_module)
    if target is None:  # not exported: nbdev's markdown without its Quarto link
        return f'#### {rendered.nm}\n\n' + super(BasicMarkdownRenderer, rendered)._repr_markdown_()
    owner = target.rsplit('.', 2)[-2] if target.count('.') > 2 else ''
    if inspect.isclass(obj): kind = 'autoclass'
    elif isinstance(obj, property): kind = 'autoproperty'
    elif owner and owner[0].isupper(): kind = 'automethod'
    elif callable(obj): kind = 'autofunction'
    else: kind = 'autodata'
    table = ''
    docments = getattr(rendered, 'dm', None)
    if docments is not None and any(v.get('docment') for v in getattr(docments, 'dm', {}).values()):
        table = '\n' + docments._repr_markdown_() + '\n'
    # autodoc writes reStructuredText, so the directive is wrapped for MyST; nbdev's parameter table follows it
    return f'```{{eval-rst}}\n.. {kind}:: {target}\n```\n{table}'


def _show_doc_call(source: str):
    "The `show_doc(...)` call of a cell, or None."
    try: tree = ast.parse(source)
    except SyntaxError: return None
    calls = [n.value for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
             and getattr(n.value.func, 'id', None) == 'show_doc']
    return calls[0] if len(calls) == 1 and len(tree.body) == 1 else None


def live_show_docs(shell, default_module):
    "A processor that fills each `show_doc` cell with an API entry built from the objects of `shell`."
    from nbdev.process import Processor
    class live_show_docs(Processor):
        def cell(self, cell):
            if cell.cell_type != 'code' or not cell.source: return
            call = _show_doc_call(re.sub(r'(?m)^\s*#\|.*\n?', '', cell.source))
            if call is None: return
            ns = shell.user_ns
            obj = eval(compile(ast.Expression(call.args[0]), '<show_doc>', 'eval'), ns)
            kwargs = {k.arg: eval(compile(ast.Expression(k.value), '<show_doc>', 'eval'), ns) for k in call.keywords}
            name = kwargs.get('name') or ast.unparse(call.args[0])
            cell.outputs = [{'output_type': 'display_data', 'metadata': {},
                             'data': {'text/markdown': api_entry(obj, name, default_module), 'text/plain': name}}]
            cell.source = '#| output: asis\n#| echo: false\n' + re.sub(r'(?m)^\s*#\|.*\n?', '', cell.source)
    return live_show_docs


# ---- outputs a reader should not see
_re_ansi = re.compile(r'\x1B(?:[@-Z\\-_]|\[[0-?]*[ -/]*[@-~])')
_re_bar = re.compile(r'[█▏▎▍▌▋▊▉]|\|[#=\- ]{5,}\|\s*\d+%|^\s*\d+%\|')
_re_warning = re.compile(r'^(?P<where>\S.*?):\d+: (?P<category>[A-Z]\w*): (?P<message>.*)$')
_re_tmp = re.compile(r'/tmp/[A-Za-z0-9_.-]+')


def _clean_text(text: str) -> str:
    text = _re_ansi.sub('', text)
    lines, skip_next = [], False
    for line in text.replace('\r\n', '\n').split('\n'):
        line = line.rsplit('\r', 1)[-1]   # a progress bar redrawn in place: its last state
        if skip_next:   # the source line Python prints under a warning
            skip_next = False
            if line.startswith((' ', '\t')): continue
        warning = _re_warning.match(line)
        if warning:   # `file:line: Category: message`: a library's warning goes, one of this package keeps its message
            skip_next = True
            where = warning.group('where')
            if 'site-packages' in where or '/lib/python' in where: continue
            line = f"{warning.group('category')}: {warning.group('message')}"
        if _re_bar.search(line): continue
        lines.append(line)
    text = '\n'.join(lines)
    text = text.replace(str(ROOT) + '/', '').replace(str(ROOT), '.').replace(str(Path.home()), '~')
    return _re_tmp.sub('/tmp/…', text)


def clean_outputs(cell):
    "Drop progress bars, warnings and this machine's paths from the outputs of `cell`."
    kept = []
    for out in cell.get('outputs', []):
        if out.get('output_type') == 'stream':
            text = _clean_text(''.join(out['text']) if isinstance(out['text'], list) else out['text'])
            if not text.strip(): continue
            out['text'] = text
        for mime in ('text/plain', 'text/markdown', 'text/html'):
            data = out.get('data', {})
            if mime in data:
                value = ''.join(data[mime]) if isinstance(data[mime], list) else data[mime]
                data[mime] = _clean_text(value) if mime == 'text/plain' else value.replace(str(ROOT) + '/', '')
        kept.append(out)
    cell['outputs'] = kept


def processed(path: Path, executed, shell):
    "The page of the notebook at `path`: nbdev's processors over its executed cells, outputs cleaned."
    from execnb.nbio import read_nb
    from nbdev.processors import FilterDefaults, exec_show_docs, add_links, insert_warning
    from nbdev.process import NBProcessor
    nb = read_nb(path)
    committed = any(c.get('outputs') for c in nb.cells if c.cell_type == 'code')   # a tutorial run once at full size
    outputs = {c.get('id'): c.get('outputs', []) for c in executed.cells} if executed is not None else {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != 'code' or committed or executed is None: continue
        ran = outputs.get(cell.get('id')) if cell.get('id') in outputs else executed.cells[index].get('outputs', [])
        if ran: cell.outputs = copy.deepcopy(ran)
    match = re.search(r'(?m)^#\|\s*default_exp\s+(\S+)', '\n'.join(c.source for c in nb.cells if c.cell_type == 'code'))
    default_module = f'markovdwp_nb.{match.group(1)}' if match else None
    live = live_show_docs(shell, default_module) if shell is not None else None
    procs = [live if p is exec_show_docs else p for p in FilterDefaults().procs() if p not in (add_links, insert_warning)]
    procs = [p for p in procs if p is not None]
    NBProcessor(nb=nb, procs=procs).process()
    for cell in nb.cells:
        if cell.cell_type == 'code': clean_outputs(cell)
    nb.metadata['markovdwp_docs'] = {'source': str(Path(path).resolve().relative_to(ROOT)), 'hash': source_hash(path)}
    return nb


def save(path: Path, executed, shell):
    "Write the page of the executed notebook at `path` to the cache the site is built from."
    from execnb.nbio import write_nb
    target = cache_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_nb(processed(path, executed, shell), target)
    return target
