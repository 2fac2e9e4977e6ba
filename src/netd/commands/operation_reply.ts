/**
 * Maps controller failures to netd's `400 <action> failed (<strerror>)` reply (the one
 * function from errors to response codes). Anything that is not a
 * `NetdOperationError` is a defect and is rethrown.
 */
import { NetdOperationError } from '../errors.ts';
import { type Reply, replies } from '../protocol/response.ts';

/**
 * Runs `operation`; success → `200 success` (or `onSuccess`), a NetdOperationError →
 * `400 <action> failed (<strerror>)`.
 *
 * @example
 * ```ts
 * await runOperation('addRoute()', () => networks.addRoute(…)); // [{ code: 200, message: 'success' }]
 * ```
 */
export async function runOperation(
  action: string,
  operation: () => Promise<void>,
  onSuccess: () => Reply = replies.success,
): Promise<Reply[]> {
  try {
    await operation();
  } catch (error: unknown) {
    if (error instanceof NetdOperationError) return [replies.operationFailed(action, error.errno)];
    throw error;
  }
  return [onSuccess()];
}
