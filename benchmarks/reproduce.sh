#!/usr/bin/env bash
# Re-runs the catalogue (configs/) and prints the README's results tables from `expkit compare`.
#
#   benchmarks/reproduce.sh                  # everything: 103 runs, about an hour on 2 CPU cores
#                                            # (their own durations added up to 50 min here)
#   benchmarks/reproduce.sh mnist_cnn ...    # only these configs (file names without .yaml)
#   RUNS=/tmp/cat benchmarks/reproduce.sh    # another runs folder (default: runs/catalogue)
#
# Each config runs as a sweep into $RUNS/<sweep name>/, so a second call trains only the points
# not yet completed there (after a crash, or after a config changed). Seeds: the config's
# sweep.seeds, else the count given below (3 where a run takes seconds or a few minutes).
# Needs: apt-get install dataset-fashion-mnist bible-kjv (Fashion-MNIST and the King James text).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-runs/catalogue}
EXPKIT=${EXPKIT:-$(command -v expkit || echo .venv/bin/expkit)}

# config  seeds (- = the config's own sweep section decides)
CATALOGUE="
house_prices_linear 3
series_seq2seq -
toy2d_hidden_units -
mnist_softmax_regression 3
mnist_hidden_linear_vs_relu -
mnist_hidden_regularization -
mnist_optimizers -
mnist_initializers -
mnist_fast 3
mnist_old_vs_modern_net -
fashion_mnist_mlp -
mnist_cnn 3
mnist_deep_cnn 3
fashion_mnist_cnn -
fashion_mnist_rnn -
kjv_skipgram 1
"


while read -r config seeds; do
  [ -n "$config" ] || continue
  wanted_args=("$@")
  if [ ${#wanted_args[@]} -gt 0 ] && [[ " ${wanted_args[*]} " != *" $config "* ]]; then continue; fi
  extra=()
  [ "$seeds" = "-" ] || extra=(--seeds "$seeds")
  echo "== $config" >&2
  "$EXPKIT" sweep "configs/$config.yaml" --runs-dir "$RUNS" --name "$config" "${extra[@]}" >&2  # stdout: the tables
done <<< "$CATALOGUE"

COLUMNS=name,dataset.name,training.epochs,experiment.published.value,n
table() {  # title, metric column, folders: one markdown table over the runs that have the metric
  local title=$1 metric=$2; shift 2
  local COLUMNS=${TABLE_COLUMNS:-$COLUMNS}
  echo; echo "$title"
  "$EXPKIT" compare "$@" --filter "$metric>=0" --format markdown --columns "$COLUMNS,$metric,training_seconds" \
    || echo "(no run with $metric yet)"
}
shopt -s nullglob
main=(); for dir in "$RUNS"/*/; do [[ $dir == */toy2d_hidden_units/ ]] || main+=("${dir%/}"); done
cores="$(nproc) CPU cores"
table "Classification: test accuracy; training_seconds on $cores" test.accuracy "${main[@]}"
table "Regression: test RMSE; training_seconds on $cores" test.rmse "${main[@]}"
TABLE_COLUMNS=name,dataset.name,training.epochs,n table "Toy 2-D problems: test accuracy by hidden units; training_seconds on $cores" test.accuracy \
  "$RUNS/toy2d_hidden_units"
