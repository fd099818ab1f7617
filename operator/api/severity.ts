import { z } from 'zod';

/**
 * Alarm severities, most urgent first. Three levels, as Alertmanager rules commonly use; the receiver maps
 * other spellings (error, page, none, …) onto these.
 */
export const SEVERITIES = ['critical', 'warning', 'info'] as const;

export const Severity = z.enum(SEVERITIES);
export type Severity = z.output<typeof Severity>;
