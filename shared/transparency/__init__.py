"""A verifiable transparency log, as certificate-transparency logs build one: an RFC 9162
Merkle tree (``merkle``) stored as tiles (``tiles``), Ed25519-signed checkpoints in the
C2SP signed-note format (``note``), and an offline verifier for exports (``verify``).
``merkle``, ``note`` and ``verify`` need no database, so a partner can run them alone."""
