"""An answer about a grant revoked with effect from an earlier instant, proved and re-derived offline.

The offline verifier folds the back-dated revocation (and a narrowed validity) as the service does,
on both stores and both profiles: the answer about an instant after the revocation's effect is a
refusal, the answer about an instant before it an allowance, both re-derived from the events alone.
"""

from __future__ import annotations

from datetime import timedelta

from infrastructure.verifier import verify_answer
from tests.integrity.conftest import ADMIN, public_key
from tests.integrity.test_answer_proof import prove, world  # noqa: F401 - the fixture
from tests.support import cmd


def test_a_back_dated_revocation_is_re_derived_by_the_offline_verifier(world, clock):  # noqa: F811
    rt, gid, ask = world
    granted = rt.sharing.load_grant(gid).created_on
    clock.advance(days=10)
    effect = granted + timedelta(days=3)
    rt.sharing.revoke(ADMIN, cmd(), gid, reason="核查发现自第三日起超范围使用", effective_at=effect)
    after, bundle = prove(rt, **ask, at=effect + timedelta(days=1))
    assert not after.allowed and [r.code for r in after.reasons] == ["revoked"]
    summary = verify_answer(bundle, public_key(rt))
    assert not summary["decision"]["allowed"] and summary["decision"]["reasons"][0][0] == "revoked"
    before, early = prove(rt, **ask, at=effect - timedelta(seconds=1))
    assert before.allowed and verify_answer(early, public_key(rt))["decision"]["allowed"]

    end = granted + timedelta(days=1)
    rt.sharing.correct_validity(ADMIN, cmd(), gid, valid_from=rt.sharing.load_grant(gid).spec.valid_from,
                                valid_to=end, reason="实施单有效期录入过长")
    narrowed, proof = prove(rt, **ask, at=end + timedelta(seconds=1))
    assert "expired" in [r.code for r in narrowed.reasons]
    assert "expired" in [r[0] for r in verify_answer(proof, public_key(rt))["decision"]["reasons"]]
