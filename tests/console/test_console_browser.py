"""The console in a real browser (Debian's chromium through Playwright) against a live server, on both stores.

One walk per store through every task of the console, as a person does it, in Chinese.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from api.console.web import BEIJING
from projections.scope import EVERYTHING
from tests.console.browser import browser, chromium_path, sign_in
from tests.console.conftest import Console, candidates
from tests.support import cmd

if chromium_path() is None and os.environ.get("REQUIRE_BROWSER") == "1":
    pytest.fail("REQUIRE_BROWSER=1 but no chromium is on the path", pytrace=False)
pytestmark = pytest.mark.skipif(chromium_path() is None, reason="no chromium (apt-get install chromium)")
VERIFIER = Path(__file__).resolve().parents[2] / "infrastructure" / "verifier.py"
TIMEOUT_MS = 15_000


def test_a_day_at_the_console(console: Console, tmp_path: Path) -> None:
    rt, base = console.rt, console.url
    office = rt.principal(console.office_token)
    assert office is not None
    case_a, case_b, case_c = candidates(rt, 3, subject=console.dept) + candidates(rt, 3)[:3 - len(
        candidates(rt, 3, subject=console.dept))]
    grant = rt.sharing_queries.grants(scope=EVERYTHING, status="active", limit=1)[0][0]
    time.sleep(1.1)  # a past instant strictly after the demo's last event and before the walk's first
    past = rt.now()
    past_position = rt.ledger.max_position()
    time.sleep(1.1)

    with browser() as b:
        ctx = b.new_context(accept_downloads=True, locale="zh-CN")
        ctx.set_default_timeout(TIMEOUT_MS)
        page = ctx.new_page()

        # sign in; the overview in Chinese
        sign_in(page, base, console.office_token)
        assert page.locator("html").get_attribute("lang") == "zh-CN"
        assert page.locator("h1").inner_text() == "概览"
        assert "待办事项" in page.content() and "台账头部" in page.content()
        page.keyboard.press("Tab")  # by keyboard: the first stop skips to the content
        assert page.evaluate("document.activeElement.textContent") == "跳到正文"
        page.keyboard.press("Enter")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('main') !== null")

        # search the catalog in Chinese, open an entry and its timeline
        page.click("nav >> text=资源目录")
        page.fill("input[name=q]", "低保")
        page.click("form[role=search] button[type=submit]")
        rows = page.locator("table.data tbody tr")
        assert rows.count() > 0
        assert any("低保" in rows.nth(i).inner_text() for i in range(rows.count()))
        shown = [h.split("/")[-1] for h in page.locator("table.data tbody tr td:nth-child(2) a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))")]
        api = httpx.get(f"{base}/catalog/entries", params={"q": "低保", "limit": 25},
                        headers={"Authorization": f"Bearer {console.office_token}"}).json()
        assert shown == [e["id"] for e in api["items"]]  # exactly what the API answers this caller
        rows.first.locator("a").first.click()
        page.wait_for_url(re.compile(r".*/console/catalog/[0-9a-f-]{36}$"))
        assert "已发布版本" in page.content()
        page.click("main a:text-is('时间线')")
        page.wait_for_url(re.compile(r".*/console/timeline/catalog-entry/.*"))
        assert page.locator("li.event").count() >= 3
        first = page.locator("li.event").first.inner_text()
        assert "Drafted" in first and "操作人" in first and "台账位置" in first

        # check a grant: allowed, then refused with the rule and article
        page.click("nav >> text=授权核验")
        page.fill("#g-holder", grant.holder)
        page.fill("#g-entry", grant.entry_id)
        page.fill("#g-fields", ",".join(grant.fields))
        page.fill("#g-purpose", grant.purpose)
        page.select_option("#g-method", grant.method)
        page.click("form.filters button[type=submit]")
        assert page.locator(".verdict h2").inner_text() == "允许"
        page.click(".verdict >> text=该授权的时间线")
        page.wait_for_url(re.compile(rf".*/console/timeline/grant/{grant.id}$"))
        page.go_back()
        page.fill("#g-purpose", "转交第三方商业使用")
        page.click("form.filters button[type=submit]")
        assert page.locator(".verdict h2").inner_text() == "拒绝"
        assert "USE-1 第二十六条" in page.locator(".verdict").inner_text()

        # the access log: a chart and an export of the filtered rows
        page.click("nav >> text=应用日志")
        page.select_option("#a-outcome", "denied")
        page.click("form.filters button[type=submit]")
        assert page.locator("svg.chart rect.bar-denied").count() >= 1
        with page.expect_download() as dl:
            page.click("text=导出 CSV")
        csv = Path(dl.value.path()).read_text("utf-8-sig").splitlines()
        assert csv[0].startswith("request_id,accessed_at,holder") and len(csv) > 1
        assert all(",allowed," not in line for line in csv[1:])

        # confirm a violation as the Office
        page.goto(f"{base}/console/compliance?status=candidate&subject={console.dept}")
        page.click(f"a[href='/console/compliance/{case_a['id']}']")
        page.fill("#confirm-comment", "经核实，确认该情形")
        page.click("button[value=confirm]")
        assert "已记录：确认违规" in page.locator(".alert").inner_text()
        assert "已确认" in page.locator("h1").inner_text()
        rt.projector.catch_up_all()
        assert rt.compliance_queries.violation(case_a["id"], EVERYTHING).status == "confirmed"

        # a stale form gets the conflict message, and nothing is recorded
        page.goto(f"{base}/console/compliance/{case_b['id']}")
        rt.compliance.confirm(office, cmd("violation.confirm"), UUID(case_b["id"]), comment="elsewhere")
        page.fill("#dismiss-reason", "不成立")
        page.click("button[value=dismiss]")
        assert "已被他人修改" in page.locator(".alert.error").inner_text()
        rt.projector.catch_up_all()
        assert rt.compliance_queries.violation(case_b["id"], EVERYTHING).status == "confirmed"

        # the state at a past date: the case stood as a candidate, on the position of that instant
        page.click("nav >> text=历史状态")
        page.fill("#f-at", past.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M:%S"))
        page.click("form.filters button[type=submit]")
        assert f"台账位置 {past_position}）" in page.locator(".answer-line").inner_text()
        page.click("a.tile >> text=当时的违规")
        assert page.locator("table.data tbody tr").count() > 0
        assert "已确认" not in page.locator("table.data tbody").inner_text()

        # integrity: sign a checkpoint, verify with progress, download a proof bundle and check it offline
        page.click("nav >> text=完整性")
        page.click("text=签署新检查点")
        assert page.locator("dl.kv").count() == 1
        page.click("button:has-text('校验整个台账')")
        page.wait_for_selector(".alert.ok", timeout=60_000)
        assert "校验通过" in page.locator(".alert.ok").inner_text()
        with page.expect_download() as dl:
            page.click("button:has-text('下载')")
        offline = tmp_path / "auditor"
        offline.mkdir()
        shutil.copy(VERIFIER, offline / "verifier.py")
        dl.value.save_as(offline / "bundle.json")
        ok = _verify(offline, "bundle.json")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["verified"] is True
        doc = json.loads((offline / "bundle.json").read_text("utf-8"))
        state = doc["proof"]["event"]["state"]
        doc["proof"]["event"]["state"] = ("A" if state[0] != "A" else "B") + state[1:]
        (offline / "tampered.json").write_text(json.dumps(doc), "utf-8")
        bad = _verify(offline, "tampered.json")
        assert bad.returncode == 1 and "FAILED" in bad.stderr
        (offline / "ours.pem").write_text(rt.integrity.public_key_pem(), "utf-8")  # the auditor's own copy
        checked = _verify(offline, "bundle.json", "--public-key", "ours.pem")
        assert checked.returncode == 0 and json.loads(checked.stdout)["public_key_checked"] is True
        (offline / "other.pem").write_text(_other_key_pem(), "utf-8")
        foreign = _verify(offline, "bundle.json", "--public-key", "other.pem")
        assert foreign.returncode == 1 and "not the one given" in foreign.stderr

        # the live feed: a new event arrives without a reload
        page.click("nav >> text=实时动态")
        page.wait_for_function("document.getElementById('feed-status').textContent.length > 0")
        result = rt.compliance.confirm(office, cmd("violation.confirm"), UUID(case_c["id"]), comment="live")
        page.wait_for_selector(f"#feed tbody tr.fresh td:text-is('{result.position}')")

        # a department sees its confirmed case, and is refused an Office action
        dept_ctx = b.new_context(locale="zh-CN")
        dept_ctx.set_default_timeout(TIMEOUT_MS)
        dept = dept_ctx.new_page()
        sign_in(dept, base, console.dept_token)
        dept.goto(f"{base}/console/compliance/{case_a['id']}")
        assert "已确认" in dept.locator("h1").inner_text()
        assert dept.locator("button[value=escalate], button[value=notice]").count() == 0
        _post_form(dept, f"/console/compliance/{case_a['id']}/notice",
                   {"version": str(rt.compliance_queries.violation(case_a["id"], EVERYTHING).version), "key": "dept-try",
                    "deadline": "2030-01-01T00:00", "requirements": "x"})
        assert "您的角色或单位无权执行此操作" in dept.locator(".alert.error").inner_text()
        rt.projector.catch_up_all()
        assert rt.compliance_queries.violation(case_a["id"], EVERYTHING).status == "confirmed"
        dept_ctx.close()

        # sign out, and be refused
        page.click("button:has-text('退出')")
        page.wait_for_url(re.compile(r".*/console/login\?why=out$"))
        assert "您已退出" in page.content()
        page.goto(f"{base}/console/compliance")
        assert "/console/login" in page.url and "请先登录" in page.content()
        ctx.close()


def _verify(where: Path, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "verifier.py", "--bundle", name, *extra], cwd=where, capture_output=True,
                          text=True, timeout=60)


def _other_key_pem() -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def _post_form(page: Any, action: str, fields: dict[str, str]) -> None:
    """Submits a form the page does not offer, with the session's own CSRF token, as a crafted click would."""
    csrf = page.locator("input[name=_csrf]").first.get_attribute("value")
    with page.expect_navigation():
        page.evaluate("""([action, fields]) => {
            const f = document.createElement('form');
            f.method = 'post'; f.action = action;
            for (const [k, v] of Object.entries(fields)) {
                const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
            }
            document.body.appendChild(f); f.submit();
        }""", [action, {**fields, "_csrf": csrf}])
