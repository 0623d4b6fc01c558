#!/usr/bin/env bash
# The sharing walk-through of docs/walkthrough-sharing.md, end to end against a fresh store:
# a division asks for restricted fields, the Office narrows and approves, an order is issued,
# the platform's first check is allowed and its second refused as consumed, and a municipal
# government's request is refused citing 第二十三条. Needs curl and python3.
#   bash examples/walkthrough-sharing.sh            (serves on CIVIC_LEDGER_PORT, default 8000)
set -euo pipefail
export CIVIC_LEDGER_DATABASE_URL=${CIVIC_LEDGER_DATABASE_URL:-sqlite:///$(mktemp -d)/walkthrough-sharing.sqlite3}
PORT=${CIVIC_LEDGER_PORT:-8000}
CL=${CIVIC_LEDGER_CLI:-civic-ledger}
API=http://127.0.0.1:$PORT

# 0. A store, a server and the people involved
HDRS=$(mktemp)
OFFICE=$($CL init | tail -1)                       # the Office admin's token
$CL serve --port "$PORT" >/dev/null 2>&1 & SERVER=$!
trap 'kill $SERVER; rm -f "$HDRS"' EXIT
for _ in $(seq 100); do curl -sf "$API/health" >/dev/null && break; sleep 0.1; done
H() { echo "Authorization: Bearer $1"; }
JSON='content-type: application/json'
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
say() { printf '\n== %s\n' "$*"; }
# Each write answers with X-Ledger-Position; a read sent with X-Min-Position waits until the read
# models have reached it, so the script reads its own writes without sleeping.
W() { curl -s -D "$HDRS" "$@"; }
SEEN() { echo "X-Min-Position: $(tr -d '\r' <"$HDRS" | awk -F': ' 'tolower($1) == "x-ledger-position" {print $2}')"; }

for org in '"code":"div-relief","name":"社会救助处"' '"code":"div-elder","name":"养老服务处"'; do
  curl -sf -H "$(H "$OFFICE")" -H "$JSON" "$API/organizations" \
    -d "{$org,\"kind\":\"division\",\"level\":\"province\",\"parent\":\"office\"}" >/dev/null
done
COMPILER=$($CL token create --org div-relief --person 王敏 --role catalog_compiler | tail -1)
REVIEWER=$($CL token create --org div-relief --person 李强 --role catalog_reviewer | tail -1)
REQUESTER=$($CL token create --org div-elder --person 周敏 --role requester | tail -1)
PLATFORM=$($CL token create --org office --person 交换平台 --role platform | tail -1)

say "1. 社会救助处 compiles a restricted entry; its reviewer passes the three checks; the Office publishes it"
ENTRY=$(curl -sf -H "$(H "$COMPILER")" -H "$JSON" "$API/catalog/entries" -d '{"resource_code": "SX-MZ-DB",
  "content": {"name": "城乡最低生活保障对象信息", "summary": "全省城乡低保对象基本信息", "category": "社会救助",
    "format": "结构化数据", "share_class": "restricted", "share_conditions": "仅限民政业务核对",
    "open_class": "closed", "delivery_methods": ["interface"], "update_cycle": "monthly",
    "source_system": "低保信息系统",
    "data_items": [{"code": "DB_ID", "name": "身份证号", "type": "string", "sensitivity": "sensitive"},
                   {"code": "DB_NAME", "name": "姓名", "type": "string", "sensitivity": "internal"},
                   {"code": "DB_AREA", "name": "所属区划", "type": "string", "sensitivity": "internal"}]}}' \
  | field 'd["id"]')
curl -sf -X POST -H "$(H "$COMPILER")" "$API/catalog/entries/$ENTRY/submit" >/dev/null
curl -sf -H "$(H "$REVIEWER")" -H "$JSON" "$API/catalog/entries/$ENTRY/review" -d '{"decision": "approve",
  "accuracy": {"passed": true}, "completeness": {"passed": true}, "compliance": {"passed": true}}' >/dev/null
