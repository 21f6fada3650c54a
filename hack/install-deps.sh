#!/bin/sh
# install-deps.sh - install every build and test dependency from Debian packages, then prepare the host.
# Idempotent: only missing packages are installed; run as root.  Package lists: hack/deps/*.txt.
set -eu
cd "$(dirname "$0")/.."
pkgs=$(cat hack/deps/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | sort -u | grep -v '^$')
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# A fresh machine has no package lists yet; an old list may name versions the archive no longer has.
	apt-get update -q || true
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
else
	echo "install-deps: all $(echo "$pkgs" | wc -l) packages present"
fi
hack/prepare-host.sh
