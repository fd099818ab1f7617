import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type ParsedTemplate, type RenderResult, TEMPLATE_LIMITS } from './liquid-engine.ts';
import type { RenderAnswer, RenderJob } from './template-worker.ts';
import type { TemplateRenderer } from './templates.ts';

/**
 * Renders templates in worker threads, so that no template, however expensive, holds the operator's
 * event loop (which renews the Lease and serves every namespace). Each worker renders one job at a time;
 * a job that runs longer than `killMs` or grows the worker's heap beyond `heapMiB` is answered as over
 * its limits and its worker terminated (a filter call cannot be interrupted any other way) and replaced.
 * Jobs wait in one line per namespace, served in turn, so a namespace whose templates are expensive
 * delays another's by at most one job per worker.
 *
 * Workers start on first use, so a replica that never leads starts none.
 */

export interface TemplatePoolOptions {
  /** Workers rendering at once. */
  size: number;
  killMs?: number;
  heapMiB?: number;
  logger?: Logger;
}

/**
 * The heap is watched from here because the process's --max-old-space-size (heap.ts sets it from the
 * container's limit) overrides a worker's own `resourceLimits.maxOldGenerationSizeMb`; those still apply
 * when the process runs without the flag.
 */
const HEAP_POLL_MS = 50;
const MIB = 2 ** 20;

interface Job {
  namespace: string;
  templates: readonly ParsedTemplate[];
  scope: object;
  mode: 'alarm' | 'check';
  resolve: (results: RenderResult[]) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job & { id: number; timers: NodeJS.Timeout[] };
  /** Why the worker failed, when it did (an out-of-memory error is the template's fault). */
  error?: Error & { code?: string };
}

export class TemplatePool implements TemplateRenderer {
  readonly #size: number;
  readonly #killMs: number;
  readonly #heapMiB: number;
  readonly #log: Logger | undefined;
  readonly #queue = new Map<string, Job[]>();
  #slots: Slot[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: TemplatePoolOptions) {
    this.#size = Math.max(1, options.size);
    this.#killMs = options.killMs ?? TEMPLATE_LIMITS.killMs;
    this.#heapMiB = options.heapMiB ?? TEMPLATE_LIMITS.heapMiB;
    this.#log = options.logger;
  }

  /** Workers running (started or starting). */
  get workers(): number {
    return this.#slots.length;
  }

  render(
    namespace: string,
    templates: readonly ParsedTemplate[],
    scope: object,
    mode: 'alarm' | 'check',
  ): Promise<RenderResult[]> {
    if (this.#closed) return Promise.reject(new Error('the template pool is closed'));
    return new Promise((resolve, reject) => {
      const line = this.#queue.get(namespace) ?? [];
      line.push({ namespace, templates, scope, mode, resolve, reject });
      this.#queue.set(namespace, line);
      this.#pump();
    });
  }

  /** Ends every worker; jobs not answered yet are rejected. */
  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Error('the template pool is closed');
    for (const line of this.#queue.values()) for (const job of line) job.reject(closed);
    this.#queue.clear();
    const slots = this.#slots;
    this.#slots = [];
    for (const slot of slots) {
      if (slot.job) this.#finish(slot)?.reject(closed);
    }
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }

  #pump(): void {
    while (this.#queue.size > 0 && !this.#closed) {
      const idle = this.#slots.find((slot) => slot.ready && !slot.job);
      if (!idle) {
        // One start at a time: the line may be empty again by the time it is up.
        if (this.#slots.length < this.#size && this.#slots.every((slot) => slot.ready)) this.#spawn();
        return;
      }
      this.#run(idle, this.#take() as Job);
    }
  }

  /** The next job, namespaces taking turns: the namespace served goes to the back of the line. */
  #take(): Job | undefined {
    for (const [namespace, line] of this.#queue) {
      const job = line.shift();
      this.#queue.delete(namespace);
      if (line.length > 0) this.#queue.set(namespace, line);
      return job;
    }
    return undefined;
  }

  #spawn(): void {
    const worker = new Worker(new URL('./template-worker.ts', import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: this.#heapMiB, maxYoungGenerationSizeMb: 4, stackSizeMb: 4 },
    });
    // A pool nobody closed must not keep the process alive.
    worker.unref();
    const slot: Slot = { worker, ready: false };
    this.#slots.push(slot);
    worker.on('message', (message: RenderAnswer | 'ready') => {
      if (message === 'ready') {
        slot.ready = true;
        this.#pump();
      } else if (slot.job?.id === message.id) {
        this.#finish(slot)?.resolve(message.results);
        this.#pump();
      }
    });
    worker.on('error', (err) => {
      slot.error = err;
    });
    worker.on('exit', () => this.#exited(slot));
  }

  #run(slot: Slot, job: Job): void {
    const id = this.#nextId++;
    const timers = [
      setTimeout(() => this.#kill(slot, `the render did not finish within ${this.#killMs} ms`), this.#killMs),
      setInterval(() => this.#watchHeap(slot, id), HEAP_POLL_MS),
    ];
    slot.job = { ...job, id, timers };
    const message: RenderJob = {
      id,
      templates: [...job.templates],
      scope: job.scope,
      renderMs: job.mode === 'alarm' ? TEMPLATE_LIMITS.renderMs : undefined,
    };
    slot.worker.postMessage(message);
  }

  #watchHeap(slot: Slot, id: number): void {
    slot.worker.getHeapStatistics().then(
      (heap) => {
        if (slot.job?.id === id && heap.used_heap_size > this.#heapMiB * MIB) {
          this.#kill(slot, `the render grew the heap beyond ${this.#heapMiB} MiB`);
        }
      },
      // The worker is gone; its exit answers the job.
      () => undefined,
    );
  }

  /** The slot's job, taken off it with its timers stopped. */
  #finish(slot: Slot): Job | undefined {
    const job = slot.job;
    if (!job) return undefined;
    for (const timer of job.timers) clearTimeout(timer);
    slot.job = undefined;
    return job;
  }

  /** Answers the job as over its limits and replaces the worker. */
  #kill(slot: Slot, reason: string): void {
    const job = this.#finish(slot);
    if (!job) return;
    this.#log?.warn({ namespace: job.namespace, mode: job.mode, reason }, 'template render stopped');
    job.resolve(
      job.templates.map(() => ({ error: `template render limit exceeded: ${reason}`, limit: true })),
    );
    this.#slots = this.#slots.filter((s) => s !== slot);
    void slot.worker.terminate();
    this.#pump();
  }

  #exited(slot: Slot): void {
    if (!this.#slots.includes(slot)) return;
    this.#slots = this.#slots.filter((s) => s !== slot);
    const job = this.#finish(slot);
    const outOfMemory = slot.error?.code === 'ERR_WORKER_OUT_OF_MEMORY';
    if (job && outOfMemory) {
      this.#log?.warn({ namespace: job.namespace, mode: job.mode }, 'template render ran out of heap');
      job.resolve(
        job.templates.map(() => ({ error: 'template render limit exceeded: out of heap', limit: true })),
      );
    } else if (job) {
      job.reject(new Error(`template worker failed: ${slot.error?.message ?? 'exited'}`));
    } else if (!slot.ready) {
      // It could not start: starting another for the same jobs would fail the same way.
      const err = new Error(`template worker failed to start: ${slot.error?.message ?? 'exited'}`);
      this.#log?.error({ err }, 'template worker failed to start');
      for (const line of this.#queue.values()) for (const queued of line) queued.reject(err);
      this.#queue.clear();
      return;
    }
    this.#pump();
  }
}
