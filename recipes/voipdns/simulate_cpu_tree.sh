# Stage 1a of recipes/voipdns/{demucs,fullsubnet}/run.sh with CPU=1 (sourced from the project root; uses ROOT,
# SHARED, BIN, NICE): a small simulated VoIP-DNS tree from ../shared/data (resumable: finished files are skipped).
echo "== stage 1a: simulated VoIP-DNS tree in $ROOT (train: 24 LibriSpeech files x 4 s; test: 6 VoiceBank pairs)"
$NICE "$BIN/voipdns-simulate" dataset_dir="$ROOT" split=train run_name=voipdns_cpu_train \
  source.clean_dir="$SHARED/speech/librispeech-train-clean-100" source.noise_dir="$SHARED/noise/household" \
  source.segment_seconds=4 source.max_files=24 \
  "conditions=[gm_cloud_low,gm_phone_low,zm_cloud_low,zm_phone_low]" normalised=false workers=1
$NICE "$BIN/voipdns-simulate" dataset_dir="$ROOT" split=test run_name=voipdns_cpu_test \
  source.clean_dir="$SHARED/pairs/voicebank-demand-debug/clean" \
  source.noisy_dir="$SHARED/pairs/voicebank-demand-debug/noisy" source.pair_by=name \
  "conditions=[gm_cloud_low,gm_phone_low,zm_cloud_low,zm_phone_low]" normalised=false workers=1
