#!/usr/bin/env bash
# The GPU figures of the deep weight prior penalty, in one run on a lent GPU machine (see the device tool).
# That machine has python3 with torch, torchvision, numpy, scipy, scikit-learn, matplotlib, pandas and pyyaml, but
# none of fastai's packages, and nothing can be fetched there. Prepare here, once (about 2 MB, not committed):
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 -d .whl \
#       fastai==2.8.7 fastcore==1.14.5 fastprogress==1.1.6 fastdownload==0.0.8 fasttransform==0.0.2 \
#       plum-dispatch==2.10.1 beartype==0.23.1 python-fasthtml==0.14.5 starlette==1.10.0 itsdangerous==2.2.0 \
#       python-multipart==0.0.34
#
# (fastprogress imports fasthtml; the rest they import, requests, rich, anyio, httpx, dateutil, psutil, is in that image:
# checked here in a venv holding only the image's packages that matter, on the CPU.)
#
# then run `bash bench/gpu_checks.sh` there, carrying .whl (timeout about 540 s). The package is used from the
# working tree (PYTHONPATH), not installed: the machine's torch is not the pinned one, and this says which it is.
# What it prints is also written to $OUT/penalty.txt (to /tmp without $OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
if compgen -G '.whl/*.whl' > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
fi
export PYTHONPATH="$PWD:/tmp/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c 'import torch; print("torch", torch.__version__, "| GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")'
python3 bench/penalty.py "$@" 2>&1 | tee "${OUT:-/tmp}/penalty.txt"
