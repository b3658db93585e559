#!/usr/bin/env bash
# Installs the Debian packages instrec needs, only when they are missing.
#   fluidsynth          renders the demo corpus (MIDI -> audio)
#   fluid-soundfont-gm  FluidR3_GM.sf2, the second General MIDI soundfont of the demo corpus
#   musescore-general-soundfont-small  MuseScore_General_Lite.sf3, a third GM sample set
#   libsndfile1         FLAC/WAV/OGG decoding for soundfile
# Without root: ask an administrator to run
#   apt-get install fluidsynth fluid-soundfont-gm musescore-general-soundfont-small libsndfile1
# or install FluidSynth yourself and point INSTREC_SOUNDFONTS at .sf2 files.
#
# With --test, also chromium (headless): the slow test that renders report.html in a browser.
set -euo pipefail
need=()
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
command -v fluidsynth >/dev/null 2>&1 || need+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
[ -f /usr/share/sounds/sf3/MuseScore_General_Lite.sf3 ] || need+=(musescore-general-soundfont-small)
ldconfig -p 2>/dev/null | grep -q 'libsndfile\.so' || need+=(libsndfile1)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=sudo
  else
    echo "instrec: missing Debian packages: ${need[*]}" >&2
    echo "instrec: not root and no passwordless sudo; run as root: apt-get install ${need[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "instrec: installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
