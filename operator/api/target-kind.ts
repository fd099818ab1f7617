import { z } from 'zod';

/**
 * The kinds of DingTalk target: a group through its custom robot (Group), members one to one through the
 * enterprise app's robot (Member), and a group the app's robot is a member of (AppGroup), by
 * openConversationId, which can show interactive cards.
 */
export const TargetKind = z.enum(['Group', 'Member', 'AppGroup']);
export type TargetKind = z.output<typeof TargetKind>;