curl -sf -X POST -H "$(H "$OFFICE")" "$API/catalog/entries/$ENTRY/publish" | field 'd["resource_code"], d["status"]'

say "2. 养老服务处 asks for three fields"
REQ=$(W -f -H "$(H "$REQUESTER")" -H "$JSON" "$API/share-requests" -d '{
  "scenario": "internal_sharing", "reason": "核对高龄津贴申请人低保身份", "purpose": "高龄津贴资格核对",
  "entries": [{"entry_id": "'"$ENTRY"'", "fields": ["DB_ID", "DB_NAME", "DB_AREA"]}],
  "valid_from": "2026-01-01", "valid_to": "2030-12-31", "delivery_method": "interface"}' | field 'd["id"]')
curl -sf -H "$(H "$OFFICE")" -H "$(SEEN)" "$API/share-requests?status=submitted" | field '[r["id"] for r in d["items"]]'

say "3. The Office may narrow but never widen (SHR-5), then approves two of the three fields"
curl -s -H "$(H "$OFFICE")" -H "$JSON" "$API/share-requests/$REQ/review" \
  -d '{"decision": "approve", "fields": {"'"$ENTRY"'": ["DB_NAME", "DB_PHONE"]}}' | field 'd["status"], d["rule"], d["article"]'
curl -sf -H "$(H "$OFFICE")" -H "$JSON" "$API/share-requests/$REQ/review" \
  -d '{"decision": "approve", "fields": {"'"$ENTRY"'": ["DB_NAME", "DB_AREA"]}}' | field 'd["status"], d["approved"][0]["fields"]'

say "4. The implementation order (附件2) creates a single-use grant (SHR-7)"
GRANT=$(W -f -X POST -H "$(H "$OFFICE")" "$API/share-requests/$REQ/orders" | field 'd["new_grants"][0]')
curl -sf -H "$(H "$OFFICE")" -H "$(SEEN)" "$API/grants/$GRANT" | field 'd["kind"], d["fields"], d["status"]'

say "5. The platform asks before each delivery (USE-1)"
curl -sf -G -H "$(H "$PLATFORM")" -H "$(SEEN)" "$API/grant-status" --data-urlencode holder=div-elder \
  --data-urlencode "entry_id=$ENTRY" --data-urlencode fields=DB_ID,DB_NAME \
  --data-urlencode purpose=高龄津贴资格核对 --data-urlencode method=interface \
  | field '"DB_ID asked:", d["allowed"], [(r["code"], r["fields"]) for r in d["reasons"]]'
ASK='"holder": "div-elder", "entry_id": "'"$ENTRY"'", "fields": ["DB_NAME"], "purpose": "高龄津贴资格核对", "method": "interface", "record_use": true'
curl -sf -H "$(H "$PLATFORM")" -H "$JSON" "$API/grant-status" -d "{$ASK}" | field '"first delivery:", d["allowed"], d["kind"]'
curl -sf -H "$(H "$PLATFORM")" -H "$JSON" "$API/grant-status" -d "{$ASK}" \
  | field '"second delivery:", d["allowed"], [r["code"] for r in d["reasons"]]'

say "6. A municipal government may not apply to the Provincial Department directly (SHR-3)"
curl -sf -H "$(H "$OFFICE")" -H "$JSON" "$API/organizations" \
  -d '{"code":"xa-gov","name":"西安市人民政府","kind":"municipal_government","level":"city"}' >/dev/null
GOV=$($CL token create --org xa-gov --person 市政府联络员 --role requester | tail -1)
curl -s -H "$(H "$GOV")" -H "$JSON" "$API/share-requests" -d '{
  "scenario": "internal_sharing", "reason": "核对低保身份", "purpose": "核对",
  "entries": [{"entry_id": "'"$ENTRY"'", "fields": ["DB_NAME"]}],
  "valid_from": "2026-01-01", "valid_to": "2030-12-31", "delivery_method": "interface"}' \
  | field 'd["status"], d["rule"], d["article"]'
