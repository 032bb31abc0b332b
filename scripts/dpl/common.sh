#!/usr/bin/env bash
# Settings and helpers shared by the protocol scripts (sourced, never run on its own).
# Every setting is an environment variable with a default, so no script needs editing:
#   DATA BACKBONE SEEDS TRAINER CFG SEARCH_CFG FIXED LAYOUT OUTPUT PYTHON OPTS (see README "The protocols"),
#   plus CONFIG_ROOT (config folder), SHOTS / LOAD_EPOCH (base2new, xd) and XD_SOURCE (xd).
# OPTS is split on whitespace: values cannot contain spaces.
set -euo pipefail

# Relative DATA / OUTPUT / LAYOUT paths given by the user are relative to where they typed the command;
# the scripts themselves run from the repository root.
CALLER_PWD="$PWD"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"

die() {
    echo "ERROR: $*" >&2
    exit 2
}

# An absolute path for a user-given path (relative ones are taken from the caller's directory).
abs_from_caller() {
    case "$1" in
        /*) echo "$1" ;;
        *) echo "$CALLER_PWD/$1" ;;
    esac
}

if [[ -n "${DATA:-}" ]]; then DATA="$(abs_from_caller "$DATA")"; else DATA="$REPO_ROOT/data"; fi
if [[ -n "${OUTPUT:-}" ]]; then OUTPUT="$(abs_from_caller "$OUTPUT")"; else OUTPUT="$REPO_ROOT/output"; fi
BACKBONE="${BACKBONE:-ViT-B/16}"
SEEDS="${SEEDS:-1 2 3}"
TRAINER="${TRAINER:-DPL}"
# FIXED=1: DPL's two stages with our corrections of the official code's behaviours (the *_fixed configs), for the
# ablation "official vs fixed"; their folders carry the config names, so both sets of results coexist.
FIXED_SUFFIX=""
if [[ "${FIXED:-0}" == 1 ]]; then FIXED_SUFFIX="_fixed"; fi
SEARCH_CFG="${SEARCH_CFG:-search${FIXED_SUFFIX}}"
# Default interpreter: python, or python3 where only that exists.
PYTHON="${PYTHON:-$(command -v python > /dev/null && echo python || echo python3)}"
OPTS="${OPTS:-}"
# Folder holding datasets/ and trainers/ configs of your own; a config it lacks is taken from the repository's.
if [[ -n "${CONFIG_ROOT:-}" ]]; then CONFIG_ROOT="$(abs_from_caller "$CONFIG_ROOT")"; else CONFIG_ROOT="configs"; fi
# PYTHON may carry arguments ("python3 -u"); OPTS is a list of KEY VALUE pairs.
read -r -a PYTHON_CMD <<< "$PYTHON"
read -r -a OPTS_ARR <<< "$OPTS"
(( ${#OPTS_ARR[@]} % 2 == 0 )) || die "OPTS must hold KEY VALUE pairs, got an odd number of words: '$OPTS'"

# The published config of each trainer; PROTOCOL is fewshot | base2new | xd (PromptSRC and MaPLe
# have protocol-specific configs).
default_cfg() {
    local trainer="$1" protocol="$2"
    case "$trainer" in
        DPL) echo "vit_b16_ep40${FIXED_SUFFIX}" ;;
        DPLSearch) echo "$SEARCH_CFG" ;;
        ZeroshotCLIP) echo "vit_b16" ;;
        CoOp) echo "vit_b16_ep50" ;;
        CoCoOp) echo "vit_b16_c4_ep10_batch1_ctxv1" ;;
        IVLP) echo "vit_b16_c2_ep5_batch4_2+2ctx" ;;
        VPT) echo "vit_b16_c2_ep5_batch4_4" ;;
        MaPLe)
            case "$protocol" in
                xd) echo "vit_b16_c2_ep5_batch4_2ctx_cross_datasets" ;;
                *) echo "vit_b16_c2_ep5_batch4_2ctx" ;;
            esac ;;
        PromptSRC)
            case "$protocol" in
                base2new) echo "vit_b16_c2_ep20_batch4_4+4ctx" ;;
                xd) echo "vit_b16_c2_ep20_batch4_4+4ctx_cross_datasets" ;;
                *) echo "vit_b16_c2_ep50_batch4_4+4ctx_few_shot" ;;
            esac ;;
        *) die "unknown TRAINER '$trainer' (expected one of: ZeroshotCLIP CoOp CoCoOp IVLP VPT MaPLe PromptSRC DPL)" ;;
    esac
}

# Trainers that can take a prompt layout; ZeroshotCLIP learns nothing.
takes_layout() { [[ "$1" != "ZeroshotCLIP" ]]; }

# The backbone as a folder-name fragment: ViT-B/16 -> vit_b16, ViT-L/14@336px -> vit_l14_336px,
# tiny-random -> tiny_random.
backbone_tag() {
    printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | sed -e 's#/##g' -e 's/[^a-z0-9]/_/g'
}

# A config name as run-folder name for the backbone actually used: the shipped configs are written for ViT-B/16
# (vit_b16_*), so that prefix becomes the backbone's tag; other names get the tag appended (none for ViT-B/16).
# A tiny-random smoke run never lands in a vit_b16_* folder.
run_name() {
    local cfg="$1" tag
    tag="$(backbone_tag "$BACKBONE")"
    case "$cfg" in
        vit_b16*) echo "${tag}${cfg#vit_b16}" ;;
        *) if [[ "$tag" == "vit_b16" ]]; then echo "$cfg"; else echo "${cfg}_${tag}"; fi ;;
    esac
}

# Resolve CFG, LAYOUT and the run-dir names for the current TRAINER. Sets CFG_NAME, RUN_NAME and SEARCH_NAME (the
# folder names of the trainer's and the search's runs), LAYOUT_MODE (searched | none | spec), LAYOUT_SPEC (the
# TRAINER.LAYOUT value for spec) and LAYOUT_TAG.
resolve_settings() {
    local protocol="$1"
    CFG_NAME="${CFG:-$(default_cfg "$TRAINER" "$protocol")}"
    RUN_NAME="$(run_name "$CFG_NAME")"
    SEARCH_NAME="$(run_name "$SEARCH_CFG")"
    local layout="${LAYOUT:-}"
    if [[ -z "$layout" ]]; then
        case "$TRAINER" in
            ZeroshotCLIP | CoOp | CoCoOp) layout="none" ;;  # input-level baselines: their published design
            *) layout="searched" ;;
        esac
    fi
    LAYOUT_SPEC=""
    if ! takes_layout "$TRAINER"; then
        [[ "$layout" == "none" ]] || echo "note: $TRAINER takes no prompt layout; LAYOUT=$layout ignored"
        LAYOUT_MODE="none"
        LAYOUT_TAG=""
        return
    fi
    case "$layout" in
        searched) LAYOUT_MODE="searched"; LAYOUT_TAG="" ;;
        none)
            [[ "$TRAINER" != "DPL" ]] || die "TRAINER=DPL needs a prompt layout: LAYOUT=searched (default), uniform:K[:DEPTH], random:SEED, zero or a layout file"
            LAYOUT_MODE="none"; LAYOUT_TAG="_nolayout" ;;
        uniform:* | random:* | zero)
            LAYOUT_MODE="spec"; LAYOUT_SPEC="$layout"; LAYOUT_TAG="_$(sanitize "$layout")" ;;
        *)
            local path
            path="$(abs_from_caller "$layout")"
            [[ -f "$path" ]] || die "LAYOUT='$layout': no such layout file ($path); expected searched, none, uniform:K[:DEPTH], random:SEED, zero or a layout JSON file"
            LAYOUT_MODE="spec"; LAYOUT_SPEC="$path"; LAYOUT_TAG="_$(sanitize "$layout")" ;;
    esac
}

# A layout spec or path as a folder-name fragment: uniform:2:9 -> uniform-2-9.
sanitize() {
    local s
    s="$(printf '%s' "$1" | sed -e 's/[^A-Za-z0-9._-]/-/g' -e 's/^[-.]*//')"
    echo "${s%.json}"
}

