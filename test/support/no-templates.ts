import type { TemplateRenderer } from '../../operator/rules/templates.ts';

/** For queues whose notifications have no templates: renderNotification never asks it to render. */
export const unusedTemplates: TemplateRenderer = {
  render: () => Promise.reject(new Error('these notifications have no templates to render')),
};
