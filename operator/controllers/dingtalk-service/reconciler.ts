import type { V1ObjectMeta } from '@kubernetes/client-node';
import {
  DingTalkConditionReason,
  DingTalkConditionType,
  type DingTalkServiceSpec,
  type DingTalkServiceStatus,
  InvalidResourceError,
} from '../../api/index.ts';
import type { OperatorContext } from '../../manager/context.ts';
import { recordCall } from '../../quota/billing.ts';
import {
  ConditionReason,
  ConditionType,
  get,
  markFalse,
  markReconciling,
  markStalled,
  markTrue,
  remove,
  set,
} from '../../runtime/conditions.ts';
import type { ReconcileResult, Reconciler } from '../../runtime/controller.ts';
import {
  cacheReader,
  parseServiceSpec,
  type ResolvedGroup,
  type ResolvedRobot,
} from '../../targets/index.ts';
import { applyQuotaConditions, quotaTransitions } from './quota-conditions.ts';
import { referencedConfigMaps, referencedSecrets } from './references.ts';
import { applyGroupChecks, applyMemberCheck, streamCondition, summarise } from './service-status.ts';
import { sendTests, type TestResults, testPostponedUntil, testRequest } from './test-send.ts';
import { validateGroup } from './validate-groups.ts';
import { validateMember } from './validate-member.ts';

/**
 * Reconciles one DingTalkService, Flux style: read the object, validate every target, send a test
 * message when one was asked for, summarise into conditions, and write status (only when it changed)
 * and events (only on transitions) whatever happened. Nothing is created or deleted, so there is no
 * finalizer.
 *
 * What happens next:
 * - valid, or invalid in a way only a change can fix (missing Secret, refused credentials): revalidate
 *   after --revalidate-interval; a change of the spec, annotations, or a referenced Secret/ConfigMap
 *   reconciles sooner. DingTalk is not asked again for a refused secret until then.
 * - DingTalk unreachable or throttling: throw, so the work queue retries with backoff.
 * - spec the schema rejects: wait for the spec to change.
 */

interface ServiceObject {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec?: unknown;
  status: DingTalkServiceStatus;
}

/** DingTalk could not be asked right now; the work queue retries with backoff. */
export class ValidationRetryError extends Error {
  override readonly name = 'ValidationRetryError';
}

