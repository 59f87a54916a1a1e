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

export interface DiscoveryReport {
  findings: DiscoveryFinding[];
  serialDevices: SerialDevice[];
  hidDevices: HidDeviceInfo[];
  pcscReaders: string[] | null;
  at: string;
}

const hex = (id: string | undefined) => id?.toLowerCase().replace(/^0x/, '').padStart(4, '0');
const hex16 = (id: number) => id.toString(16).padStart(4, '0');

async function resolved(path: string): Promise<string | null> {
  return realpath(path).catch(() => null);
}

/** Serial ports as the OS lists them, each under its by-id link when it has one, plus by-id links the list lacks. */
export async function listSerialDevices(sources: DiscoverySources = {}): Promise<SerialDevice[]> {
  const byIdDir = sources.byIdDir ?? '/dev/serial/by-id';
  const listed = await (sources.listSerialPorts ?? (() => SerialPort.list()))().catch(() => []);
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
  return devices;
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

async function findSerial(role: PeripheralRole, match: SerialMatch | undefined, devices: SerialDevice[]): Promise<DiscoveryFinding> {
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

async function findPrinter(config: DiscoveryConfig['printer'], devices: SerialDevice[], timeoutMs: number): Promise<DiscoveryFinding> {
  if (!config) return { role: 'printer', configured: 'nothing', status: 'not-configured', detail: 'no printer configured' };
  if (config.kind === 'serial') return findSerial('printer', config.match, devices);
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
  const serialDevices = await listSerialDevices(sources);
  const hidDevices = await (sources.listHidDevices ?? defaultHidDevices)().catch(() => []);
  const pcscReaders = sources.listPcscReaders ? await sources.listPcscReaders().catch(() => []) : null;
  const findings = [
    await findSerial('bill-validator', config.billValidator, serialDevices),
    await findPrinter(config.printer, serialDevices, sources.tcpTimeoutMs ?? 1_000),
    findMagstripe(config.magstripe, hidDevices),
    findNfcReader(config.nfcReader, pcscReaders),
  ];
  return { findings, serialDevices, hidDevices, pcscReaders, at: new Date().toISOString() };
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
  ].join('\n');
}
