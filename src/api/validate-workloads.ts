/** Validation of Deployments, ReplicaSets, Jobs, CronJobs and HorizontalPodAutoscalers. */

import { isValidTimeZone, parseCron, CronError } from './cron.ts';
import { child, duplicate, forbidden, index, invalid, notSupported, required } from './field-error.ts';
import { selectorFromLabelSelector } from './labels.ts';
import { isDNS1123Label, isValidPercent } from './names.ts';
import { tryParseQuantity } from './quantity.ts';
import type {
  CronJob,
  Deployment,
  HorizontalPodAutoscaler,
  HPAScalingRules,
  IntOrString,
  Job,
  JobSpec,
  LabelSelector,
  MetricSpec,
  MetricTarget,
  PodTemplateSpec,
  ReplicaSet,
} from './types.ts';
import {
  type Errors,
  validateAnnotations,
  validateAtLeast,
  validateImmutable,
  validateLabelSelector,
  validateLabels,
  validateNonNegative,
} from './validate-common.ts';
import { validatePodTemplateSpec } from './validate-pod.ts';

// ---- shared by ReplicaSet-like controllers -------------------------------------------

function selectorErrors(selector: LabelSelector | undefined, path: string, what: string): Errors {
  if (!selector) return []; // missing: reported by the schema
  const errs = validateLabelSelector(selector, path);
  if (Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions ?? []).length === 0) {
    errs.push(invalid(path, selector, `empty selector is invalid for ${what}`));
  }
  return errs;
}

/** The selector must select the template's pods, or the controller would never see its own pods. */
function selectorMatchesTemplate(selector: LabelSelector | undefined, template: PodTemplateSpec | undefined, path: string): Errors {
  if (!selector || !template) return [];
  let matches: boolean;
  try {
    const sel = selectorFromLabelSelector(selector);
    if (sel.isEmpty()) return [];
    matches = sel.matches(template.metadata?.labels ?? {});
  } catch {
    return []; // the selector itself is reported as invalid
  }
  const labels = template.metadata?.labels ?? {};
  return matches ? [] : [invalid(child(child(path, 'metadata'), 'labels'), labels, '`selector` does not match template `labels`')];
}

/** Pods of Deployments and ReplicaSets run forever: restartPolicy Always, no deadline. */
function replicaSetTemplateErrors(template: PodTemplateSpec | undefined, path: string, what: string): Errors {
  if (!template?.spec) return [];
  const errs: Errors = [];
  const rp = template.spec.restartPolicy;
  if (rp !== undefined && rp !== 'Always') errs.push(notSupported(child(child(path, 'spec'), 'restartPolicy'), rp, ['Always']));
  if (template.spec.activeDeadlineSeconds !== undefined) {
    errs.push(forbidden(child(child(path, 'spec'), 'activeDeadlineSeconds'), `activeDeadlineSeconds in ${what} is not Supported`));
  }
  return errs;
}

// ---- Deployment ------------------------------------------------------------------------

function percentValue(v: IntOrString | undefined): number | undefined {
  if (typeof v === 'string' && isValidPercent(v).length === 0) return Number(v.slice(0, -1));
  return undefined;
}

function intOrPercentValue(v: IntOrString | undefined): number {
  if (typeof v === 'number') return v;
  return percentValue(v) ?? 0;
}

function validatePositiveIntOrPercent(v: IntOrString | undefined, path: string): Errors {
  if (v === undefined) return [];
  if (typeof v === 'string') return isValidPercent(v).map((msg) => invalid(path, v, msg));
  return validateNonNegative(v, path);
}

