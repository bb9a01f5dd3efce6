"""Fail when `nbdev_export` / `nbdev_clean` change anything: the library must be the
export of the notebooks, and the notebooks must be committed clean.

Also fail on a cell that breaks nbdev's convention that a cell with imports holds imports only: nbdev's doc
processors (`nbdev_proc_nbs`, `nbdev_docs`) run every such cell (and every exported one) to render `show_doc`,
so a test that imports something would run there, out of its context. Import a module made at run time with
`importlib.import_module`.

Run from the repository root (the Makefile's `sync` target does). The check compares
`git status` and the content of every file under the library and the notebooks
before and after running both commands, so it also catches a stale export on top of
uncommitted edits. Outside a git checkout only the content comparison is made."""
import hashlib, subprocess, sys
from pathlib import Path

WATCHED = ('markovdwp_nb', 'nbs')
BIN = Path(sys.executable).parent

def snapshot():
    "Map every watched file to the hash of its content."
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for top in WATCHED for p in sorted(Path(top).rglob('*'))
            if p.is_file() and '__pycache__' not in p.parts and '.ipynb_checkpoints' not in p.parts}

def git_status():
    "`git status --porcelain` of the watched paths, or None outside a git checkout."
    res = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=all', '--', *WATCHED],
                         capture_output=True, text=True)
    return res.stdout if res.returncode == 0 else None

def run(tool):
    res = subprocess.run([str(BIN/tool)], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f'check_sync: {tool} failed (exit {res.returncode}):\n{res.stdout}{res.stderr}')

def mixed_import_cells(root='nbs') -> list:
    "`notebook cell N` of each code cell that nbdev's doc processors would run and that holds more than imports."
    import ast, warnings
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval
    found = []
    for path in sorted(Path(root).rglob('*.ipynb')):
        if any(part.startswith(('_', '.')) for part in path.relative_to(root).parts): continue
        for cell in NBProcessor(path).nb.cells:
            if cell.cell_type != 'code' or cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'}: continue
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                if not _do_eval(cell): continue
            trees = cell.parsed_() or []
            if any(isinstance(node, (ast.Import, ast.ImportFrom)) for tree in trees for node in ast.walk(tree)) \
               and not all(isinstance(tree, (ast.Import, ast.ImportFrom)) for tree in trees):
                found.append(f'{path} cell {cell.idx_}: ' + next(l for l in cell.source.splitlines() if l.strip() and not l.startswith('#|'))[:70])
    return found


def main():
    mixed = mixed_import_cells()
    if mixed:
        sys.exit('check_sync: these cells mix imports with other code; nbdev runs them to render the docs. '
                 'Move the imports to a cell of their own:\n  ' + '\n  '.join(mixed))
    before, status_before = snapshot(), git_status()
    for tool in ('nbdev_export', 'nbdev_clean'): run(tool)
    after, status_after = snapshot(), git_status()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if changed or status_before != status_after:
        print('check_sync: nbdev_export / nbdev_clean changed these files:', *changed, sep='\n  ')
        if status_after is not None: print('git status now:\n' + status_after)
        sys.exit('check_sync: the library and the notebooks were out of sync or not clean. '
                 'Review the changes above, re-run the tests and commit notebooks and library together.')
    print(f'check_sync: library and {sum(k.endswith(".ipynb") for k in after)} notebooks in sync and clean')

if __name__ == '__main__': main()
