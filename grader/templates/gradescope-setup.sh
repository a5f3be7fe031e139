#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder image (Autograder Settings: pick the
# Ubuntu 24.04 base image, whose python3 is 3.12; torchkata needs Python 3.11 or newer). A
# PrairieLearn image runs it too (docs/grading.md). It installs into .venv beside itself.
set -euo pipefail
apt-get update
apt-get install -y python3 python3-venv python3-pip
cd "$(dirname "${BASH_SOURCE[0]}")"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "torchkata needs Python 3.11+: choose the Ubuntu 24.04 base image" >&2; exit 1; }
python3 -m venv .venv
# CPU torch from PyTorch's CPU index: the default Linux wheel pulls GBs of CUDA libraries
.venv/bin/pip install "$(grep '^torch==' constraints.txt)" \
  --index-url https://download.pytorch.org/whl/cpu
./scripts/bootstrap hf
# check the grader once now, so a broken image fails here and not on a learner's submission
.venv/bin/kata check 01-tensors --impl reference >/dev/null
