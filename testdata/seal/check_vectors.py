#!/usr/bin/env python3
"""Independent check of testdata/seal/vectors.json with pyca/cryptography (>= 48, which has HPKE
with MLKEM768-X25519), written from docs/sealed-jobs.md, not from the Go code.

For every vector it rebuilds the associated data from the clear fields, the plaintext from the
person, the HPKE info, checks the content ciphertext (AES-256-GCM), opens every key wrap with the
recipient's private key (single-shot HPKE, base mode), opens the sealed JSON, and finally seals a
fresh part that the Go test can open (written to the path given as the first argument, if any).

    python3 testdata/seal/check_vectors.py [/tmp/python-sealed.json]
"""
import base64, hashlib, json, os, struct, sys

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
CLEAR_ORDER = ["v", "job_id", "site", "pool", "kind", "template", "card.number", "card.issue",
               "card.issued", "card.expires", "reprint.of_job", "reprint.reason", "reprint.requested_by"]


def lp(b: bytes) -> bytes:
    assert len(b) <= 0xFFFF
    return struct.pack(">H", len(b)) + b


def aad(clear: dict) -> bytes:
    out = lp(b"printerd-job-v2")
    for name in CLEAR_ORDER:
        v = clear[name]
        out += lp(str(v).encode() if isinstance(v, int) else v.encode("utf-8"))
    return out


def plaintext(p: dict) -> bytes:
    photo = bytes.fromhex(p["photo"])
    return (lp(p["name"].encode()) + lp(p["dob"].encode()) + lp(p["gender"].encode())
            + struct.pack(">I", len(photo)) + photo)


def info(a: bytes) -> bytes:
    return b"printerd-job-v2 content key" + hashlib.sha256(a).digest()


def private_key(kem: int, priv: bytes):
    if kem == 0x0020:
        return x25519.X25519PrivateKey.from_private_bytes(priv), hpke.KEM.X25519
    if kem == 0x647A:  # draft-ietf-hpke-pq: the 32-byte seed expands with SHAKE256 to 96 bytes
        full = hashlib.shake_256(priv).digest(96)
        key = hpke.MLKEM768X25519PrivateKey(mlkem.MLKEM768PrivateKey.from_seed_bytes(full[:64]),
                                             x25519.X25519PrivateKey.from_private_bytes(full[64:]))
        return key, hpke.KEM.MLKEM768_X25519
    raise ValueError("kem %d" % kem)


def check(v: dict):
    a = aad(v["clear"])
    assert a.hex() == v["aad"], "aad"
    pt = plaintext(v["person"])
    assert pt.hex() == v["plaintext"], "plaintext"
    assert info(a).hex() == v["wrap_info"], "wrap_info"
    sealed = v["sealed"]
    assert set(sealed) == {"suite", "recipients", "nonce", "ct"}
    assert sealed["suite"]["kdf"] == 1 and sealed["suite"]["aead"] == 2
    ct = base64.b64decode(sealed["ct"], validate=True)
    nonce = base64.b64decode(sealed["nonce"], validate=True)
    assert ct.hex() == v["ct"] and nonce.hex() == v["nonce"], "sealed ct/nonce"
    assert AESGCM(bytes.fromhex(v["content_key"])).encrypt(nonce, pt, a) == ct, "content ciphertext"
    keys = {r["kid"]: r for r in v["recipients"]}
    for w in sealed["recipients"]:
        r = keys[w["kid"]]
        sk, kem = private_key(r["kem"], bytes.fromhex(r["private_key"]))
        suite = hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
        enc_key = base64.b64decode(w["enc"], validate=True) + base64.b64decode(w["key"], validate=True)
        ck = suite.decrypt(enc_key, sk, info=info(a))
        assert ck.hex() == v["content_key"], "unwrapped content key"
        assert AESGCM(ck).decrypt(nonce, ct, a) == pt, "opened plaintext"
    return sk, kem


def check_announcement(vectors):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    v = json.load(open(os.path.join(HERE, "announcement.json")))
    a = v["announcement"]
    assert set(a) == {"v", "site", "daemon", "epoch", "start", "end", "kem", "kid", "pub", "sig"}
    daemon = ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["daemon_ed25519_seed"])).public_key()
    spki = daemon.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert spki.hex() == v["daemon_spki_der"] and hashlib.sha256(spki).hexdigest()[:16] == a["daemon"], "daemon kid"
    pub = base64.b64decode(a["pub"], validate=True)
    assert hashlib.sha256(struct.pack(">H", a["kem"]) + pub).hexdigest()[:16] == a["kid"], "epoch kid"
    assert pub.hex() == vectors[0]["recipients"][0]["public_key"], "epoch key is vectors.json's first"
    signing_input = lp(b"printerd-epoch-key-v1")
    for f in ["site", "daemon", "epoch", "start", "end"]:
        signing_input += lp(a[f].encode())
    signing_input += lp(str(a["kem"]).encode()) + lp(a["kid"].encode()) + lp(pub)
    assert signing_input.hex() == v["signing_input"], "signing input"
    daemon.verify(base64.b64decode(a["sig"], validate=True), signing_input)  # raises if bad
    print("ok announcement")


def main():
    vectors = json.load(open(os.path.join(HERE, "vectors.json")))["vectors"]
    for v in vectors:
        check(v)
        print("ok", v["name"])
    check_announcement(vectors)
    if len(sys.argv) > 1:  # seal a new part to the first vector's key, for the Go side to open
        v = vectors[0]
        r = v["recipients"][0]
        sk, kem = private_key(r["kem"], bytes.fromhex(r["private_key"]))
        a = aad(v["clear"])
        ck, nonce = os.urandom(32), os.urandom(12)
        ct = AESGCM(ck).encrypt(nonce, plaintext(v["person"]), a)
        wrapped = hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM).encrypt(ck, sk.public_key(), info=info(a))
        n = 1120 if r["kem"] == 0x647A else 32
        b64 = lambda b: base64.b64encode(b).decode()
        out = {"suite": {"kem": r["kem"], "kdf": 1, "aead": 2},
               "recipients": [{"kid": r["kid"], "enc": b64(wrapped[:n]), "key": b64(wrapped[n:])}],
               "nonce": b64(nonce), "ct": b64(ct)}
        json.dump(out, open(sys.argv[1], "w"))
        print("sealed", sys.argv[1])


if __name__ == "__main__":
    main()
