#!/bin/sh
# Installs the Debian packages given as arguments that are not installed yet.
# Runs apt-get only when something is missing, so repeated builds stay offline.
#
# No service is started by these installs: the servers that `make
# bench-peers` measures (rabbitmq-server, nats-server) are started by the
# benchmark itself, on 127.0.0.1, and stopped by their process ids. So while
# apt-get runs, /usr/sbin/policy-rc.d (if there is none already) refuses
# every service start, and afterwards the services of those packages are
# stopped and disabled where systemd runs.
set -eu
missing=""
for p in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: need root to install:$missing (run as root, or install them first)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# made by nrmbus tools/install-deps.sh while it installs\nexit 101\n' > "$policy"
  chmod 755 "$policy"
  made_policy=1
fi
trap '[ "$made_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
for svc in rabbitmq-server nats-server epmd.socket epmd.service; do
  case " $missing " in
    *" rabbitmq-server "*|*" nats-server "*) ;;
    *) continue ;;
  esac
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
