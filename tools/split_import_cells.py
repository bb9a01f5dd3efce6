"""One-off: split imports out of cells that mix them with other code (nbdev convention)."""
import ast, json, re, uuid, warnings, sys
from pathlib import Path
from nbdev.process import NBProcessor
from nbdev.processors import _do_eval
from nbdev.frontmatter import FrontmatterProc
warnings.simplefilter('ignore')
RUNTIME = {'mylab_ok', 'claims'}
KEEP = ('hide', 'slow', 'cuda', 'eval:')
for p in sorted(Path('nbs').rglob('*.ipynb')):
    nb = NBProcessor(p, procs=FrontmatterProc, process=True).nb
    raw = json.loads(p.read_text())
    inserts = []
    for c in nb.cells:
        if c.cell_type != 'code' or not _do_eval(c): continue
        if c.directives_.keys() & {'export','exports','exporti','exec_doc'}: continue
        src = ''.join(raw['cells'][c.idx_]['source'])
        lines = src.split('\n')
        dirs = [l for l in lines if re.match(r'^\s*#\|', l)]
        tree = ast.parse(src)
        top = [t for t in tree.body if isinstance(t, (ast.Import, ast.ImportFrom))]
        if len(top) == len(tree.body): continue
        hoisted, drop = [], set()
        for t in top:
            mod = t.module if isinstance(t, ast.ImportFrom) else t.names[0].name
            if mod and mod.split('.')[0] in RUNTIME:
                # a module made at run time: imported with importlib, which nbdev's processors do not run
                assert isinstance(t, ast.ImportFrom) and t.end_lineno == t.lineno
                names = [(a.name, a.asname or a.name) for a in t.names]
                indent = re.match(r'\s*', lines[t.lineno-1]).group(0)
                lines[t.lineno-1] = indent + '; '.join(f"{asn} = importlib.import_module('{mod}').{n}" for n, asn in names)
                hoisted.append('import importlib')
                continue
            hoisted.extend(lines[t.lineno-1:t.end_lineno])
            drop.update(range(t.lineno-1, t.end_lineno))
        if not hoisted: print('nothing hoisted', p, c.idx_); continue
        rest = [l for i, l in enumerate(lines) if i not in drop]
        # drop blank lines left at the top of the body (after the directives)
        body = [l for l in rest if not re.match(r'^\s*#\|', l)]
        while body and not body[0].strip(): body.pop(0)
        new_src = '\n'.join([l for l in rest if re.match(r'^\s*#\|', l)] + body)
        keep = [d for d in dirs if any(re.match(rf'^\s*#\|\s*{k}', d) for k in KEEP)]
        imp_src = '\n'.join(keep + list(dict.fromkeys(hoisted)))
        inserts.append((c.idx_, imp_src, new_src))
        print(f'{p.name} cell {c.idx_}: hoisted {len(hoisted)} import lines; keep={keep}')
    for idx, imp_src, new_src in sorted(inserts, reverse=True):
        cell = raw['cells'][idx]
        cell['source'] = new_src.splitlines(keepends=True)
        new = {'cell_type': 'code', 'execution_count': None, 'id': uuid.uuid4().hex[:8], 'metadata': {}, 'outputs': [],
               'source': imp_src.splitlines(keepends=True)}
        raw['cells'].insert(idx, new)
    if inserts: p.write_text(json.dumps(raw, indent=1, ensure_ascii=False) + '\n')
