"""RFC 9162 Merkle proofs: the published RFC 6962 test vectors (transparency-dev/merkle's
testonly data), an independent reference written from the RFC's text, and the tiles."""

from __future__ import annotations

import hashlib
import random

import pytest

from shared.transparency import merkle
from shared.transparency.tiles import TILE_WIDTH, TreeEdge, TreeReader

# transparency-dev/merkle testonly/constants.go and proof/verify_test.go
LEAF_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
# (leaf number, counted from 1 as in the Go vectors; tree size; proof)
INCLUSION_VECTORS = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY_VECTORS = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]


# --- a reference written straight from RFC 9162 §2.1, recursion and all -------------------

def ref_mth(data: list[bytes]) -> bytes:
    n = len(data)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + data[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(data[:k]) + ref_mth(data[k:])).digest()


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_path(m: int, data: list[bytes]) -> list[bytes]:
    n = len(data)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path(m, data[:k]) + [ref_mth(data[k:])]
    return ref_path(m - k, data[k:]) + [ref_mth(data[:k])]


def ref_subproof(m: int, data: list[bytes], complete: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if complete else [ref_mth(data)]
    k = _k(n)
    if m <= k:
        return ref_subproof(m, data[:k], complete) + [ref_mth(data[k:])]
    return ref_subproof(m - k, data[k:], False) + [ref_mth(data[:k])]


def in_memory_reader(data: list[bytes]) -> TreeReader:
    """Tiles built by appending every leaf to an edge that keeps all the tiles it wrote."""
    edge = TreeEdge(0, {})
    tiles: dict[tuple[int, int], bytes] = {}
    for item in data:
        edge.append(merkle.leaf_hash(item))
        tiles.update(edge.flush())
    return TreeReader(lambda key: tiles.get(key, b""))


def test_roots_of_the_published_vectors_for_every_size_from_0_to_8() -> None:
    for size, root in enumerate(ROOTS):
        leaves = [merkle.leaf_hash(d) for d in LEAF_INPUTS[:size]]
        assert merkle.root_of(leaves) == root == ref_mth(LEAF_INPUTS[:size])
        assert in_memory_reader(LEAF_INPUTS[:size]).root(size) == root


@pytest.mark.parametrize(("number", "size", "expected"), INCLUSION_VECTORS)
def test_inclusion_proofs_match_the_published_vectors_and_verify(
        number: int, size: int, expected: list[str]) -> None:
    reader = in_memory_reader(LEAF_INPUTS[:size])
    proof = merkle.inclusion_proof(number - 1, size, reader.subtree)
    assert [p.hex() for p in proof] == expected
    merkle.verify_inclusion(number - 1, size, merkle.leaf_hash(LEAF_INPUTS[number - 1]), proof,
                            ROOTS[size])


@pytest.mark.parametrize(("old", "new", "expected"), CONSISTENCY_VECTORS)
def test_consistency_proofs_match_the_published_vectors_and_verify(
        old: int, new: int, expected: list[str]) -> None:
    reader = in_memory_reader(LEAF_INPUTS[:new])
    proof = merkle.consistency_proof(old, new, reader.subtree)
    assert [p.hex() for p in proof] == expected
    merkle.verify_consistency(old, new, ROOTS[old], ROOTS[new], proof)


def test_every_proof_of_trees_up_to_70_leaves_matches_the_reference_and_verifies() -> None:
    data = [f"entry {i}".encode() for i in range(70)]
    reader = in_memory_reader(data)
    for n in range(1, len(data) + 1):
        root = ref_mth(data[:n])
        assert reader.root(n) == root
        for m in range(n):
            proof = merkle.inclusion_proof(m, n, reader.subtree)
            assert proof == ref_path(m, data[:n])
            merkle.verify_inclusion(m, n, merkle.leaf_hash(data[m]), proof, root)
        for m in range(1, n + 1):
            proof = merkle.consistency_proof(m, n, reader.subtree)
            assert proof == (ref_subproof(m, data[:n], True) if m < n else [])
            merkle.verify_consistency(m, n, ref_mth(data[:m]), root, proof)


def test_proofs_across_tile_levels_match_the_reference() -> None:
    """Above 256 leaves node hashes come from level-1 tiles; above 65,536 from level 2."""
    rng = random.Random(9)
    size = TILE_WIDTH * TILE_WIDTH + 5000
    data = [rng.randbytes(8) for _ in range(size)]
    reader = in_memory_reader(data)
    assert reader.root(size) == ref_mth(data)
    for n in (257, 512, 513, 70_000, size):
        for m in (0, 255, 256, n // 2, n - 1):
            assert merkle.inclusion_proof(m, n, reader.subtree) == ref_path(m, data[:n])
    for m, n in ((256, 70_000), (65_536, size), (1000, 65_537), (3, size)):
        assert merkle.consistency_proof(m, n, reader.subtree) == ref_subproof(m, data[:n], True)


def test_an_edge_resumed_from_stored_tiles_continues_the_same_tree() -> None:
    data = [i.to_bytes(4, "big") for i in range(700)]
    edge = TreeEdge(0, {})
    tiles: dict[tuple[int, int], bytes] = {}
    for item in data[:300]:
        edge.append(merkle.leaf_hash(item))
    tiles.update(edge.flush())
    resumed = TreeEdge(300, {level: tiles[key] for level, key in
                             enumerate(TreeEdge.edge_keys(300))})
    for item in data[300:]:
        resumed.append(merkle.leaf_hash(item))
    assert resumed.root() == ref_mth(data)


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    return [bytes([p[0] ^ 8]) + p[1:] if j == i else p for j, p in enumerate(proof)]


def test_a_wrong_leaf_index_size_root_or_any_changed_proof_hash_fails() -> None:
    data = [f"e{i}".encode() for i in range(13)]
    reader = in_memory_reader(data)
    root, leaf = reader.root(13), merkle.leaf_hash(data[5])
    proof = merkle.inclusion_proof(5, 13, reader.subtree)
    bad = [(4, 13, leaf, proof, root), (6, 13, leaf, proof, root), (5, 26, leaf, proof, root),
           (5, 6, leaf, proof, root), (5, 13, merkle.leaf_hash(b"x"), proof, root),
           (5, 13, leaf, proof, merkle.EMPTY_ROOT), (5, 13, leaf, proof[:-1], root),
           (5, 13, leaf, [*proof, root], root), (5, 13, leaf, [root, *proof], root),
           *[(5, 13, leaf, _flip(proof, i), root) for i in range(len(proof))]]
    for index, size, leaf_, proof_, root_ in bad:
        with pytest.raises(merkle.ProofError):
            merkle.verify_inclusion(index, size, leaf_, proof_, root_)
    old_root = reader.root(6)
    consistency = merkle.consistency_proof(6, 13, reader.subtree)
    for old, new, r1, r2, proof_ in [
            (5, 13, old_root, root, consistency), (7, 13, old_root, root, consistency),
            (6, 26, old_root, root, consistency), (6, 13, root, old_root, consistency),
            (6, 13, old_root, root, []), (6, 13, old_root, root, consistency[:-1]),
            (6, 13, old_root, root, [*consistency, root]), (13, 6, root, old_root, []),
            (6, 6, old_root, root, []),
            *[(6, 13, old_root, root, _flip(consistency, i)) for i in range(len(consistency))]]:
        with pytest.raises(merkle.ProofError):
            merkle.verify_consistency(old, new, r1, r2, proof_)
