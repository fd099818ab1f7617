import { readFileSync } from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * vitest's order (failed, then longest or largest first), except that the files whose set-up waits for a
 * part `make test` builds alongside the suite (they name BUILT_ALONGSIDE_MS) go last: started early on a
 * fresh machine, each would hold a worker idle until that build is done.
 */
export default class AlongsideLastSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const waiting = new Set(
      sorted.filter((spec) => readFileSync(spec.moduleId, 'utf8').includes('BUILT_ALONGSIDE_MS')),
    );
    return [...sorted.filter((spec) => !waiting.has(spec)), ...waiting];
  }
}