# A config file: CONFIG_ROOT/<rel>, else the shipped configs/<rel> (a CONFIG_ROOT of your own need only hold
# what you add, e.g. datasets/mine.yaml). Prints nothing when neither exists.
find_config() {
    local f
    for f in "$CONFIG_ROOT/$1" "configs/$1"; do
        [[ -f "$f" ]] && { echo "$f"; return; }
    done
    return 0
}

# The files a config folder offers (both roots), for error messages.
available_configs() {
    ls "$CONFIG_ROOT/$1" "configs/$1" 2>/dev/null | grep '\.yaml$' | sed 's/\.yaml$//' | sort -u | tr '\n' ' '
}

dataset_config() {
    local f
    f="$(find_config "datasets/$1.yaml")"
    [[ -n "$f" ]] || die "no dataset config '$CONFIG_ROOT/datasets/$1.yaml' for DATASET '$1' (available: $(available_configs datasets))"
    echo "$f"
}

trainer_config() {
    local f
    f="$(find_config "trainers/$1/$2.yaml")"
    [[ -n "$f" ]] || die "no trainer config '$CONFIG_ROOT/trainers/$1/$2.yaml' (TRAINER=$1, CFG=$2; available: $(available_configs "trainers/$1"))"
    echo "$f"
}

# The search config lives under trainers/DPLSearch/ or with DPL's configs.
search_config() {
    local f
    for f in "trainers/DPLSearch/$SEARCH_CFG.yaml" "trainers/DPL/$SEARCH_CFG.yaml"; do
        f="$(find_config "$f")"
        [[ -n "$f" ]] && { echo "$f"; return; }
    done
    die "no search config '$SEARCH_CFG.yaml' under $CONFIG_ROOT/trainers/DPLSearch/ or $CONFIG_ROOT/trainers/DPL/ (SEARCH_CFG=$SEARCH_CFG)"
}

