// WorldWander's prompts are fixed per task (docs/method.md); classifier-free guidance and
// text dropout use the empty prompt.
export type WorldWanderTask = 'three2one' | 'one2three';

/** Both tasks, in the order runs and reports take them. */
export const TASKS: readonly WorldWanderTask[] = ['three2one', 'one2three'];

/** The view a task reads and the view it makes (keys of the release layout: First_Video is the ego view). */
export const TASK_VIEWS: Record<WorldWanderTask, { input: 'first' | 'third'; target: 'first' | 'third' }> = {
  three2one: { input: 'third', target: 'first' },
  one2three: { input: 'first', target: 'third' },
};

export const TASK_PROMPT: Record<WorldWanderTask, string> = {
  three2one: 'Transform it into the first-person perspective.',
  one2three: 'Transform it into the third-person perspective.',
};

export const EMPTY_PROMPT = '';

/** Every prompt a WorldWander run can need: both tasks and the empty prompt. */
export const ALL_PROMPTS: readonly string[] = [TASK_PROMPT.three2one, TASK_PROMPT.one2three, EMPTY_PROMPT];
