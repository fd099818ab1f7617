import { ApiException } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { KubeApiError, toKubeApiError } from './errors.ts';

describe('toKubeApiError', () => {
  it("turns client-node's ApiException into a KubeApiError with the Status body parsed", () => {
    const err = toKubeApiError(
      new ApiException(404, 'Not Found', JSON.stringify({ reason: 'NotFound', message: 'gone' }), {}),
    );
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err?.status).toBe(404);
    expect(err?.reason).toBe('NotFound');
  });

  it('leaves errors that are no API answer alone', () => {
    const network = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(toKubeApiError(network)).toBeUndefined();
    expect(toKubeApiError(Object.assign(new Error('odd'), { code: 500, body: '' }))).toBeUndefined();
  });
});
