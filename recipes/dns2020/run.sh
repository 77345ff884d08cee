#!/usr/bin/env bash
# Demucs from scratch on DNS-2020 (conf/experiment/dns2020_demucs.yaml: causal, hidden 64, 10 s segments, on-the-fly
# synthesis), evaluated on the official synthetic test set (no_reverb and with_reverb separately). Only Hydra
# overrides of the installed console scripts.
#   DNS_ROOT=/data/DNS-Challenge/datasets ./recipes/dns2020/run.sh trainer=ddp        # one node, all its GPUs
#   DNS_ROOT=... ./recipes/dns2020/run.sh --stage 2 trainer=ddp ckpt_path=last        # resume in place
#   multi-node SLURM: DNS_ROOT=... ./recipes/dns2020/run.sh --stage 2 -- -m +launcher=slurm trainer=ddp_multinode
# Stages: 1 check data (a fast_dev_run batch), 2 train, 3 evaluate (input and the best checkpoint), 4 report.
# DNS_ROOT holds clean/, noise/ and test_set/ (the DNS-Challenge "datasets" folder). Arguments after the options
# are Hydra overrides for stages 1-2.
set -euo pipefail
cd "$(dirname "$0")/../.."
STOP=4
source recipes/stages.sh
ROOT=${DNS_ROOT:?set DNS_ROOT=<DNS-Challenge datasets folder with clean/, noise/, test_set/>}
RUN=${RUN_NAME:-demucs_dns64}
RUN_DIR=logs/dns2020_demucs/runs/$RUN
DATA=(data.train.clean_dir="$ROOT/clean" data.train.noise_dir="$ROOT/noise" data.test.root="$ROOT/test_set")

if stage 1; then
  echo "== stage 1: check data (one fast_dev_run batch of train, val and test)"
  "$BIN/voipdns-train" experiment=dns2020_demucs "${DATA[@]}" debug=fdr "$@"
fi
if stage 2; then
  echo "== stage 2: train from scratch -> $RUN_DIR"
  "$BIN/voipdns-train" experiment=dns2020_demucs "${DATA[@]}" run_name="$RUN" "$@"
fi
if stage 3; then
  BEST=$(ls -t "$RUN_DIR"/checkpoints/best-*.ckpt | head -1)
  for spec in "input input" "demucs $BEST"; do
    read -r label checkpoint <<< "$spec"
    echo "== stage 3: evaluate $label on the synthetic test set (no_reverb, with_reverb)"
    "$BIN/voipdns-eval" data=dns2020 "${DATA[@]}" checkpoint="$checkpoint" ++label="$label" \
      hydra.run.dir="$RUN_DIR/eval/$label"
  done
fi
if stage 4; then
  echo "== stage 4: report -> $RUN_DIR/report"
  "$BIN/voipdns-report" "$RUN_DIR/eval/input" "$RUN_DIR/eval/demucs" -o "$RUN_DIR/report" \
    --metrics pesq_wb pesq_nb stoi si_sdr --title "Demucs (hidden 64) trained on DNS-2020"
fi
