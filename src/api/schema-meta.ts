/**
 * Schemas shared by every kind: object metadata, label selectors, references
 * and status conditions.
 */

import { anyValue, bool, int, list, obj, req, str, strList, strMap, time } from './schema.ts';

export const ownerReference = obj('OwnerReference', 'An object that owns this one; it is garbage-collected with its owner.', {
  apiVersion: str('API version of the owner.', { required: true }),
  kind: str('Kind of the owner.', { required: true }),
  name: str('Name of the owner.', { required: true }),
  uid: str('UID of the owner.', { required: true }),
  controller: bool('True if the owner is the managing controller; at most one owner may be.'),
  blockOwnerDeletion: bool('If true, the owner cannot be deleted (foreground) until this reference is removed.'),
});

export const managedFieldsEntry = obj('ManagedFieldsEntry', 'Which manager owns which fields (server-side apply bookkeeping).', {
  manager: str('Name of the manager.'),
  operation: str('Apply or Update.', { enum: ['Apply', 'Update'] }),
  apiVersion: str('Version of the fields set.'),
  time: time('When the fields were last changed.'),
  fieldsType: str('Format of fieldsV1.'),
  fieldsV1: anyValue('The set of fields.'),
  subresource: str('Subresource that was written.'),
});

export const objectMeta = obj('ObjectMeta', 'Standard object metadata: name, namespace, labels, annotations and system fields.', {
  name: str('Unique name within the namespace (or cluster, for cluster-scoped kinds). Cannot be changed.'),
  generateName: str('Prefix from which the server generates a unique name when name is empty.'),
  namespace: str('Namespace of the object; defaults to "default" for namespaced kinds.'),
  uid: str('Unique id assigned by the server on creation. Read-only.'),
  resourceVersion: str('Opaque version of this object, used for optimistic concurrency and watches. Read-only.'),
  generation: int('Sequence number of changes to the desired state. Read-only.'),
  labels: strMap('Key/value pairs used to organize and select objects.'),
  annotations: strMap('Unstructured key/value metadata for tools; not used for selection.'),
  ownerReferences: list(ownerReference, 'Objects this object depends on.'),
  finalizers: strList('Names that must be removed before the object is deleted from storage.'),
  creationTimestamp: time('When the object was created. Read-only.'),
  deletionTimestamp: time('When the object will be deleted; set by a graceful deletion. Read-only.'),
  deletionGracePeriodSeconds: int('Seconds allowed for graceful termination before deletion. Read-only.'),
  managedFields: list(managedFieldsEntry, 'Field ownership bookkeeping. Rarely set by users.'),
  selfLink: str('Deprecated; never set.'),
});

export const labelSelectorRequirement = obj('LabelSelectorRequirement', 'A requirement on one label key.', {
  key: str('The label key.', { required: true }),
  operator: str('How the key relates to the values.', {
    required: true,
    enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
  }),
  values: strList('Values for In and NotIn; must be empty for Exists and DoesNotExist.'),
});

export const labelSelector = obj('LabelSelector', 'A label query; all requirements must hold. Empty selects everything.', {
  matchLabels: strMap('Exact key=value labels; each is an In requirement with one value.'),
  matchExpressions: list(labelSelectorRequirement, 'Set-based requirements.'),
});

export const objectReference = obj('ObjectReference', 'A reference to another object.', {
  kind: str('Kind of the referent.'),
  namespace: str('Namespace of the referent.'),
  name: str('Name of the referent.'),
  uid: str('UID of the referent.'),
  apiVersion: str('API version of the referent.'),
  resourceVersion: str('Specific version of the referent.'),
  fieldPath: str('A field within the referent, e.g. spec.containers{name}.'),
});

export const condition = obj('Condition', 'One aspect of the current state.', {
  type: str('Type of the condition, e.g. Ready or Available.', { required: true }),
  status: str('True, False or Unknown.', { required: true, enum: ['True', 'False', 'Unknown'] }),
  lastProbeTime: time('Last time the condition was probed.'),
  lastTransitionTime: time('Last time the status changed.'),
  lastUpdateTime: time('Last time the condition was updated.'),
  lastHeartbeatTime: time('Last heartbeat received for this condition.'),
  reason: str('Machine-readable CamelCase reason for the last transition.'),
  message: str('Human-readable details of the last transition.'),
  observedGeneration: int('The generation this condition was computed for.'),
});

export const localObjectReference = obj('LocalObjectReference', 'A reference to an object in the same namespace.', {
  name: str('Name of the referent.'),
});

/** Top-level fields common to every kind. */
export function topLevel(kindName: string): Record<string, ReturnType<typeof str>> {
  return {
    apiVersion: req(str('Versioned schema of this representation of the object.')),
    kind: req(str(`The kind of object: ${kindName}.`)),
    metadata: objectMeta,
  };
}
