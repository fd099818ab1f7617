/** API group and version shared by every kind of this operator. */
export const GROUP = 'dingtalk.alarming.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** `kubectl get dingtalk` (or `alarming`) lists every kind of this operator. */
export const CATEGORIES = ['dingtalk', 'alarming'];

/** Label on objects the project ships, so installers and tests can find them. */
export const PART_OF_LABEL = { 'app.kubernetes.io/part-of': 'dingtalk-operator' };
