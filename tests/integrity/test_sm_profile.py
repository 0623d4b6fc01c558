"""The national cryptography profile: the standards' test vectors for SM3, SM4 and SM2, and the profile chosen
once per ledger, recorded in it and in every checkpoint, never mixed."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl_pyx import sm2_key_generate, sm2_sign, sm2_verify

import infrastructure.verifier
from bootstrap import Runtime
from infrastructure.config import Settings, crypto_profile
from infrastructure.store import ProfileMismatch
from infrastructure.transcoding import SM4Cipher
from infrastructure.verifier import (
    SM2_CURVE,
    Curve,
    PureSM3,
    SM2PublicKey,
    VerificationError,
    load_public_key,
    signed_message,
    sm2_verify_rs,
    sm2_z,
    sm3,
    verify_bundle,
    verify_checkpoint,
    verify_signature,
)
from tests.conftest import database_url
from tests.integrity.conftest import ADMIN, public_key, trusted
from tests.support import register

# -- GB/T 32905-2016 (SM3), appendix A ----------------------------------------------------------

SM3_VECTORS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]


@pytest.mark.parametrize(("message", "digest"), SM3_VECTORS, ids=["abc", "abcd*16"])
def test_sm3_gives_the_standards_digests_through_openssl_and_in_plain_python(message: bytes, digest: str):
    assert hashlib.new("sm3", message).hexdigest() == digest          # OpenSSL through hashlib
    h = hashes.Hash(hashes.SM3())                                    # OpenSSL through cryptography
    h.update(message)
    assert h.finalize().hex() == digest
    assert sm3(message).digest().hex() == digest                     # what the verifier uses here
    assert PureSM3(message).hexdigest() == digest                    # the verifier's own, where OpenSSL lacks SM3


def test_the_plain_python_sm3_agrees_with_openssl_across_block_boundaries():
    data = bytes(range(256)) * 3
    for n in (0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 700):
        assert PureSM3(data[:n]).digest() == hashlib.new("sm3", data[:n]).digest(), n


# -- GB/T 32907-2016 (SM4), appendix A example 1, and SM4-GCM of RFC 8998 appendix A -------------

def test_sm4_encrypts_the_standards_block():
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_gives_rfc_8998s_ciphertext_and_tag():
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    iv = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plain = bytes.fromhex("AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                          "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
    enc = Cipher(algorithms.SM4(key), modes.GCM(iv)).encryptor()
    enc.authenticate_additional_data(aad)
    body = enc.update(plain) + enc.finalize()
    assert body.hex().upper() == ("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
                                  "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D")
    assert enc.tag.hex().upper() == "83DE3541E4C2B58177E065A9BF7B62EC"


def test_the_payload_cipher_round_trips_and_refuses_a_changed_byte():
    cipher = SM4Cipher({"CIPHER_KEY": SM4Cipher.create_key()})
    sealed = cipher.encrypt("社会救助对象名单".encode())
    assert cipher.decrypt(sealed).decode() == "社会救助对象名单"
    assert cipher.encrypt(b"x") != cipher.encrypt(b"x")  # a fresh nonce each time
    damaged = bytearray(sealed)
    damaged[-1] ^= 1
    with pytest.raises(ValueError, match="tag"):
        cipher.decrypt(bytes(damaged))
    with pytest.raises(ValueError, match="16 bytes"):
        SM4Cipher({"CIPHER_KEY": base64.b64encode(bytes(32)).decode()})


# -- GB/T 32918 (SM2) -----------------------------------------------------------------------------

# GB/T 32918.2-2016 appendix A (the same example as GM/T 0003.2-2012): a 256-bit example curve, not the
# recommended one, the signer ALICE123@YAHOO.COM, and the signature the standard prints for "message digest".
EXAMPLE_CURVE = Curve(
    p=0x8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3,
    a=0x787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498,
    b=0x63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A,
    gx=0x421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D,
    gy=0x0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2,
    n=0x8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7,
)
ALICE = b"ALICE123@YAHOO.COM"
ALICE_D = 0x128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263
ALICE_PUBLIC = (0x0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A,
                0x7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857)
ALICE_Z = "f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a"
ALICE_RS = (0x40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1,
            0x6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7)

# The example on the recommended curve (GM/T 0003.5-2012 / GB/T 32918.5), default identity 1234567812345678.
RECOMMENDED_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
RECOMMENDED_PUBLIC = (0x09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020,
                      0xCCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13)
RECOMMENDED_RS = (0xF5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3,
                  0xB1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA)


def test_the_verifier_accepts_the_sm2_signatures_the_standards_print_and_nothing_else():
    """Known-answer tests of the verifier's own SM2 (pure Python): the public keys derived from the
    standards' private keys, Z_A, and acceptance of the printed (r, s). The signing library, GmSSL, draws
    its k itself and takes no fixed one, so it cannot reproduce these signatures; it is tested below by
    round trips checked by this verifier."""
    alice = SM2PublicKey(*ALICE_PUBLIC, curve=EXAMPLE_CURVE)
    assert EXAMPLE_CURVE.mul(ALICE_D, (EXAMPLE_CURVE.gx, EXAMPLE_CURVE.gy)) == ALICE_PUBLIC
    assert sm2_z(alice, ALICE).hex() == ALICE_Z
    assert sm2_verify_rs(alice, b"message digest", *ALICE_RS, ident=ALICE)
    assert not sm2_verify_rs(alice, b"message digesT", *ALICE_RS, ident=ALICE)
    assert not sm2_verify_rs(alice, b"message digest", ALICE_RS[0], ALICE_RS[1] + 1, ident=ALICE)
    assert not sm2_verify_rs(alice, b"message digest", *ALICE_RS)  # another identity, another Z_A

    recommended = SM2PublicKey(*RECOMMENDED_PUBLIC)
    assert SM2_CURVE.mul(RECOMMENDED_D, (SM2_CURVE.gx, SM2_CURVE.gy)) == RECOMMENDED_PUBLIC
    assert sm2_verify_rs(recommended, b"message digest", *RECOMMENDED_RS)
    assert not sm2_verify_rs(recommended, b"message digest!", *RECOMMENDED_RS)
    with pytest.raises(VerificationError):
        SM2PublicKey(RECOMMENDED_PUBLIC[0], RECOMMENDED_PUBLIC[1] + 1)  # not on the curve


def test_gmssl_signatures_verify_in_the_plain_python_verifier_and_the_library_and_a_forgery_in_neither():
    public, private = sm2_key_generate()
    key = SM2PublicKey.from_bytes(public)
    for message in (b"", b"civic-ledger checkpoint v2\n", "第二十二条".encode() * 50):
        signature = sm2_sign(private, public, message)
        assert verify_signature(key, signature, message)
        assert sm2_verify(public, message, signature)
        assert not verify_signature(key, signature, message + b"x")
        other, _ = sm2_key_generate()
        assert not verify_signature(SM2PublicKey.from_bytes(other), signature, message)
    assert load_public_key(key.pem()) == key
    assert load_public_key(base64.b64encode(key.raw())) == key


# -- the profile of a ledger ---------------------------------------------------------------------

def test_a_profile_name_is_checked():
    assert crypto_profile(" SM ") == "sm" and crypto_profile(None) is None
    with pytest.raises(ValueError, match="intl, sm"):
        crypto_profile("gm")
    with pytest.raises(ValueError, match="CIVIC_LEDGER_CRYPTO_PROFILE"):
        Settings.from_env({"CIVIC_LEDGER_CRYPTO_PROFILE": "sha1"})


def test_the_profile_is_recorded_once_and_a_change_is_refused_once_events_exist(backend, tmp_path, clock):
    base = Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "key.pem"))
    rt = Runtime(dataclasses.replace(base, crypto_profile="intl"), clock=clock)
    rt.close()
    rt = Runtime(dataclasses.replace(base, crypto_profile="sm"), clock=clock)  # still empty: chosen anew
    try:
        assert rt.ledger.profile == rt.ledger.recorded_profile() == "sm"
        rt.init(admin=ADMIN.person)
        cp, _ = rt.integrity.create_checkpoint()
        assert cp.profile == "sm"
    finally:
        rt.close()
    with pytest.raises(ProfileMismatch, match="created with the crypto profile 'sm'.*never mixes profiles"):
        Runtime(dataclasses.replace(base, crypto_profile="intl"), clock=clock)
    again = Runtime(base, clock=clock)  # not asking: the ledger's own profile
    try:
        assert again.ledger.profile == "sm" and again.integrity.verify().ok
    finally:
        again.close()


def test_a_store_that_predates_profiles_is_intl(backend, tmp_path, clock):
    settings = Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "key.pem"))
    rt = Runtime(settings, clock=clock)
    try:
        rt.init(admin=ADMIN.person)
        rt.integrity.create_checkpoint()
        with rt.ledger.db.write() as tx:  # as a store written before the settings row existed
            tx.execute("DELETE FROM ledger_settings")
    finally:
        rt.close()
    with pytest.raises(ProfileMismatch, match="'intl'"):
        Runtime(dataclasses.replace(settings, crypto_profile="sm"), clock=clock)
    rt = Runtime(settings, clock=clock)
    try:
        assert rt.ledger.profile == rt.ledger.recorded_profile() == "intl" and rt.integrity.verify().ok
    finally:
        rt.close()


def test_an_intl_checkpoint_signs_the_same_bytes_as_before_profiles_existed():
    cp = {"tree_size": 7, "root_hash": "ab" * 32, "last_position": 9, "chain_hash": "cd" * 32,
          "timestamp": "2026-03-02T09:00:00+00:00"}
    before = (f"civic-ledger checkpoint v1\nsize 7\nroot {'ab' * 32}\nposition 9\nchain {'cd' * 32}\n"
              "time 2026-03-02T09:00:00+00:00\n").encode()
    assert signed_message(cp) == signed_message({**cp, "profile": "intl"}) == before
    assert signed_message({**cp, "profile": "sm"}) == before.replace(
        b"checkpoint v1\n", b"checkpoint v2\nprofile sm\n")


def test_an_sm_ledger_hashes_with_sm3_and_signs_with_sm2(ledger: Runtime, profile: str):
    cp = msgspec.to_builtins(ledger.integrity.checkpoint_of())
    key = public_key(ledger)
    assert cp["profile"] == profile
    assert isinstance(key, SM2PublicKey) == (profile == "sm")
    verify_checkpoint(cp, key)
    # the chain's first hash is the profile's hash over the first event's canonical bytes
    first = ledger.ledger.db.query_one("SELECT hash FROM ledger_chain WHERE seq = 0")
    bundle = ledger.integrity.proof(None, int(ledger.ledger.db.scalar("SELECT position FROM ledger_chain "
                                                                          "WHERE seq = 0")))
    data = infrastructure.verifier.event_canonical(bundle["event"])
    h = hashlib.new("sm3" if profile == "sm" else "sha256", bytes(32) + data).digest()
    assert bytes(first["hash"]) == h
    # a checkpoint relabelled as the other profile no longer verifies
    with pytest.raises(VerificationError):
        verify_checkpoint({**cp, "profile": "intl" if profile == "sm" else "sm"}, key)


def test_an_auditor_verifies_an_sm_proof_with_python_alone(ledger: Runtime, profile: str, tmp_path: Path):
    """The copied verifier, with `cryptography` hidden and hashlib's SM3 taken away: plain Python all through."""
    if profile != "sm":
        pytest.skip("the intl profile's Ed25519 needs `cryptography`")
    register(ledger, ADMIN, "div-late", name="后设处")
    older = trusted(ledger)
    ledger.integrity.create_checkpoint()
    position = int(ledger.ledger.db.scalar("SELECT MAX(position) FROM ledger_chain"))
    bundle = ledger.integrity.proof(None, position, since=older["tree_size"])
    assert verify_bundle(bundle, public_key(ledger), older)["consistent_with"] == older["tree_size"]

    away = tmp_path / "auditor"
    away.mkdir()
    shutil.copy(infrastructure.verifier.__file__, away / "verifier.py")
    (away / "ledger.pub").write_text(ledger.integrity.public_key_pem())
    (away / "checkpoint.json").write_text(json.dumps(older))
    (away / "proof.json").write_text(json.dumps(bundle))
    forged = json.loads(json.dumps(bundle))
    forged["event"]["state"] = base64.b64encode(base64.b64decode(forged["event"]["state"]) + b" ").decode()
    (away / "forged.json").write_text(json.dumps(forged))
    bare = ("import sys, hashlib\n"
            "sys.modules['cryptography'] = None\n"
            "_new = hashlib.new\n"
            "def new(name, *a, **k):\n"
            "    if name.lower() == 'sm3': raise ValueError('unsupported hash type sm3')\n"
            "    return _new(name, *a, **k)\n"
            "hashlib.new = new\n"
            "import verifier\n"
            "assert verifier.sm3 is verifier.PureSM3, verifier.sm3\n"
            "sys.exit(verifier.main(sys.argv[1:]))\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(proof: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", bare, "--public-key", "ledger.pub", "--checkpoint",
                               "checkpoint.json", "--proof", proof], cwd=away, env=env, capture_output=True,
                              text=True, timeout=120, check=False)

    ok = run("proof.json")
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)
    assert summary["profile"] == "sm" and summary["event"]["position"] == position
    bad = run("forged.json")
    assert bad.returncode == 1 and "FAILED" in bad.stderr


