import { z } from 'zod';

/** An RFC 3339 timestamp, as Kubernetes writes metav1.Time (`2024-05-01T08:00:00Z`); offsets are accepted. */
export const Timestamp = z.iso.datetime({ offset: true });
