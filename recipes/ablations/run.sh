#!/usr/bin/env bash
# Ablations as Hydra multiruns, each aggregated into one table + plot by voipdns-aggregate:
#   stage 1: learning-rate sweep of the Demucs TAPLoss fine-tuning (conf/hparams_search/lr.yaml: 1e-5, 3e-5, 1e-4)
#   stage 2: mu sweep of UPN's VAD-weighted loss (conf/hparams_search/mu.yaml: 0.5, 0.7, 0.9)
#   stage 3: aggregate both sweeps (aggregate.{csv,md,png} in each multirun folder)
#   DATA_ROOT=/data/VoIP-DNS DNS4_ROOT=/data/DNS4 ./recipes/ablations/run.sh trainer=gpu
#   CPU=1 ./recipes/ablations/run.sh --stop-stage 1      # lr sweep on the CPU tree of recipes/voipdns/demucs
# Stage 2 needs the enrollment embeddings of recipes/dns4_personalized (stage 1 there). Arguments after the
# options are Hydra overrides for stages 1-2; a list replaces the sweep's values, e.g. optim.lr=1e-5,1e-4.
set -euo pipefail
cd "$(dirname "$0")/../.."
STOP=3
source recipes/stages.sh
if [[ ${CPU:-0} == 1 ]]; then
  # needs data/voipdns_cpu and its stand-in checkpoint: CPU=1 ./recipes/voipdns/demucs/run.sh --stop-stage 1
  LR=("hydra.searchpath=[file://$(pwd)/recipes/voipdns/demucs/conf]" experiment=voipdns_demucs_tap_cpu
      trainer.max_time=00:00:02:30)
  LR_DIR=logs/voipdns_cpu/multiruns/lr_sweep
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
else
  LR=(experiment=voipdns_demucs_tap data.train.root="${DATA_ROOT:?set DATA_ROOT=<VoIP-DNS root> or CPU=1}")
  LR_DIR=logs/voipdns_demucs_tap/multiruns/lr_sweep
fi
MU_DIR=logs/dns4_upn/multiruns/mu_sweep

if stage 1; then
  echo "== stage 1: learning-rate sweep -> $LR_DIR"
  nice "$BIN/voipdns-train" +hparams_search=lr "${LR[@]}" run_name=lr_sweep "$@"
fi
if stage 2 && [[ ${CPU:-0} != 1 ]]; then
  ROOT=${DNS4_ROOT:?set DNS4_ROOT=<folder with pdns_training_set/ and datasets_fullband/>}
  echo "== stage 2: mu sweep -> $MU_DIR"
  "$BIN/voipdns-train" +hparams_search=mu experiment=dns4_upn run_name=mu_sweep \
    data.train.clean_dir="$ROOT/pdns_training_set/raw/clean" \
    data.train.enrollment_dir="$ROOT/pdns_training_set/enrollment_wav" \
    data.train.noise_dir="$ROOT/datasets_fullband/noise_fullband" \
    data.train.embedding_dir="$(cat logs/speaker_embedder/runs/dns4_enrollment/embedding_dir.txt)" "$@"
fi
if stage 3; then
  for sweep in "$LR_DIR" "$MU_DIR"; do
    if [[ -d $sweep ]]; then
      echo "== stage 3: aggregate $sweep"
      "$BIN/voipdns-aggregate" "$sweep" --metrics val/loss val/pesq_wb test/pesq_wb test/stoi
    fi
  done
fi