def test_init_chooses_the_profile_and_refuses_another_later(backend, tmp_path):
    settings = Settings(database_url=database_url(backend, tmp_path), signing_key=str(tmp_path / "k" / "key.pem"))
    env = {**os.environ, "CIVIC_LEDGER_DATABASE_URL": settings.database_url,
           "CIVIC_LEDGER_SIGNING_KEY": str(settings.signing_key)}
    env.pop("CIVIC_LEDGER_CRYPTO_PROFILE", None)

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "api.cli", *args], env={**env, **extra}, capture_output=True,
                              text=True, timeout=120, check=False)

    made = cli("init", "--crypto", "sm")
    assert made.returncode == 0, made.stderr
    assert "crypto profile: sm" in made.stderr
    assert b"BEGIN PRIVATE KEY" in Path(str(settings.signing_key)).read_bytes()
    cp = cli("checkpoint")
    assert cp.returncode == 0 and json.loads(cp.stdout)["profile"] == "sm", cp.stderr
    assert isinstance(load_public_key(cli("public-key").stdout), SM2PublicKey)
    refused = cli("init", "--crypto", "intl")
    assert refused.returncode == 2 and "refused" in refused.stderr and "'sm'" in refused.stderr
    by_env = cli("verify", "--quiet", CIVIC_LEDGER_CRYPTO_PROFILE="intl")
    assert by_env.returncode == 2 and "never mixes profiles" in by_env.stderr
    assert cli("verify", "--quiet").returncode == 0


