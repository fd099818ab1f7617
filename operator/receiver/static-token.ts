import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

/**
 * The optional static bearer token for callers outside the cluster, read from a file mounted from a
 * Secret. The kubelet swaps such files when the Secret changes, so the file is looked at again (at most
 * every RECHECK_MS) and re-read when its modification time moved. Only a digest is kept in memory.
 */

const RECHECK_MS = 10_000;

export class StaticToken {
  readonly #file: string;
  readonly #now: () => number;
  #digest: Buffer;
  #mtimeMs: number;
  #checkedAt: number;

  /** Throws when the file cannot be read or holds no token, so a misconfigured receiver does not start. */
  constructor(file: string, now: () => number = Date.now) {
    this.#file = file;
    this.#now = now;
    this.#mtimeMs = statSync(file).mtimeMs;
    this.#digest = readDigest(file);
    this.#checkedAt = now();
  }

  matches(token: string): boolean {
    this.#reloadIfChanged();
    return timingSafeEqual(digest(token), this.#digest);
  }

  #reloadIfChanged(): void {
    const now = this.#now();
    if (now - this.#checkedAt < RECHECK_MS) return;
    this.#checkedAt = now;
    try {
      const { mtimeMs } = statSync(this.#file);
      if (mtimeMs === this.#mtimeMs) return;
      this.#digest = readDigest(this.#file);
      this.#mtimeMs = mtimeMs;
    } catch {
      // Mid-swap or briefly unreadable: keep the token we have rather than lock every caller out.
    }
  }
}

function readDigest(file: string): Buffer {
  const token = readFileSync(file, 'utf8').trim();
  if (!token) throw new Error(`static token file ${file} is empty`);
  return digest(token);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
