#!/usr/bin/env python3
"""Narrowband PESQ (ITU-T P.862, PyPI `pesq`) of speech through our Opus path versus G.711.

The degraded Opus files are produced by our own code: the `opus_roundtrip` example encodes the
clip with `codecs::oggopus::OggOpusWriter` and decodes it with `OggOpusReader`. The G.711
reference goes through sox's µ-law and A-law (sox rounds slightly differently from G.191, which
does not matter at PESQ's resolution).

    python3 scripts/opus_pesq.py [--clip codecs/tests/data/speech-8k.wav] [--bitrates 8000 16000]

Needs: cargo, sox, python3 with numpy, scipy and pesq (`pip install pesq`).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from pesq import pesq
from scipy.io import wavfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(path):
    rate, data = wavfile.read(path)
    if data.ndim > 1:
        data = data.mean(axis=1)
    return rate, data.astype(np.float64)


def score(ref_path, deg_path):
    rate, ref = load(ref_path)
    deg_rate, deg = load(deg_path)
    if rate != 8000 or deg_rate != 8000:
        sys.exit(f"narrowband PESQ needs 8 kHz files, got {rate} and {deg_rate}")
    n = min(len(ref), len(deg))
    return pesq(8000, ref[:n], deg[:n], "nb"), len(ref), len(deg)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=os.path.join(ROOT, "codecs/tests/data/speech-8k.wav"))
    ap.add_argument("--bitrates", type=int, nargs="+", default=[8000, 12000, 16000, 24000])
    args = ap.parse_args()

    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "codecs", "--example", "opus_roundtrip"],
        cwd=ROOT, check=True)
    tool = os.path.join(ROOT, "target", "release", "examples", "opus_roundtrip")
    clip_bytes = os.path.getsize(args.clip)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for law in ("mu-law", "a-law"):
            coded = os.path.join(tmp, f"{law}.wav")
            deg = os.path.join(tmp, f"{law}-dec.wav")
            subprocess.run(["sox", "-D", args.clip, "-e", law, coded], check=True)
            subprocess.run(["sox", "-D", coded, "-e", "signed-integer", "-b", "16", deg], check=True)
            mos, nref, ndeg = score(args.clip, deg)
            kbps = 64.0
            rows.append((f"G.711 {law} (sox)", kbps, mos, nref, ndeg))
        for br in args.bitrates:
            deg = os.path.join(tmp, f"opus-{br}.wav")
            ogg = os.path.join(tmp, f"opus-{br}.opus")
            subprocess.run([tool, args.clip, deg, str(br), ogg], check=True, capture_output=True)
            mos, nref, ndeg = score(args.clip, deg)
            seconds = nref / 8000.0
            kbps = os.path.getsize(ogg) * 8 / seconds / 1000
            rows.append((f"Opus {br // 1000} kbit/s (offhook Ogg Opus)", kbps, mos, nref, ndeg))

    print(f"clip: {os.path.relpath(args.clip, ROOT)} ({clip_bytes} bytes)")
    print(f"{'path':40} {'file kbit/s':>11} {'PESQ-NB':>8} {'ref/deg samples':>18}")
    for name, kbps, mos, nref, ndeg in rows:
        print(f"{name:40} {kbps:11.1f} {mos:8.2f} {nref:>8}/{ndeg:<8}")


if __name__ == "__main__":
    main()
