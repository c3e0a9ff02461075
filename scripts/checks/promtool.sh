#!/usr/bin/env bash
# Checks the Prometheus alert rules under deploy/prometheus: `promtool check rules`
# (syntax, expressions) and `promtool test rules` (alerts_test.yml fires each alert on
# synthetic series). promtool comes from Debian's prometheus package (the Go module's
# promtool does not build from the module proxy); it is installed with apt-get when
# missing, without starting the prometheus daemon the package ships.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if ! command -v promtool >/dev/null 2>&1; then
	echo "promtool.sh: promtool missing; installing Debian's prometheus package" >&2
	sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		sudo=(sudo)
	fi
	# policy-rc.d answering 101 tells the package scripts not to start the daemon.
	added_policy=0
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${sudo[@]}" chmod 755 /usr/sbin/policy-rc.d
		added_policy=1
	fi
	remove_policy() {
		if ((added_policy)); then
			"${sudo[@]}" rm -f /usr/sbin/policy-rc.d
		fi
	}
	trap remove_policy EXIT
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >/dev/null
	remove_policy
	added_policy=0
	command -v promtool >/dev/null 2>&1 || { echo "promtool.sh: the prometheus package did not provide promtool" >&2; exit 1; }
fi

promtool --version | head -1
promtool check rules deploy/prometheus/alerts.yml
(cd deploy/prometheus && promtool test rules alerts_test.yml)
