import { FormatRegistry } from '@sinclair/typebox';
import { isUuid } from '../ids.ts';

/** TypeBox rejects values whose string format it does not know, so the formats our schemas use are registered here. */
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (value) => isUuid(value));
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
}
