"""Checks the native pieces voipdns relies on and says clearly what is missing.

The wheels bring their own native libraries (libsndfile in soundfile, FFmpeg in PyAV), so no system package
is required; this check makes a broken environment fail at install time rather than in the middle of a run.
"""

from __future__ import annotations

import sys

# Codecs the VoIP channel simulator uses, as PyAV names them.
VOIP_ENCODERS = ("libopus", "pcm_mulaw", "pcm_alaw", "g722", "libgsm", "libopencore_amrnb")


def missing_encoders() -> list[str]:
    import av  # deferred: this check reports a broken native library instead of failing on import

    available = av.codecs_available
    return [name for name in VOIP_ENCODERS if name not in available]


def main() -> int:
    problems = []
    try:
        import soundfile  # deferred: a broken libsndfile is reported, not raised at import

        soundfile.available_formats()
    except Exception as error:  # noqa: BLE001 - report whatever broke the import
        problems.append(f"soundfile/libsndfile cannot load: {error}")
    try:
        missing = missing_encoders()
        if missing:
            print(
                f"note: PyAV lacks encoders {missing}; the VoIP simulator uses the system sox or ffmpeg for "
                "those (make install installs sox when it can)"
            )
    except Exception as error:  # noqa: BLE001
        problems.append(f"PyAV (av) cannot load: {error}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print("system check: soundfile and PyAV OK")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
