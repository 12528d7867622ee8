#!/usr/bin/env sh
# Installs the peers perf/peers.ts compares with (Debian packages), when run as root.
# Postfix is installed without letting its package configure or start the system
# instance: the benchmark runs its own, in a temp dir, on a loopback port.
set -eu
need=""
command -v /usr/sbin/postfix >/dev/null 2>&1 || need="$need postfix"
[ -x /usr/bin/altermime ] || need="$need altermime"
if [ -z "$need" ]; then exit 0; fi
if [ "$(id -u)" != "0" ]; then
  echo "perf:peers: missing$need; run as root to install, or install them yourself" >&2
  exit 0
fi
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
DEBIAN_FRONTEND=noninteractive apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
