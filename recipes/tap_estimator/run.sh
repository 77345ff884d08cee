#!/usr/bin/env bash
# Train the TAP estimator on LibriSpeech speakers (+ 2 noisy mixtures per utterance), CPU, ~30 min of one CPU thread (1200 steps).
# Writes checkpoints/tap_estimator/tap_estimator_ls100.pt (the default of conf/loss_term/tap.yaml) and, in the run
# folder logs/tap_estimator/runs/<run_name>/, tap_estimator_test.{md,json} (per-feature error, held-out speakers).
# Any extra argument is a Hydra override, e.g. `trainer.max_time=00:02:00:00 trainer=gpu`.
set -euo pipefail
cd "$(dirname "$0")/../.."
SHARED=${SHARED_DATA:-$(pwd)/../shared/data}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # the reference run used one CPU thread
exec nice ${PYTHON:-.venv/bin/python} -m voipdns.cli.train_tap_estimator \
  run_name=ls100_noisy2 \
  data.speech_dir="$SHARED/speech/librispeech-train-clean-100" \
  "data.noise_dirs=[$SHARED/noise/moodist,$SHARED/noise/household]" \
  data.noisy_variants=2 \
  model.lr=1.0e-3 \
  +trainer.max_steps=1200 \
  trainer.max_time=00:01:30:00 \
  'export_path=${paths.root_dir}/checkpoints/tap_estimator/tap_estimator_ls100.pt' \
  "$@"
