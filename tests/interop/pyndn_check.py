#!/usr/bin/env python3
"""python-ndn parses and verifies packets that another encoder produced.

Reads JSON lines from stdin, each
  {"case", "hex", "expect": {...}, "signatureInfo": {...}?, "key": {...}?, "pyHex"?}
in the vocabulary of pyndn_corpus.py (see there). For each line:

  1. python-ndn parses `hex`; every field must equal `expect` exactly (no
     missing, no extra fields), and `signatureInfo` when given;
  2. the signature is verified with python-ndn's verifiers and `key`:
     DigestSha256 (sha256_digest_checker), HMAC (verify_hmac), Ed25519
     (verify_ed25519), the old command-Interest digest, and for an Interest
     with ApplicationParameters the ParametersSha256DigestComponent
     (params_sha256_checker);
  3. when `pyHex` is given (python-ndn's encoding of the same fields, where
     the spec fixes the encoding), `hex` must equal it byte for byte; when
     `pyHexSameElements` is given instead, the outer TLV-TYPE and the
     multiset of its child elements must be equal (order may differ);
  4. `expectParseError` (a substring of python-ndn's error) marks a known
     python-ndn limitation: parsing must fail with it, and a python-ndn that
     parses the packet fails the line so the harness gets updated.

Ed25519 is PureEdDSA (RFC 8032) over the signed portion, as the packet spec,
ndn-cxx and python-ndn >= 0.5 (verify_ed25519) have it.

Prints one JSON line per case ({"case", "ok", "errors", "checks"}) and a
final {"summary": {"passed", "failed"}} line, plus "N passed, M failed" on
stderr. Exits 1 on any failure, 2 on unreadable input.
"""

import asyncio
import hashlib
import json
import sys
import importlib.metadata

from Cryptodome.PublicKey import ECC
from ndn.encoding import Name, parse_interest, parse_data, SignatureInfo, parse_tl_num
from ndn.encoding.ndnlp_v2 import LpPacketValue
from ndn.encoding import parse_and_check_tl
from ndn.security.validator.digest_validator import sha256_digest_checker, params_sha256_checker
from ndn.security.validator.known_key_validator import verify_hmac, verify_ed25519

import pyndn_common as c

PYNDN_VERSION = importlib.metadata.version("python-ndn")


def sig_ptrs_of(wire: bytes):
    """(kind, name, sig_ptrs) of the packet that carries the signature: the
    Interest or Data itself, or an LpPacket's fragment."""
    t = c.outer_type(wire)
    if t == 0x64:
        v = LpPacketValue.parse(parse_and_check_tl(memoryview(wire), 0x64), {}, ignore_critical=True)
        if v.fragment is None:
            return None, None, None
        return sig_ptrs_of(bytes(v.fragment))
    if t == 0x05:
        name, _, _, sig = parse_interest(wire, with_tl=True)
        return "Interest", name, sig
    if t == 0x06:
        name, _, _, sig = parse_data(wire, with_tl=True)
        return "Data", name, sig
    return None, None, None


def verify_command_digest(name) -> (bool, str):
    """The older command-Interest form (NFD ControlCommand, as
    ndn.app_support.nfd_mgmt.make_command writes it): the last four name
    components are timestamp, nonce, SignatureInfo and SignatureValue, and a
    DigestSha256 covers the TLVs of every component before SignatureValue."""
    comps = list(Name.normalize(name))
    if len(comps) < 4:
        return False, "fewer than 4 components"
    sv_typ, sv_val = c.split_component(comps[-1])
    si_typ, si_val = c.split_component(comps[-2])
    _, ts_val = c.split_component(comps[-4])
    _, nonce_val = c.split_component(comps[-3])
    if len(ts_val) != 8 or len(nonce_val) != 8:
        return False, f"timestamp/nonce components of {len(ts_val)}/{len(nonce_val)} bytes, want 8"
    t, n1 = parse_tl_num(si_val, 0)
    if t != 0x16:
        return False, f"SignatureInfo component holds TLV type {t}"
    length, n2 = parse_tl_num(si_val, n1)
    info = SignatureInfo.parse(si_val[n1 + n2:n1 + n2 + length])
    if info.signature_type != 0:
        return False, f"command SignatureType {info.signature_type}, want 0"
    t, n1 = parse_tl_num(sv_val, 0)
    length, n2 = parse_tl_num(sv_val, n1)
    if t != 0x17 or length != 32:
        return False, f"SignatureValue component holds TLV type {t} length {length}"
    digest = hashlib.sha256(b"".join(bytes(x) for x in comps[:-1])).digest()
    return digest == bytes(sv_val[n1 + n2:]), "digest over the components"


