#!/usr/bin/env bash
# Fine-tune the DNS-2020 Demucs on VoIP-DNS relays with TAPLoss, evaluate per condition against the unprocessed
# relay and the un-fine-tuned model, and write the Table I-style report. Only Hydra overrides of the installed
# console scripts; the settings are conf/experiment/voipdns_demucs_tap.yaml (CPU: conf/experiment/ here).
#   DATA_ROOT=/data/VoIP-DNS ./recipes/voipdns/demucs/run.sh      # real data, official dns48 (INIT_FROM=dns64 ...)
#   CPU=1 ./recipes/voipdns/demucs/run.sh                          # simulated tree from ../shared/data, stand-in init
#   ./recipes/voipdns/demucs/run.sh --stage 2 --stop-stage 2 ckpt_path=last   # resume an interrupted training
# Stages: 1 check data (CPU=1: simulate the tree and train the stand-in checkpoint first; then a fast_dev_run
# that loads data, init_from and the TAP estimator), 2 train, 3 evaluate, 4 report. Arguments after the
# options are Hydra overrides for stages 1-2 (e.g. trainer=gpu data.batch_size=32).
set -euo pipefail
cd "$(dirname "$0")/../../.."
STOP=4
source recipes/stages.sh
RUN=${RUN_NAME:-demucs_tap}

if [[ ${CPU:-0} == 1 ]]; then
  SHARED=${SHARED_DATA:-$(pwd)/../shared/data}
  ROOT=data/voipdns_cpu
  INIT=$ROOT/standin_dns_demucs.th
  TASK=voipdns_cpu
  COMMON=("hydra.searchpath=[file://$(pwd)/recipes/voipdns/demucs/conf]")
  TRAIN=(experiment=voipdns_demucs_tap_cpu)
  EVAL_DATA=(data.train.root="$(pwd)/$ROOT" "data.train.settings=[low]" data.num_workers=0
             ++data.train.align=false ++data.val.align=false ++data.test.align=false)
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  NICE=nice
else
  ROOT=${DATA_ROOT:?set DATA_ROOT=<VoIP-DNS root with train/ and test/> or CPU=1}
  INIT=${INIT_FROM:-dns48}
  TASK=voipdns_demucs_tap
  COMMON=()
  TRAIN=(experiment=voipdns_demucs_tap data.train.root="$ROOT")
  EVAL_DATA=(data.train.root="$ROOT")
  NICE=
fi
TRAIN+=(model.init_from="$INIT" run_name="$RUN")
RUN_DIR=logs/$TASK/runs/$RUN

if stage 1 && [[ ${CPU:-0} == 1 ]]; then
  source recipes/voipdns/simulate_cpu_tree.sh
  if [[ ! -f $INIT ]]; then
    echo "== stage 1b: stand-in for dns48 (no download here): small Demucs on LibriSpeech + noise, no VoIP"
    $NICE "$BIN/voipdns-train" "${COMMON[@]}" experiment=standin_dns_demucs run_name=standin_demucs test=false
    BEST=$(ls -t logs/voipdns_cpu/runs/standin_demucs/checkpoints/best-*.ckpt | head -1)
    "$BIN/python" -m voipdns.tasks.init_weights "$BEST" "$INIT"   # the official dns48 file layout
  fi
fi

TITLE="Demucs fine-tuned with TAPLoss on VoIP-DNS (per condition)"
source recipes/voipdns/finetune_stages.sh
