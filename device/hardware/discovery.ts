import { readdir, realpath } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import type { Device as HidDeviceInfo } from 'node-hid';

/** How a serial device is recognised: a path (best a /dev/serial/by-id link), or USB ids as SerialPort.list() reports them. */
export interface SerialMatch {
  path?: string;
  /** Hex as in `lsusb`, e.g. "0403"; case and a "0x" prefix do not matter. */
  vendorId?: string;
  productId?: string;
  serialNumber?: string;
}

export interface DiscoveryConfig {
  billValidator?: SerialMatch;
  printer?: { kind: 'tcp'; host: string; port: number } | { kind: 'serial'; match: SerialMatch };
  magstripe?: { vendorId: number; productId?: number };
  /** A PC/SC reader whose name contains this (case-insensitive), e.g. "ACR122"; "" takes any reader. */
  nfcReader?: { nameContains: string };
}

/** Nothing about the bill validator is assumed: which USB-serial adapter it sits behind differs per site. */
export const DEFAULT_DISCOVERY_CONFIG: DiscoveryConfig = {
  printer: { kind: 'tcp', host: '127.0.0.1', port: 9100 },
  magstripe: { vendorId: 0x0801 }, // MagTek
  nfcReader: { nameContains: '' },
};

/** Where discovery looks; each can be replaced, which is how tests stand in for USB and HID devices. */
export interface DiscoverySources {
  listSerialPorts?: () => Promise<Array<Pick<SerialDevice, 'path' | 'vendorId' | 'productId' | 'serialNumber' | 'manufacturer'>>>;
  byIdDir?: string;
  listHidDevices?: () => Promise<HidDeviceInfo[]>;
  /** PC/SC has no one-shot list in nfc-pcsc: the kiosk passes the reader names its NFC adapter has seen. */
  listPcscReaders?: () => Promise<string[]>;
  tcpTimeoutMs?: number;
}

export interface SerialDevice {
  /** The path to configure and open: the stable by-id link when there is one. */
  path: string;
  /** The tty it is now, e.g. /dev/ttyUSB0 — which can change on the next replug. */
  device: string;
  vendorId: string | undefined;
  productId: string | undefined;
  serialNumber: string | undefined;
  manufacturer: string | undefined;
}

export type PeripheralRole = 'bill-validator' | 'printer' | 'magstripe-reader' | 'nfc-reader';

export interface DiscoveryFinding {
  role: PeripheralRole;
  /** What was looked for, in words. */
  configured: string;
  status: 'found' | 'missing' | 'not-configured' | 'not-checked';
  /** What to open: a serial path, "host:port", a hidraw path or a reader name. */
  path?: string;
  detail: string;
}

/** A source discovery could not read, and what the technician can do about it. */
export interface DiscoveryProblem {
  source: 'serial-ports' | 'hid-devices' | 'pcsc-readers';
  /** 'udevadm-missing': serialport lists USB serial adapters by running `udevadm`, which is not installed. */
  code: 'udevadm-missing' | 'listing-failed';
  message: { zh: string; en: string };
  /** The error as the library reported it, e.g. "spawn udevadm ENOENT". */
  cause: string;
}

export interface DiscoveryReport {
  findings: DiscoveryFinding[];
  serialDevices: SerialDevice[];
  hidDevices: HidDeviceInfo[];
  pcscReaders: string[] | null;
  /** Sources that could not be read; whatever else could be read is still in the report. */
  problems: DiscoveryProblem[];
  at: string;
}

const hex = (id: string | undefined) => id?.toLowerCase().replace(/^0x/, '').padStart(4, '0');
const hex16 = (id: number) => id.toString(16).padStart(4, '0');

