import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { renderDeviceAclFile, renderHubAclFile } from '../../cloud/mqtt/mosquitto-acl.ts';
import { freePort } from './ports.ts';

const run = promisify(execFile);
const MOSQUITTO = '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD = '/usr/bin/mosquitto_passwd';

export interface Credential {
  username: string;
  password: string;
}

export interface MosquittoBroker {
  /** The device listener: device credentials, the device ACL, client id forced to the username. */
  url: string;
  /** The hub listener: only the hub user, allowed every topic, any client id (several hub instances). */
  hubUrl: string;
  stop(): Promise<void>;
}

/** mosquitto_passwd -U hashes a plaintext `user:password` file in place, so no password appears in argv. */
async function writePasswordFile(path: string, credentials: Credential[]): Promise<void> {
  await writeFile(path, credentials.map(({ username, password }) => `${username}:${password}\n`).join(''), { mode: 0o600 });
  await run(MOSQUITTO_PASSWD, ['-U', path]);
}

/**
 * Waits until the hub user can connect: the broker is ready when it authenticates, not when its port opens.
 * Each failed attempt is a refused TCP connect, so retrying right away is cheap; the broker exiting ends it.
 */
async function untilReady(url: string, hub: Credential, exited: Promise<string>): Promise<void> {
  let done = false;
  const failure = exited.then((log) => {
    if (!done) throw new Error(`mosquitto exited before it was ready:\n${log}`);
  });
  const deadline = Date.now() + 10_000;
  const attempt = async (): Promise<void> => {
    for (;;) {
      try {
        const client = await mqtt.connectAsync(url, { ...hub, reconnectPeriod: 0, connectTimeout: 1000 });
        await client.endAsync();
        return;
      } catch (error) {
        if (done || Date.now() > deadline) throw new Error(`mosquitto not ready: ${(error as Error).message}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  };
  try {
    await Promise.race([attempt(), failure]);
  } finally {
    done = true;
  }
}

/**
 * Starts a real Mosquitto 2 for one test file: temp dir, two listeners on free 127.0.0.1 ports, password files
 * hashed by mosquitto_passwd, ACL files rendered from cloud/mqtt/acl.ts's rules, no anonymous access.
 * Devices and hub get separate listeners (per_listener_settings) because Mosquitto cannot require
 * "client id = username" for devices only: the device listener sets use_username_as_clientid, which makes a
 * borrowed client id harmless, and the hub listener leaves client ids alone so hub instances can share a user.
 */
export async function startMosquitto(options: {
  /** Plaintext credentials to hash with mosquitto_passwd, or a ready password_file (mosquittoPasswordFile). */
  devices: Credential[] | { passwordFile: string };
  hub: Credential;
}): Promise<MosquittoBroker> {
  if (!existsSync(MOSQUITTO) || !existsSync(MOSQUITTO_PASSWD)) {
    throw new Error(`Mosquitto 2 is not installed (${MOSQUITTO}); install it with: apt-get install -y mosquitto`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'member-kiosk-mosquitto-'));
  const file = (name: string) => join(dir, name);
  const { devices } = options;
  if (Array.isArray(devices)) await writePasswordFile(file('devices.passwd'), devices);
  else await writeFile(file('devices.passwd'), devices.passwordFile, { mode: 0o600 });
  await writePasswordFile(file('hub.passwd'), [options.hub]);
  await writeFile(file('devices.acl'), renderDeviceAclFile());
  await writeFile(file('hub.acl'), renderHubAclFile(options.hub.username));
  const [devicePort, hubPort] = [await freePort(), await freePort()];
  await writeFile(
    file('mosquitto.conf'),
    [
      'per_listener_settings true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      `listener ${devicePort} 127.0.0.1`,
      'allow_anonymous false',
      'use_username_as_clientid true',
      `password_file ${file('devices.passwd')}`,
      `acl_file ${file('devices.acl')}`,
      `listener ${hubPort} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${file('hub.passwd')}`,
      `acl_file ${file('hub.acl')}`,
      '',
    ].join('\n'),
  );
  // As root, mosquitto drops to its own user before reading the password and ACL files.
  if (process.getuid?.() === 0) {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'mosquitto']), run('id', ['-g', 'mosquitto'])]);
    for (const path of [dir, ...['devices.passwd', 'hub.passwd', 'devices.acl', 'hub.acl'].map(file)]) {
      await chown(path, Number(uid.stdout), Number(gid.stdout));
    }
  }

  const broker = spawn(MOSQUITTO, ['-c', file('mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  broker.stderr.setEncoding('utf8');
  broker.stderr.on('data', (chunk: string) => {
    if (log.length < 64_000) log += chunk;
  });
  const exited = new Promise<string>((resolve) => broker.once('exit', () => resolve(log)));
  const hubUrl = `mqtt://127.0.0.1:${hubPort}`;
  const stop = async () => {
    if (broker.exitCode === null && broker.signalCode === null) broker.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await untilReady(hubUrl, options.hub, exited);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `mqtt://127.0.0.1:${devicePort}`, hubUrl, stop };
}