export function validateDeployment(d: Deployment, old: Deployment | undefined): Errors {
  const errs: Errors = [];
  const spec = d.spec;
  if (!spec) return [required('spec')];
  errs.push(...validateNonNegative(spec.replicas, 'spec.replicas'));
  errs.push(...selectorErrors(spec.selector, 'spec.selector', 'deployment'));
  errs.push(...selectorMatchesTemplate(spec.selector, spec.template, 'spec.template'));
  errs.push(...validatePodTemplateSpec(spec.template, 'spec.template'));
  errs.push(...replicaSetTemplateErrors(spec.template, 'spec.template', 'ReplicaSet'));

  const strategy = spec.strategy;
  if (strategy) {
    if (strategy.type === 'Recreate' && strategy.rollingUpdate !== undefined) {
      errs.push(forbidden('spec.strategy.rollingUpdate', "may not be specified when strategy `type` is 'Recreate'"));
    } else if (strategy.type === 'RollingUpdate') {
      const ru = strategy.rollingUpdate;
      if (!ru) errs.push(required('spec.strategy.rollingUpdate', 'this should be defaulted and never be nil'));
      else {
        const p = 'spec.strategy.rollingUpdate';
        errs.push(...validatePositiveIntOrPercent(ru.maxUnavailable, `${p}.maxUnavailable`));
        errs.push(...validatePositiveIntOrPercent(ru.maxSurge, `${p}.maxSurge`));
        if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
          errs.push(invalid(`${p}.maxUnavailable`, ru.maxUnavailable ?? 0, 'may not be 0 when `maxSurge` is 0'));
        }
        const pct = percentValue(ru.maxUnavailable);
        if (pct !== undefined && pct > 100) errs.push(invalid(`${p}.maxUnavailable`, ru.maxUnavailable, 'must not be greater than 100%'));
      }
    } else if (strategy.type === undefined || strategy.type === '' as string) {
      errs.push(required('spec.strategy.type'));
    }
  }
  errs.push(...validateNonNegative(spec.minReadySeconds, 'spec.minReadySeconds'));
  errs.push(...validateNonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'));
  if (spec.progressDeadlineSeconds !== undefined) {
    errs.push(...validateNonNegative(spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds'));
    if (spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0)) {
      errs.push(invalid('spec.progressDeadlineSeconds', spec.progressDeadlineSeconds, 'must be greater than minReadySeconds'));
    }
  }
  if (old?.spec) errs.push(...validateImmutable(spec.selector, old.spec.selector, 'spec.selector'));
  return errs;
}

export function validateReplicaSet(rs: ReplicaSet, old: ReplicaSet | undefined): Errors {
  const spec = rs.spec;
  if (!spec) return [required('spec')];
  const errs: Errors = [];
  errs.push(...validateNonNegative(spec.replicas, 'spec.replicas'));
  errs.push(...validateNonNegative(spec.minReadySeconds, 'spec.minReadySeconds'));
  errs.push(...selectorErrors(spec.selector, 'spec.selector', 'deployment'));
  errs.push(...selectorMatchesTemplate(spec.selector, spec.template, 'spec.template'));
  errs.push(...validatePodTemplateSpec(spec.template, 'spec.template'));
  errs.push(...replicaSetTemplateErrors(spec.template, 'spec.template', 'ReplicaSet'));
  if (old?.spec) errs.push(...validateImmutable(spec.selector, old.spec.selector, 'spec.selector'));
  return errs;
}

// ---- Job and CronJob -----------------------------------------------------------------

const MAX_PARALLELISM_INDEXED = 100000;
const MAX_FAILED_INDEXES = 100000;

/** validateJobSpec: counts, indexed-mode rules, failure policy, template and restart policy. */
function validateJobSpecCommon(spec: JobSpec, path: string): Errors {
  const errs: Errors = [];
  const p = (f: string) => child(path, f);
  for (const f of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished', 'backoffLimitPerIndex'] as const) {
    errs.push(...validateNonNegative(spec[f], p(f)));
  }
  if (spec.maxFailedIndexes !== undefined) {
    errs.push(...validateNonNegative(spec.maxFailedIndexes, p('maxFailedIndexes')));
    if (spec.backoffLimitPerIndex === undefined) errs.push(required(p('backoffLimitPerIndex'), 'when maxFailedIndexes is specified'));
  }
  if (spec.completionMode === 'Indexed') {
    if (spec.completions === undefined) errs.push(required(p('completions'), 'when completion mode is Indexed'));
    if (spec.parallelism !== undefined && spec.parallelism > MAX_PARALLELISM_INDEXED) {
      errs.push(invalid(p('parallelism'), spec.parallelism, `must be less than or equal to ${MAX_PARALLELISM_INDEXED} when completion mode is Indexed`));
    }
    if (spec.completions !== undefined && spec.maxFailedIndexes !== undefined && spec.maxFailedIndexes > spec.completions) {
      errs.push(invalid(p('maxFailedIndexes'), spec.maxFailedIndexes, 'must be less than or equal to completions'));
    }
    if (spec.maxFailedIndexes !== undefined && spec.maxFailedIndexes > MAX_FAILED_INDEXES) {
      errs.push(invalid(p('maxFailedIndexes'), spec.maxFailedIndexes, `must be less than or equal to ${MAX_FAILED_INDEXES}`));
    }
  } else {
    if (spec.backoffLimitPerIndex !== undefined) {
      errs.push(invalid(p('backoffLimitPerIndex'), spec.backoffLimitPerIndex, 'requires indexed completion mode'));
    }
    if (spec.maxFailedIndexes !== undefined) {
      errs.push(invalid(p('maxFailedIndexes'), spec.maxFailedIndexes, 'requires indexed completion mode'));
    }
  }
  const containerNames = new Set(
    [...(spec.template?.spec?.containers ?? []), ...(spec.template?.spec?.initContainers ?? [])].map((c) => c.name),
  );
  (spec.podFailurePolicy?.rules ?? []).forEach((rule, i) => {
    const rp = index(p('podFailurePolicy.rules'), i);
    if (rule.action === 'FailIndex' && spec.backoffLimitPerIndex === undefined) {
      errs.push(invalid(child(rp, 'action'), rule.action, 'requires the backoffLimitPerIndex to be set'));
    }
    const codes = rule.onExitCodes;
    if (codes) {
      const cp = child(rp, 'onExitCodes');
      if (codes.containerName !== undefined && !containerNames.has(codes.containerName)) {
        errs.push(invalid(child(cp, 'containerName'), codes.containerName, 'must be one of the container or initContainer names in the pod template'));
      }
      const values = codes.values ?? [];
      if (values.length === 0) errs.push(invalid(child(cp, 'values'), values, 'at least one value is required'));
      const seen = new Set<number>();
      values.forEach((v, j) => {
        if (codes.operator === 'In' && v === 0) errs.push(invalid(index(child(cp, 'values'), j), v, 'must not be 0 for the In operator'));
        if (seen.has(v)) errs.push(duplicate(index(child(cp, 'values'), j), v));
        seen.add(v);
      });
      if (values.some((v, j) => j > 0 && values[j - 1]! > v)) errs.push(invalid(child(cp, 'values'), values, 'must be ordered'));
    }
    const conds = rule.onPodConditions ?? [];
    if (codes && conds.length > 0) {
      errs.push(invalid(rp, '', 'specifying both OnExitCodes and OnPodConditions is not supported'));
    }
    if (!codes && conds.length === 0) {
      errs.push(invalid(rp, '', 'specifying one of OnExitCodes and OnPodConditions is required'));
    }
  });
  if (spec.podReplacementPolicy !== undefined && spec.podFailurePolicy && spec.podReplacementPolicy !== 'Failed') {
    errs.push(notSupported(p('podReplacementPolicy'), spec.podReplacementPolicy, ['Failed']));
  }

  errs.push(...validatePodTemplateSpec(spec.template, p('template'), { job: true }));
  const rpPath = child(child(p('template'), 'spec'), 'restartPolicy');
  const restart = spec.template?.spec?.restartPolicy;
  if (spec.template?.spec) {
    if (restart === undefined || restart === 'Always') {
      errs.push(required(rpPath, 'valid values: "OnFailure", "Never"'));
    } else if (spec.podFailurePolicy && restart !== 'Never') {
      errs.push(invalid(rpPath, restart, 'only "Never" is supported when podFailurePolicy is specified'));
    }
  }
  return errs;
}

export function validateJob(job: Job, old: Job | undefined): Errors {
  const spec = job.spec;
  if (!spec) return [required('spec')];
  const errs = validateJobSpecCommon(spec, 'spec');
  if (spec.manualSelector === true && !spec.selector) errs.push(required('spec.selector', 'when `manualSelector` is true'));
  if (spec.selector) {
    errs.push(...validateLabelSelector(spec.selector, 'spec.selector'));
    errs.push(...selectorMatchesTemplate(spec.selector, spec.template, 'spec.template'));
  }
  // Indexed pods are named <job>-<index>, which must stay a valid DNS label.
  const name = job.metadata?.name;
  if (name && spec.completionMode === 'Indexed' && spec.completions !== undefined && spec.completions > 0) {
    const hostname = `${name}-${spec.completions - 1}`;
    if (isDNS1123Label(hostname).length > 0) {
      errs.push(invalid('metadata.name', name, `will not able to create pod with invalid DNS label: ${hostname}`));
    }
  }
  if (old?.spec) {
    errs.push(...validateImmutable(spec.completions, old.spec.completions, 'spec.completions'));
    errs.push(...validateImmutable(spec.selector, old.spec.selector, 'spec.selector'));
    errs.push(...validateImmutable(spec.template, old.spec.template, 'spec.template'));
    errs.push(...validateImmutable(spec.completionMode, old.spec.completionMode, 'spec.completionMode'));
    errs.push(...validateImmutable(spec.podFailurePolicy, old.spec.podFailurePolicy, 'spec.podFailurePolicy'));
    errs.push(...validateImmutable(spec.backoffLimitPerIndex, old.spec.backoffLimitPerIndex, 'spec.backoffLimitPerIndex'));
  }
  return errs;
}

/** CronJob names get an 11-character suffix for their Jobs, which must stay within 63. */
const MAX_CRONJOB_NAME = 52;

export function validateCronJob(cj: CronJob, old: CronJob | undefined): Errors {
  const spec = cj.spec;
  if (!spec) return [required('spec')];
  const errs: Errors = [];
  const name = cj.metadata?.name;
  if (!old && name && name.length > MAX_CRONJOB_NAME) {
    errs.push(invalid('metadata.name', name, `must be no more than ${MAX_CRONJOB_NAME} characters`));
  }
  if (spec.schedule) {
    try {
      parseCron(spec.schedule);
    } catch (e) {
      errs.push(invalid('spec.schedule', spec.schedule, e instanceof CronError ? e.message : String(e)));
    }
    const allowTZ = old?.spec?.schedule?.includes('TZ') ?? false;
    if (spec.schedule.includes('TZ')) {
      if (!allowTZ) errs.push(invalid('spec.schedule', spec.schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
      else if (spec.timeZone !== undefined) {
        errs.push(invalid('spec.schedule', spec.schedule, 'cannot use both timeZone field and TZ or CRON_TZ in schedule'));
      }
    }
  }
  errs.push(...validateNonNegative(spec.startingDeadlineSeconds, 'spec.startingDeadlineSeconds'));
  if (spec.timeZone !== undefined && (!old || old.spec?.timeZone !== spec.timeZone)) {
    if (spec.timeZone === '') errs.push(invalid('spec.timeZone', spec.timeZone, 'timeZone must be nil or non-empty string'));
    else if (spec.timeZone.toLowerCase() === 'local') {
      errs.push(invalid('spec.timeZone', spec.timeZone, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'));
    } else if (!isValidTimeZone(spec.timeZone)) {
      errs.push(invalid('spec.timeZone', spec.timeZone, `unknown time zone ${spec.timeZone}`));
    }
  }
  if (spec.concurrencyPolicy === undefined || (spec.concurrencyPolicy as string) === '') errs.push(required('spec.concurrencyPolicy'));
  const jt = spec.jobTemplate;
  if (jt?.spec) {
    const jp = 'spec.jobTemplate.spec';
    errs.push(...validateJobSpecCommon(jt.spec, jp));
    if (jt.spec.selector) errs.push(invalid(`${jp}.selector`, jt.spec.selector, '`selector` will be auto-generated'));
    if (jt.spec.manualSelector === true) errs.push(notSupported(`${jp}.manualSelector`, true, ['nil', 'false']));
  }
  if (jt?.metadata) {
    errs.push(...validateLabels(jt.metadata.labels, 'spec.jobTemplate.metadata.labels'));
    errs.push(...validateAnnotations(jt.metadata.annotations, 'spec.jobTemplate.metadata.annotations'));
  }
  errs.push(...validateNonNegative(spec.successfulJobsHistoryLimit, 'spec.successfulJobsHistoryLimit'));
  errs.push(...validateNonNegative(spec.failedJobsHistoryLimit, 'spec.failedJobsHistoryLimit'));
  return errs;
}

// ---- HorizontalPodAutoscaler -------------------------------------------------------

const METRIC_SOURCE_TYPES = ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'];
const SOURCE_FIELD: Record<string, keyof MetricSpec> = {
  Resource: 'resource',
  ContainerResource: 'containerResource',
  Pods: 'pods',
  Object: 'object',
  External: 'external',
};
const MAX_STABILIZATION_WINDOW = 3600;
const MAX_POLICY_PERIOD = 1800;

function validateMetricTarget(t: MetricTarget | undefined, path: string): Errors {
  if (!t) return [];
  const errs: Errors = [];
  if (t.type && t.type !== 'Utilization' && t.type !== 'Value' && t.type !== 'AverageValue') {
    errs.push(invalid(child(path, 'type'), t.type, 'must be either Utilization, Value, or AverageValue'));
  }
  for (const f of ['value', 'averageValue'] as const) {
    const q = tryParseQuantity(t[f]);
    if (q && q.sign() !== 1) errs.push(invalid(child(path, f), q.toString(), 'must be positive'));
  }
  if (t.averageUtilization !== undefined && t.averageUtilization < 1) {
    errs.push(invalid(child(path, 'averageUtilization'), t.averageUtilization, 'must be greater than 0'));
  }
  return errs;
}

function validateMetric(m: MetricSpec, path: string): Errors {
  const errs: Errors = [];
  if (m.type && !METRIC_SOURCE_TYPES.includes(m.type)) errs.push(notSupported(child(path, 'type'), m.type, METRIC_SOURCE_TYPES));
  const present = (Object.values(SOURCE_FIELD) as (keyof MetricSpec)[]).filter((f) => m[f] !== undefined);
  const expected = m.type ? SOURCE_FIELD[m.type] : undefined;
  if (expected && m[expected] === undefined) errs.push(required(child(path, expected), 'must populate information for the given metric source'));
  if (present.length > 1 || (expected && present.length === 1 && present[0] !== expected)) {
    for (const f of present) if (f !== expected) errs.push(forbidden(child(path, f), 'must populate the given metric source only'));
  }
  const r = m.resource ?? m.containerResource;
  if (r && (expected === 'resource' || expected === 'containerResource')) {
    const rp = child(path, expected);
    errs.push(...validateMetricTarget(r.target, child(rp, 'target')));
    if (r.target && r.target.averageUtilization === undefined && r.target.averageValue === undefined) {
      errs.push(required(child(child(rp, 'target'), 'averageUtilization'), 'must set either a target raw value or a target utilization'));
    }
    if (r.target && r.target.averageUtilization !== undefined && r.target.averageValue !== undefined) {
      errs.push(forbidden(child(child(rp, 'target'), 'averageValue'), 'may not set both a target raw value and a target utilization'));
    }
    if (m.containerResource?.container) {
      for (const msg of isDNS1123Label(m.containerResource.container)) errs.push(invalid(child(rp, 'container'), m.containerResource.container, msg));
    }
  }
  if (m.pods && expected === 'pods') {
    errs.push(...validateMetricTarget(m.pods.target, child(child(path, 'pods'), 'target')));
    if (m.pods.target && m.pods.target.averageValue === undefined) {
      errs.push(required(child(child(child(path, 'pods'), 'target'), 'averageValue'), 'must specify a positive target averageValue'));
    }
  }
  for (const f of ['object', 'external'] as const) {
    const src = m[f];
    if (!src || expected !== f) continue;
    const tp = child(child(path, f), 'target');
    errs.push(...validateMetricTarget(src.target, tp));
    if (src.target && src.target.value === undefined && src.target.averageValue === undefined) {
      errs.push(required(child(tp, 'averageValue'), 'must set either a target value or averageValue'));
    }
  }
  return errs;
}

function validateScalingRules(rules: HPAScalingRules | undefined, path: string): Errors {
  if (!rules) return [];
  const errs: Errors = [];
  const w = rules.stabilizationWindowSeconds;
  if (w !== undefined && w < 0) errs.push(invalid(child(path, 'stabilizationWindowSeconds'), w, 'must be greater than or equal to zero'));
  if (w !== undefined && w > MAX_STABILIZATION_WINDOW) {
    errs.push(invalid(child(path, 'stabilizationWindowSeconds'), w, `must be less than or equal to ${MAX_STABILIZATION_WINDOW}`));
  }
  const policies = rules.policies ?? [];
  if (policies.length === 0) errs.push(required(child(path, 'policies'), 'must specify at least one Policy'));
  policies.forEach((pol, i) => {
    const pp = index(child(path, 'policies'), i);
    if (pol.value !== undefined && pol.value <= 0) errs.push(invalid(child(pp, 'value'), pol.value, 'must be greater than zero'));
    if (pol.periodSeconds !== undefined && pol.periodSeconds <= 0) {
      errs.push(invalid(child(pp, 'periodSeconds'), pol.periodSeconds, 'must be greater than zero'));
    }
    if (pol.periodSeconds !== undefined && pol.periodSeconds > MAX_POLICY_PERIOD) {
      errs.push(invalid(child(pp, 'periodSeconds'), pol.periodSeconds, `must be less than or equal to ${MAX_POLICY_PERIOD}`));
    }
  });
  return errs;
}

export function validateHPA(hpa: HorizontalPodAutoscaler): Errors {
  const spec = hpa.spec;
  if (!spec) return [required('spec')];
  const errs: Errors = [];
  errs.push(...validateAtLeast(spec.minReplicas, 1, 'spec.minReplicas'));
  if (spec.maxReplicas !== undefined) {
    if (spec.maxReplicas < 1) errs.push(invalid('spec.maxReplicas', spec.maxReplicas, 'must be greater than 0'));
    if (spec.minReplicas !== undefined && spec.maxReplicas < spec.minReplicas) {
      errs.push(invalid('spec.maxReplicas', spec.maxReplicas, 'must be greater than or equal to `minReplicas`'));
    }
  }
  const ref = spec.scaleTargetRef;
  if (ref?.kind && /[/%]/.test(ref.kind)) errs.push(invalid('spec.scaleTargetRef.kind', ref.kind, 'may not contain \'/\' or \'%\''));
  if (ref?.name && /[/%]/.test(ref.name)) errs.push(invalid('spec.scaleTargetRef.name', ref.name, 'may not contain \'/\' or \'%\''));
  (spec.metrics ?? []).forEach((m, i) => errs.push(...validateMetric(m, index('spec.metrics', i))));
  if (spec.behavior) {
    errs.push(...validateScalingRules(spec.behavior.scaleUp, 'spec.behavior.scaleUp'));
    errs.push(...validateScalingRules(spec.behavior.scaleDown, 'spec.behavior.scaleDown'));
  }
  return errs;
}

/** The autoscaling/v1-only field, checked before conversion so the error names it. */
export function validateHPAV1TargetCPU(pct: unknown): Errors {
  return typeof pct === 'number' && pct < 1
    ? [invalid('spec.targetCPUUtilizationPercentage', pct, 'must be greater than 0')]
    : [];
}