# The epoch a finished training run saved last: LOAD_EPOCH, else OPTIM.MAX_EPOCH from OPTS, else the yaml's.
max_epoch() {
    local cfg_file="$1" i
    if [[ -n "${LOAD_EPOCH:-}" ]]; then echo "$LOAD_EPOCH"; return; fi
    for ((i = 0; i < ${#OPTS_ARR[@]}; i += 2)); do
        [[ "${OPTS_ARR[i]}" == "OPTIM.MAX_EPOCH" ]] && { echo "${OPTS_ARR[i + 1]}"; return; }
    done
    local e
    e="$(grep -E '^[[:space:]]+MAX_EPOCH:' "$cfg_file" | head -n 1 | sed -E 's/.*MAX_EPOCH:[[:space:]]*([0-9]+).*/\1/')"
    [[ "$e" =~ ^[0-9]+$ ]] || die "cannot read OPTIM.MAX_EPOCH from '$cfg_file'; set LOAD_EPOCH"
    echo "$e"
}

# train_args ARGS...: PY_ARGS, the train.py arguments of a run: the shared ones, the run's ARGS, then OPTS (last, so
# the user's pairs win).
train_args() {
    PY_ARGS=(--root "$DATA" --backbone "$BACKBONE" "$@" "${OPTS_ARR[@]}")
}

# NPROC=N (N > 1): every run data-parallel over N processes on this machine (torchrun; one GPU each with CUDA).
NPROC="${NPROC:-1}"
[[ "$NPROC" =~ ^[1-9][0-9]*$ ]] || die "NPROC must be a number of processes (1 or more), got '$NPROC'"

train_py() {
    train_args "$@"
    if (( NPROC > 1 )); then
        "${PYTHON_CMD[@]}" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" train.py "${PY_ARGS[@]}"
    else
        "${PYTHON_CMD[@]}" train.py "${PY_ARGS[@]}"
    fi
}

# finished_run OUT_DIR MARKER ARGS...: true when OUT_DIR holds a finished run (MARKER present) of exactly the
# configuration ARGS give (its recorded fingerprint matches; dpl/run_identity.py); false when it holds none (the
# step runs, an interrupted one resumes). Stops the script when OUT_DIR holds another configuration's run, so a
# stale result is never reported and never overwritten.
finished_run() {
    local out="$1" marker="$2"
    shift 2
    [[ -f "$out/$marker" ]] || return 1
    train_args --output-dir "$out" "$@"
    local rc=0
    "${PYTHON_CMD[@]}" -m dpl.run_identity check "${PY_ARGS[@]}" || rc=$?
    case "$rc" in
        0) return 0 ;;
        1) return 1 ;;
        *) die "$out holds a run of another configuration (see above); nothing was run or overwritten" ;;
    esac
}

# run_train OUT_DIR ARGS...: one train/eval run, skipped when finished with the same configuration;
# an interrupted run resumes by itself from the checkpoints in OUT_DIR.
run_train() {
    local out="$1"
    shift
    if finished_run "$out" results.json "$@"; then
        echo "skip: $out is finished (results.json of the same configuration)"
        return
    fi
    echo ">> run: $out"
    train_py --output-dir "$out" "$@"
}