async function resolved(path: string): Promise<string | null> {
  return realpath(path).catch(() => null);
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * What to tell a technician when a source cannot be listed. serialport lists ports on Linux by spawning
 * `udevadm info -e`; on a system without udev (a minimal Debian image, a container) that spawn fails with
 * ENOENT, which says nothing to someone standing at a kiosk.
 */
export function explainListingFailure(source: DiscoveryProblem['source'], error: unknown): DiscoveryProblem {
  const cause = errorText(error);
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (source === 'serial-ports' && code === 'ENOENT' && /udevadm/.test(`${cause} ${(error as NodeJS.ErrnoException).path ?? ''}`)) {
    return {
      source,
      code: 'udevadm-missing',
      message: {
        zh: '无法列出 USB 串口设备（纸币器、串口打印机）：系统缺少 udevadm 程序（属于 udev 软件包）。请以 root 运行 `apt install udev` 安装后重试。按路径配置的设备和 /dev/serial/by-id 链接仍会检查；读卡器和磁条卡读卡器不受影响。',
        en: 'Cannot list USB serial devices (bill validator, serial printer): the udevadm program (package udev) is not installed. Install it as root with `apt install udev`, then run discovery again. Devices configured by path and the /dev/serial/by-id links are still checked; NFC and magstripe readers are not affected.',
      },
      cause,
    };
  }
  const what = { 'serial-ports': ['串口设备', 'serial ports'], 'hid-devices': [' HID 设备', 'HID devices'], 'pcsc-readers': [' PC/SC 读卡器', 'PC/SC readers'] }[source];
  return {
    source,
    code: 'listing-failed',
    message: { zh: `无法列出${what[0]}：${cause}`, en: `Cannot list ${what[1]}: ${cause}` },
    cause,
  };
}

/** Serial ports as the OS lists them, each under its by-id link when it has one, plus by-id links the list lacks. */
export async function listSerialDevices(sources: DiscoverySources = {}): Promise<SerialDevice[]> {
  return (await readSerialDevices(sources)).devices;
}

/** listSerialDevices, and why the OS list could not be read if it could not (the by-id links are listed either way). */
async function readSerialDevices(sources: DiscoverySources): Promise<{ devices: SerialDevice[]; problem: DiscoveryProblem | undefined }> {
  const byIdDir = sources.byIdDir ?? '/dev/serial/by-id';
  let problem: DiscoveryProblem | undefined;
  const listed = await (sources.listSerialPorts ?? (() => SerialPort.list()))().catch((error: unknown) => {
    problem = explainListingFailure('serial-ports', error);
    return [];
  });
  const names = await readdir(byIdDir).catch(() => []);
  const links = (await Promise.all(names.sort().map(async (name) => ({ link: join(byIdDir, name), target: await resolved(join(byIdDir, name)) }))))
    .filter((entry): entry is { link: string; target: string } => entry.target !== null);
  const devices: SerialDevice[] = [];
  for (const port of listed) {
    const device = (await resolved(port.path)) ?? port.path;
    const link = links.find((entry) => entry.target === device);
    devices.push({ path: link?.link ?? port.path, device, vendorId: hex(port.vendorId), productId: hex(port.productId), serialNumber: port.serialNumber, manufacturer: port.manufacturer });
  }
  for (const { link, target } of links) {
    if (!devices.some((device) => device.device === target)) {
      devices.push({ path: link, device: target, vendorId: undefined, productId: undefined, serialNumber: undefined, manufacturer: undefined });
    }
  }
  return { devices, problem };
}

function describeMatch(match: SerialMatch): string {
  const parts = [
    match.path && `path ${match.path}`,
    match.vendorId && `vendor ${hex(match.vendorId)}`,
    match.productId && `product ${hex(match.productId)}`,
    match.serialNumber && `serial ${match.serialNumber}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'anything (nothing configured)';
}

async function findSerial(role: PeripheralRole, match: SerialMatch | undefined, devices: SerialDevice[], listingProblem?: DiscoveryProblem): Promise<DiscoveryFinding> {
  if (!match || (!match.path && !match.vendorId)) {
    return { role, configured: 'nothing', status: 'not-configured', detail: `configure a path or USB vendor/product id; serial devices seen: ${devices.map((d) => d.path).join(', ') || 'none'}` };
  }
  const configured = describeMatch(match);
  if (match.path) {
    const device = await resolved(match.path);
    if (device === null) return { role, configured, status: 'missing', detail: `${match.path} does not exist (unplugged, or the udev rule did not run)` };
    const listed = devices.find((d) => d.device === device);
    const stable = listed && listed.path !== match.path ? `; its stable path is ${listed.path}` : '';
    return { role, configured, status: 'found', path: match.path, detail: `${match.path} is ${device}${stable}` };
  }
  // Without the OS list there are no USB ids to match: saying "missing" would send the technician to the cable.
  if (listingProblem) return { role, configured, status: 'not-checked', detail: `USB ids could not be read. ${listingProblem.message.en}` };
  const candidates = devices.filter(
    (d) =>
      d.vendorId === hex(match.vendorId) &&
      (!match.productId || d.productId === hex(match.productId)) &&
      (!match.serialNumber || d.serialNumber === match.serialNumber),
  );
  const [first] = candidates;
  if (!first) return { role, configured, status: 'missing', detail: `no serial device with ${configured}; seen: ${devices.map(describeDevice).join(', ') || 'none'}` };
  const ambiguity = candidates.length > 1 ? `; ${candidates.length} devices match — configure the serial number or a by-id path` : '';
  return { role, configured, status: 'found', path: first.path, detail: `${describeDevice(first)}${ambiguity}` };
}

function describeDevice(device: SerialDevice): string {
  const ids = device.vendorId ? ` [${device.vendorId}:${device.productId ?? '????'}${device.serialNumber ? ` ${device.serialNumber}` : ''}]` : '';
  return `${device.path}${device.path === device.device ? '' : ` → ${device.device}`}${ids}`;
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (error: string | null) => {
      socket.destroy();
      resolve(error);
    };
    socket.once('connect', () => done(null));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code ?? error.message));
    socket.once('timeout', () => done(`no connection within ${timeoutMs} ms`));
  });
}

async function findPrinter(config: DiscoveryConfig['printer'], devices: SerialDevice[], timeoutMs: number, listingProblem?: DiscoveryProblem): Promise<DiscoveryFinding> {
  if (!config) return { role: 'printer', configured: 'nothing', status: 'not-configured', detail: 'no printer configured' };
  if (config.kind === 'serial') return findSerial('printer', config.match, devices, listingProblem);
  const address = `${config.host}:${config.port}`;
  const failure = await probeTcp(config.host, config.port, timeoutMs);
  return failure === null
    ? { role: 'printer', configured: `tcp ${address}`, status: 'found', path: address, detail: `${address} accepts connections` }
    : { role: 'printer', configured: `tcp ${address}`, status: 'missing', detail: `${address} is not reachable: ${failure}` };
}

function findMagstripe(config: DiscoveryConfig['magstripe'], hid: HidDeviceInfo[]): DiscoveryFinding {
  if (!config) return { role: 'magstripe-reader', configured: 'nothing', status: 'not-configured', detail: 'no magstripe reader configured' };
  const configured = `HID vendor ${hex16(config.vendorId)}${config.productId === undefined ? '' : ` product ${hex16(config.productId)}`}`;
  const candidates = hid.filter((d) => d.vendorId === config.vendorId && (config.productId === undefined || d.productId === config.productId));
  // A MagTek reader can show more than one interface; its card data comes on the vendor usage page.
  const device = candidates.find((d) => d.usagePage === 0xff00) ?? candidates[0];
  if (!device) return { role: 'magstripe-reader', configured, status: 'missing', detail: `no HID device with ${configured} (${hid.length} HID devices seen); on Linux check the hidraw udev rule` };
  const name = [device.manufacturer, device.product].filter(Boolean).join(' ') || 'unnamed';
  return { role: 'magstripe-reader', configured, status: 'found', ...(device.path ? { path: device.path } : {}), detail: `${name} ${hex16(device.vendorId)}:${hex16(device.productId)} at ${device.path ?? 'unknown path'}` };
}

function findNfcReader(config: DiscoveryConfig['nfcReader'], readers: string[] | null): DiscoveryFinding {
  if (!config) return { role: 'nfc-reader', configured: 'nothing', status: 'not-configured', detail: 'no NFC reader configured' };
  const configured = config.nameContains ? `PC/SC reader named *${config.nameContains}*` : 'any PC/SC reader';
  if (readers === null) return { role: 'nfc-reader', configured, status: 'not-checked', detail: 'no PC/SC reader list given' };
  const reader = readers.find((name) => name.toLowerCase().includes(config.nameContains.toLowerCase()));
  return reader === undefined
    ? { role: 'nfc-reader', configured, status: 'missing', detail: `readers seen: ${readers.join(', ') || 'none'} (is pcscd running?)` }
    : { role: 'nfc-reader', configured, status: 'found', path: reader, detail: reader };
}

async function defaultHidDevices(): Promise<HidDeviceInfo[]> {
  const hid = await import('node-hid');
  return hid.default.devicesAsync();
}

/** Looks for every configured peripheral and says what it found, what is missing and where it looked. */
export async function discoverHardware(config: DiscoveryConfig = DEFAULT_DISCOVERY_CONFIG, sources: DiscoverySources = {}): Promise<DiscoveryReport> {
  const problems: DiscoveryProblem[] = [];
  const failed = (source: DiscoveryProblem['source']) => (error: unknown) => {
    problems.push(explainListingFailure(source, error));
    return [];
  };
  const { devices: serialDevices, problem: serialProblem } = await readSerialDevices(sources);
  if (serialProblem) problems.push(serialProblem);
  const hidDevices = await (sources.listHidDevices ?? defaultHidDevices)().catch(failed('hid-devices'));
  const pcscReaders = sources.listPcscReaders ? await sources.listPcscReaders().catch(failed('pcsc-readers')) : null;
  const findings = [
    await findSerial('bill-validator', config.billValidator, serialDevices, serialProblem),
    await findPrinter(config.printer, serialDevices, sources.tcpTimeoutMs ?? 1_000, serialProblem),
    findMagstripe(config.magstripe, hidDevices),
    findNfcReader(config.nfcReader, pcscReaders),
  ];
  return { findings, serialDevices, hidDevices, pcscReaders, problems, at: new Date().toISOString() };
}

const STATUS_WORDS: Record<DiscoveryFinding['status'], string> = { found: 'FOUND', missing: 'MISSING', 'not-configured': 'NOT CONFIGURED', 'not-checked': 'NOT CHECKED' };

/** The report as a technician reads it on a terminal. */
export function formatDiscoveryReport(report: DiscoveryReport): string {
  const rows = report.findings.map(
    (f) => `${f.role.padEnd(17)}${STATUS_WORDS[f.status].padEnd(15)}${f.path ?? '-'}\n${' '.repeat(17)}looked for: ${f.configured}\n${' '.repeat(17)}${f.detail}`,
  );
  const serial = report.serialDevices.map((d) => `  ${describeDevice(d)}`);
  const hid = report.hidDevices.map((d) => `  ${hex16(d.vendorId)}:${hex16(d.productId)} ${[d.manufacturer, d.product].filter(Boolean).join(' ')} ${d.path ?? ''}`.trimEnd());
  return [
    `Hardware discovery ${report.at}`,
    ...rows,
    'Serial devices:',
    ...(serial.length > 0 ? serial : ['  none']),
    'HID devices:',
    ...(hid.length > 0 ? hid : ['  none']),
    `PC/SC readers: ${report.pcscReaders === null ? 'not checked' : report.pcscReaders.join(', ') || 'none'}`,
    ...report.problems.flatMap((problem) => [`PROBLEM ${problem.source} (${problem.cause}):`, `  ${problem.message.zh}`, `  ${problem.message.en}`]),
  ].join('\n');
}
