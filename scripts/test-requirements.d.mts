/** Types of test-requirements.mjs: what a test file's header says it needs. */
export function requirements(text: string): ('root' | 'network')[];
/** Whether the file's header has a `@runs-alone` line (run after the others, one at a time). */
export function runsAlone(text: string): boolean;