# search_run_args ARGS...: RUN_ARGS, the arguments of a DPLSearch run.
search_run_args() {
    RUN_ARGS=(--trainer DPLSearch --config-file "$(search_config)" "$@")
}

# run_search OUT_DIR ARGS...: one DPLSearch run, skipped when its layout.json is of the same configuration.
run_search() {
    local out="$1"
    shift
    search_run_args "$@"
    local args=("${RUN_ARGS[@]}")
    if finished_run "$out" layout.json "${args[@]}"; then
        echo "skip: $out is finished (layout.json of the same configuration)"
        return
    fi
    echo ">> search: $out"
    train_py --output-dir "$out" "${args[@]}"
    [[ -f "$out/layout.json" ]] || die "the search in $out finished without writing layout.json"
}

# Sets LAYOUT_ARGS, the TRAINER.LAYOUT pair of a run (empty without a layout), given the search dir of its
# seed (used when LAYOUT=searched). An array, so paths with spaces survive.
set_layout_args() {
    local search_dir="$1"
    LAYOUT_ARGS=()
    case "$LAYOUT_MODE" in
        searched) LAYOUT_ARGS=(TRAINER.LAYOUT "$search_dir/layout.json") ;;
        spec) LAYOUT_ARGS=(TRAINER.LAYOUT "$LAYOUT_SPEC") ;;
    esac
}

# train_run_args SEARCH_DIR ARGS...: RUN_ARGS, the arguments of TRAINER's run on its layout (the searched one in
# SEARCH_DIR when LAYOUT=searched; ZeroshotCLIP: evaluation only). Needs resolve_settings and TRAINER_CFG.
train_run_args() {
    set_layout_args "$1"
    shift
    if [[ "$TRAINER" == "ZeroshotCLIP" ]]; then
        RUN_ARGS=(--trainer "$TRAINER" --config-file "$TRAINER_CFG" --eval-only "$@")
    else
        RUN_ARGS=(--trainer "$TRAINER" --config-file "$TRAINER_CFG" "$@" "${LAYOUT_ARGS[@]}")
    fi
}

# train_on_layout SEARCH_DIR TRAIN_DIR ARGS...: TRAINER on its layout (see train_run_args).
train_on_layout() {
    local train_dir="$2"
    train_run_args "$1" "${@:3}"
    run_train "$train_dir" "${RUN_ARGS[@]}"
}

# search_then_train SEARCH_DIR TRAIN_DIR ARGS...: the search (when LAYOUT=searched), then TRAINER on its layout.
# ARGS are the flags, then the KEY VALUE pairs, shared by both runs.
search_then_train() {
    if [[ "$LAYOUT_MODE" == "searched" ]]; then
        run_search "$1" "${@:3}"
    fi
    train_on_layout "$@"
}

# test_run_args SEARCH_DIR TRAIN_DIR ARGS...: RUN_ARGS, the arguments of the evaluation of the model trained in
# TRAIN_DIR (its last epoch, or LOAD_EPOCH); ZeroshotCLIP evaluates itself.
test_run_args() {
    local search_dir="$1" train_dir="$2"
    shift 2
    set_layout_args "$search_dir"
    if [[ "$TRAINER" == "ZeroshotCLIP" ]]; then
        RUN_ARGS=(--trainer "$TRAINER" --config-file "$TRAINER_CFG" --eval-only "$@")
        return
    fi
    local epoch
    epoch="$(max_epoch "$TRAINER_CFG")"
    RUN_ARGS=(--trainer "$TRAINER" --config-file "$TRAINER_CFG" --eval-only --model-dir "$train_dir" \
              --load-epoch "$epoch" "$@" "${LAYOUT_ARGS[@]}")
}

# test_trained SEARCH_DIR TRAIN_DIR TEST_DIR TRAIN_COMMAND ARGS...: evaluate the model that search_then_train left
# in TRAIN_DIR into TEST_DIR (see test_run_args); TRAIN_COMMAND is named when that model is missing.
test_trained() {
    local search_dir="$1" train_dir="$2" test_dir="$3" train_command="$4"
    shift 4
    if [[ "$TRAINER" != "ZeroshotCLIP" ]]; then
        [[ -d "$train_dir" ]] || die "no trained model in $train_dir; run $train_command first"
        [[ "$LAYOUT_MODE" != "searched" || -f "$search_dir/layout.json" ]] || \
            die "no searched layout $search_dir/layout.json; run $train_command first"
    fi
    test_run_args "$search_dir" "$train_dir" "$@"
    run_train "$test_dir" "${RUN_ARGS[@]}"
}

