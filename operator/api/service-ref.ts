import { z } from 'zod';
import { withRules } from './cross-field-rules.ts';
import { ObjectName } from './refs.ts';
import { TargetKind } from './target-kind.ts';

export const ServiceRef = withRules(
  z.object({
    name: ObjectName.describe('Name of a DingTalkService in the same namespace.'),
    sendTo: z
      .array(TargetKind)
      .min(1)
      .max(3)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional()
      .describe(
        "Which of the service's target kinds to use: Group, Member, AppGroup, or several. Omitted: the service's sendTo.",
      ),
    groups: z
      .array(z.string().min(1).max(128))
      .min(1)
      .max(50)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional()
      .describe(
        "Names of the service's groups to send to, of spec.groups (Group) and spec.member.groups (AppGroup). Omitted: all of its groups.",
      ),
    members: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(1000)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional()
      .describe(
        "The service's members to send to (Member), and who may act on the cards of its groups reached through the app's robot (AppGroup), each by userId or mobile. Omitted: all of its members.",
      ),
  }),
  'A DingTalkService and which of its targets receive the notifications.',
  [
    {
      rule: "!has(self.groups) || !has(self.sendTo) || 'Group' in self.sendTo || 'AppGroup' in self.sendTo",
      message: 'groups are listed but sendTo contains neither Group nor AppGroup',
      fieldPath: '.groups',
      holds: (ref) =>
        ref.groups === undefined ||
        ref.sendTo === undefined ||
        ref.sendTo.includes('Group') ||
        ref.sendTo.includes('AppGroup'),
    },
    {
      rule: "!has(self.members) || !has(self.sendTo) || 'Member' in self.sendTo || 'AppGroup' in self.sendTo",
      message: 'members are listed but sendTo contains neither Member nor AppGroup',
      fieldPath: '.members',
      holds: (ref) =>
        ref.members === undefined ||
        ref.sendTo === undefined ||
        ref.sendTo.includes('Member') ||
        ref.sendTo.includes('AppGroup'),
    },
  ],
);
export type ServiceRef = z.output<typeof ServiceRef>;