def check_signature(wire: bytes, key: dict, checks: dict, errors: list):
    kind, name, sig = sig_ptrs_of(wire)
    if kind is None:
        errors.append("no Interest or Data to verify")
        return
    if kind == "Interest" and sig.digest_value_buf is not None:
        ok = asyncio.run(params_sha256_checker(name, sig))
        checks["paramsSha256"] = ok
        if not ok:
            errors.append("ParametersSha256DigestComponent does not match (params_sha256_checker)")
    typ = key.get("type")
    if typ == "command-digest":
        ok, why = verify_command_digest(name)
        checks["commandDigest"] = ok
        if not ok:
            errors.append(f"command-Interest signature: {why}")
        return
    if sig.signature_info is None:
        errors.append("packet is not signed")
        return
    st = sig.signature_info.signature_type
    if typ == "digest":
        ok = st == 0 and asyncio.run(sha256_digest_checker(name, sig))
        checks["sha256_digest_checker"] = ok
        if not ok:
            errors.append(f"DigestSha256 does not verify (SignatureType {st})")
    elif typ == "hmac":
        ok = st == 4 and verify_hmac(bytes.fromhex(key["secret"]), sig)
        checks["verify_hmac"] = ok
        if not ok:
            errors.append(f"HMAC-SHA256 does not verify (SignatureType {st})")
        wrong = verify_hmac(b"wrong key", sig)
        if wrong:
            errors.append("HMAC verifies with a wrong key")
    elif typ == "ed25519":
        ok = st == 5 and verify_ed25519(ECC.import_key(_raw_to_der(bytes.fromhex(key["public"]))), sig)
        checks["verify_ed25519"] = ok
        if not ok:
            errors.append(f"Ed25519 does not verify (SignatureType {st})")
        other = ECC.import_key(_raw_to_der(c.ed25519_key_other_public()))
        if verify_ed25519(other, sig):
            errors.append("Ed25519 verifies with a wrong key")
    else:
        errors.append(f"unknown key type {typ!r}")


def _raw_to_der(public: bytes) -> bytes:
    # SubjectPublicKeyInfo for Ed25519 (RFC 8410): fixed 12-byte prefix.
    return bytes.fromhex("302a300506032b6570032100") + public


def children(wire: bytes) -> (int, list):
    """(outer TLV-TYPE, [child element bytes]) of one TLV."""
    typ, a = parse_tl_num(wire, 0)
    length, b = parse_tl_num(wire, a)
    value, out, i = wire[a + b:], [], 0
    if len(value) != length:
        raise ValueError("outer TLV-LENGTH does not match")
    while i < len(value):
        _, x = parse_tl_num(value, i)
        n, y = parse_tl_num(value, i + x)
        out.append(value[i:i + x + y + n])
        i += x + y + n
    if i != len(value):
        raise ValueError("child element overruns its parent")
    return typ, out


def check_line(obj: dict) -> dict:
    errors, checks = [], {}
    case = obj.get("case", "?")
    try:
        if "pyHex" in obj:
            checks["bytesIdentical"] = obj["pyHex"] == obj["hex"]
            if not checks["bytesIdentical"]:
                errors.append(f"bytes differ from python-ndn's encoding:\n  ours   {obj['hex']}\n"
                              f"  python {obj['pyHex']}")
        if "pyHexSameElements" in obj:
            ours, theirs = (children(bytes.fromhex(h)) for h in (obj["hex"], obj["pyHexSameElements"]))
            checks["sameElements"] = ours[0] == theirs[0] and sorted(ours[1]) == sorted(theirs[1])
            if not checks["sameElements"]:
                errors.append(f"elements differ from python-ndn's encoding:\n  ours   {obj['hex']}\n"
                              f"  python {obj['pyHexSameElements']}")
    except Exception as e:
        errors.append(f"malformed TLV: {type(e).__name__}: {e}")
    known = obj.get("expectParseError")
    try:
        wire = bytes.fromhex(obj["hex"])
        got, got_si = c.packet_json(wire)
    except Exception as e:  # a parse failure is a finding, not a crash
        msg = f"{type(e).__name__}: {e}"
        checks["parses"] = False
        if known is None or known not in msg:
            errors.append(f"python-ndn cannot parse: {msg}")
        return {"case": case, "ok": not errors, "errors": errors, "checks": checks}
    checks["parses"] = True
    if known is not None:
        errors.append(f"python-ndn {PYNDN_VERSION} now parses it; expectParseError {known!r} is stale")
    try:
        want = obj.get("expect", {})
        if got != want:
            for k in sorted(set(got) | set(want)):
                if got.get(k) != want.get(k):
                    errors.append(f"field {k}: python-ndn reads {got.get(k)!r}, expected {want.get(k)!r}")
        if "signatureInfo" in obj and got_si != obj["signatureInfo"]:
            errors.append(f"signatureInfo: python-ndn reads {got_si}, expected {obj['signatureInfo']}")
        if "key" in obj:
            check_signature(wire, obj["key"], checks, errors)
    except Exception as e:
        errors.append(f"python-ndn fails checking it: {type(e).__name__}: {e}")
    return {"case": case, "ok": not errors, "errors": errors, "checks": checks}


def main() -> int:
    passed = failed = 0
    for lineno, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            print(f"pyndn_check: line {lineno} is not JSON: {e}", file=sys.stderr)
            return 2
        res = check_line(obj)
        print(json.dumps(res, sort_keys=True))
        if res["ok"]:
            passed += 1
        else:
            failed += 1
    print(json.dumps({"summary": {"passed": passed, "failed": failed, "pythonNdn": PYNDN_VERSION}}))
    print(f"{passed} passed, {failed} failed", file=sys.stderr)
    if passed + failed == 0:
        print("pyndn_check: no input", file=sys.stderr)
        return 2
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
