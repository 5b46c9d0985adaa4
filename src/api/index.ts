/**
 * The public face of src/api: berth's Kubernetes-style object model. Pure code
 * (no I/O except reading manifests): kinds, types, schema and explain,
 * defaulting, validation, quantities, label and field selectors, cron, and
 * manifest parsing. Other folders import from here, never from the files.
 */

export type * from './types.ts';

export { KINDS, kindForVersion, kindInfo, lookupKind, parseApiVersion, type KindInfo } from './kinds.ts';

export {
  FieldError,
  formatFieldErrors,
  formatValue,
  type FieldErrorType,
} from './field-error.ts';

export {
  Quantity,
  QuantityError,
  QUANTITY_FORMAT_MESSAGE,
  compareQuantities,
  parseQuantity,
  tryParseQuantity,
  type QuantityFormat,
} from './quantity.ts';

export {
  Selector,
  SelectorParseError,
  formatLabelSelector,
  labelsContain,
  parseSelector,
  selectorFromLabelSelector,
  selectorFromSet,
  type Labels,
  type Requirement,
  type SelectorOperator,
} from './labels.ts';

export {
  FieldSelector,
  FieldSelectorParseError,
  fieldValue,
  parseFieldSelector,
  supportedFieldSelectors,
  type FieldRequirement,
} from './field-selector.ts';

export { CronError, isValidCron, isValidTimeZone, nextRun, parseCron, type CronSchedule } from './cron.ts';

export { checkSchema, typeLabel, type FieldSchema, type FieldType, type SchemaCheck } from './schema.ts';
export { schemaFor } from './schema-kinds.ts';
export { ExplainError, explain } from './explain.ts';

export {
  DEFAULT_CPU_UTILIZATION,
  DEFAULT_MAX_SURGE,
  DEFAULT_MAX_UNAVAILABLE,
  DEFAULT_NAMESPACE,
  defaultImagePullPolicy,
  defaultObject,
} from './defaults.ts';

export { hpaV1ToV2, hpaV2ToV1, toStorageVersion } from './convert.ts';

export {
  ValidationError,
  assertValid,
  invalidMessage,
  validateObject,
  validateObjectMeta,
  type ValidateOptions,
} from './validate.ts';

export {
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidLabelValue,
  isValidPortName,
} from './names.ts';

export {
  ManifestError,
  parseManifestObjects,
  parseManifests,
  readManifestObjects,
  readManifests,
  type ManifestObject,
} from './manifest.ts';