def test_a_backup_of_an_sm_ledger_restores_as_sm_on_either_store(ledger: Runtime, profile: str, tmp_path: Path,
                                                                 clock):
    from application.backup import backup, restore

    out = tmp_path / "ledger.backup"
    backup(ledger.backup_parts(), out)
    target = Settings(database_url=f"sqlite:///{tmp_path}/restored.sqlite3", signing_key=ledger.settings.signing_key)
    rt = Runtime(target, clock=clock)  # a new store, of the default profile until the restore
    try:
        restore(rt.backup_parts(), out)
        assert rt.ledger.profile == rt.ledger.recorded_profile() == profile
        assert rt.integrity.verify().ok
    finally:
        rt.close()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command on this machine")
def test_openssl_reads_the_sm2_key_file_and_its_signatures_verify_here_and_ours_there(tmp_path: Path):
    """Interoperability with a third implementation: OpenSSL's own SM2 (its command line)."""
    from infrastructure.signing import ensure_signing_key, load_signer

    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.sqlite3", signing_key=str(tmp_path / "sm2.pem"))
    ensure_signing_key(settings, "sm")
    signer = load_signer(settings, "sm")
    pub = tmp_path / "sm2.pub"
    pub.write_text(signer.public_key().pem())
    derived = subprocess.run(["openssl", "pkey", "-in", str(tmp_path / "sm2.pem"), "-pubout"], capture_output=True,
                             text=True, check=True).stdout
    assert load_public_key(derived) == signer.public_key()
    message = tmp_path / "m"
    message.write_bytes("civic-ledger checkpoint v2\n第二十二条\n".encode())
    sig = tmp_path / "sig"
    subprocess.run(["openssl", "pkeyutl", "-sign", "-in", str(message), "-inkey", str(tmp_path / "sm2.pem"), "-rawin",
                    "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-out", str(sig)], check=True)
    assert verify_signature(signer.public_key(), sig.read_bytes(), message.read_bytes())
    sig.write_bytes(signer.sign(message.read_bytes()))
    checked = subprocess.run(["openssl", "pkeyutl", "-verify", "-in", str(message), "-pubin", "-inkey", str(pub),
                              "-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678", "-sigfile", str(sig)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and "Success" in checked.stdout, checked.stdout + checked.stderr
