import { ALARM_EVENT_PLURAL, AlarmEventGvk, type AlarmEventSpec, API_VERSION } from '../api/index.ts';
import { toKubeApiError } from '../errors.ts';
import type { KubeHttp } from '../runtime/kube-http.ts';
import { collectionPath } from '../runtime/kube-path.ts';

/**
 * Where received alarms are persisted: the receiver's only port to Kubernetes for writing. Both methods
 * are idempotent, so a retried request changes nothing twice. They throw KubeUnavailableError when the
 * API server cannot take the write (the request is answered 503), KubeApiError for other refusals.
 */
export interface AlarmEventStore {
  /** Creates the AlarmEvent; `exists` when one of that name is already there (left as it is). */
  create(event: NewAlarmEvent): Promise<'created' | 'exists'>;
  /** Sets state resolved and endsAt on an existing AlarmEvent; `missing` when there is none. */
  resolve(namespace: string, name: string, endsAt: string): Promise<'resolved' | 'missing'>;
}

export interface NewAlarmEvent {
  namespace: string;
  name: string;
  spec: AlarmEventSpec;
  annotations?: Record<string, string>;
}

export class KubeAlarmEventStore implements AlarmEventStore {
  readonly #http: KubeHttp;

  constructor(http: KubeHttp) {
    this.#http = http;
  }

  async create({ namespace, name, spec, annotations }: NewAlarmEvent): Promise<'created' | 'exists'> {
    try {
      await this.#http.post(
        pathOf(namespace),
        {
          apiVersion: API_VERSION,
          kind: AlarmEventGvk.kind,
          metadata: { name, namespace, annotations },
          spec,
        },
        // A repeat is answered 409 and taken as done.
        { idempotent: true },
      );
      return 'created';
    } catch (err) {
      if (toKubeApiError(err)?.status === 409) return 'exists';
      throw err;
    }
  }

  async resolve(namespace: string, name: string, endsAt: string): Promise<'resolved' | 'missing'> {
    try {
      await this.#http.mergePatch(`${pathOf(namespace)}/${encodeURIComponent(name)}`, {
        spec: { state: 'resolved', endsAt },
      });
      return 'resolved';
    } catch (err) {
      if (toKubeApiError(err)?.status === 404) return 'missing';
      throw err;
    }
  }
}

function pathOf(namespace: string): string {
  return collectionPath({
    group: AlarmEventGvk.group,
    version: AlarmEventGvk.version,
    plural: ALARM_EVENT_PLURAL,
    namespace,
  });
}
