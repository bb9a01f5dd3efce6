"""Fail when `nbdev_export` / `nbdev_clean` change anything: the library must be the
export of the notebooks, and the notebooks must be committed clean.

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

def main():
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
