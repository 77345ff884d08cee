#!/usr/bin/env bash
# Unified PercepNet (UPN) on the DNS-4 personalised track with the VAD-weighted loss (mu 0.9) and cached ECAPA
# speaker embeddings (conf/experiment/dns4_upn.yaml). Only Hydra overrides of the installed console scripts.
#   DNS4_ROOT=/data/DNS4 ./recipes/dns4_personalized/run.sh trainer=gpu
# DNS4_ROOT holds pdns_training_set/{raw/clean,enrollment_wav} and datasets_fullband/noise_fullband.
# Stages: 1 speaker embedder (recipes/speaker_embedder: train on LibriSpeech, or EMBEDDER=<embedder.pt>) and
# enrollment embeddings, 2 check data (a fast_dev_run batch), 3 train, 4 report (test: held-out speakers, q = 1
# and q = 0, with and without an interfering talker). Arguments after the options are Hydra overrides for 2-3.
set -euo pipefail
cd "$(dirname "$0")/../.."
STOP=4
source recipes/stages.sh
ROOT=${DNS4_ROOT:?set DNS4_ROOT=<folder with pdns_training_set/ and datasets_fullband/>}
RUN=${RUN_NAME:-upn_mu0.9}
RUN_DIR=logs/dns4_upn/runs/$RUN
EMBED_RUN=logs/speaker_embedder/runs/dns4_enrollment

if stage 1; then
  if [[ -z ${EMBEDDER:-} ]]; then
    ./recipes/speaker_embedder/run.sh --stage 1 --stop-stage 1
    EMBEDDER=$(pwd)/logs/speaker_embedder/runs/ecapa_small_ls100/embedder.pt
  fi
  echo "== stage 1: embeddings of the enrollment speakers (10 augmented variants each)"
  "$BIN/voipdns-train-speaker" run_name=dns4_enrollment train=false embedder_path="$EMBEDDER" \
    embed.enrollment_dir="$ROOT/pdns_training_set/enrollment_wav" \
    embed.noise_dir="$ROOT/datasets_fullband/noise_fullband" embed.max_noise_files=200
fi
if (( STAGE <= 3 && 2 <= STOP )); then
  EMBEDDINGS=$(cat "$EMBED_RUN/embedding_dir.txt")  # data/speaker_embeddings/<embedder hash>, from stage 1
  DATA=(data.train.clean_dir="$ROOT/pdns_training_set/raw/clean"
        data.train.enrollment_dir="$ROOT/pdns_training_set/enrollment_wav"
        data.train.noise_dir="$ROOT/datasets_fullband/noise_fullband" data.train.embedding_dir="$EMBEDDINGS")
fi

if stage 2; then
  echo "== stage 2: check data (one fast_dev_run batch)"
  "$BIN/voipdns-train" experiment=dns4_upn "${DATA[@]}" debug=fdr "$@"
fi
if stage 3; then
  echo "== stage 3: train UPN -> $RUN_DIR"
  "$BIN/voipdns-train" experiment=dns4_upn "${DATA[@]}" run_name="$RUN" "$@"
fi
if stage 4; then
  echo "== stage 4: per-condition report of the test stage -> $RUN_DIR/report"
  "$BIN/voipdns-report" upn="$RUN_DIR" -o "$RUN_DIR/report" --title "UPN on DNS-4 personalised (held-out speakers)"
fi
