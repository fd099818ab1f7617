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
      .max(2)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional()
      .describe(
        "Which of the service's target kinds to use: Group, Member or both. Omitted: the service's sendTo.",
      ),
    groups: z
      .array(z.string().min(1).max(128))
      .min(1)
      .max(50)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional()
      .describe("Names of the service's groups to send to. Omitted: all of its groups."),
    members: z
      .array(z.string().min(1).max(64))
      .min(1)
      .max(1000)
      .meta({ 'x-kubernetes-list-type': 'set' })
      .optional()
      .describe("The service's members to send to, each by userId or mobile. Omitted: all of its members."),
  }),
  'A DingTalkService and which of its targets receive the notifications.',
  [
    {
      rule: "!has(self.groups) || !has(self.sendTo) || 'Group' in self.sendTo",
      message: 'groups are listed but sendTo does not contain Group',
      fieldPath: '.groups',
      holds: (ref) => ref.groups === undefined || ref.sendTo === undefined || ref.sendTo.includes('Group'),
    },
    {
      rule: "!has(self.members) || !has(self.sendTo) || 'Member' in self.sendTo",
      message: 'members are listed but sendTo does not contain Member',
      fieldPath: '.members',
      holds: (ref) => ref.members === undefined || ref.sendTo === undefined || ref.sendTo.includes('Member'),
    },
  ],
);
export type ServiceRef = z.output<typeof ServiceRef>;
