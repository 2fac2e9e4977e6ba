/**
 * A typed view of `node:events`' `EventEmitter`: the events a class emits are listed once in an
 * event map (`{ message: [msg: Buffer, rinfo: RemoteInfo]; close: [] }`), and `on`, `once`, `off`,
 * `emit`, … accept only those names and infer the listener's argument types from the map. At run
 * time it IS `EventEmitter` (no wrapper, nothing per event), so `events.once(emitter, 'message')`,
 * `events.on(emitter, 'message')` and every other `EventEmitter` helper keep working.
 *
 * Written here rather than taken from `@types/node` (whose `EventEmitter<T>` is recent and still
 * accepts unknown event names) so that the typing holds for any Node 20 type definitions.
 */
import { EventEmitter } from 'node:events';

/** Event name → tuple of listener arguments. */
export type EventMap<T> = { readonly [K in keyof T]: readonly unknown[] };

/** The event names of a map (strings only: no symbol events here). */
export type EventName<T> = keyof T & string;

/** A listener of event `K` of map `T`. */
export type EventListener<T, K extends EventName<T>> = T[K] extends readonly unknown[]
  ? (...args: T[K]) => void
  : never;

/** The listener methods of `EventEmitter`, narrowed to the events of `T`. */
interface TypedListenerMethods<T> {
  on<K extends EventName<T>>(event: K, listener: EventListener<T, K>): this;
  addListener<K extends EventName<T>>(event: K, listener: EventListener<T, K>): this;
  prependListener<K extends EventName<T>>(event: K, listener: EventListener<T, K>): this;
  once<K extends EventName<T>>(event: K, listener: EventListener<T, K>): this;
  prependOnceListener<K extends EventName<T>>(event: K, listener: EventListener<T, K>): this;
  off<K extends EventName<T>>(event: K, listener: EventListener<T, K>): this;
  removeListener<K extends EventName<T>>(event: K, listener: EventListener<T, K>): this;
  removeAllListeners(event?: EventName<T>): this;
  emit<K extends EventName<T>>(
    event: K,
    ...args: T[K] extends readonly unknown[] ? T[K] : never
  ): boolean;
  listenerCount(event: EventName<T>): number;
  listeners<K extends EventName<T>>(event: K): EventListener<T, K>[];
  rawListeners<K extends EventName<T>>(event: K): EventListener<T, K>[];
  eventNames(): EventName<T>[];
}

/** Names of the `EventEmitter` members retyped by {@link TypedListenerMethods}. */
type RetypedMember = keyof TypedListenerMethods<unknown>;

/**
 * An `EventEmitter` whose events are those of `T`.
 *
 * @example
 * ```ts
 * import { TypedEventEmitter } from 'tsnetd/datapath';
 * class Clock extends TypedEventEmitter<{ tick: [count: number]; stop: [] }> {}
 * const clock = new Clock();
 * clock.on('tick', (count) => console.log(count.toFixed(0))); // count: number
 * clock.emit('tick', 1); // 1
 * ```
 */
export type TypedEventEmitter<T extends EventMap<T>> = Omit<EventEmitter, RetypedMember> &
  TypedListenerMethods<T>;

/** Constructor of {@link TypedEventEmitter}: `class X extends TypedEventEmitter<Events> {}`. */
export const TypedEventEmitter = EventEmitter as unknown as new <
  T extends EventMap<T>,
>() => TypedEventEmitter<T>;
