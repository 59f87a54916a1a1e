#!/usr/bin/env bash
# Installs the Debian packages the kiosk, the hub and their tests need, and only those that are missing.
# Runs before `npm ci` (the NFC addon compiles against libpcsclite-dev) and again before `npm test`;
# when nothing is missing it does nothing and takes no time.
set -euo pipefail

# package name → files that prove it is installed (globs; several, space-separated, mean "any of them", because
# merged-/usr and older layouts put some binaries in /bin or /sbin, others in /usr/bin or /usr/sbin).
# Every program the code, the tests and `npm ci` run, or a library they load runs, comes from one of these:
declare -A needs=(
  # the NFC tests' own pcscd, the headers @pokusew/pcsclite compiles against, and the virtual reader's driver
  [pcscd]=/usr/sbin/pcscd
  [libpcsclite-dev]=/usr/include/PCSC/winscard.h
  [vsmartcard-vpcd]=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
  # `npm ci` builds @pokusew/pcsclite with node-gyp, which runs python3, make and g++
  [python3]=/usr/bin/python3
  [make]=/usr/bin/make
  [g++]=/usr/bin/g++
  # serial ptys for the bill validator and serial printer emulators (device/emulators/serial-pty.ts)
  [socat]=/usr/bin/socat
  # serialport's SerialPort.list() runs `udevadm info -e` (hardware discovery); node-hid loads libudev and libusb
  [udev]='/usr/bin/udevadm /bin/udevadm'
  [libusb-1.0-0]='/usr/lib/*/libusb-1.0.so.0 /lib/*/libusb-1.0.so.0'
  # the external broker tests: mosquitto and mosquitto_passwd
  [mosquitto]=/usr/sbin/mosquitto
  # tests start their own server: initdb and postgres (as user postgres, through runuser)
  [postgresql]='/usr/lib/postgresql/*/bin/initdb'
  # browser tests and receipt images (playwright-core drives Debian's Chromium)
  [chromium]=/usr/bin/chromium
  # each test file's pcscd runs in a private mount namespace: unshare, runuser (util-linux), mount --bind (mount)
  [util-linux]='/usr/bin/unshare /sbin/runuser /usr/sbin/runuser'
  [mount]='/bin/mount /usr/bin/mount'
  # Chinese glyphs for the kiosk page in headless Chromium (screenshots would show boxes without them)
  [fonts-wqy-microhei]=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
  # scripts/check-busy.sh: the test suite while the CPUs are kept busy
  [stress-ng]=/usr/bin/stress-ng
)

installed() {
  local proof proofs
  read -ra proofs <<< "$1"
  for proof in "${proofs[@]}"; do
    # a glob, because PostgreSQL's binaries live in a directory named after its major version
    compgen -G "$proof" > /dev/null && return 0
  done
  return 1
}

missing=()
for package in "${!needs[@]}"; do
  installed "${needs[$package]}" || missing+=("$package")
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
