"""The Merkle proofs the ledger builds are the ones RFC 9162's verification accepts, and only those."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infrastructure.merkle import Frontier, consistency_path, inclusion_path, root
from infrastructure.verifier import (
    EMPTY_ROOT,
    VerificationError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def reference_root(hashes: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 section 2.1, recursively."""
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(reference_root(hashes[:k]), reference_root(hashes[k:]))


def test_known_vector_of_three_leaves():
    d = leaves(3)
    assert root(d) == node_hash(node_hash(d[0], d[1]), d[2])
    assert root([]) == hashlib.sha256(b"").digest()


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70))
def test_every_inclusion_path_verifies_and_a_wrong_leaf_does_not(n: int):
    d = leaves(n)
    r = root(d)
    assert r == reference_root(d)
    for i in range(n):
        verify_inclusion(i, n, d[i], inclusion_path(i, d), r)
        with pytest.raises(VerificationError):
            verify_inclusion(i, n, leaf_hash(b"forged"), inclusion_path(i, d), r)
    if n > 1:
        with pytest.raises(VerificationError):
            verify_inclusion(0, n, d[1], inclusion_path(0, d), r)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_consistency_path_verifies_and_a_rewritten_prefix_does_not(n: int, data: st.DataObject):
    d = leaves(n)
    m = data.draw(st.integers(min_value=0, max_value=n))
    verify_consistency(m, n, root(d[:m]), root(d), consistency_path(m, d))
    if 0 < m < n:
        forged = [leaf_hash(b"forged"), *d[1:]]
        with pytest.raises(VerificationError):
            verify_consistency(m, n, root(forged[:m]), root(d), consistency_path(m, d))


def test_frontier_survives_a_dump_and_gives_each_root_on_the_way():
    d = leaves(37)
    f = Frontier()
    for i, h in enumerate(d, start=1):
        f.append(h)
        assert f.root() == reference_root(d[:i])
    again = Frontier.load(f.dump())
    again.extend(leaves(40)[37:])
    assert again.root() == reference_root(leaves(40))