parse_res() {
    "${PYTHON_CMD[@]}" parse_test_res.py "$@"
}

# protocol_paths PROTOCOL DATASET SHOTS SEED: everything one seed of a protocol needs, for the protocol scripts and
# step.sh alike (one source of truth for folders and arguments). Sets (after resolve_settings) TRAINER_CFG,
# SEARCH_DIR, TRAIN_DIR, TEST_DIR (empty for fewshot: its train run tests), TRAIN_ARGS (flags, then KEY VALUE
# pairs of the search and train runs) and TEST_ARGS.
protocol_paths() {
    local protocol="$1" dataset="$2" shots="$3" seed="$4" source_cfg
    SHOTS="$shots"
    resolve_settings "$protocol"
    TRAINER_CFG="$(trainer_config "$TRAINER" "$CFG_NAME")"
    case "$protocol" in
        fewshot)
            SEARCH_DIR="$(fewshot_search_dir "$dataset" "$shots")/seed$seed"
            TRAIN_DIR="$(fewshot_exp_dir "$dataset" "$shots")/seed$seed"
            TEST_DIR=""
            TRAIN_ARGS=(--seed "$seed" --dataset-config-file "$(dataset_config "$dataset")" DATASET.NUM_SHOTS "$shots")
            TEST_ARGS=() ;;
        base2new)
            local cfg
            cfg="$(dataset_config "$dataset")"
            SEARCH_DIR="$(base2new_dir search_base "$dataset" DPLSearch "$SEARCH_NAME" "$seed")"
            TRAIN_DIR="$(base2new_dir train_base "$dataset" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$seed")"
            TEST_DIR="$(base2new_dir test_new "$dataset" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$seed")"
            TRAIN_ARGS=(--seed "$seed" --dataset-config-file "$cfg" DATASET.NUM_SHOTS "$shots"
                        DATASET.SUBSAMPLE_CLASSES base)
            TEST_ARGS=(--seed "$seed" --dataset-config-file "$cfg" DATASET.NUM_SHOTS "$shots"
                       DATASET.SUBSAMPLE_CLASSES new) ;;
        xd)
            source_cfg="$(dataset_config "$XD_SOURCE")"
            SEARCH_DIR="$(xd_dir search "$XD_SOURCE" DPLSearch "$SEARCH_NAME" "$seed")"
            TRAIN_DIR="$(xd_dir train "$XD_SOURCE" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$seed")"
            TEST_DIR="$(xd_dir test "$dataset" "$TRAINER" "$RUN_NAME$LAYOUT_TAG" "$seed")"
            TRAIN_ARGS=(--seed "$seed" --dataset-config-file "$source_cfg" DATASET.NUM_SHOTS "$shots")
            TEST_ARGS=(--seed "$seed" --dataset-config-file "$(dataset_config "$dataset")") ;;
        *) die "unknown protocol '$protocol' (expected fewshot, base2new or xd)" ;;
    esac
}

# Few-shot experiment folders (hold seed*/): the search's and the trainer's (after resolve_settings).
fewshot_search_dir() { echo "$OUTPUT/$1/DPLSearch/${SEARCH_NAME}_$2shots"; }
fewshot_exp_dir() { echo "$OUTPUT/$1/$TRAINER/${RUN_NAME}_$2shots${LAYOUT_TAG}"; }

# Base-to-new experiment folders: ROOT/base2new/<split>/<dataset>/shots_K/<trainer>/<cfg>/seed<S>.
base2new_dir() { echo "$OUTPUT/base2new/$1/$2/shots_${SHOTS}/$3/$4/seed$5"; }

# Cross-dataset folders: ROOT/xd/<stage>/<dataset>/shots_K/<trainer>/<cfg>/seed<S>; the source dataset is
# XD_SOURCE (default imagenet).
XD_SOURCE="${XD_SOURCE:-imagenet}"
xd_dir() { echo "$OUTPUT/xd/$1/$2/shots_${SHOTS}/$3/$4/seed$5"; }
