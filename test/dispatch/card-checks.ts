import { eventually } from '../support/kube.ts';
import { type DispatchHarness, get } from './harness.ts';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

/** The first card the emulator holds whose title names `source`, once there is one. */
export async function cardOf(h: DispatchHarness, source: string) {
  return eventually(async () => {
    const cards = await h.emulator.control.cards();
    return cards.find((c) => c.cardParamMap.title?.includes(source));
  });
}

/** The service's condition `type` once it has `status`. */
export async function serviceCondition(
  h: DispatchHarness,
  service: string,
  type: string,
  status: string,
): Promise<Condition> {
  return eventually(async () => {
    const conditions = (await get(h, 'DingTalkService', service)).status?.conditions as
      | Condition[]
      | undefined;
    const condition = conditions?.find((c) => c.type === type);
    return condition?.status === status ? condition : undefined;
  });
}
