#!/usr/bin/env bash
# Fine-tune the official GTCRN (DNS3) on simulated VoIP relays, compare it per condition with the relay, the
# un-tuned gtcrn_dns3, the same recipe from random weights and the RNNoise / DeepFilterNet3 baselines, and
# ship it. Only Hydra overrides of the installed console scripts; settings: conf/experiment/voipdns_gtcrn.yaml,
# data: conf/data/voip_relays.yaml (../shared/data). Times measured on 2 CPU cores: README.md here.
#   ./recipes/voipdns/gtcrn/run.sh                         # everything (about 4 h on 2 cores)
#   ./recipes/voipdns/gtcrn/run.sh --stage 5               # evaluation and report only
#   ./recipes/voipdns/gtcrn/run.sh --stage 2 --stop-stage 2 ckpt_path=last   # resume the fine-tuning
# Stages: 1 fast_dev_run, 2 fine-tune, 3 same budget from random weights, 4 lr / mu / TAP sweeps (shorter
# budget, SWEEP_TIME), 5 evaluate every model on the unseen test split, 6 Table I report, 7 bench_quality,
# 8 ship the fine-tuned weights as checkpoints/voipdns-gtcrn. Arguments after the options are Hydra overrides
# for stages 1-4.
set -euo pipefail
cd "$(dirname "$0")/../../.."
STOP=8
source recipes/stages.sh
# gtcrn_dns3 comes from the checkpoint cache; development machines hold the official file in ../shared
# one intra-op thread per training: GTCRN's many small ops run 6x slower with 2 threads on a busy 2-core machine
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export VOIPDNS_CHECKPOINT_DIR=${VOIPDNS_CHECKPOINT_DIR:-$(pwd)/../shared/pretrained/gtcrn}
SWEEP_TIME=${SWEEP_TIME:-00:00:05:00}
RUNS=logs/voipdns_gtcrn/runs
MAIN=$RUNS/${RUN_NAME:-gtcrn_main}
SCRATCH=$RUNS/gtcrn_scratch
SWEEPS=logs/voipdns_gtcrn/multiruns/sweeps
REPORT=$MAIN/report
best() { ls -t "$1"/checkpoints/best-*.ckpt | head -1; }

if stage 1; then
  echo "== stage 1: one batch of train/val/test (data, init_from gtcrn_dns3, loss)"
  nice "$BIN/voipdns-train" experiment=voipdns_gtcrn debug=fdr "$@"
fi
if stage 2; then
  echo "== stage 2: fine-tune gtcrn_dns3 on the relays -> $MAIN (60 min)"
  nice "$BIN/voipdns-train" experiment=voipdns_gtcrn run_name="$(basename "$MAIN")" test=false "$@"
fi
if stage 3; then
  echo "== stage 3: the same recipe from random weights (lr 1e-3, GTCRN's own) -> $SCRATCH"
  nice "$BIN/voipdns-train" experiment=voipdns_gtcrn model.init_from=null optim.lr=1e-3 run_name=gtcrn_scratch \
    test=false "$@"
fi
if stage 4; then
  echo "== stage 4: lr, mu and TAP sweeps from gtcrn_dns3, $SWEEP_TIME each -> $SWEEPS (one table)"
  SWEEP=(experiment=voipdns_gtcrn trainer.max_time="$SWEEP_TIME" trainer.val_check_interval=100 test=false)
  nice "$BIN/voipdns-train" +hparams_search=gtcrn_lr run_name=sweeps/lr "${SWEEP[@]}" "$@"
  nice "$BIN/voipdns-train" +hparams_search=gtcrn_mu run_name=sweeps/mu "${SWEEP[@]}" "$@"
  nice "$BIN/voipdns-train" -m loss=gtcrn_tap run_name=sweeps/tap "${SWEEP[@]}" "$@"
  "$BIN/voipdns-aggregate" "$SWEEPS" --title "GTCRN VoIP fine-tuning: lr, mu and TAP ($SWEEP_TIME each)"
fi
if stage 5; then
  MODELS=("relay input" "gtcrn_dns3 gtcrn_dns3" "finetuned $(best "$MAIN")" "scratch $(best "$SCRATCH")")
  if "$BIN/python" -c "import pyrnnoise, df" 2>/dev/null; then
    MODELS+=("rnnoise rnnoise" "deepfilternet3 deepfilternet3")
  fi
  for spec in "${MODELS[@]}"; do
    read -r label checkpoint <<< "$spec"
    echo "== stage 5: evaluate $label ($checkpoint) on the unseen test split, per condition"
    nice "$BIN/voipdns-eval" data=voip_relays checkpoint="$checkpoint" hydra.run.dir="$MAIN/eval/$label" \
      "metrics=[pesq_wb,pesq_nb,stoi,estoi,si_sdr]"
  done
fi
if stage 6; then
  echo "== stage 6: Table I report -> $REPORT"
  RUNS_ARGS=()
  for dir in "$MAIN"/eval/*/; do RUNS_ARGS+=("$(basename "$dir")=$dir"); done
  "$BIN/voipdns-report" "${RUNS_ARGS[@]}" -o "$REPORT" --metrics pesq_wb pesq_nb stoi estoi si_sdr \
    --models relay rnnoise deepfilternet3 gtcrn_dns3 scratch finetuned \
    --title "GTCRN fine-tuned on VoIP relays: unseen speakers and noise files"
fi
if stage 7; then
  echo "== stage 7: bench/bench_quality.py (relay, baselines, gtcrn_dns3, fine-tuned side by side)"
  nice "$BIN/python" bench/bench_quality.py --models input gtcrn_dns3 "$(best "$MAIN")" | tee "$MAIN/bench_quality.txt"
fi
if stage 8; then
  echo "== stage 8: ship $(best "$MAIN") as checkpoints/voipdns-gtcrn (net weights only, the official layout)"
  "$BIN/python" -m voipdns.tasks.init_weights "$(best "$MAIN")" checkpoints/voipdns-gtcrn/voipdns_gtcrn.pt
  echo "sha256 for checkpoints/registry.yaml (entry voipdns-gtcrn):"
  sha256sum checkpoints/voipdns-gtcrn/voipdns_gtcrn.pt
fi
