#!/usr/bin/env bash
# The demo's case loop (issue 14), run by `make demo` after the sample day of readings:
# the people of the loop (cim ops user add) move the cases the sensors opened through the
# states, so the map and /collections/cases show cases in several states:
#   燃气设施异常 (the gas leak of GAS-001)   派遣 → 处置 → 核查 (pass) → 结案
#   供水设施异常 (the pressure drop at WP-001) 派遣 → 处置
#   监测设备离线 (LV-003 went silent)          派遣
#   桥梁结构异常 (the heavy load on the bridge) 立案 (left for the 派遣员)
#   a 12345 call (市民热线) about a road       上报 (waits for the 受理员)
# Times are the sample day's (2026-06-15, +08:00). Safe to run again: a case already past a
# step is left where it is, existing users are kept, the hotline case is reported once.
set -euo pipefail
CIM=${CIM:-.venv/bin/cim}
PY=${PY:-.venv/bin/python}
DAY=2026-06-15

# a file of this run's own: a fixed /tmp name was another user's (or another checkout's) on a
# shared machine, not writable, and its old "exists" message passed a failed add as done
ERR=$(mktemp "${TMPDIR:-/tmp}/cim-demo-user.XXXXXX")
trap 'rm -f "$ERR"' EXIT
# CIM_DEMO_TOKENS (`make demo`: .cim/demo-tokens.txt): where the users' tokens, printed once
# by `cim ops user add`, are kept (owner-only) for the case loop over HTTP (Authorization:
# Bearer TOKEN on POST /cases…); unset, they are not kept
TOKENS=${CIM_DEMO_TOKENS:-}
user() {  # NAME ROLE [UNIT]: add the user unless it exists
  local token
  if token=$("$CIM" ops user add "$1" --role "$2" ${3:+--unit "$3"} 2> "$ERR"); then
    [ -z "$TOKENS" ] || (umask 077; printf '%s\t%s\t%s\n' "$1" "$2" "$token" >> "$TOKENS")
  else
    grep -qiE "exist|already|duplicate" "$ERR" || { cat "$ERR" >&2; exit 1; }
  fi
}

# code, state and unit of the current case of a category opened by the sensors (传感告警)
case_of() {
  "$CIM" case list --json --limit 1000 | "$PY" -c '
import json, sys
rows = [c for c in json.load(sys.stdin) if c["category_code"] == sys.argv[1] and c["source"] == "传感告警"]
rows.sort(key=lambda c: c["reported_at"])
print(" ".join([rows[0]["code"], rows[0]["state"], rows[0]["unit"] or ""]) if rows else "")' "$1"
}

# step CODE STATE ACTION FROM_STATE USER AT [options]: make ACTION when the case is in FROM_STATE
step() {
  local code=$1 now=$2 action=$3 from=$4 who=$5 at=$6; shift 6
  if [ "$now" = "$from" ]; then
    "$CIM" case "$action" "$code" --user "$who" --at "$DAY"T"$at"+08:00 "$@" > /dev/null
  fi
}

user 受理员-张 受理员
user 派遣员-李 派遣员
user 核查员-王 核查员
user 监督员-赵 监督员

read -r gas gas_state gas_unit <<< "$(case_of 0102)"
if [ -n "$gas" ]; then
  user "处置-$gas_unit" 处置单位 "$gas_unit"
  step "$gas" "$gas_state" dispatch 立案 派遣员-李 10:05 --note "燃气泄漏告警，派燃气抢修" ; gas_state=$([ "$gas_state" = 立案 ] && echo 派遣 || echo "$gas_state")
  step "$gas" "$gas_state" handle 派遣 "处置-$gas_unit" 11:40 --note "关阀，更换阀门井内泄漏法兰垫片" ; gas_state=$([ "$gas_state" = 派遣 ] && echo 处置 || echo "$gas_state")
  step "$gas" "$gas_state" verify 处置 核查员-王 12:30 --result pass --note "复测 0-1 %LEL，已恢复" ; gas_state=$([ "$gas_state" = 处置 ] && echo 核查 || echo "$gas_state")
  step "$gas" "$gas_state" close 核查 受理员-张 13:00 --note "结案"
fi

read -r water water_state water_unit <<< "$(case_of 0103)"
if [ -n "$water" ]; then
  user "处置-$water_unit" 处置单位 "$water_unit"
  step "$water" "$water_state" dispatch 立案 派遣员-李 14:30 --note "管网压力骤降，疑似爆管" ; water_state=$([ "$water_state" = 立案 ] && echo 派遣 || echo "$water_state")
  step "$water" "$water_state" handle 派遣 "处置-$water_unit" 16:10 --note "抢修完成，压力恢复"
fi

read -r gap gap_state _ <<< "$(case_of 0107)"
if [ -n "$gap" ]; then
  step "$gap" "$gap_state" dispatch 立案 派遣员-李 23:59 --note "液位计离线，派运维检查"
fi

if ! "$CIM" case list --json --limit 1000 | grep -q '"市民热线"'; then
  "$CIM" case report-problem --source 市民热线 --category 0202 --address 湖滨东路 \
    --description "路面破损" --at "$DAY"T17:20:00+08:00 --user 受理员-张 > /dev/null
fi
"$CIM" case list
