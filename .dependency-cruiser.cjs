/**
 * The boundaries of the code base, checked by `npm test` (`npm run boundaries`). See docs/modules.md.
 *
 * - shared/ is code kiosk and hub both run: it imports from neither.
 * - The kiosk (device/) and the hub (cloud/) never import each other; they meet in shared/ (the MQTT contract).
 * - A hub module is sealed: from outside, `cloud/<module>/` is reached only through its index.ts. Its other
 *   files are its own business (the ledger's above all: money moves only through what its index offers).
 * - No import cycles. Type-only imports do not count: they vanish when the code runs, and the hub's services
 *   type names the modules whose instances it carries.
 */
module.exports = {
  forbidden: [
    {
      name: 'shared-imports-only-shared',
      comment: 'shared/ runs on the kiosk and on the hub: it may not import either, nor tools, tests or scripts.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(cloud|device|provisioning|scripts|test)/' },
    },
    {
      name: 'kiosk-never-imports-hub',
      comment: 'device/ talks to the hub over MQTT only: what both need lives in shared/.',
      severity: 'error',
      from: { path: '^device/' },
      to: { path: '^cloud/' },
    },
    {
      name: 'hub-never-imports-kiosk',
      comment: 'cloud/ talks to kiosks over MQTT only: what both need lives in shared/.',
      severity: 'error',
      from: { path: '^cloud/' },
      to: { path: '^device/' },
    },
    {
      name: 'ledger-is-sealed',
      comment: 'Other modules reach the ledger only through cloud/ledger/index.ts.',
      severity: 'error',
      from: { path: '^cloud/', pathNot: '^cloud/ledger/' },
      to: { path: '^cloud/ledger/', pathNot: '^cloud/ledger/index\\.ts$' },
    },
    {
      name: 'modules-are-sealed',
      comment: 'A hub module is reached from outside only through its index.ts (docs/modules.md).',
      severity: 'error',
      from: { path: '^cloud/([^/]+)/' },
      to: { path: '^cloud/(?!kernel/|db/|mqtt/)([^/]+)/(?!index\\.ts$)', pathNot: '^cloud/$1/' },
    },
    {
      name: 'no-cycles',
      comment: 'An import cycle makes load order matter and modules impossible to read alone.',
      severity: 'error',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^node_modules/' },
    tsPreCompilationDeps: 'specify',
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
