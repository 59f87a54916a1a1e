import { Type, type Static } from '@sinclair/typebox';
import { validate } from '../../shared/contract/decode.ts';
import { DeviceConfig } from '../../shared/contract/payloads.ts';
import { programRuleProblems, type ProgramRules } from '../../shared/rules/program.ts';
import { InvalidKioskDataError } from './errors.ts';

/** The hub's configuration this kiosk runs, with its version; null until the hub has sent one. */
export const AppliedConfig = Type.Union([
  Type.Object({ version: Type.Integer({ minimum: 1 }), config: DeviceConfig, appliedAt: Type.String() }),
  Type.Null(),
]);
export type AppliedConfig = Static<typeof AppliedConfig>;

/**
 * The program rules this kiosk prices top-ups with, as published by the hub (version = the rules store's).
 * Kept on disk so they survive a restart and work offline; validated on every load like on arrival.
 */
export const AppliedProgramShape = Type.Union([
  Type.Object({ version: Type.Integer({ minimum: 1 }), rules: Type.Record(Type.String(), Type.Unknown()), appliedAt: Type.String() }),
  Type.Null(),
]);
export type AppliedProgram = { version: number; rules: ProgramRules; appliedAt: string } | null;

/**
 * The settings document (lowdb, rewritten whole on a change, which is rare): what the hub told this kiosk to
 * run. `v: 2` tells it from the single document of before (v 1), which held everything.
 */
const SettingsDocument = Type.Object({
  v: Type.Literal(2),
  // Optional so a document written before one of them existed opens as "none applied yet".
  config: Type.Optional(AppliedConfig),
  program: Type.Optional(AppliedProgramShape),
});
export interface Settings {
  v: 2;
  config: AppliedConfig;
  program: AppliedProgram;
}

export const emptySettings = (): Settings => ({ v: 2, config: null, program: null });

export function isSettingsDocument(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && (raw as { v?: unknown }).v === 2;
}

/** Stored program rules are checked like rules arriving from the hub: a kiosk never prices with broken ones. */
export function checkProgramRules(file: string, program: { rules: Record<string, unknown> } | null | undefined): void {
  const problems = program ? programRuleProblems(program.rules) : [];
  if (problems.length > 0) throw new InvalidKioskDataError(file, `program rules: ${problems.join('; ')}`);
}

export function parseSettings(file: string, raw: unknown): Settings {
  const checked = validate(SettingsDocument, raw);
  if (!checked.ok) throw new InvalidKioskDataError(file, checked.reason);
  checkProgramRules(file, checked.value.program);
  return { v: 2, config: checked.value.config ?? null, program: (checked.value.program ?? null) as AppliedProgram };
}
