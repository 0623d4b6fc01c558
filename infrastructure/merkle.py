"""Building Merkle roots and proofs (RFC 6962 section 2.1) from a list of leaf hashes.

The verifier (infrastructure/verifier.py) checks what this module builds; the two are kept apart
so the verifier stays a single file an auditor can copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from infrastructure.verifier import INTL, Suite

# Every function takes the profile's hashes (`hashes`, SHA-256 by default, as before profiles existed).


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes], hashes: Suite = INTL) -> bytes:
    """MTH(D[n]) over leaf hashes."""
    if not leaves:
        return hashes.empty_root
    frontier = Frontier(hashes=hashes)
    frontier.extend(leaves)
    return frontier.root()


def _mth(leaves: Sequence[bytes], lo: int, hi: int, hashes: Suite) -> bytes:
    n = hi - lo
    if n == 1:
        return leaves[lo]
    k = _split(n)
    return hashes.node_hash(_mth(leaves, lo, lo + k, hashes), _mth(leaves, lo + k, hi, hashes))


def inclusion_path(index: int, leaves: Sequence[bytes], hashes: Suite = INTL) -> list[bytes]:
    """PATH(m, D[n]): the audit path of leaf `index` in the tree over all `leaves`."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of size {len(leaves)}")
    path: list[bytes] = []
    lo, hi, m = 0, len(leaves), index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(_mth(leaves, lo + k, hi, hashes))
            hi = lo + k
        else:
            path.append(_mth(leaves, lo, lo + k, hashes))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_path(first: int, leaves: Sequence[bytes], hashes: Suite = INTL) -> list[bytes]:
    """PROOF(m, D[n]): shows the tree over `leaves` extends the tree over its first `first` leaves."""
    n = len(leaves)
    if not 0 <= first <= n:
        raise IndexError(f"size {first} is outside a tree of size {n}")
    if first in (0, n):
        return []
    path: list[bytes] = []
    lo, hi, m, whole = 0, n, first, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            path.append(_mth(leaves, lo + k, hi, hashes))
            hi = lo + k
        else:
            path.append(_mth(leaves, lo, lo + k, hashes))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        path.append(_mth(leaves, lo, hi, hashes))
    path.reverse()
    return path


class Frontier:
    """The roots of the perfect subtrees of a growing tree: O(log n) memory, any root on demand.

    The subtrees' sizes are the set bits of `size`, largest first, so only their hashes are kept.
    """

    def __init__(self, nodes: Iterable[tuple[int, bytes]] = (), hashes: Suite = INTL) -> None:
        self.suite = hashes
        listed = list(nodes)
        self.hashes: list[bytes] = [h for _, h in listed]
        self.size = sum(n for n, _ in listed)
        if [n for n, _ in listed] != self._sizes():
            raise ValueError("the subtree sizes must be the set bits of the total, largest first")

    def _sizes(self) -> list[int]:
        return [1 << b for b in range(self.size.bit_length() - 1, -1, -1) if self.size >> b & 1]

    def append(self, leaf: bytes) -> None:
        n, h, hashes, node = self.size, leaf, self.hashes, self.suite.node_hash
        while n & 1:
            h = node(hashes.pop(), h)
            n >>= 1
        hashes.append(h)
        self.size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self.hashes:
            return self.suite.empty_root
        r = self.hashes[-1]
        for h in reversed(self.hashes[:-1]):
            r = self.suite.node_hash(h, r)
        return r

    @property
    def nodes(self) -> list[tuple[int, bytes]]:
        return list(zip(self._sizes(), self.hashes, strict=True))

    def dump(self) -> list[list[object]]:
        return [[n, h.hex()] for n, h in self.nodes]

    @classmethod
    def load(cls, data: Iterable[Sequence[object]], hashes: Suite = INTL) -> Frontier:
        return cls(((int(str(n)), bytes.fromhex(str(h))) for n, h in data), hashes)
