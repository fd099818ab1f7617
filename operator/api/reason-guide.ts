import type { DingTalkConditionReason } from './condition.ts';

/** Where a reason shows, what it means and what to do about it; docs/troubleshooting.md is generated from it. */
export interface ReasonGuide {
  /** The kinds, conditions or status fields that carry the reason. */
  where: string;
  meaning: string;
  action: string;
}

const NOTHING = 'Nothing.';

/**
 * A guide for every reason the operator writes. Typed as a record over the reasons, so a new reason does
 * not compile until it is explained here.
 */
export const reasonGuide: Record<DingTalkConditionReason, ReasonGuide> = {
  InvalidSpec: {
    where: 'DingTalkService, AlarmRule: Ready, Stalled; AlarmEvent delivery',
    meaning: 'The object (or a service it names) cannot be used as written; the message names the field.',
    action: 'Fix the field the message names and apply again.',
  },
  SecretNotFound: {
    where: 'DingTalkService: CredentialsValid, Ready; AlarmEvent delivery',
    meaning: 'A Secret the service references does not exist in its namespace.',
    action:
      "Create the Secret in the service's namespace (`kubectl create secret generic …`). Until it exists, " +
      'alarms for its targets are recorded failed with this reason.',
  },
  SecretAccessDenied: {
    where: 'DingTalkService: CredentialsValid, MembersResolved, Ready; AlarmEvent delivery',
    meaning:
      "The operator runs with per-namespace Secret access (the chart's `secretAccess: namespaces`) and may not " +
      "read Secrets and ConfigMaps in the service's namespace; the message names the RoleBinding to create.",
    action:
      "Create the RoleBinding the message names in the namespace (it binds the chart's ClusterRole to the " +
      "operator's ServiceAccount), or add the namespace to `secretNamespaces`. The operator tries again within " +
      '30 s and the service turns Ready without a restart.',
  },
  SecretKeyNotFound: {
    where: 'DingTalkService: CredentialsValid, Ready',
    meaning: 'The Secret exists but has no such key, or the key is empty.',
    action: 'Add the key the message names to the Secret, or point the reference at the right key.',
  },
  ConfigMapNotFound: {
    where: 'DingTalkService: MembersResolved, Ready',
    meaning: "The ConfigMap of `spec.member.membersFrom` does not exist in the service's namespace.",
    action: 'Create it, e.g. with `dingtalk-operator import-members … | kubectl apply -f -`.',
  },
  ConfigMapKeyNotFound: {
    where: 'DingTalkService: MembersResolved, Ready',
    meaning: 'The ConfigMap of `spec.member.membersFrom` has no such key.',
    action: 'Add the key, or point `membersFrom.key` at the right one.',
  },
  InvalidWebhook: {
    where: 'DingTalkService: CredentialsValid, Ready',
    meaning:
      "A group's webhook is not an `https` URL on port 443 with path `/robot/send`, nor a bare access_token. " +
      'Nothing is sent to it, so its token never travels in clear text.',
    action: 'Put the webhook URL DingTalk shows (or only its access_token) into the Secret.',
  },
  WebhookHostNotAllowed: {
    where: 'DingTalkService: CredentialsValid, Ready',
    meaning: "A group's webhook points at a host outside `--allowed-webhook-hosts`.",
    action:
      'Use the webhook DingTalk shows (host `oapi.dingtalk.com`); a proxy in between belongs in ' +
      '`--dingtalk-robot-url`, not in the Secret.',
  },
  InvalidCredentials: {
    where: 'DingTalkService: CredentialsValid, Ready',
    meaning:
      "DingTalk refused the app's ClientId or ClientSecret when the operator asked for an access_token.",
    action: 'Fix `spec.member.clientId` or the Secret of `spec.member.clientSecret`.',
  },
  Unreachable: {
    where: 'DingTalkService: CredentialsValid, Ready (with Reconciling)',
    meaning:
      'DingTalk could not be reached, timed out or answered with a server error; retried with backoff.',
    action:
      "Nothing if it passes. If it lasts, check the operator's egress to DingTalk (NetworkPolicy, proxy, DNS).",
  },
  InvalidSignatureSecret: {
    where: 'DingTalkService: CredentialsValid, Ready',
    meaning: "A group's signature secret is not a 加签 secret (those start with `SEC`).",
    action: "Copy the robot's 加签 secret from the group's robot settings into the Secret.",
  },
  InvalidKeywords: {
    where: 'DingTalkService: Ready',
    meaning: "A group's `keywords` contain a blank or repeated entry.",
    action: "List each of the robot's custom keywords once.",
  },
  Validated: {
    where: 'DingTalkService: CredentialsValid, Ready',
    meaning: 'Every Secret was read and DingTalk accepted every credential.',
    action: NOTHING,
  },
  MembersResolved: {
    where: 'DingTalkService: MembersResolved',
    meaning: 'Every member is a known DingTalk userId (mobiles were looked up).',
    action: NOTHING,
  },
  MembersUnresolved: {
    where: 'DingTalkService: MembersResolved, Ready; AlarmEvent member delivery',
    meaning:
      'Some members are unknown to DingTalk (a wrong userId, or a mobile no member has); the others still ' +
      'get messages. `status.member` lists the unknown ones.',
    action: 'Correct or remove the listed members.',
  },
  ServiceNotFound: {
    where: 'AlarmRule: ServicesResolved, Ready; AlarmEvent delivery',
    meaning: "The rule names a DingTalkService that does not exist in the rule's namespace.",
    action: 'Create the service, or fix `spec.services[].name`.',
  },
  ServiceNotReady: {
    where: 'AlarmRule: ServicesResolved, Ready',
    meaning: 'Every service and target the rule names exists, but one of them cannot send yet.',
    action: "Look at the named service's Ready condition and fix what it says.",
  },
  TargetNotFound: {
    where: 'AlarmRule: ServicesResolved, Ready; AlarmEvent delivery',
    meaning:
      'The rule names a group the service does not have, or the members of a service that does not send to Member.',
    action:
      "Make `spec.services[].groups` match the service's `spec.groups[].name`, or add `Member` to its `sendTo`.",
  },
  TemplateInvalid: {
    where: 'AlarmRule: TemplatesValid, Ready',
    meaning: 'A message template does not parse; the built-in text is used meanwhile.',
    action: 'Fix the template (the message gives the line and column).',
  },
  TemplateTooExpensive: {
    where: 'AlarmRule: TemplatesValid, Ready',
    meaning:
      'A template exceeds its per-render budget of work or time on a sample of alarms; the built-in text is ' +
      'used meanwhile.',
    action: 'Simplify the template: fewer loops over alarms or labels, no large repeated strings.',
  },
  Suspended: {
    where: 'AlarmRule: Ready; AlarmEvent delivery',
    meaning: 'The rule has `spec.suspend: true`: matching alarms are recorded `Suppressed`, not sent.',
    action: 'Set `spec.suspend: false` to send again.',
  },
  Muted: {
    where: 'AlarmEvent delivery',
    meaning: "The alarm arrived inside one of the rule's mute windows and was not sent.",
    action: "Nothing, if the window is right; otherwise change the rule's `timeWindows.mute`.",
  },
  OutsideActiveWindow: {
    where: 'AlarmEvent delivery',
    meaning: "The alarm arrived outside the rule's active windows and was not sent.",
    action: "Nothing, if the window is right; otherwise change the rule's `timeWindows.active`.",
  },
  Throttled: {
    where: 'AlarmEvent delivery; DingTalkService: Ready while validating',
    meaning: 'DingTalk answered that a robot or app sent too fast; the send is retried after the block.',
    action: 'Nothing; see the errcode in [DingTalk answers](#dingtalk-answers).',
  },
  DingTalkError: {
    where: 'AlarmEvent delivery; DingTalkService: CredentialsValid, Ready',
    meaning: 'DingTalk refused a call; the entry carries its errcode.',
    action: 'Look the errcode up in [DingTalk answers](#dingtalk-answers).',
  },
  Delivered: {
    where: 'AlarmEvent: Delivered, phase',
    meaning: 'Every matching target has the notification.',
    action: NOTHING,
  },
  PartiallyDelivered: {
    where: 'AlarmEvent: Delivered, phase',
    meaning: 'Some targets have the notification and some failed; each ledger entry says why.',
    action: "Look at the failed entries' reasons and errcodes.",
  },
  DeliveryFailed: {
    where: 'AlarmEvent: Delivered',
    meaning: 'No target got the notification; each ledger entry says why.',
    action: "Look at the entries' reasons and errcodes.",
  },
  Suppressed: {
    where: 'AlarmEvent: Delivered, phase',
    meaning:
      'Every matching rule suppressed the alarm on purpose (suspended, muted, outside its active window).',
    action: NOTHING,
  },
  NoMatchingRule: {
    where: 'AlarmEvent: Delivered, phase',
    meaning: "No AlarmRule of the alarm's namespace matches it.",
    action:
      "Check the rules' `match` (severities, labels, sources) against the alarm; rules see only their own " +
      "namespace's alarms.",
  },
  QuotaExhausted: {
    where: 'AlarmEvent: delivery; DingTalkService: QuotaExhausted, Ready',
    meaning:
      "The month's DingTalk quota of a target is spent: DingTalk answered so (webhook 90030, API " +
      '`Forbidden.AccessDenied.ApiCountLimitForOrg` or 90020, Stream 20001), or the calls counted reached ' +
      "the target's `monthlyQuota`. Alarms DingTalk refused wait as Held.",
    action:
      'Held alarms go out when the month turns (in --quota-time-zone) or when `monthlyQuota` changes (raise ' +
      'it after buying more); they are kept held 31 days (or --max-hold-age, if longer). Spend fewer calls ' +
      'with a `quotaPolicy` or wider `groupInterval`.',
  },
  QuotaAtRisk: {
    where: 'DingTalkService: QuotaAtRisk',
    meaning: "At this month's rate so far, a target's monthly quota runs out before the month ends.",
    action:
      'See `status.usage`; widen digests (`groupInterval`) or set a `quotaPolicy` so critical alarms keep ' +
      'going out, or raise `monthlyQuota` if the organisation has more.',
  },
  WithinQuota: {
    where: 'Event on a DingTalkService',
    meaning: 'A target is back within its monthly quota (the month turned, or the quota was raised).',
    action: NOTHING,
  },
  QuotaPolicy: {
    where: 'AlarmEvent: delivery',
    meaning:
      "The service's `quotaPolicy` did not send this notification: an info alarm, a resolved notification, " +
      'or a non-critical alarm while only the reserve for critical alarms is left of the month; the ' +
      'message names the step. It is not sent later.',
    action: "Nothing, or loosen the service's `quotaPolicy` or raise `monthlyQuota`.",
  },
  Held: {
    where: 'AlarmEvent: phase, delivery; DingTalkService: CredentialsValid, Ready',
    meaning:
      'DingTalk refused a send for a reason only a configuration change cures; the alarm waits, with later ' +
      'alarms for the same target. A delivery entry held with another reason (SecretNotFound, ServiceNotFound, ' +
      'TargetNotFound, …) waits for what that reason names to exist, as during a GitOps sync that re-creates it.',
    action:
      'Fix what the errcode names (see [DingTalk answers](#dingtalk-answers)); the held alarms are then sent ' +
      'once each. For a fix made in DingTalk alone, change any annotation of the service.',
  },
  HeldTooLong: {
    where: 'AlarmEvent delivery',
    meaning: 'The alarm was held longer than `--max-hold-age` (24h) and is recorded failed.',
    action: 'Fix the configuration; later alarms are sent again.',
  },
  RuleDeleted: {
    where: 'AlarmEvent delivery',
    meaning: 'The rule that matched the alarm was deleted before it was sent.',
    action: NOTHING,
  },
  TargetRemoved: {
    where: 'AlarmEvent delivery',
    meaning:
      'The rule or its DingTalkService was edited while the alarm waited, and the target is no longer planned; the targets planned now get the alarm instead.',
    action: NOTHING,
  },
  NoLongerMatched: {
    where: 'AlarmEvent delivery',
    meaning: 'The rule was edited while the alarm waited and no longer matches it.',
    action: NOTHING,
  },
  InvalidAnnotation: {
    where: 'AlarmEvent: status.ackAnnotation, Warning Event',
    meaning:
      'The `dingtalk.alarming.io/ack` annotation is none of `acknowledge`, `snooze=<duration>` or `resolve`, ' +
      'or `dingtalk.alarming.io/ack-by` is not a DingTalk userId.',
    action: 'Annotate again with a valid value (`kubectl annotate --overwrite ae <name> …`).',
  },
  ActionNotOffered: {
    where: 'AlarmEvent: status.ackAnnotation, Warning Event',
    meaning: 'No AlarmRule the alarm went through offers the action in its `spec.interactive.actions`.',
    action: "Add the action to the rule's `spec.interactive` (or add `interactive: {}` for all three).",
  },
  InvalidSnooze: {
    where: 'AlarmEvent: status.ackAnnotation, Warning Event',
    meaning:
      "The snooze has no valid duration, or a longer one than the longest of the rules' " +
      '`spec.interactive.snoozeDurations` (a card: not one of them).',
    action: 'Snooze for a duration the rule offers, e.g. `snooze=30m`, or add it to `snoozeDurations`.',
  },
  AlreadyResolved: {
    where: 'AlarmEvent: status.ackAnnotation, Warning Event',
    meaning: 'The alarm is resolved (by its source or by a person): there is nothing left to acknowledge.',
    action: NOTHING,
  },
  NotAMember: {
    where: 'AlarmEvent: Warning Event (card clicks)',
    meaning: 'Whoever clicked is not a member of the group or member set the card went to.',
    action: "Nothing, unless the person should be listed: add them to the service's members.",
  },
  UnknownEvent: {
    where: 'Card clicks: the operator log and `card_clicks_total{outcome="UnknownEvent"}`',
    meaning:
      'The click names no card this operator sent through that app: the alarm is gone (deleted after its TTL), ' +
      'or the callback was forged or replayed.',
    action: 'Nothing for a gone alarm; a rising count of forged clicks is worth a look at who holds the app.',
  },
  StreamOpen: {
    where: 'DingTalkService: StreamConnected',
    meaning: "The leader's DingTalk Stream connection for the app's card clicks is open.",
    action: NOTHING,
  },
  StreamConnecting: {
    where: 'DingTalkService: StreamConnected',
    meaning: 'The Stream connection is being opened for the first time (or the service was just created).',
    action: 'Wait a few seconds; if it stays, see the operator log for connections/open refusals.',
  },
  StreamLost: {
    where: 'DingTalkService: StreamConnected',
    meaning:
      'The Stream connection failed or closed and is reconnecting with backoff; clicks meanwhile wait in DingTalk ' +
      'or are answered by another replica. The message says why and how many attempts failed in a row.',
    action:
      "Check that the app has Stream mode enabled and the card callback subscribed, that the pods reach DingTalk's " +
      'Stream endpoint without a proxy (WebSocket does not go through HTTPS_PROXY), and the app credentials.',
  },
};
