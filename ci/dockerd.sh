#!/bin/bash
# Start or stop a Docker engine for the container target, the way CI needs it: no bridge
# network and no iptables rules (containers use the host's network and listen on loopback).
#
# usage: ci/dockerd.sh start|stop|status
# env:   DOCKERD_SOCKET  (default /var/run/docker.sock: testcontainers finds it with no DOCKER_HOST)
#        DOCKERD_ROOT    (default /var/lib/docker), DOCKERD_LOG (default /var/log/dockerd.log)
#        DOCKERD_STORAGE (default overlay2; vfs where overlayfs is not available)
#        DOCKERD_WAIT    (seconds to wait for readiness, default 30)
# Exit codes: 0 done (status: running), 1 dockerd failed to start or stop (the log's last lines
# are shown; status: not running), 2 usage.
set -Eeuo pipefail

socket="${DOCKERD_SOCKET:-/var/run/docker.sock}"
root="${DOCKERD_ROOT:-/var/lib/docker}"
log="${DOCKERD_LOG:-/var/log/dockerd.log}"
storage="${DOCKERD_STORAGE:-overlay2}"
wait_s="${DOCKERD_WAIT:-30}"
pidfile="${socket%.sock}.pid"
export DOCKER_HOST="unix://$socket"

# An engine that accepts the connection but never answers must not stall the bounded wait.
ready() { timeout 5 docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }
running_pid() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null && cat "$pidfile"; }

start() {
	if ready; then echo "dockerd already answers at $socket"; return 0; fi
	command -v dockerd >/dev/null || { echo "error: dockerd is not installed (apt-get install docker.io)" >&2; return 1; }
	mkdir -p "$(dirname "$log")" "$root"
	# setsid: its own session, so a Ctrl-C meant for the tests does not reach the engine.
	setsid dockerd --host "unix://$socket" --pidfile "$pidfile" --data-root "$root" \
		--storage-driver "$storage" --bridge=none --iptables=false --ip6tables=false \
		>>"$log" 2>&1 </dev/null &
	local pid=$!
	for _ in $(seq $((wait_s * 5))); do
		if ready; then echo "dockerd $(docker version --format '{{.Server.Version}}') ready at $socket (pid $pid)"; return 0; fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.2
	done
	echo "error: dockerd did not become ready within ${wait_s} s; last lines of $log:" >&2
	tail -n 15 "$log" >&2
	kill "$pid" 2>/dev/null || true
	return 1
}

stop() {
	local pid
	pid="$(running_pid)" || { echo "dockerd is not running (no live pid in $pidfile)"; return 0; }
	kill -TERM "$pid"
	for _ in $(seq 150); do  # dockerd stops its containers first: up to 30 s
		kill -0 "$pid" 2>/dev/null || { echo "dockerd stopped"; return 0; }
		sleep 0.2
	done
	echo "error: dockerd (pid $pid) did not stop within 30 s; killing it" >&2
	kill -KILL "$pid" 2>/dev/null || true
	return 1
}

case "${1:-}" in
	start) start ;;
	stop) stop ;;
	status) if ready; then echo "running at $socket"; else echo "not running at $socket"; exit 1; fi ;;
	*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
