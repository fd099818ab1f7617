import type { Logger } from 'pino';
import { DingTalkConditionReason, DingTalkConditionType, InvalidResourceError } from '../../api/index.ts';
import type { CustomObject, OperatorContext } from '../../manager/context.ts';
import type { RuleBook } from '../../rules/rule-book.ts';
import { sampleScope } from '../../rules/template-scope.ts';
import { formatProblem } from '../../rules/templates.ts';
import {
  type Conditioned,
  ConditionReason,
  ConditionType,
  markFalse,
  markStalled,
  markTrue,
  remove,
} from '../../runtime/conditions.ts';
import { cacheReader, planTargets } from '../../targets/index.ts';

type RuleObject = CustomObject & Conditioned & { metadata: { generation?: number } };

/**
 * Validates one AlarmRule: spec, template syntax, time zone, referenced services and their targets;
 * writes Ready (and ServicesResolved, TemplatesValid) with reasons. It owns conditions and
 * observedGeneration only; counters and lastFired belong to the dispatcher (its DeliveryHealth),
 * and the merge patch below carries only what changed, so neither clobbers the other.
 */
export async function reconcileAlarmRule(
  ctx: OperatorContext,
  rules: RuleBook,
  namespace: string,
  name: string,
  log: Logger,
): Promise<void> {
  const cached = ctx.caches.rules.get(namespace, name);
  if (!cached) {
    rules.forget(`${namespace}/${name}`);
    return;
  }
  const before = cached.status;
  const obj = structuredClone(cached) as RuleObject;
  obj.status = { ...(obj.status ?? {}) };
  const R = DingTalkConditionReason;

  const compiled = rules.compile(cached);
  if (!compiled.ok) {
    const message =
      compiled.error instanceof InvalidResourceError ? compiled.error.message : String(compiled.error);
    markFalse(obj, ConditionType.Ready, R.InvalidSpec, message);
    markStalled(obj, R.InvalidSpec, message);
    return write(ctx, obj, before, log);
  }
  const { rule, templates, timeZoneValid } = compiled.rule;

  // Rendered in the template pool: the loop goes on (renewing the Lease, serving others) meanwhile.
  const tooExpensive = await templates.check(ctx.templates, namespace, sampleScope(namespace, name));
  const allProblems = [...templates.problems, ...tooExpensive];
  const templateProblems = allProblems.map(formatProblem);
  if (!timeZoneValid)
    templateProblems.push(
      `spec.timeWindows.timeZone: unknown time zone "${rule.spec.timeWindows?.timeZone}"`,
    );
  if (templateProblems.length > 0) {
    // An unparsable template is the more basic problem; an expensive one is reported when it is the only kind.
    const reasons = allProblems.map((p) => p.reason);
    const reason =
      reasons.length === 0
        ? R.InvalidSpec
        : reasons.includes(R.TemplateInvalid)
          ? R.TemplateInvalid
          : R.TemplateTooExpensive;
    markFalse(obj, DingTalkConditionType.TemplatesValid, reason, templateProblems.join('; '));
  } else {
    markTrue(
      obj,
      DingTalkConditionType.TemplatesValid,
      ConditionReason.Succeeded,
      'every template parses and renders within its budget',
    );
  }

  const targets = planTargets(
    namespace,
    rule.spec.services,
    { service: (ns, n) => ctx.caches.services.get(ns, n) },
    cacheReader(ctx.caches),
  );
  const problems = targets.filter((t) => t.problem);
  const unresolved = problems.filter(
    (t) => t.problem?.reason === R.ServiceNotFound || t.problem?.reason === R.TargetNotFound,
  );
  if (problems.length > 0) {
    const first = (unresolved[0] ?? problems[0])?.problem;
    const reason = unresolved.length > 0 ? (first?.reason ?? R.TargetNotFound) : R.ServiceNotReady;
    markFalse(
      obj,
      DingTalkConditionType.ServicesResolved,
      reason,
      problems.map((t) => t.problem?.message).join('; '),
    );
  } else {
    markTrue(
      obj,
      DingTalkConditionType.ServicesResolved,
      ConditionReason.Succeeded,
      `${targets.length} target(s) resolved`,
    );
  }

  const failing = [DingTalkConditionType.TemplatesValid, DingTalkConditionType.ServicesResolved]
    .map((type) => obj.status?.conditions?.find((c) => c.type === type))
    .find((c) => c?.status !== 'True');
  if (failing) {
    markFalse(obj, ConditionType.Ready, failing.reason, failing.message);
    markStalled(obj, failing.reason, failing.message);
  } else if (rule.spec.suspend) {
    markTrue(
      obj,
      ConditionType.Ready,
      R.Suspended,
      'the rule is valid and suspended: matching alarms are recorded as Suppressed',
    );
    remove(obj, ConditionType.Stalled);
    remove(obj, ConditionType.Reconciling);
  } else {
    markTrue(
      obj,
      ConditionType.Ready,
      ConditionReason.Succeeded,
      'services, targets and templates are valid',
    );
    remove(obj, ConditionType.Stalled);
    remove(obj, ConditionType.Reconciling);
  }
  return write(ctx, obj, before, log);
}

async function write(ctx: OperatorContext, obj: RuleObject, before: unknown, log: Logger): Promise<void> {
  (obj.status as { observedGeneration?: number }).observedGeneration = obj.metadata.generation;
  const result = await ctx.status.rules.patchIfChanged(obj, before);
  if (result === 'patched') {
    const ready = obj.status?.conditions?.find((c) => c.type === ConditionType.Ready);
    log.debug({ ready: ready?.status, reason: ready?.reason }, 'AlarmRule status written');
    const was = (before as Conditioned['status'])?.conditions?.find((c) => c.type === ConditionType.Ready);
    if (ready && (was?.status !== ready.status || was?.reason !== ready.reason)) {
      void ctx.events.record(obj, {
        type: ready.status === 'True' ? 'Normal' : 'Warning',
        reason: ready.reason,
        action: 'Validate',
        note: ready.message,
      });
    }
  }
}
