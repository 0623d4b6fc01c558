"""第二十二条's push: a provider's webhook receives the access-log records about its data, a holder's those about its
use; signed, in order."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from tests.api.test_catalog_api import org, token
from tests.api.test_sharing_api import grant_for, published_entry
from tests.api.test_webhooks_api import LOOPBACK, Receiver, fast, wait_until
from tests.support import items

TYPE = "cn.gov.shaanxi.mz.access.log.recorded"


@pytest.fixture
def settings(settings):
    """The receivers are on this machine: the configuration allows loopback for these tests."""
    return dataclasses.replace(settings, webhook_allow_hosts=LOOPBACK)


@pytest.fixture
def receiver():
    r = Receiver(fail=0.3, seed=11)
    yield r
    r.close()


def office_of(server, runtime, admin_token, *codes: str):
    """The Office's client, with webhooks retrying fast and the organizations `codes` registered."""
    fast(runtime)
    office = server.client(admin_token)
    for code in codes:
        org(office, code)
    return office


def pushed_to(server, runtime, org_code: str, receiver) -> None:
    """`org_code`'s integrator points a webhook for access-log records at `receiver`, which learns its secret."""
    integrator = server.client(token(runtime, org_code, "对接员", "integrator"))
    made = integrator.post("/webhooks", json={"url": receiver.url, "types": [TYPE]})
    assert made.status_code == 201, made.text
    receiver.secret = made.json()["secret"]


def test_a_provider_is_pushed_only_the_records_about_its_data(server, runtime, admin_token, receiver, clock):
    office = office_of(server, runtime, admin_token, "div-relief", "div-elderly", "div-elder")
    mine = published_entry(server, runtime, office, provider="div-relief", code="SX-RELIEF")
    theirs = published_entry(server, runtime, office, provider="div-elderly", code="SX-ELDERLY",
                             data_items=msgspec.to_builtins(items("EL_1", "EL_2")))
    requester = server.client(token(runtime, "div-elder", "周敏", "requester"))
    grant_for(office, requester, mine)
    pushed_to(server, runtime, "div-relief", receiver)

    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    clock.advance(hours=1)
    batches = []
    for b in range(3):
        records = []
        for i in range(4):
            about_mine = (i % 2 == 0)
            records.append({
                "request_id": f"push-{b}-{i}", "holder": "div-elder",
                "provider": "div-relief" if about_mine else "div-elderly",
                "entry_id": mine if about_mine else theirs, "fields": ["DB_NAME"] if about_mine else ["EL_1"],
                "purpose": "高龄津贴资格核对", "method": "interface", "record_count": 10 + i,
                "accessed_at": clock.now().isoformat(),
            })
        posted = platform.post("/access-logs", json={"records": records})
        assert posted.status_code in (200, 201), posted.text
        batches.append([r["request_id"] for r in records if r["provider"] == "div-relief"])

    wait_until(lambda: len(receiver.received) >= 3)
    assert receiver.bad_signatures == 0
    assert [e["type"] for e in receiver.received] == [TYPE] * 3
    positions = [e["ledgerposition"] for e in receiver.received]
    assert positions == sorted(positions)
    pushed = [[r["request_id"] for r in e["data"]["records"]] for e in receiver.received]
    assert pushed == batches  # only the records about div-relief's data, in order
    # each push carries the batch's signed receipt, with div-relief's records only (第二十二条)
    from infrastructure.verifier import load_public_key, verify_receipt

    key = load_public_key(office.get("/ledger/public-key").text)
    for e, mine_ids in zip(receiver.received, batches, strict=True):
        receipt = e["data"]["receipt"]
        assert [r["record"]["request_id"] for r in receipt["records"]] == mine_ids
        assert [r["index"] for r in receipt["records"]] == [0, 2]
        assert verify_receipt(receipt, key)["records"] == 4


def test_a_holder_is_pushed_only_the_records_about_its_own_use(server, runtime, admin_token, receiver, clock):
    office = office_of(server, runtime, admin_token, "div-relief", "div-elder", "div-welfare")
    entry = published_entry(server, runtime, office, provider="div-relief", code="SX-RELIEF")
    for holder in ("div-elder", "div-welfare"):
        grant_for(office, server.client(token(runtime, holder, f"{holder}-申请人", "requester")), entry)
    pushed_to(server, runtime, "div-elder", receiver)

    platform = server.client(token(runtime, "office", "交换平台", "platform"))
    clock.advance(hours=1)
    holders_by_batch = [("div-elder", "div-welfare", "div-elder"), ("div-welfare", "div-welfare"),
                        ("div-welfare", "div-elder")]
    expected = []
    for b, holders in enumerate(holders_by_batch):
        records = [{"request_id": f"use-{b}-{i}", "holder": h, "provider": "div-relief", "entry_id": entry,
                    "fields": ["DB_NAME"], "purpose": "高龄津贴资格核对", "method": "interface", "record_count": 5,
                    "accessed_at": clock.now().isoformat()} for i, h in enumerate(holders)]
        posted = platform.post("/access-logs", json={"records": records})
        assert posted.status_code in (200, 201), posted.text
        mine = [r["request_id"] for r in records if r["holder"] == "div-elder"]
        if mine:
            expected.append(mine)

    wait_until(lambda: len(receiver.received) >= 2)
    assert receiver.bad_signatures == 0
    pushed = [[r["request_id"] for r in e["data"]["records"]] for e in receiver.received]
    assert pushed == expected == [["use-0-0", "use-0-2"], ["use-2-1"]]  # the batch naming only div-welfare is not pushed
    assert {r["holder"] for e in receiver.received for r in e["data"]["records"]} == {"div-elder"}
