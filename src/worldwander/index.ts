// WorldWander's own logic on top of the Wan model parts: the tasks, their prompts, the in-context layout.
export { TASK_PROMPT, EMPTY_PROMPT, ALL_PROMPTS, type WorldWanderTask } from './prompts.js';
export { buildInContextInputs, inContextFramePositions, type InContextLatents, type FrameCounts } from './in_context.js';
