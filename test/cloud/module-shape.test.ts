import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../cloud/db/database.ts';
import { KERNEL_TABLES, type HubModule } from '../../cloud/kernel/module.ts';
import { assembleTestHub } from '../helpers/hub-app.ts';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

/** The hub's modules and the tables of a freshly migrated database. */
describe('hub modules: one shape, each with its own tables', () => {
  let db: Database;
  let modules: readonly HubModule[];
  beforeAll(async () => {
    db = await openDatabase({});
    ({ modules } = await assembleTestHub(db));
  });
  afterAll(() => db.close());

  const ownerOf = () => {
    const owners = new Map<string, string>(KERNEL_TABLES.map((table) => [table, 'kernel']));
    for (const module of modules) {
      for (const table of module.tables) {
        expect(owners.get(table), `${table} is claimed by ${owners.get(table)} and ${module.name}`).toBeUndefined();
        owners.set(table, module.name);
      }
    }
    return owners;
  };

  it('every table of the database belongs to exactly one module (or the kernel), and every claimed table exists', async () => {
    const { rows } = await db.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
    );
    const tables = rows.map((row) => row.table_name);
    const owners = ownerOf();
    expect(tables.filter((table) => !owners.has(table))).toEqual([]);
    expect([...owners.keys()].filter((table) => !tables.includes(table))).toEqual([]);
  });

  it("a module's SQL names only its own tables: others are read and written through the owner's index.ts", async () => {
    const owners = ownerOf();
    const trespasses: string[] = [];
    for (const module of modules) {
      for (const file of await sourceFiles(join(ROOT, 'cloud', module.name))) {
        const source = await readFile(file, 'utf8');
        for (const [, table] of source.matchAll(/\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+([a-z_]+)\b/g)) {
          const owner = owners.get(table!);
          if (owner !== undefined && owner !== module.name && owner !== 'kernel') trespasses.push(`${relative(ROOT, file)} names ${table} (${owner})`);
        }
      }
    }
    expect(trespasses).toEqual([]);
  });

  it('every module lives in cloud/<name>/ and is the only descriptor there', async () => {
    const folders = (await readdir(join(ROOT, 'cloud'), { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
    const infrastructure = ['db', 'kernel', 'mqtt'];
    expect(modules.map((module) => module.name).sort()).toEqual(folders.filter((folder) => !infrastructure.includes(folder)).sort());
  });
});

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

/**
 * The boundary rules `npm test` runs (`npm run boundaries`, .dependency-cruiser.cjs), tried on a small tree
 * that breaks each of them once: they must name every break.
 */
describe('the boundary rules catch what they are for', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'member-kiosk-boundaries-'));
    const files: Record<string, string> = {
      'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'nodenext', allowImportingTsExtensions: true, noEmit: true } }),
      'cloud/ledger/index.ts': "export { post } from './posting.ts';\n",
      'cloud/ledger/posting.ts': 'export const post = 1;\n',
      'cloud/catalog/index.ts': "import { post } from '../ledger/posting.ts';\nimport { a } from './a.ts';\nexport const x = post + a;\n",
      'cloud/catalog/a.ts': "import { b } from './b.ts';\nexport const a = 1;\nexport const c = b;\n",
      'cloud/catalog/b.ts': "import { c } from './a.ts';\nexport const b = 2;\nexport const d = c;\n",
      'cloud/checkout/index.ts': "import { a } from '../catalog/a.ts';\nexport const y = a;\n",
      'device/main.ts': "import { x } from '../cloud/catalog/index.ts';\nexport const z = x;\n",
      'shared/rule.ts': "import { z } from '../device/main.ts';\nexport const w = z;\n",
    };
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    await copyFile(join(ROOT, '.dependency-cruiser.cjs'), join(dir, '.dependency-cruiser.cjs'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('a deep import of the ledger, of another module, device↔cloud, shared→device, and a cycle', async () => {
    const depcruise = join(ROOT, 'node_modules', '.bin', 'depcruise');
    const result = await run(depcruise, ['cloud', 'device', 'shared', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: dir }).catch(
      (error: { stdout: string }) => error,
    );
    const { summary } = JSON.parse(result.stdout) as { summary: { violations: Array<{ rule: { name: string }; from: string; to: string }> } };
    const found = summary.violations.map((violation) => `${violation.rule.name}: ${violation.from} → ${violation.to}`).sort();
    expect(found).toEqual(
      expect.arrayContaining([
        'ledger-is-sealed: cloud/catalog/index.ts → cloud/ledger/posting.ts',
        'modules-are-sealed: cloud/checkout/index.ts → cloud/catalog/a.ts',
        'kiosk-never-imports-hub: device/main.ts → cloud/catalog/index.ts',
        'shared-imports-only-shared: shared/rule.ts → device/main.ts',
        expect.stringMatching(/^no-cycles: cloud\/catalog\/(a|b)\.ts → cloud\/catalog\/(a|b)\.ts$/),
      ]),
    );
  });
});
