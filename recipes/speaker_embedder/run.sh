#!/usr/bin/env bash
# Speaker embedder for PPN / UPN: a small ECAPA-TDNN + AAM-softmax on LibriSpeech speakers (held-out EER), then
# (stage 2, when ENROLLMENT_DIR is set) one cached mean embedding per enrollment speaker for
# data.train.embedding_dir. Only Hydra overrides: the logic is voipdns-train-speaker (conf/speaker_embedder.yaml).
#   ./recipes/speaker_embedder/run.sh                        # stages 1-2
#   ./recipes/speaker_embedder/run.sh --stage 2              # embed only (reuses stage 1's embedder.pt)
#   ENROLLMENT_DIR=/DNS4/pdns_training_set/enrollment_wav ./recipes/speaker_embedder/run.sh
# Extra arguments after the options are Hydra overrides for every stage, e.g. trainer.max_time=00:01:00:00
set -euo pipefail
cd "$(dirname "$0")/../.."
STOP=2
source recipes/stages.sh
SHARED=${SHARED_DATA:-$(pwd)/../shared/data}
SPEECH=${SPEECH_DIR:-$SHARED/speech/librispeech-train-clean-100}
RUN=${RUN_NAME:-ecapa_small_ls100}
RUN_DIR=logs/speaker_embedder/runs/$RUN
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # the reference run used one CPU thread

if stage 1; then
  echo "== stage 1: train the embedder, held-out EER -> $RUN_DIR/results.json"
  nice "$BIN/voipdns-train-speaker" run_name="$RUN" data.directory="$SPEECH" "$@"
fi

if stage 2; then
  if [[ -z ${ENROLLMENT_DIR:-} ]]; then
    echo "== stage 2 skipped: set ENROLLMENT_DIR=<enrollment speech> to cache per-speaker embeddings"
  else
    echo "== stage 2: embed enrollment speakers of $ENROLLMENT_DIR (10 augmented variants each)"
    nice "$BIN/voipdns-train-speaker" run_name="${RUN}_embed" train=false \
      embedder_path="$(pwd)/$RUN_DIR/embedder.pt" embed.enrollment_dir="$ENROLLMENT_DIR" \
      embed.noise_dir="${ENROLLMENT_NOISE_DIR:-$SHARED/noise/household}" "$@"
    echo "embedding_dir: $(cat "logs/speaker_embedder/runs/${RUN}_embed/embedding_dir.txt")"
  fi
fi
