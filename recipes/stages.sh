# Shared by the recipes' run.sh (sourced from the project root after setting STOP, the last stage):
# parses --stage N / --stop-stage M off the arguments (the rest stay Hydra overrides) and defines stage().
STAGE=1
while [[ $# -gt 0 && $1 == --* ]]; do
  case $1 in
    --stage) STAGE=$2; shift 2 ;;
    --stop-stage) STOP=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "unknown option $1 (--stage N, --stop-stage N)" >&2; exit 2 ;;
  esac
done
BIN=${BIN:-.venv/bin}
stage() { (( STAGE <= $1 && $1 <= STOP )); }
