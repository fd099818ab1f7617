import { z } from 'zod';

// DNS-1123 subdomain: what Kubernetes accepts as the name of a Secret, ConfigMap or custom resource.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Keys of Secret and ConfigMap data.
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;

/** The name of another object in the same namespace. */
export const ObjectName = z.string().min(1).max(253).regex(DNS_SUBDOMAIN);

export const SecretKeyRef = z.object({
  name: ObjectName.describe("Name of the Secret, in this object's namespace."),
  key: z.string().min(1).max(253).regex(DATA_KEY).describe('Key within the Secret whose value is used.'),
});
export type SecretKeyRef = z.output<typeof SecretKeyRef>;

export const ConfigMapKeyRef = z.object({
  name: ObjectName.describe("Name of the ConfigMap, in this object's namespace."),
  key: z.string().min(1).max(253).regex(DATA_KEY).describe('Key within the ConfigMap whose value is used.'),
});
export type ConfigMapKeyRef = z.output<typeof ConfigMapKeyRef>;
