#!/usr/bin/env bash
# A small causal Demucs from scratch on real speech + real noise from ../shared/data with the VoIP channel
# simulator on the fly (conf/experiment/mini_voip.yaml), ~10 minutes on one CPU core; tested on 6 real
# VoiceBank-DEMAND pairs relayed through 4 VoIP conditions + the direct path. Only Hydra overrides.
#   ./recipes/mini/run.sh                     # stages 1-3
#   ./recipes/mini/run.sh --stage 2 trainer.max_time=00:00:30:00
# Stages: 1 check data (a fast_dev_run batch), 2 train + test, 3 per-condition report (input vs enhanced).
set -euo pipefail
cd "$(dirname "$0")/../.."
STOP=3
source recipes/stages.sh
RUN=${RUN_NAME:-demucs_h24}
RUN_DIR=logs/mini_voip/runs/$RUN
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # the measured run used one CPU thread

if stage 1; then
  echo "== stage 1: check data (../shared/data speech, noise, VoiceBank pairs; one fast_dev_run batch)"
  nice "$BIN/voipdns-train" experiment=mini_voip debug=fdr "$@"
fi
if stage 2; then
  echo "== stage 2: train + test -> $RUN_DIR"
  nice "$BIN/voipdns-train" experiment=mini_voip run_name="$RUN" "$@"
fi
if stage 3; then
  echo "== stage 3: per-condition report -> $RUN_DIR/report"
  "$BIN/voipdns-report" demucs_h24="$RUN_DIR" -o "$RUN_DIR/report" --title "mini: Demucs H24 with VoIP on the fly"
fi
