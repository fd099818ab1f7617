import { z } from 'zod';

/** The two kinds of DingTalk target: a group (through its custom robot) and a member (through the app robot). */
export const TargetKind = z.enum(['Group', 'Member']);
export type TargetKind = z.output<typeof TargetKind>;
