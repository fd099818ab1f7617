import { toKubeApiError } from '../../operator/errors.ts';

/**
 * Runs a create. A request the API server did not answer (a connection it closed under load), or answered
 * with 429 or 5xx, is tried again; AlreadyExists after such a retry means the first try got through.
 */
export async function createRetrying(create: () => Promise<unknown>, attempts = 5): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await create();
      return;
    } catch (err) {
      const status = toKubeApiError(err)?.status;
      if (attempt > 1 && status === 409) return;
      const retriable = status === undefined || status === 429 || status >= 500;
      if (!retriable || attempt >= attempts) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
    }
  }
}

/** Creates items 0 … count-1 with `limit` requests at a time, each with createRetrying. */
export async function createInParallel(
  count: number,
  limit: number,
  create: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await createRetrying(() => create(i));
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}