export function createReconciler(ctx: OperatorContext): Reconciler {
  const reader = cacheReader(ctx.caches);
  const policy = { oapiBaseUrl: ctx.config.dingtalkRobotUrl, allowedHosts: ctx.config.allowedWebhookHosts };
  const revalidate: ReconcileResult = { requeueAfter: ctx.config.revalidateInterval };

  return async (key, { namespace, log }) => {
    const cached = ctx.caches.services.getByKey(key);
    if (!cached) return undefined; // deleted: status and events go with it
    // A Secret a service has just started to refer to is being read: wait for it rather than report it missing.
    await Promise.all([
      ctx.caches.secrets.settled(namespace, referencedSecrets(cached)),
      ctx.caches.configMaps.settled(namespace, referencedConfigMaps(cached)),
    ]);
    const obj = structuredClone(cached) as ServiceObject;
    const before = structuredClone(cached.status ?? {});
    obj.status ??= {};
    const status = obj.status;
    const wasReady = get(obj, ConditionType.Ready);
    let tests: TestResults | undefined;

    try {
      let spec: DingTalkServiceSpec;
      try {
        spec = parseServiceSpec(cached);
      } catch (err) {
        if (!(err instanceof InvalidResourceError)) throw err;
        markFalse(obj, ConditionType.Ready, DingTalkConditionReason.InvalidSpec, err.message);
        markStalled(obj, DingTalkConditionReason.InvalidSpec, err.message);
        return undefined;
      }

      const groups = spec.sendTo.includes('Group')
        ? (spec.groups ?? []).map((group) => validateGroup(namespace, group, reader, policy))
        : [];
      const member =
        (spec.sendTo.includes('Member') || spec.sendTo.includes('AppGroup')) && spec.member
          ? await validateMember(namespace, spec.member, {
              reader,
              dingtalk: ctx.dingtalk,
              members: ctx.members,
            })
          : undefined;

      const request = testRequest(obj.metadata.annotations);
      const budgetFor = (robot: ResolvedRobot, group: ResolvedGroup) =>
        ctx.robotBudgets.forRobot(namespace, robot.webhook, group.rateLimitPerMinute);
      let testDue: number | undefined;
      if (request !== undefined && request !== status.lastHandledTest) {
        testDue = testPostponedUntil({ groups, budgetFor }, Date.now());
        if (testDue === undefined) {
          tests = await sendTests({
            service: key,
            request,
            groups,
            // A test goes to the members one to one only when they are sent to.
            member: spec.sendTo.includes('Member') ? member : undefined,
            dingtalk: ctx.dingtalk,
            budgetFor,
            recordCall: (bucket, error) =>
              recordCall(ctx.quota, { namespace, service: obj.metadata.name ?? '', bucket }, error),
          });
          status.lastHandledTest = request;
          status.lastTest = tests.overall;
        }
      }
      // A robot without a send left in its budget gets the test once it has one.
      const next: ReconcileResult =
        testDue === undefined ? revalidate : { requeueAfter: Math.max(1_000, testDue - Date.now()) };

      if (groups.length > 0) status.groups = applyGroupChecks(status.groups, groups, tests);
      else delete status.groups;
      if (member) status.member = applyMemberCheck(status.member, member, tests?.member);
      else delete status.member;

      const summary = summarise(groups, member, ctx.held.of(namespace, obj.metadata.name ?? ''));
      set(obj, { type: DingTalkConditionType.CredentialsValid, ...summary.credentials });
      if (member) set(obj, { type: DingTalkConditionType.MembersResolved, ...member.members });
      else remove(obj, DingTalkConditionType.MembersResolved);
      if (spec.member?.cardTemplateId)
        set(obj, {
          type: DingTalkConditionType.StreamConnected,
          ...streamCondition(ctx.streams?.statusOf(namespace, obj.metadata.name ?? '')),
        });
      else remove(obj, DingTalkConditionType.StreamConnected);
      applyQuotaConditions(obj, ctx.quota.reports(namespace, obj.metadata.name ?? ''));

      if (summary.ready) {
        markTrue(obj, ConditionType.Ready, summary.reason, summary.message);
        remove(obj, ConditionType.Reconciling);
        remove(obj, ConditionType.Stalled);
        return next;
      }
      markFalse(obj, ConditionType.Ready, summary.reason, summary.message);
      if (summary.retry) {
        markReconciling(obj, ConditionReason.ProgressingWithRetry, summary.message);
        throw new ValidationRetryError(summary.message);
      }
      markStalled(obj, summary.reason, summary.message);
      return next;
    } finally {
      status.observedGeneration = obj.metadata.generation;
      await ctx.status.services.patchIfChanged(obj, before);
      announce(ctx, obj, wasReady, tests, log);
      announceQuota(ctx, { status: before }, obj, log);
    }
  };
}

/**
 * A log line and an event when Ready flips or changes reason, and for every test sent; never per loop.
 * Events are not waited for: they are a record, not a result, and a worker waiting for each would take
 * twice the API calls' time per service (EventRecorder.record never throws).
 */
function announce(
  ctx: OperatorContext,
  obj: ServiceObject,
  wasReady: ReturnType<typeof get>,
  tests: TestResults | undefined,
  log: Parameters<Reconciler>[1]['log'],
): void {
  const ready = get(obj, ConditionType.Ready);
  if (ready && (ready.status !== wasReady?.status || ready.reason !== wasReady?.reason)) {
    log.info({ ready: ready.status, reason: ready.reason, message: ready.message }, 'readiness changed');
    void ctx.events.record(obj, {
      type: ready.status === 'True' ? 'Normal' : 'Warning',
      reason: ready.reason,
      action: 'Validate',
      note: ready.message,
    });
  }
  if (tests) {
    const ok = tests.overall.result === 'Succeeded';
    log.info({ result: tests.overall.result, errcode: tests.overall.errcode }, 'test message sent');
    void ctx.events.record(obj, {
      type: ok ? 'Normal' : 'Warning',
      reason: ok ? 'TestSent' : 'TestFailed',
      action: 'SendTest',
      note: tests.overall.message ?? tests.overall.result,
    });
  }
}

/** An event when QuotaAtRisk or QuotaExhausted appears (Warning) or goes (Normal, WithinQuota). */
function announceQuota(
  ctx: OperatorContext,
  before: { status: DingTalkServiceStatus },
  obj: ServiceObject,
  log: Parameters<Reconciler>[1]['log'],
): void {
  for (const { type, appeared, message } of quotaTransitions(before, obj)) {
    log.info({ condition: type, appeared }, 'monthly quota condition changed');
    void ctx.events.record(obj, {
      type: appeared ? 'Warning' : 'Normal',
      reason: appeared ? type : DingTalkConditionReason.WithinQuota,
      action: 'CountQuota',
      note: message,
    });
  }
}
