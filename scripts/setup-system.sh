#!/usr/bin/env bash
# Installs the Debian packages the kiosk, the hub and their tests need, and only those that are missing.
# Runs before `npm ci` (the NFC addon compiles against libpcsclite-dev) and again before `npm test`;
# when nothing is missing it does nothing and takes no time.
set -euo pipefail

# package name → a file that proves it is installed
declare -A needs=(
  [pcscd]=/usr/sbin/pcscd
  [libpcsclite-dev]=/usr/include/PCSC/winscard.h
  [vsmartcard-vpcd]=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
  [socat]=/usr/bin/socat
  [mosquitto]=/usr/sbin/mosquitto
  [postgresql]='/usr/lib/postgresql/*/bin/initdb'
  [chromium]=/usr/bin/chromium
  [util-linux]=/usr/bin/unshare
  # Chinese glyphs for the kiosk page in headless Chromium (screenshots would show boxes without them)
  [fonts-wqy-microhei]=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
)

missing=()
for package in "${!needs[@]}"; do
  # a glob, because PostgreSQL's binaries live in a directory named after its major version
  compgen -G "${needs[$package]}" > /dev/null || missing+=("$package")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

command="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "member-kiosk needs these system packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get update && sudo $command" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends ${missing[*]} > /tmp/member-kiosk-apt.log 2>&1 || {
  echo "apt-get failed; see /tmp/member-kiosk-apt.log" >&2
  tail -20 /tmp/member-kiosk-apt.log >&2
  exit 1
}
echo "System packages installed."
