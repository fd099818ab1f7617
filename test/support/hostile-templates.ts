/**
 * Templates that search within searches (issue 27): liquidjs charged neither the searching filters nor
 * the expression they evaluate per element, and one filter call runs to its end. On the code before the
 * template pool the first blocked the event loop for 10-20 s at the rule check (longer than the renew
 * deadline) and was accepted as valid; the second was accepted too and took 1.5-2.5 s on every
 * notification (2 cores, measured in bench/results/templates.md).
 */
export const HOSTILE_TEMPLATES = {
  /** 95 characters. */
  nestedFindExp: `{% assign a = (1..1500) %}{{ a | find_exp: "i", "a | find_exp: 'j', 'j == 0'" }}{{alarm.title}}`,
  /** 61 characters. */
  findExpOverHas: '{% assign a = (1..900) %}{{ a | find_exp: "i", "a | has: 0"}}',
} as const;
