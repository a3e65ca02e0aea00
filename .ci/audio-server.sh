#!/usr/bin/env bash
# A PulseAudio server with no sound card, for the real PortAudio test (tests/test_listen_portaudio.py).
#
# A null sink "sernet_null" is the default sink; its monitor is the default source, so audio
# played with `paplay` comes back to PortAudio's ALSA "pulse"/"default" devices as microphone
# input. Runs as root with no user session or D-Bus. Idempotent: an existing server is reused.
#
#   bash .ci/audio-server.sh          start (installs the apt packages if missing, as root)
#   bash .ci/audio-server.sh stop     stop the server this script started
#
# Clients find the server through PULSE_SERVER (the test sets it itself when the socket exists):
#   export PULSE_SERVER=unix:/tmp/sernet-edge-pulse/native
# Exit 0 when the server answers, 1 otherwise (the PortAudio test then skips with the reason).
set -euo pipefail

RUNTIME_DIR="${SERNET_PULSE_DIR:-/tmp/sernet-edge-pulse}"
SOCKET="$RUNTIME_DIR/native"
SINK=sernet_null
PACKAGES=(libportaudio2 pulseaudio pulseaudio-utils alsa-utils libasound2-plugins)

export HOME="${HOME:-/root}"
export XDG_RUNTIME_DIR="$RUNTIME_DIR"   # pid file and state live here, not in a user session
export PULSE_SERVER="unix:$SOCKET"

say() { echo "audio-server: $*" >&2; }

install_packages() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        say "missing packages ${missing[*]} and not root: sudo apt-get install ${missing[*]}"
        return 1
    fi
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

server_up() { pactl info >/dev/null 2>&1; }

start_server() {
    mkdir -p "$RUNTIME_DIR"
    chmod 700 "$RUNTIME_DIR"
    # -n: skip default.pa (it probes sound cards this machine does not have);
    # anonymous auth: the test process needs no cookie file.
    pulseaudio --daemonize=yes --system=false --exit-idle-time=-1 -n \
        --use-pid-file=yes --log-target="file:$RUNTIME_DIR/pulseaudio.log" --log-level=warning \
        --load="module-native-protocol-unix socket=$SOCKET auth-anonymous=1" \
        --load="module-null-sink sink_name=$SINK rate=48000 channels=2 sink_properties=device.description=sernet-null" \
        </dev/null >/dev/null 2>>"$RUNTIME_DIR/pulseaudio.log" || true  # never hold CI's pipes
    for _ in $(seq 50); do
        server_up && return 0
        sleep 0.1
    done
    say "pulseaudio did not start; its log:"
    cat "$RUNTIME_DIR/pulseaudio.log" >&2 || true
    return 1
}

if [ "${1:-start}" = "stop" ]; then
    if server_up; then pactl exit >/dev/null 2>&1 || true; say "stopped"; fi
    exit 0
fi

install_packages
server_up || start_server
pactl list short sinks | grep -q "$SINK" \
    || pactl load-module module-null-sink "sink_name=$SINK" rate=48000 channels=2 >/dev/null
pactl set-default-sink "$SINK"
pactl set-default-source "$SINK.monitor"
say "PulseAudio up at $PULSE_SERVER (null sink $SINK, default source $SINK.monitor)"
