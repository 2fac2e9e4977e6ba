/** Types of test-requirements.mjs: what a test file's header says it needs. */
export function requirements(text: string): ('root' | 'network')[];
