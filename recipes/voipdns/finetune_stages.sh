# Stages 1-4 shared by recipes/voipdns/{demucs,fullsubnet}/run.sh (sourced from the project root after they set
# COMMON, TRAIN, INIT, RUN_DIR, EVAL_DATA, NICE and TITLE; the remaining arguments are Hydra overrides).
if stage 1; then
  echo "== stage 1: check data, init_from and the TAP estimator (one fast_dev_run batch)"
  $NICE "$BIN/voipdns-train" "${COMMON[@]}" "${TRAIN[@]}" debug=fdr "$@"
fi

if stage 2; then
  echo "== stage 2: fine-tune -> $RUN_DIR"
  $NICE "$BIN/voipdns-train" "${COMMON[@]}" "${TRAIN[@]}" "$@"
fi

if stage 3; then
  BEST=$(ls -t "$RUN_DIR"/checkpoints/best-*.ckpt | head -1)
  for spec in "relay input" "pretrained $INIT" "finetuned $BEST"; do
    read -r label checkpoint <<< "$spec"
    echo "== stage 3: evaluate $label ($checkpoint) on the test split, per condition"
    $NICE "$BIN/voipdns-eval" data=voipdns "${EVAL_DATA[@]}" checkpoint="$checkpoint" ++label="$label" \
      hydra.run.dir="$RUN_DIR/eval/$label"
  done
fi

if stage 4; then
  echo "== stage 4: Table I-style report -> $RUN_DIR/report"
  "$BIN/voipdns-report" "$RUN_DIR/eval/relay" "$RUN_DIR/eval/pretrained" "$RUN_DIR/eval/finetuned" \
    -o "$RUN_DIR/report" --models input pretrained finetuned \
    --title "$TITLE"
fi
