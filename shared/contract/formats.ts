import { FormatRegistry } from '@sinclair/typebox';
import { isUuid } from '../ids.ts';

/** TypeBox rejects values whose string format it does not know, so the formats our schemas use are registered here. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => isUuid(value));
/**
 * Instants a membership program can mean: from 1970 (a kiosk whose clock was reset) to before 3000 (a coupon that
 * never really expires). Beyond that a date like 0000-01-01T00:00:00Z or 9999-12-31T23:59:59-23:59 parses, then
 * fails in the database or in date arithmetic — a 500 where the caller deserves a clear 400 (issue 11).
 */
const EARLIEST_INSTANT = Date.UTC(1970, 0, 1);
const LATEST_INSTANT = Date.UTC(3000, 0, 1);

if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => {
    if (!ISO_DATE_TIME.test(value)) return false;
    const at = Date.parse(value);
    return at >= EARLIEST_INSTANT && at < LATEST_INSTANT;
  });
}
