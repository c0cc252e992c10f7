"""The tree stored as tiles, as C2SP ``tlog-tiles`` lays it out: a tile of level ``L`` and
index ``i`` holds up to 256 consecutive hashes of tree level ``8·L`` (level 0: the leaf
hashes). Any node hash is at most 128 hashes of one tile hashed up, so a proof reads a few
tiles; appending rewrites only the partial tile at the right edge of each level.

Sizes: 8 KiB per full tile, about 32 bytes and 1/256 of a row per leaf."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from shared.transparency.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    fold_right,
    node_hash,
    perfect_pieces,
)

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
TileKey = tuple[int, int]  # (tile level, tile index)
TileReader = Callable[[TileKey], bytes]


class MissingTile(LookupError):
    """A tile (or the part of it a node needs) is not stored: the tree data are damaged."""


def subtree_root(hashes: bytes) -> bytes:
    """The root of the perfect subtree whose 2^k leaves' hashes are concatenated in ``hashes``."""
    level = [hashes[i:i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def node_location(level: int, index: int) -> tuple[TileKey, int, int]:
    """Which tile holds the hashes that node ``(level, index)`` is the root of, and where:
    (tile key, first position, how many)."""
    tile_level, height = divmod(level, TILE_HEIGHT)
    first = index << height
    return (tile_level, first // TILE_WIDTH), first % TILE_WIDTH, 1 << height


def tiles_for_nodes(nodes: Iterable[tuple[int, int]]) -> set[TileKey]:
    return {node_location(level, index)[0] for level, index in nodes}


class TreeReader:
    """Node and subtree hashes from tiles, memoised for the life of one request or batch."""

    def __init__(self, read_tile: TileReader) -> None:
        self._read_tile = read_tile
        self._nodes: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        cached = self._nodes.get((level, index))
        if cached is not None:
            return cached
        key, position, count = node_location(level, index)
        tile = self._read_tile(key)
        part = tile[position * HASH_SIZE:(position + count) * HASH_SIZE]
        if len(part) != count * HASH_SIZE:
            raise MissingTile(f"tile {key} lacks the hashes of node {(level, index)}")
        hash_ = subtree_root(part)
        self._nodes[(level, index)] = hash_
        return hash_

    def subtree(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges RFC 9162 proofs use."""
        return fold_right([self.node(level, index)
                           for level, index in perfect_pieces(start, end)])

    def root(self, size: int) -> bytes:
        return self.subtree(0, size) if size else EMPTY_ROOT

    def leaf(self, index: int) -> bytes:
        return self.node(0, index)


class TreeEdge:
    """The right edge of the tree: the partial tile of each tile level, which is all the
    sequencer needs to append leaves and compute the new root without reading old leaves."""

    def __init__(self, size: int, edge_tiles: dict[int, bytes]) -> None:
        self.size = size
        self.partial: dict[int, bytearray] = {}
        for tile_level in range(self.levels(size)):
            width = (size >> (TILE_HEIGHT * tile_level)) % TILE_WIDTH
            stored = edge_tiles.get(tile_level, b"")
            if len(stored) < width * HASH_SIZE:
                raise MissingTile(f"edge tile of level {tile_level} holds "
                                  f"{len(stored) // HASH_SIZE} hashes, {width} expected")
            self.partial[tile_level] = bytearray(stored[:width * HASH_SIZE])
        self.written: dict[TileKey, bytes] = {}

    @staticmethod
    def levels(size: int) -> int:
        """How many tile levels a tree of ``size`` leaves has hashes in."""
        levels = 0
        while size >> (TILE_HEIGHT * levels):
            levels += 1
        return levels

    @staticmethod
    def edge_keys(size: int) -> list[TileKey]:
        return [(tile_level, (size >> (TILE_HEIGHT * tile_level)) // TILE_WIDTH)
                for tile_level in range(TreeEdge.levels(size))]

    def append(self, leaf: bytes) -> None:
        tile_level, hash_, count = 0, leaf, self.size
        while True:
            tile = self.partial.setdefault(tile_level, bytearray())
            tile += hash_
            key = (tile_level, count // TILE_WIDTH)
            if len(tile) < TILE_WIDTH * HASH_SIZE:
                self.written[key] = b""  # marked; its bytes are taken at flush time
                break
            # A full tile: store it as it is and carry its root up one tile level.
            self.written[key] = bytes(tile)
            hash_ = subtree_root(bytes(tile))
            self.partial[tile_level] = bytearray()
            tile_level += 1
            count >>= TILE_HEIGHT
        self.size += 1

    def flush(self) -> dict[TileKey, bytes]:
        """Every tile written since the last flush, with its bytes now."""
        partial_keys = dict(zip(self.edge_keys(self.size), range(TreeEdge.levels(self.size)),
                                strict=True))
        out = {}
        for key, data in self.written.items():
            if not data:
                data = bytes(self.partial[partial_keys[key]]) if key in partial_keys else b""
            out[key] = data
        self.written = {}
        return out

    def reader(self) -> TreeReader:
        def read(key: TileKey) -> bytes:
            tile_level, index = key
            if (tile_level, index) in self.edge_keys(self.size):
                return bytes(self.partial.get(tile_level, b""))
            raise MissingTile(f"tile {key} is not at the right edge")

        return TreeReader(read)

    def root(self) -> bytes:
        return self.reader().root(self.size)
