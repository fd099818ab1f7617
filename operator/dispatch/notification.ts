import { createHash } from 'node:crypto';
import type { Interactive, Mentions, TargetKind } from '../api/index.ts';
import type { CompiledTemplates } from '../rules/templates.ts';
import type { PlannedTarget } from '../targets/index.ts';
import type { Alarm } from './alarm.ts';

/** The rule a notification comes from, as templates see it. */
export interface RuleInfo {
  namespace: string;
  name: string;
  description?: string;
  mentions?: Mentions;
  /** What people may do about the alarms (spec.interactive): a target that shows cards gets buttons. */
  interactive?: Interactive;
}

/** Where a notification goes, named as the ledger names it. */
export interface TargetRef {
  service: string;
  kind: TargetKind;
  /** The group's name, or members. */
  name: string;
  /** Ledger names the notification's deliveries are recorded under. */
  names: string[];
  /** For members: which members (a digest of their identities), as rules may choose different ones. */
  recipients?: string;
}

/** What one aggregation group has to say to one target: the unit outboxes queue and digests merge. */
export interface Notification {
  rule: RuleInfo;
  templates: CompiledTemplates;
  target: TargetRef;
  groupLabels: Record<string, string>;
  alarms: Alarm[];
  /** A repeat of still-firing alarms: sent, but changes no ledger. */
  repeat: boolean;
}

/** How the ledger and the queues name a planned target. */
export function targetRef(target: PlannedTarget): TargetRef {
  if (target.kind === 'AppGroup')
    return { service: target.service, kind: 'AppGroup', name: target.name, names: [target.name] };
  return target.kind === 'Group'
    ? { service: target.service, kind: 'Group', name: target.name, names: [target.name] }
    : {
        service: target.service,
        kind: 'Member',
        name: target.ledgerName,
        names: [target.ledgerName],
        recipients: digest(target.identities.join(',')),
      };
}

/** A short digest for keys and fingerprints that must not carry what they are made of (tokens, identities). */
export function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
