#!/usr/bin/env python3
"""python-ndn's decode rate on the packets the `codec` bench decodes.

    python3 tlv/benches/pyndn_decode.py [DIR]     # DIR: target/codec-bench

Reads every DIR/<packet>.hex written by `cargo bench -p picasso-tlv --bench
codec` (so both sides decode the very same bytes), times
ndn.encoding.parse_interest / parse_data (ndnlp_v2.parse_lp_packet then
parse_interest of the fragment for lp_*) on it, and prints one JSON object
per packet: {"packet": ..., "bytes": ..., "decodes_per_sec": ...}.
"""
import glob
import json
import os
import sys
import time

from ndn.encoding import parse_data, parse_interest
from ndn.encoding.ndnlp_v2 import parse_lp_packet

MIN_BATCH_SECONDS = 0.2
ROUNDS = 9


def rate(fn, wire):
    """Median decodes/s over ROUNDS batches of at least MIN_BATCH_SECONDS
    each: the same statistic bench-codec.sh takes from criterion for our
    side, so load from other processes skews both alike."""
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            fn(wire)
        dt = time.perf_counter() - t0
        if dt >= MIN_BATCH_SECONDS:
            break
        n *= 2
    rates = [n / dt]
    for _ in range(ROUNDS - 1):
        t0 = time.perf_counter()
        for _ in range(n):
            fn(wire)
        rates.append(n / (time.perf_counter() - t0))
    rates.sort()
    return rates[len(rates) // 2]


def parse_lp_interest(wire):
    """The whole packet: parse_lp_packet only splits the LpPacket, so the
    Interest inside is parsed too, as our side decodes both."""
    nack, fragment = parse_lp_packet(wire)[:2]
    parse_interest(fragment)
    return nack, fragment


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "target", "codec-bench")
    files = sorted(glob.glob(os.path.join(d, "*.hex")))
    if not files:
        sys.exit(f"pyndn_decode.py: no *.hex packets in {d}: run the codec bench first")
    for f in files:
        packet = os.path.basename(f)[:-4]
        with open(f) as fh:
            wire = bytes.fromhex(fh.read().strip())
        fn = (parse_interest if packet.startswith("interest")
              else parse_lp_interest if packet.startswith("lp")
              else parse_data)
        # A packet python-ndn cannot parse would make the comparison meaningless.
        parsed = fn(wire)
        # (name, ...) for Interest/Data, (nack_reason, fragment) for LpPacket.
        key = parsed[1] if packet.startswith("lp") else parsed[0]
        assert key is not None, f"python-ndn could not parse {packet}"
        print(json.dumps({"packet": packet, "bytes": len(wire),
                          "decodes_per_sec": rate(fn, wire)}), flush=True)


if __name__ == "__main__":
    main()
