/**
 * A seeded generator of request bodies that must be refused: each is a valid body for one of the
 * receiver's endpoints, broken by one to three mutations that each make it invalid on their own, or
 * not JSON at all, or not sent as JSON.
 */

export interface MalformedRequest {
  endpoint: 'alarms' | 'alertmanager' | 'grafana';
  contentType: string;
  body: string;
  /** What was done to it, to name a failing case. */
  description: string;
}

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Body = Record<string, Json>;

export class MalformedBodies {
  readonly #random: () => number;

  constructor(seed: number) {
    this.#random = prng(seed);
  }

  next(): MalformedRequest {
    const endpoint = this.#pick(['alarms', 'alertmanager', 'grafana'] as const);
    const roll = this.#random();
    if (roll < 0.1) return { endpoint, contentType: 'application/json', ...this.#notJson(endpoint) };
    if (roll < 0.15) {
      const contentType = this.#pick([
        'text/plain',
        'application/xml',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'image/png',
      ]);
      return {
        endpoint,
        contentType,
        body: JSON.stringify(this.#valid(endpoint)),
        description: `sent as ${contentType}`,
      };
    }
    const body = this.#valid(endpoint);
    const applied: string[] = [];
    const count = 1 + Math.floor(this.#random() * 3);
    for (let i = 0; i < count; i++) applied.push(this.#mutate(endpoint, body));
    return {
      endpoint,
      contentType: 'application/json',
      body: JSON.stringify(body),
      description: applied.join(', '),
    };
  }

  #notJson(endpoint: string): { body: string; description: string } {
    const valid = JSON.stringify(this.#valid(endpoint));
    switch (Math.floor(this.#random() * 4)) {
      case 0:
        return {
          body: valid.slice(0, Math.floor(this.#random() * (valid.length - 1))),
          description: 'truncated JSON',
        };
      case 1:
        return { body: this.#string(1, 200), description: 'random text' };
      case 2:
        return { body: `${valid}${this.#pick(['}', ']', ',', 'x', '{}'])}`, description: 'trailing garbage' };
      default:
        return { body: valid.replace(/"/g, "'"), description: 'single-quoted JSON' };
    }
  }

  #valid(endpoint: string): Body {
    const alerts = Array.from({ length: 1 + Math.floor(this.#random() * 5) }, (_, i) => this.#alert(i));
    if (endpoint === 'alertmanager') return { version: '4', status: 'firing', receiver: 'r', alerts };
    if (endpoint === 'grafana') return { status: 'firing', orgId: 1, receiver: 'r', alerts };
    return {
      severity: this.#pick(['critical', 'warning', 'info']),
      title: this.#string(1, 40),
      labels: { app: 'x' },
    };
  }

  #alert(index: number): Json {
    return {
      status: this.#pick(['firing', 'resolved']),
      labels: { alertname: `Alert${index}`, severity: 'warning' },
      annotations: { summary: this.#string(1, 30) },
      startsAt: '2026-05-01T08:00:00Z',
      endsAt: '2026-05-01T09:00:00Z',
      fingerprint: `f${index}`,
    };
  }

  /** Breaks `body` in place; returns what it did. */
  #mutate(endpoint: string, body: Body): string {
    if (endpoint === 'alarms') return this.#mutateAlarm(body);
    // An earlier mutation may have replaced the list; breaking it again keeps the body invalid.
    const alerts = Array.isArray(body.alerts) ? (body.alerts as Body[]) : [{}];
    const pick = Math.floor(this.#random() * 14);
    // Each alert of a payload is taken or set aside on its own (a bad one costs only itself), so every
    // alert is broken the same way for the payload to be refused whole.
    let what = '';
    for (const alert of alerts) what = this.#mutateAlert(pick, endpoint, body, alert);
    return what;
  }

  #mutateAlert(pick: number, endpoint: string, body: Body, alert: Body): string {
    switch (pick) {
      case 0:
        body.alerts = this.#pick<Json>([null, 'alerts', 7, { 0: {} }, true]);
        return 'alerts not an array';
      case 1:
        alert.status = this.#pick<Json>(['pending', 'FIRING', '', 1, null]);
        return 'bad alert status';
      case 2:
        alert.startsAt = this.#pick<Json>(['yesterday', '2026-13-01T00:00:00Z', 1714550400, '', null]);
        return 'bad startsAt';
      case 3:
        delete alert.startsAt;
        return 'no startsAt';
      case 4:
        alert.labels = this.#pick<Json>([['a'], 'a=b', 3, null]);
        return 'labels not a map';
      case 5:
        alert.labels = { alertname: this.#pick<Json>([1, true, null, ['x'], { nested: 'x' }]) };
        return 'label value not a string';
      case 6:
        alert.labels = Object.fromEntries(
          Array.from({ length: 65 + Math.floor(this.#random() * 50) }, (_, i) => [`l${i}`, 'v']),
        );
        return 'too many labels';
      case 7:
        alert.labels = { ['n'.repeat(1025 + Math.floor(this.#random() * 1000))]: 'v' };
        return 'label name too long';
      case 8:
        alert.labels = { alertname: 'v'.repeat(1025 + Math.floor(this.#random() * 1000)) };
        return 'label value too long';
      case 9:
        alert.fingerprint = this.#pick<Json>(['has space', 'slash/y', 'x'.repeat(129), 5]);
        return 'bad fingerprint';
      case 10:
        alert.endsAt = this.#pick<Json>(['soon', 0, false]);
        return 'bad endsAt';
      case 11:
        alert.annotations = this.#pick<Json>([[], 'summary', { summary: 42 }]);
        return 'bad annotations';
      case 12:
        body.alerts = Array.from({ length: 50 }, () => ({}));
        return 'only empty alerts';
      default:
        if (endpoint === 'alertmanager') {
          body.version = this.#pick<Json>(['3', 4, '', null, '4.0']);
          return 'bad version';
        }
        body.orgId = this.#pick<Json>(['one', null, [1]]);
        return 'bad orgId';
    }
  }

  #mutateAlarm(body: Body): string {
    switch (Math.floor(this.#random() * 10)) {
      case 0:
        body.severity = this.#pick<Json>(['loud', 'CRITICAL', '', 3, null]);
        return 'bad severity';
      case 1:
        body.title = this.#pick<Json>(['', 'x'.repeat(257), 5, null]);
        return 'bad title';
      case 2:
        delete body.severity;
        return 'no severity';
      case 3:
        body.state = this.#pick<Json>(['open', 'closed', 1]);
        return 'bad state';
      case 4:
        body.startsAt = '2026-05-01T08:00:00Z';
        body.endsAt = '2026-05-01T07:00:00Z';
        return 'endsAt before startsAt';
      case 5:
        body.labels = { k: this.#pick<Json>([1, null, { a: 'b' }]) };
        return 'label value not a string';
      case 6:
        body.message = 'm'.repeat(16385);
        return 'message too long';
      case 7:
        body.fingerprint = 'white space';
        return 'bad fingerprint';
      case 8:
        return this.#pick([
          () => {
            body.title = [] as Json;
            return 'title an array';
          },
          () => {
            body.annotations = 'x';
            return 'annotations not a map';
          },
        ])();
      default:
        body.startsAt = this.#pick<Json>(['now', '2026-02-30T00:00:00Z', 0]);
        return 'bad startsAt';
    }
  }

  #pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.#random() * items.length)] as T;
  }

  #string(min: number, max: number): string {
    const length = min + Math.floor(this.#random() * (max - min + 1));
    let text = '';
    for (let i = 0; i < length; i++) {
      const kind = this.#random();
      const code =
        kind < 0.7
          ? 32 + Math.floor(this.#random() * 95)
          : kind < 0.9
            ? 0x4e00 + Math.floor(this.#random() * 2000)
            : Math.floor(this.#random() * 32);
      text += String.fromCharCode(code);
    }
    return text;
  }
}
