"""python-ndn fetches a node's monitoring report (tests/node.rs).

  monitor_fetch.py NAME PUBLIC_KEY_HEX

Expresses an Interest for NAME (CanBePrefix, MustBeFresh), verifies the
Data's Ed25519 signature with PUBLIC_KEY_HEX using python-ndn's own
verifier (verify_ed25519), fetches the remaining segments if any, and prints
one JSON line: {"name", "freshness", "keyLocator", "verified", "report"}.
The forwarder comes from NDN_CLIENT_TRANSPORT (unix:///path). Exits non-zero
on any failure, and when the signature does not verify.
"""
import asyncio
import json
import sys

from Cryptodome.PublicKey import ECC
from ndn.app import NDNApp
from ndn.encoding import Component, Name
from ndn.security import KeychainDigest
from ndn.security.validator.known_key_validator import verify_ed25519


def main():
    name, public_hex = sys.argv[1], sys.argv[2]
    key = ECC.import_key(bytes.fromhex("302a300506032b6570032100" + public_hex))
    app = NDNApp(keychain=KeychainDigest())
    result = {"verified": True}

    async def validator(_name, sig):
        ok = sig.signature_info is not None and sig.signature_info.signature_type == 5 \
            and verify_ed25519(key, sig)
        if ok:
            kl = sig.signature_info.key_locator
            result["keyLocator"] = Name.to_str(kl.name) if kl is not None and kl.name else None
        else:
            result["verified"] = False
        return ok

    async def fetch():
        try:
            data_name, meta, content = await app.express_interest(
                name, validator=validator, must_be_fresh=True, can_be_prefix=True,
                lifetime=4000)
            result["name"] = Name.to_str(data_name)
            result["freshness"] = meta.freshness_period
            body = bytes(content or b"")
            last = Component.to_number(meta.final_block_id) if meta.final_block_id else 0
            base = data_name[:-1]
            for seg in range(1, last + 1):
                _n, _m, more = await app.express_interest(
                    base + [Component.from_segment(seg)], validator=validator,
                    lifetime=4000)
                body += bytes(more or b"")
            result["report"] = json.loads(body)
        finally:
            app.shutdown()

    app.run_forever(after_start=fetch())
    print(json.dumps(result), flush=True)
    sys.exit(0 if result["verified"] and "report" in result else 1)


if __name__ == "__main__":
    main()
