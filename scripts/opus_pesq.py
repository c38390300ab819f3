#!/usr/bin/env python3
"""PESQ (ITU-T P.862, PyPI `pesq`) of speech through our Opus path versus G.711.

The degraded Opus files are produced by our own code: the `opus_roundtrip` example encodes the
clip with `codecs::oggopus::OggOpusWriter` and decodes it with `OggOpusReader`. The G.711
reference goes through sox's µ-law and A-law (sox rounds slightly differently from G.191, which
does not matter at PESQ's resolution).

    python3 scripts/opus_pesq.py [--clip codecs/tests/data/speech-8k.wav] [--bitrates 8000 16000]
    python3 scripts/opus_pesq.py --clip /work/shared/fixtures/speech-16k.wav --bitrates 16000 \
        --complexities 10 8 5

8 kHz clips are scored narrowband (P.862); 16 kHz clips wideband (P.862.2), and the G.711 rows
are then left out (G.711 is narrowband). `--complexities` adds one Opus row per encoder
complexity (default: the stored-message setting only), with the encoder's CPU time.

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
    if rate != deg_rate or rate not in (8000, 16000):
        sys.exit(f"PESQ needs two 8 kHz or two 16 kHz files, got {rate} and {deg_rate}")
    n = min(len(ref), len(deg))
    mode = "nb" if rate == 8000 else "wb"
    return pesq(rate, ref[:n], deg[:n], mode), len(ref), len(deg)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=os.path.join(ROOT, "codecs/tests/data/speech-8k.wav"))
    ap.add_argument("--bitrates", type=int, nargs="+", default=[8000, 12000, 16000, 24000])
    ap.add_argument("--complexities", type=int, nargs="+", default=[None])
    args = ap.parse_args()

    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "codecs", "--example", "opus_roundtrip"],
        cwd=ROOT, check=True)
    tool = os.path.join(ROOT, "target", "release", "examples", "opus_roundtrip")
    clip_bytes = os.path.getsize(args.clip)
    clip_rate, _ = load(args.clip)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for law in ("mu-law", "a-law") if clip_rate == 8000 else ():
            coded = os.path.join(tmp, f"{law}.wav")
            deg = os.path.join(tmp, f"{law}-dec.wav")
            subprocess.run(["sox", "-D", args.clip, "-e", law, coded], check=True)
            subprocess.run(["sox", "-D", coded, "-e", "signed-integer", "-b", "16", deg], check=True)
            mos, nref, ndeg = score(args.clip, deg)
            kbps = 64.0
            rows.append((f"G.711 {law} (sox)", kbps, mos, nref, ndeg, ""))
        for br in args.bitrates:
            for cx in args.complexities:
                deg = os.path.join(tmp, f"opus-{br}-{cx}.wav")
                ogg = os.path.join(tmp, f"opus-{br}-{cx}.opus")
                flags = [] if cx is None else ["--complexity", str(cx)]
                run = subprocess.run([tool, *flags, args.clip, deg, str(br), ogg],
                                     check=True, capture_output=True, text=True)
                cpu = next((line.split("encode CPU ")[1].split(" (")[0]
                            for line in run.stderr.splitlines() if "encode CPU" in line), "")
                mos, nref, ndeg = score(args.clip, deg)
                seconds = nref / clip_rate
                kbps = os.path.getsize(ogg) * 8 / seconds / 1000
                name = f"Opus {br // 1000} kbit/s" + ("" if cx is None else f" complexity {cx}")
                rows.append((name, kbps, mos, nref, ndeg, cpu))

    mode = "PESQ-NB" if clip_rate == 8000 else "PESQ-WB"
    print(f"clip: {args.clip} ({clip_bytes} bytes, {clip_rate} Hz)")
    print(f"{'path':34} {'file kbit/s':>11} {mode:>8} {'ref/deg samples':>18} {'encode CPU':>11}")
    for name, kbps, mos, nref, ndeg, cpu in rows:
        print(f"{name:34} {kbps:11.1f} {mos:8.3f} {nref:>8}/{ndeg:<8} {cpu:>11}")


if __name__ == "__main__":
    main()
